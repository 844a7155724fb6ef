"""Reference data on-demand transforms use, loaded once from conf/ and passed to them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lakehouse.errors import ConfigError

__all__ = ["load_resources"]


def load_resources(conf_dir: Path) -> dict[str, Any]:
    """{"locations": {place: (latitude, longitude)}} from conf/locations.yaml."""
    path = Path(conf_dir) / "locations.yaml"
    try:
        entries = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("locations")
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read the locations ({err})") from err
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{path}: expected a 'locations:' mapping of place -> [lat, lon]")
    locations = {}
    for place, point in entries.items():
        valid = (
            isinstance(point, list)
            and len(point) == 2
            and all(isinstance(v, int | float) for v in point)
            and -90 <= point[0] <= 90
            and -180 <= point[1] <= 180
        )
        if not valid:
            raise ConfigError(
                f"{path}: location {place!r} is {point!r}; give [latitude, longitude] in degrees"
            )
        locations[str(place)] = (float(point[0]), float(point[1]))
    return {"locations": locations}
