"""The users file and `bankcrm users`: no hand-edited hashes, clear refusals."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from analytics.generate import BRANCHES
from analytics.state import StateStore
from auth.users import (
    DEMO_PASSWORD,
    DEMO_USERS_FILE,
    UsersError,
    UsersFile,
    password_matches,
)
from bankcrm import cli

runner = CliRunner()


def test_demo_file_has_every_demo_account_with_the_demo_password():
    users = {u.username: u for u in UsersFile(DEMO_USERS_FILE).users()}
    expected = {"exec": "executive", "analyst": "analyst", "admin": "admin"}
    expected |= {f"head_{code.lower()}": "branch_head" for code, *_ in BRANCHES}
    assert {name: u.role for name, u in users.items()} == expected
    for code, *_ in BRANCHES:
        assert users[f"head_{code.lower()}"].branches == (code,)
    assert all(password_matches(DEMO_PASSWORD, u.password_hash) for u in users.values())
    assert all(u.password_hash.startswith("$2b$") for u in users.values())


def test_add_and_change_users(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("wang", "王经理", "branch_head", "long-enough-pass", ("SH01",))
    users.set_branches("wang", ("SH01", "SH02"))
    users.set_role("wang", "analyst")
    users.reset_password("wang", "another-long-pass")
    users.disable("wang")
    [wang] = users.users()
    assert (wang.name, wang.role, wang.branches, wang.disabled) == ("王经理", "analyst", ("SH01", "SH02"), True)
    assert password_matches("another-long-pass", wang.password_hash)
    assert "another-long-pass" not in users.path.read_text("utf-8")


@pytest.mark.parametrize("args, message", [
    (("x", "X", "executive", "short"), "password too short"),
    (("x", "X", "executive", "密" * 25), "bcrypt uses at most 72 bytes (this one has 75)"),
    (("x", "X", "boss", "long-enough-pass"), "unknown role 'boss'"),
    (("x", "X", "branch_head", "long-enough-pass"), "a branch head needs at least one branch"),
    (("Bad Name", "X", "executive", "long-enough-pass"), "usernames are lower-case"),
])
def test_bad_users_are_refused_with_a_reason(tmp_path, args, message):
    users = UsersFile(tmp_path / "users.yaml")
    with pytest.raises(UsersError, match=message.replace("(", r"\(").replace(")", r"\)")):
        users.add(*args)
    assert not users.path.exists()


def test_passwords_over_72_bytes_never_match():
    assert not password_matches("x" * 80, UsersFile(DEMO_USERS_FILE).users()[0].password_hash)


def test_cli_manages_the_file_and_audits_each_change(tmp_path, monkeypatch):
    file = tmp_path / "users.yaml"
    monkeypatch.setenv("BANKCRM_STATE", str(tmp_path / "state.sqlite"))
    base = ["users"]
    result = runner.invoke(cli.app, [*base, "add", "li", "--role", "branch_head", "--branches", "BJ01",
                                     "--name", "李", "--password-stdin", "--file", str(file)], input="long-enough-pass\n")
    assert result.exit_code == 0, result.output
    for args in (["set-branches", "li", "BJ01,BJ02"], ["set-role", "li", "executive"], ["disable", "li"]):
        assert runner.invoke(cli.app, [*base, *args, "--file", str(file)]).exit_code == 0
    assert runner.invoke(cli.app, [*base, "reset-password", "li", "--password-stdin", "--file", str(file)],
                         input="yet-another-pass\n").exit_code == 0
    listing = runner.invoke(cli.app, [*base, "list", "--file", str(file)])
    assert "li" in listing.output and "disabled" in listing.output and "$2b$" not in listing.output
    saved = yaml.safe_load(file.read_text("utf-8"))["credentials"]["usernames"]["li"]
    assert saved["roles"] == ["executive"] and saved["branches"] == ["BJ01", "BJ02"] and saved["disabled"]
    events = StateStore(tmp_path / "state.sqlite").audit_events()["event"].tolist()[::-1]
    assert events == ["user_added", "branches_changed", "role_changed", "user_disabled", "password_reset"]


def test_cli_refusal_exits_1_and_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("BANKCRM_STATE", str(tmp_path / "state.sqlite"))
    result = runner.invoke(cli.app, ["users", "set-role", "ghost", "admin", "--file", str(tmp_path / "u.yaml")])
    assert result.exit_code == 1 and "no user 'ghost'" in result.output
    assert StateStore(tmp_path / "state.sqlite").audit_events().empty


def test_cli_shows_what_users_typed_exactly(tmp_path, monkeypatch):
    # A display name or username with an emoji code or rich markup is printed as typed, not turned into either.
    file = tmp_path / "users.yaml"
    monkeypatch.setenv("BANKCRM_STATE", str(tmp_path / "state.sqlite"))
    added = runner.invoke(cli.app, ["users", "add", "li", "--role", "analyst", "--name", "[bold]李:x:[/bold]",
                                    "--password-stdin", "--file", str(file)], input="long-enough-pass\n")
    assert added.exit_code == 0, added.output
    assert "[bold]李:x:[/bold]" in runner.invoke(cli.app, ["users", "list", "--file", str(file)]).output
    refused = runner.invoke(cli.app, ["users", "disable", ":x:", "--file", str(file)])
    assert refused.exit_code == 1 and "no user ':x:'" in refused.output
