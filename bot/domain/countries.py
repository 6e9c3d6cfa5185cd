"""ISO 3166-1 countries: lookup by code or name, and suggestions for autocomplete."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import pycountry

# Names people type that ISO does not list as a country name.
_ALIASES = {
    "uk": "GB", "britain": "GB", "great britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "usa": "US", "america": "US",
    "united states of america": "US", "south korea": "KR", "korea": "KR",
    "russia": "RU", "iran": "IR", "vietnam": "VN", "czechia": "CZ", "holland": "NL",
    "turkey": "TR", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ", "taiwan": "TW",
}


@dataclass(frozen=True, slots=True)
class Country:
    """An ISO 3166-1 country."""

    code: str
    name: str


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


@lru_cache(maxsize=1)
def _countries() -> tuple[Country, ...]:
    result = []
    for entry in pycountry.countries:
        name = getattr(entry, "common_name", None) or entry.name
        result.append(Country(entry.alpha_2, name))
    return tuple(sorted(result, key=lambda c: c.name))


@lru_cache(maxsize=1)
def _index() -> dict[str, Country]:
    index: dict[str, Country] = {}
    for entry in pycountry.countries:
        country = Country(entry.alpha_2, getattr(entry, "common_name", None) or entry.name)
        for key in (entry.alpha_2, entry.alpha_3, entry.name,
                    getattr(entry, "common_name", None), getattr(entry, "official_name", None)):
            if key:
                index.setdefault(_fold(key), country)
    for alias, code in _ALIASES.items():
        index[alias] = index[code.casefold()]
    return index


def find_country(text: str) -> Country | None:
    """Return the country for an ISO code (alpha-2/3) or name, or None."""
    if not isinstance(text, str):
        return None
    return _index().get(_fold(text))


def suggest_countries(text: str, limit: int = 25) -> list[Country]:
    """Return countries whose code or name matches what was typed, best first."""
    needle = _fold(text)
    if not needle:
        return list(_countries()[:limit])
    exact = find_country(needle)
    starts = [c for c in _countries() if _fold(c.name).startswith(needle)]
    contains = [c for c in _countries() if needle in _fold(c.name) and c not in starts]
    ordered = ([exact] if exact else []) + starts + contains
    seen: set[str] = set()
    unique = []
    for country in ordered:
        if country.code not in seen:
            seen.add(country.code)
            unique.append(country)
    return unique[:limit]
