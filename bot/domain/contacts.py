"""Contacts shown with `/crisis`: phone numbers checked with phonenumbers, and https links.

A wrong number on a bad day does real harm, so a contact a moderator adds must be a number
that is valid in the country it serves (judged by phonenumbers, short codes included) or a
plain `https://` address that Discord shows as exactly what it is. Refusals name the reason
(`ContactIssue`) so the service can say kindly what to change; wording lives there.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import phonenumbers

__all__ = [
    "Contact",
    "ContactError",
    "ContactIssue",
    "ContactKind",
    "SHORTENERS",
    "SHORT_CODES_NOT_IN_PHONENUMBERS",
    "check_contact",
    "check_link",
    "check_phone",
    "example_number",
    "phone_numbers_in",
    "shown_contact",
]

# National crisis short codes that the shipped resource data lists (each checked against the
# reference data by a human) but phonenumbers' metadata does not know as valid short numbers
# for that country yet. Keyed by country so "188" is not accepted for, say, the US. A test
# fails once phonenumbers learns one, so the list only shrinks.
SHORT_CODES_NOT_IN_PHONENUMBERS: Mapping[str, frozenset[str]] = {
    "AR": frozenset({"135"}),           # Centro de Asistencia al Suicida
    "BR": frozenset({"188"}),           # CVV
    "CL": frozenset({"4141", "1412"}),  # *4141 (mobile) and Salud Responde
    "HK": frozenset({"18111"}),         # Mental Health Support Hotline
    "IN": frozenset({"14416", "14446"}),  # Tele-MANAS; the drug de-addiction helpline
    "KR": frozenset({"109"}),           # the national suicide prevention line
    "NL": frozenset({"113"}),           # 113 Zelfmoordpreventie
    "PH": frozenset({"1553"}),          # NCMH crisis hotline
    "PT": frozenset({"1411"}),          # SNS 24 psychological support
}
# Longest short code in use anywhere (Malaysia's 15555, Sweden's 90101).
_MAX_SHORT_DIGITS = 6
_PHONE_CHARS = re.compile(r"[+*]?\(?[0-9][0-9 ().\-]*")
# A URL scheme, e.g. "https:", "javascript:", "tel:" (a phone number never has letters before a colon).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# Characters that are not part of a plain address: whitespace, and anything Discord reads as
# markdown or markup around a link ([text](url) masked links, **bold**, ||spoilers||, `code`).
_NOT_IN_LINK = re.compile(r"[\s\[\]()<>*|`\\\"'{}^]")
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_TOP_LEVEL = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")
_HOST_LIKE = re.compile(r"[^\s/:@]+\.[A-Za-z]{2,}(?:[/?#:].*)?")
_MENTION = re.compile(r"(?i)@(?:everyone|here)")
# Well-known link shorteners: a crisis list should say where a link leads.
SHORTENERS = frozenset({
    "bit.ly", "bitly.com", "buff.ly", "cutt.ly", "goo.gl", "is.gd", "lnkd.in", "ow.ly", "rb.gy", "rebrand.ly",
    "s.id", "shorturl.at", "t.co", "t.ly", "tiny.cc", "tinyurl.com", "v.gd",
})


class ContactKind(StrEnum):
    """What a contact is."""

    PHONE = "phone"
    LINK = "link"


class ContactIssue(StrEnum):
    """Why a contact was refused."""

    NOT_A_CONTACT = "not_a_contact"      # neither a phone number nor a link
    BAD_NUMBER = "bad_number"            # not a valid number (or short code) in that country
    OTHER_COUNTRY = "other_country"      # a valid number of another country (detail: its code)
    UNKNOWN_PLAN = "unknown_plan"        # phonenumbers has no numbering plan for the country
    NOT_HTTPS = "not_https"              # an http:// link (detail: the https:// form)
    NO_SCHEME = "no_scheme"              # "www.example.org" (detail: the https:// form)
    NOT_A_WEB_LINK = "not_a_web_link"    # javascript:, mailto:, tel:, ftp://, data: …
    BAD_LINK = "bad_link"                # spaces, markdown, user info, a mention, no proper host name
    NOT_ASCII_HOST = "not_ascii_host"    # a host with non-Latin letters, e.g. a look-alike (detail: its xn-- form)
    SHORTENED = "shortened"              # a link shortener, which hides where the link leads


class ContactError(ValueError):
    """A contact that cannot be shown; `issue` says why, `detail` helps word the reply."""

    def __init__(self, issue: ContactIssue, detail: str = "") -> None:
        super().__init__(f"{issue.value}: {detail}" if detail else issue.value)
        self.issue = issue
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Contact:
    """A checked contact, kept as it was written (whitespace collapsed)."""

    kind: ContactKind
    text: str


def check_contact(text: str, country: str) -> Contact:
    """Return `text` as a phone number valid in `country` or an https link; raise ContactError otherwise."""
    contact = " ".join(str(text).split())
    if _PHONE_CHARS.fullmatch(contact):
        return Contact(ContactKind.PHONE, check_phone(contact, country))
    if _SCHEME.match(contact) or _HOST_LIKE.fullmatch(contact):
        return Contact(ContactKind.LINK, check_link(contact))
    raise ContactError(ContactIssue.NOT_A_CONTACT)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def check_phone(text: str, country: str) -> str:
    """Return `text` if it is a valid number or short code in `country` (ISO alpha-2); else raise."""
    # Imported here: phonenumbers is ~1.8 MiB resident, and numbers are checked only when a
    # moderator adds one (bench/README.md, "Memory").
    import phonenumbers

    number = " ".join(str(text).split())
    if not _PHONE_CHARS.fullmatch(number):
        raise ContactError(ContactIssue.NOT_A_CONTACT)
    known_plan = country in phonenumbers.SUPPORTED_REGIONS
    international = number.startswith("+")
    if not known_plan and not international:
        raise ContactError(ContactIssue.UNKNOWN_PLAN)
    try:
        parsed = phonenumbers.parse(number.lstrip("*"), country if known_plan else None)
    except phonenumbers.NumberParseException:
        raise ContactError(ContactIssue.BAD_NUMBER) from None
    if phonenumbers.is_valid_number(parsed) and not number.startswith("*"):
        if not known_plan or phonenumbers.is_valid_number_for_region(parsed, country):
            return number
        if international:
            raise ContactError(ContactIssue.OTHER_COUNTRY, phonenumbers.region_code_for_number(parsed) or "")
    if not international and _is_short_code(number, parsed, country):
        return number
    raise ContactError(ContactIssue.BAD_NUMBER)


def _is_short_code(number: str, parsed: phonenumbers.PhoneNumber, country: str) -> bool:
    from phonenumbers import shortnumberinfo  # loaded with check_phone's import

    digits = _digits(number)
    if len(digits) > _MAX_SHORT_DIGITS:
        return False
    # "1 1 1" is not how anyone writes 111: a short code is written as groups of digits.
    if any(len(group) < 2 for group in re.split(r"[ .\-]+", number.strip("*() "))):
        return False
    if digits in SHORT_CODES_NOT_IN_PHONENUMBERS.get(country, frozenset()):
        return True
    if number.startswith("*"):  # a mobile-only code; phonenumbers has no "*" forms
        return False
    return bool(shortnumberinfo.is_valid_short_number_for_region(parsed, country))


def check_link(text: str) -> str:
    """Return `text` if it is a plain https:// address with a proper host name; else raise."""
    link = str(text).strip()
    scheme = _SCHEME.match(link)
    if scheme is None:
        if _HOST_LIKE.fullmatch(link):
            raise ContactError(ContactIssue.NO_SCHEME, f"https://{link}")
        raise ContactError(ContactIssue.NOT_A_CONTACT)
    name = scheme.group(0)[:-1].casefold()
    if name == "http" and link[len(name) + 1:].startswith("//"):
        raise ContactError(ContactIssue.NOT_HTTPS, "https" + link[len(name):])
    if name != "https" or not link[len(name) + 1:].startswith("//"):
        raise ContactError(ContactIssue.NOT_A_WEB_LINK)
    if _NOT_IN_LINK.search(link) or not link.isprintable() or "~~" in link:
        raise ContactError(ContactIssue.BAD_LINK)
    try:
        parts = urlsplit(link)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ContactError(ContactIssue.BAD_LINK) from None
    if "@" in parts.netloc or _MENTION.search(link) or not _proper_host(parts.hostname or ""):
        raise ContactError(ContactIssue.BAD_LINK)
    host = parts.hostname or ""
    if not host.isascii():
        # "samaritаns.org" with a Cyrillic "а" reads as the real site; its xn-- form does not.
        name, colon, port = parts.netloc.partition(":")
        raise ContactError(ContactIssue.NOT_ASCII_HOST,
                           urlunsplit(parts._replace(netloc=name.encode("idna").decode("ascii") + colon + port)))
    labels = host.rstrip(".").split(".")
    if any(".".join(labels[i:]) in SHORTENERS for i in range(len(labels) - 1)):
        raise ContactError(ContactIssue.SHORTENED)
    return link


def shown_contact(contact: str) -> str:
    """Return a contact as a message shows it: a link inside <>, so Discord adds no preview."""
    if contact[:8].casefold() == "https://":
        return f"<{contact}>"
    return contact


def _proper_host(host: str) -> bool:
    """Return whether `host` is a public DNS name (not an IP address, not "localhost")."""
    try:
        ipaddress.ip_address(host)
        return False
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").casefold()
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return (len(labels) >= 2 and all(_HOST_LABEL.fullmatch(label) for label in labels)
            and bool(_TOP_LEVEL.fullmatch(labels[-1])))


def example_number(country: str) -> str:
    """Return an example number of `country` in international form, for a hint (a UK one if unknown)."""
    import phonenumbers  # see check_phone

    example = (phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.TOLL_FREE)
               or phonenumbers.example_number(country))
    if example is None:
        return "+44 800 123 4567"
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# Parenthetical remarks with letters ("(0508 TAUTOKO)", "(free, CABA ...)") are not numbers.
_REMARK = re.compile(r"\([^)]*[A-Za-z][^)]*\)")
_WRITTEN_NUMBER = re.compile(r"\+?\*?\(?\d[\d \-()]*\d|\*?\d")


def phone_numbers_in(text: str) -> list[str]:
    """Return each number written in a resource's `phone` text ("14416 or 1-800-891-4416")."""
    return [m.strip() for m in _WRITTEN_NUMBER.findall(_REMARK.sub(" ", text))]

