"""KPI targets: read from a small YAML file, refused by name when wrong."""

from __future__ import annotations

import pytest

from analytics import targets
from analytics.kpis import KPIS


def test_the_shipped_targets_name_real_kpis():
    loaded = targets.load(targets.DEFAULT_PATH)
    assert loaded and set(loaded) <= set(KPIS)


def test_no_file_means_no_targets(tmp_path):
    assert targets.load(tmp_path / "none.yaml") == {}


@pytest.mark.parametrize("text, problem", [
    ("nps: 30\nprofit: 5\n", "'profit' is not a KPI"),
    ("nps: thirty\n", "nps: 'thirty' is not a number"),
    ("- nps\n", "expected `kpi: value` lines"),
    ("nps: [30\n", "not valid YAML"),
])
def test_a_wrong_entry_is_refused_by_name(tmp_path, text, problem):
    file = tmp_path / "targets.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(targets.BadTargets, match=problem):
        targets.load(file)
