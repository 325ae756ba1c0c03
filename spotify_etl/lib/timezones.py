"""Which countries have a single time zone, from the IANA database (the tzdata package).

A play whose `conn_country` is such a country gets that country's local time (the listener
was travelling); other plays get the listener's home zone. A country counts as single-zone
when all its zones in zone.tab keep the same UTC offsets (DE: Berlin and Büsingen do).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Offsets compared on the 15th of every month over the years plays can come from (local noon).
_SAMPLES = [datetime(year, month, 15, 12) for year in range(2006, 2031) for month in range(1, 13)]


@cache
def single_zone_countries() -> dict[str, str]:
    """ISO country code -> its one IANA zone, for countries that have one."""
    zones_by_country: dict[str, list[str]] = defaultdict(list)
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        country, _coordinates, zone = line.split("\t")[:3]
        zones_by_country[country].append(zone)
    result = {}
    for country, zones in zones_by_country.items():
        if len(zones) == 1:  # most countries: nothing to compare
            result[country] = zones[0]
            continue
        # Compared with the first zone sample by sample: most differ at once (US, RU, BR).
        first = [ZoneInfo(zones[0]).utcoffset(sample) for sample in _SAMPLES]
        if all(
            all(ZoneInfo(zone).utcoffset(sample) == offset for sample, offset in zip(_SAMPLES, first, strict=True))
            for zone in zones[1:]
        ):
            result[country] = zones[0]
    return result


def validate_zone(name: str) -> str:
    """The name, if it is an IANA zone; a clear error otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"SPOTIFY_ETL_TIMEZONE={name!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    return name
