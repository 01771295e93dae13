"""KPI targets: the line an executive measures a figure against.

A small YAML file of `kpi_key: value` ($BANKCRM_TARGETS, default
`targets.yaml` beside app.py), in the KPI's own unit: shares as fractions
(0.95), NPS in points, money in CNY. Targets are the bank's, so they suit
ratios, which mean the same for a branch as for the bank; a KPI without a
target simply shows no line.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import yaml

from analytics.kpis import KPIS

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "targets.yaml"


class BadTargets(ValueError):
    pass


def path() -> Path:
    return Path(os.environ.get("BANKCRM_TARGETS", DEFAULT_PATH))


def load(file: Path | None = None) -> dict[str, float]:
    """The targets in `file`; a missing file means no targets, a wrong entry is refused by name."""
    file = file or path()
    if not file.exists():
        return {}
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as problem:
        raise BadTargets(f"{file}: not valid YAML ({problem})") from None
    if not isinstance(raw, dict):
        raise BadTargets(f"{file}: expected `kpi: value` lines")
    targets = {}
    for key, value in raw.items():
        if key not in KPIS:
            raise BadTargets(f"{file}: {key!r} is not a KPI; KPIs are {', '.join(KPIS)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise BadTargets(f"{file}: {key}: {value!r} is not a number")
        targets[key] = float(value)
    return targets
