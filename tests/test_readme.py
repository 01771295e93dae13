"""The README stays true to the code it describes."""

from __future__ import annotations

from analytics.schema import IMPORTABLE
from auth.users import DEMO_PASSWORD, DEMO_USERS_FILE, UsersFile
from bankcrm.cli import app

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_shows_the_two_commands():
    assert "make run" in README and "make test" in README


def test_readme_table_of_importable_tables_matches_the_schema():
    rows = {}
    for line in README.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = [cell.split(", ") if cell else [] for cell in cells[1:]]
    for spec in IMPORTABLE.values():
        assert spec.name in rows, f"README has no row for {spec.name}"
        key, required, optional = rows[spec.name]
        assert key == list(spec.key), spec.name
        assert required == [c.name for c in spec.columns if c.required], spec.name
        assert optional == [c.name for c in spec.columns if not c.required], spec.name


def test_readme_lists_every_cli_command():
    for command in app.registered_commands:
        assert f"`bankcrm {command.name or command.callback.__name__}" in README


def test_readme_lists_every_command_group_and_every_demo_account():
    for group in app.registered_groups:
        assert f"`bankcrm {group.name} " in README
    for user in UsersFile(DEMO_USERS_FILE).users():
        assert f"`{user.username}`" in README, user.username
    assert f"`{DEMO_PASSWORD}`" in README


def test_readme_shows_a_current_screenshot_of_every_page():
    from auth.roles import PAGES

    for spec in PAGES:
        assert f"(docs/screenshots/{spec.key}.png)" in README, spec.key
        assert (ROOT / "docs" / "screenshots" / f"{spec.key}.png").exists(), spec.key
