"""Contacts a moderator adds to /crisis: phone numbers checked with phonenumbers, https links only."""

from __future__ import annotations

import pytest

from bot.domain.contacts import (
    ContactError,
    ContactIssue,
    ContactKind,
    check_contact,
    check_link,
    check_phone,
)


@pytest.mark.parametrize(
    ("text", "country"),
    [
        # full numbers, national and international
        ("0800 123 4567", "GB"), ("+44 800 123 4567", "GB"), ("0300 123 6600", "GB"),
        ("1-800-662-4357", "US"), ("+1 (800) 662-4357", "US"), ("13 11 14", "AU"),
        ("0120-783-556", "JP"), ("03-7627 2929", "MY"),
        # short codes, judged by phonenumbers' short-number metadata for that country
        ("116 123", "GB"), ("116123", "IE"), ("111", "GB"), ("999", "GB"), ("988", "US"), ("988", "CA"),
        ("911", "US"), ("000", "AU"), ("15555", "MY"), ("1737", "NZ"), ("3114", "FR"), ("024", "ES"),
        # vetted crisis short codes phonenumbers' metadata does not list yet
        ("188", "BR"), ("*4141", "CL"), ("109", "KR"), ("14416", "IN"),
    ],
)
def test_real_numbers_pass(text: str, country: str) -> None:
    assert check_phone(text, country) == text
    assert check_contact(text, country).kind is ContactKind.PHONE


@pytest.mark.parametrize(
    ("text", "country", "issue"),
    [
        ("+44 12", "GB", ContactIssue.BAD_NUMBER),          # a country code and two digits
        ("1 1 1", "GB", ContactIssue.BAD_NUMBER),           # digits spaced out are not how a number is written
        ("1 1 1", "US", ContactIssue.BAD_NUMBER),
        ("12", "GB", ContactIssue.BAD_NUMBER),
        ("0800 123", "GB", ContactIssue.BAD_NUMBER),        # too short to be a UK number
        ("988", "DE", ContactIssue.BAD_NUMBER),             # a US short code is not a German one
        ("188", "US", ContactIssue.BAD_NUMBER),             # the allow-list is per country
        ("*988", "US", ContactIssue.BAD_NUMBER),
        ("+1 800 662 4357", "GB", ContactIssue.OTHER_COUNTRY),
        ("+44 800 123 4567", "IE", ContactIssue.OTHER_COUNTRY),
        ("0800 123 4567 ext 5", "GB", ContactIssue.NOT_A_CONTACT),
    ],
)
def test_wrong_numbers_are_refused_with_the_reason(text: str, country: str, issue: ContactIssue) -> None:
    with pytest.raises(ContactError) as caught:
        check_contact(text, country)
    assert caught.value.issue is issue


def test_a_number_from_another_country_names_that_country() -> None:
    with pytest.raises(ContactError) as caught:
        check_phone("+1 800 662 4357", "GB")
    assert caught.value.issue is ContactIssue.OTHER_COUNTRY and caught.value.detail == "US"


@pytest.mark.parametrize(
    "text",
    ["https://example.org", "https://www.samaritans.org/how-we-can-help/contact-samaritan/",
     "https://988lifeline.org/chat", "https://example.org/help?lang=en&x=1#top", "HTTPS://Example.org/Help",
     "https://example.org/mental_health/~team", "https://xn--bcher-kva.example/", "https://example.org:8443/a"],
)
def test_https_links_pass(text: str) -> None:
    assert check_link(text) == text
    assert check_contact(text, "GB").kind is ContactKind.LINK


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        ("http://example.org/help", ContactIssue.NOT_HTTPS),
        ("javascript:alert(1)", ContactIssue.NOT_A_WEB_LINK),
        ("JavaScript://example.org/%0aalert(1)", ContactIssue.NOT_A_WEB_LINK),
        ("ftp://example.org/file", ContactIssue.NOT_A_WEB_LINK),
        ("mailto:help@example.org", ContactIssue.NOT_A_WEB_LINK),
        ("tel:+441234567890", ContactIssue.NOT_A_WEB_LINK),
        ("data:text/html,hi", ContactIssue.NOT_A_WEB_LINK),
        ("www.example.org/help", ContactIssue.NO_SCHEME),
        ("example.org", ContactIssue.NO_SCHEME),
        ("https://example.org/[help](https://evil.example)", ContactIssue.BAD_LINK),   # a masked link
        ("https://example.org/**help**", ContactIssue.BAD_LINK),
        ("https://example.org/||spoiler||", ContactIssue.BAD_LINK),
        ("https://example.org/`code`", ContactIssue.BAD_LINK),
        ("https://example.org/<b>", ContactIssue.BAD_LINK),
        ("https://example.org/a b", ContactIssue.BAD_LINK),
        ("https://example.org/\\evil", ContactIssue.BAD_LINK),
        ("https://trusted.org@evil.example/", ContactIssue.BAD_LINK),  # user info hides the real host
        ("https://", ContactIssue.BAD_LINK),
        ("https://localhost/help", ContactIssue.BAD_LINK),
        ("https://127.0.0.1/help", ContactIssue.BAD_LINK),
        ("https://exa_mple.org/", ContactIssue.BAD_LINK),
        ("https://-example.org/", ContactIssue.BAD_LINK),
        ("https://example.org:99999/", ContactIssue.BAD_LINK),
        ("https://example.1/", ContactIssue.BAD_LINK),
        ("https://example.org/#@everyone", ContactIssue.BAD_LINK),
        ("https://example.org/@here", ContactIssue.BAD_LINK),
        ("https://samaritаns.org", ContactIssue.NOT_ASCII_HOST),  # a Cyrillic "а" passing for samaritans.org
        ("https://bücher.example/", ContactIssue.NOT_ASCII_HOST),
        ("https://bit.ly/3abc", ContactIssue.SHORTENED),
        ("https://www.TinyURL.com/x", ContactIssue.SHORTENED),
        ("https://t.co/x", ContactIssue.SHORTENED),
    ],
)
def test_other_links_are_refused_with_the_reason(text: str, issue: ContactIssue) -> None:
    with pytest.raises(ContactError) as caught:
        check_contact(text, "GB")
    assert caught.value.issue is issue, caught.value


def test_a_look_alike_host_is_refused_with_the_form_that_shows_what_it_is() -> None:
    with pytest.raises(ContactError) as caught:
        check_link("https://samaritаns.org/help?x=1")
    assert caught.value.detail == "https://xn--samaritns-6yh.org/help?x=1"


@pytest.mark.parametrize("text", ["ring us", "call us!", "", "   ", "**0800 123 4567**", "[0800 123 4567](https://x.org)"])
def test_neither_a_number_nor_a_link(text: str) -> None:
    with pytest.raises(ContactError) as caught:
        check_contact(text, "GB")
    assert caught.value.issue is ContactIssue.NOT_A_CONTACT


def test_a_country_phonenumbers_does_not_know_takes_international_numbers_only() -> None:
    # Antarctica has no numbering plan of its own in phonenumbers.
    assert check_phone("+44 800 123 4567", "AQ") == "+44 800 123 4567"
    with pytest.raises(ContactError) as caught:
        check_phone("0800 123 4567", "AQ")
    assert caught.value.issue is ContactIssue.UNKNOWN_PLAN
