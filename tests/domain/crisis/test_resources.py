"""Crisis resource data: schema, phone formats, freshness, and what a member is shown."""

from __future__ import annotations

import copy
import re
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from phonenumbers import shortnumberinfo

from bot.domain.contacts import (
    SHORT_CODES_NOT_IN_PHONENUMBERS,
    ContactError,
    check_phone,
    phone_numbers_in,
)
from bot.domain.crisis.resources import (
    MAX_DATA_AGE,
    Confidence,
    EmergencyNumber,
    Fallback,
    HelpLine,
    LocalResource,
    Need,
    ResourceDataError,
    ResourceDirectory,
    ResourceItem,
    data_freshness,
    find_stale_numbers,
    select_for_reply,
    stale_entries,
)

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "bot" / "data" / "crisis_resources.toml"


@pytest.fixture(scope="module")
def directory() -> ResourceDirectory:
    return ResourceDirectory.load(DATA)


@pytest.fixture()
def raw() -> dict[str, Any]:
    with open(DATA, "rb") as fh:
        return tomllib.load(fh)


def label(item: ResourceItem) -> str:
    """Return a short label for asserting order: the dial or the line's phone/name."""
    if isinstance(item, EmergencyNumber):
        return item.dial
    if isinstance(item, HelpLine):
        return item.phone or item.name
    return item.name


# ---------------------------------------------------------------- schema


def test_loads_every_country_of_the_reference(directory: ResourceDirectory) -> None:
    assert len(directory.countries) == 33
    assert sum(len(c.lines) for c in directory.countries) == 82
    assert len({c.code for c in directory.countries}) == 33
    assert [f.url for f in directory.fallbacks] == [
        "https://findahelpline.com",
        "https://www.befrienders.org",
    ]


@pytest.mark.parametrize(
    ("code", "dial"),
    [("GB", "999"), ("US", "911"), ("AU", "000"), ("BR", "192"), ("IN", "112"), ("NZ", "111")],
)
def test_dial_is_the_number_to_show_first(directory: ResourceDirectory, code: str, dial: str) -> None:
    country = directory.country(code)
    assert country is not None
    assert country.emergency.dial == dial


def test_low_confidence_lines_are_never_verified(directory: ResourceDirectory) -> None:
    low = [ln for c in directory.countries for ln in c.lines if ln.confidence is Confidence.LOW]
    assert len(low) == 6
    assert not any(ln.verified_for_members for ln in low)
    assert all(ln.verified_for_members for c in directory.countries for ln in c.lines
               if ln.confidence is not Confidence.LOW)


def _break(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(raw)
    node: Any = broken
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return broken


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("country.0.code", "USA", r"country\[0\]: code 'USA'"),
        ("country.0.dial", "999", r"country\[0\] \(US\): dial '999' does not appear"),
        ("country.0.line.0.kind", "suicidal", r"\(US\) line\[0\] \('988 Suicide & Crisis Lifeline'\): 'kind'"),
        ("country.0.line.3.verified_for_members", True, r"Never Use Alone.*confidence is 'low'"),
        ("country.0.line.1.confidence", "sure", r"'Crisis Text Line'\): 'confidence' is 'sure'"),
        ("country.6.line.0.last_checked", "yesterday", r"\(GB\) line\[0\] \('Samaritans'\): 'last_checked'"),
        ("country.6.line.0.hours", KeyError, r"'Samaritans'\): missing key 'hours'"),
        ("country.6.line.0.phne", "116 123", r"'Samaritans'\): unknown key\(s\) \['phne'\]"),
        ("country.6.line.0.open_24_7", "yes", r"'open_24_7' must be true or false"),
        ("country.1.aliases", ["USA"], r"alias 'USA' is already used by US"),
        ("schema_version", 2, r"schema_version is 2"),
        ("fallback.0.url", "http://findahelpline.com", r"fallback\[0\].*https://"),
    ],
)
def test_schema_errors_name_the_bad_entry(
    raw: dict[str, Any], path: str, value: Any, message: str
) -> None:
    with pytest.raises(ResourceDataError, match=message):
        ResourceDirectory.from_mapping(_break(raw, path, value))


def test_invalid_toml_is_a_resource_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("country = [", encoding="utf-8")
    with pytest.raises(ResourceDataError, match="not valid TOML"):
        ResourceDirectory.load(bad)


# ---------------------------------------------------------------- phone numbers

def test_every_shipped_number_passes_the_validator_moderators_face(directory: ResourceDirectory) -> None:
    # The same check as `/config resources add`: phonenumbers for the line's country, short
    # codes included; a typo in a long number, or a short code of another country, fails here.
    problems: list[str] = []
    checked = 0
    for country in directory.countries:
        for number in (country.emergency.dial, *(n for line in country.lines for n in phone_numbers_in(line.phone))):
            checked += 1
            try:
                check_phone(number, country.code)
            except ContactError as exc:
                problems.append(f"{country.code} {number!r}: {exc.issue}")
    assert not problems, "not a valid number in its country (typo?): " + "; ".join(problems)
    assert checked == 33 + 89  # the 33 emergency numbers and the 89 numbers written in the 82 lines


REFERENCE = ROOT / "docs" / "reference" / "crisis_resources.reference.toml"


def test_every_number_shown_to_members_is_in_the_vetted_reference(directory: ResourceDirectory) -> None:
    # The shipped data may only trim and annotate the reference, never add a number it does not
    # list for that country (e.g. Malaysia: Befrienders KL has no verified number there and Talian
    # HEAL 15555 is not in it at all, so Malaysia shows the worldwide directory until a human
    # verifies them and the reference is updated).
    with open(REFERENCE, "rb") as fh:
        reference = {c["code"]: c for c in tomllib.load(fh)["country"]}
    unsourced = []
    for country in directory.countries:
        listed = {re.sub(r"\D", "", n) for line in reference[country.code]["line"]
                  for n in phone_numbers_in(line.get("phone", ""))}
        if country.emergency.dial not in re.sub(r"[^\d ]", " ", reference[country.code]["emergency"]).split():
            unsourced.append(f"{country.code} emergency {country.emergency.dial}")
        unsourced += [f"{country.code} {line.name!r} {number}" for line in country.member_lines
                      for number in phone_numbers_in(line.phone) if re.sub(r"\D", "", number) not in listed]
    assert not unsourced, unsourced
    assert directory.country("MY") is not None and not directory.country("MY").member_lines  # type: ignore[union-attr]


def test_short_code_allow_list_is_needed_and_used(directory: ResourceDirectory) -> None:
    # Each entry is a short code the shipped data uses and phonenumbers does not know yet;
    # once phonenumbers learns one, it comes off the list.
    shipped = {(c.code, re.sub(r"\D", "", n)) for c in directory.countries for line in c.lines
               for n in phone_numbers_in(line.phone)}
    for country, codes in SHORT_CODES_NOT_IN_PHONENUMBERS.items():
        for code in codes:
            assert (country, code) in shipped, f"{country} {code} is not in the shipped data any more"
            parsed = phonenumbers.parse(code, country)
            assert not shortnumberinfo.is_valid_short_number_for_region(parsed, country), (
                f"phonenumbers now knows {country} {code}: remove it from SHORT_CODES_NOT_IN_PHONENUMBERS")


def test_every_verified_line_has_a_way_to_reach_it(directory: ResourceDirectory) -> None:
    for country in directory.countries:
        for line in country.member_lines:
            assert line.contact, f"{country.code} {line.name!r}"


# ---------------------------------------------------------------- stale numbers

@pytest.mark.parametrize(
    ("text", "stale"),
    [
        ("call 1-800-273-8255", True),
        ("call 1 (800) 273-8255", True),
        ("CVV 141", True),
        ("*4141", False),
        ("1411", False),
        ("08457 90 90 90", True),
        ("0800 77 66 00", True),
        ("1393", True),
        ("13 11 14", False),
    ],
)
def test_stale_number_finder(text: str, stale: bool) -> None:
    assert bool(find_stale_numbers(text)) is stale


def test_no_stale_number_in_member_visible_data(directory: ResourceDirectory) -> None:
    problems = []
    for country in directory.countries:
        for text in (country.name, country.emergency.text):
            problems += [f"{country.code}: {s}" for s in find_stale_numbers(text)]
        for line in country.lines:
            for text in line.member_visible_text:
                problems += [f"{country.code} {line.name!r}: {s}" for s in find_stale_numbers(text)]
    for fb in directory.fallbacks:
        problems += [f"{fb.name!r}: {s}" for s in find_stale_numbers(fb.name + fb.notes)]
    assert not problems, problems


def test_maintainer_notes_name_old_numbers_only_in_words(directory: ResourceDirectory) -> None:
    # History is useful to a maintainer, but a number there could be copied into a reply.
    for country in directory.countries:
        for line in country.lines:
            assert not find_stale_numbers(line.maintainer_notes), (country.code, line.name)


# ---------------------------------------------------------------- freshness


def test_stale_entries_reference_date_is_injectable(directory: ResourceDirectory) -> None:
    checked = directory.last_checked
    assert stale_entries(directory, checked + MAX_DATA_AGE) == []
    late = stale_entries(directory, checked + MAX_DATA_AGE + timedelta(days=1))
    # The file itself, two fallbacks and all 82 lines were checked the same day.
    assert len(late) == 1 + 2 + 82
    assert any("GB 'Samaritans' (116 123)" in e.where for e in late)


@pytest.mark.parametrize(
    ("days_after", "stale", "says"),
    [
        (0, False, "last checked 2026-11-21 (today)"),
        (1, False, "last checked 2026-11-21 (1 day ago)"),
        (90, False, "(90 days ago)"),
        (91, True, "91 days ago: older than 90 days"),
        (400, True, "400 days ago: older than 90 days"),
    ],
)
def test_freshness_says_whether_the_data_is_stale_and_how_old(
    directory: ResourceDirectory, days_after: int, stale: bool, says: str
) -> None:
    # A fixed "today", never the real date: the suite must pass whatever day it runs.
    today = date(2026, 11, 21) + timedelta(days=days_after)
    fresh = data_freshness(directory, today)
    assert fresh.last_checked == date(2026, 11, 21)  # the oldest entry
    assert fresh.age == timedelta(days=days_after)
    assert fresh.stale is stale
    assert fresh.stale_entries == (85 if stale else 0)
    assert says in fresh.describe()


def test_freshness_follows_the_oldest_entry(raw: dict[str, Any]) -> None:
    older = _break(raw, "country.6.line.0.last_checked", "2026-06-01")
    fresh = data_freshness(ResourceDirectory.from_mapping(older), date(2026, 9, 1))
    assert fresh.last_checked == date(2026, 6, 1) and fresh.stale and fresh.stale_entries == 1
    assert "1 entry" in fresh.describe()


# ---------------------------------------------------------------- lookup


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("GB", "GB"), ("gb", "GB"), ("UK", "GB"), ("united kingdom", "GB"), ("England", "GB"),
        ("USA", "US"), ("U.S.A.", "US"), ("us", "US"), ("United States", "US"),
        ("mexico", "MX"), ("México", "MX"), ("ESPAÑA", "ES"), ("espana", "ES"),
        ("Österreich", "AT"), ("osterreich", "AT"), ("  new   zealand ", "NZ"), ("Korea", "KR"),
    ],
)
def test_country_lookup(directory: ResourceDirectory, query: str, code: str) -> None:
    country = directory.country(query)
    assert country is not None and country.code == code


@pytest.mark.parametrize("query", ["", "XX", "Atlantis", "Russia"])
def test_unknown_country_is_none(directory: ResourceDirectory, query: str) -> None:
    assert directory.country(query) is None


def test_search_for_autocomplete(directory: ResourceDirectory) -> None:
    assert [c.code for c in directory.search("uni")][:2] == ["GB", "US"]
    assert directory.search("AU")[0].code == "AU"  # exact code first
    assert {c.code for c in directory.search("swe")} == {"SE"}
    assert [c.code for c in directory.search("zeal")] == ["NZ"]  # a later word of the name
    assert len(directory.search("", limit=25)) == 25
    assert len(directory.search("a", limit=5)) == 5


# ---------------------------------------------------------------- selection


@pytest.mark.parametrize(
    ("code", "need", "expected"),
    [
        ("GB", Need.IMMINENT, ["999", "116 123", "0300 123 6600"]),
        ("GB", Need.GENERAL, ["116 123", "999", "0300 123 6600"]),
        ("GB", Need.RELAPSE, ["0300 123 6600", "116 123", "999"]),
        ("US", Need.IMMINENT, ["911", "988", "1-800-662-4357"]),
        ("US", Need.OVERDOSE, ["911", "988", "1-800-662-4357"]),
        ("US", Need.GENERAL, ["988", "911", "1-800-662-4357"]),
        ("AU", Need.IMMINENT, ["000", "13 11 14", "1800 250 015"]),
        ("AU", Need.GENERAL, ["13 11 14", "000", "1800 250 015"]),
        ("IN", Need.IMMINENT, ["112", "14416 or 1-800-891-4416", "14446"]),
        ("IN", Need.RELAPSE, ["14446", "14416 or 1-800-891-4416", "112"]),
        ("BR", Need.OVERDOSE, ["192", "188"]),
        ("BR", Need.GENERAL, ["188", "192"]),
        ("CA", Need.IMMINENT, ["911", "988", "1-888-688-6677"]),
    ],
)
def test_selection_order(
    directory: ResourceDirectory, code: str, need: Need, expected: list[str]
) -> None:
    selection = directory.select(code, need=need)
    assert [label(i) for i in selection.primary] == expected
    assert not selection.call_local_emergency


def test_every_country_shows_its_emergency_number_and_a_way_to_talk(
    directory: ResourceDirectory,
) -> None:
    for country in directory.countries:
        for need in Need:
            primary = directory.select(country.code, need=need).primary
            assert 2 <= len(primary) <= 3, (country.code, need)
            assert country.emergency in primary, (country.code, need)
            assert any(isinstance(i, HelpLine | Fallback) for i in primary), (country.code, need)


def test_crisis_line_prefers_24_7(directory: ResourceDirectory) -> None:
    for country in directory.countries:
        if any(ln.open_24_7 for ln in country.member_lines):
            selection = directory.select(country.code, need=Need.IMMINENT)
            line = selection.primary[1]
            assert isinstance(line, HelpLine) and line.open_24_7, country.code


def test_low_confidence_lines_are_never_selected(directory: ResourceDirectory) -> None:
    for country in directory.countries:
        for need in Need:
            for item in directory.select(country.code, need=need).items:
                if isinstance(item, HelpLine):
                    assert item.verified_for_members, (country.code, item.name)
                    assert item.confidence is not Confidence.LOW


def test_country_without_a_verified_line_gets_the_worldwide_directory(
    directory: ResourceDirectory,
) -> None:
    selection = directory.select("MY", need=Need.IMMINENT)
    assert [label(i) for i in selection.primary] == ["999", directory.fallbacks[0].name]
    assert not any(isinstance(i, HelpLine) for i in selection.items)


@pytest.mark.parametrize("query", [None, "", "Atlantis"])
def test_unknown_country_gets_worldwide_directory(
    directory: ResourceDirectory, query: str | None
) -> None:
    selection = directory.select(query, need=Need.IMMINENT)
    assert selection.country is None
    assert selection.call_local_emergency
    assert [i.url for i in selection.items if isinstance(i, Fallback)] == [
        "https://findahelpline.com",
        "https://www.befrienders.org",
    ]
    assert selection.primary[0] == directory.fallbacks[0]


def test_local_resources_come_first_in_more_and_never_displace_vetted_ones(
    directory: ResourceDirectory,
) -> None:
    local = [LocalResource("Our peer line", "https://example.org/peer")]
    selection = directory.select("GB", need=Need.GENERAL, local=local)
    assert [label(i) for i in selection.primary] == ["116 123", "999", "0300 123 6600"]
    assert selection.more[0] == local[0]
    unknown = directory.select("Atlantis", need=Need.GENERAL, local=local)
    assert local[0] in unknown.more


def test_selection_works_without_a_directory_for_a_bare_country(
    directory: ResourceDirectory,
) -> None:
    gb = directory.country("GB")
    selection = select_for_reply(gb, need=Need.OVERDOSE)
    assert label(selection.primary[0]) == "999"
    assert select_for_reply(None, need=Need.GENERAL).call_local_emergency
