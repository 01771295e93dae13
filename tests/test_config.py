"""Failing closed on configuration: demo mode only when asked for, production only with strong secrets."""

from __future__ import annotations

import secrets

import pytest
from typer.testing import CliRunner

from analytics import config
from auth import config as deployment
from auth.users import DEMO_USERS_FILE, UsersFile
from bankcrm import cli

KEYS = ("BANKCRM_COOKIE_KEY", "BANKCRM_PSEUDONYM_KEY", "BANKCRM_AUDIT_KEY", "BANKCRM_STORE_KEY")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in (config.ENV, *KEYS):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("value, mode", [(None, "demo"), ("", "demo"), ("demo", "demo"), ("production", "production"),
                                         ("Production", "production"), ("prod", "production"),
                                         ("Demo", "production"), ("prodcution", "production")])
def test_only_unset_or_demo_is_demo_mode(monkeypatch, value, mode):
    if value is not None:
        monkeypatch.setenv(config.ENV, value)
    assert config.mode() == mode


@pytest.mark.parametrize("secret, strong", [
    (secrets.token_hex(32), True), (secrets.token_urlsafe(32), True), (secrets.token_hex(31), False),
    ("k" * 64, False), ("ab" * 40, False), ("correct horse battery staple and more words", False),
])
def test_a_secret_holds_at_least_32_random_bytes(monkeypatch, secret, strong):
    monkeypatch.setenv(config.ENV, "production")
    monkeypatch.setenv("BANKCRM_COOKIE_KEY", secret)
    assert (config.secret_problem("cookie") is None) == strong


def test_production_refuses_a_missing_demo_or_weak_secret_instead_of_falling_back(monkeypatch):
    assert config.secret("cookie") == config.SECRETS["cookie"].demo  # demo mode: the public demo value
    assert config.secret("store") is None                             # demo mode: no encryption unless asked
    monkeypatch.setenv(config.ENV, "production")
    with pytest.raises(config.Refused, match="BANKCRM_COOKIE_KEY is not set"):
        config.secret("cookie")
    monkeypatch.setenv("BANKCRM_COOKIE_KEY", config.SECRETS["cookie"].demo)
    with pytest.raises(config.Refused, match="public demo value"):
        config.secret("cookie")
    monkeypatch.setenv("BANKCRM_COOKIE_KEY", "k" * 40)
    with pytest.raises(config.Refused, match="too weak"):
        config.secret("cookie")
    monkeypatch.setenv("BANKCRM_COOKIE_KEY", good := secrets.token_hex(32))
    assert config.secret("cookie") == good


def test_demo_mode_serves_this_machine_only():
    users = UsersFile(DEMO_USERS_FILE)
    assert deployment.problems(users, "127.0.0.1") == deployment.problems(users, "::1") == []
    assert deployment.problems(users, "localhost") == []
    for address in ("0.0.0.0", "", "10.0.0.5"):
        [problem] = deployment.problems(users, address)
        assert "127.0.0.1 only" in problem


def test_config_check_prints_every_problem_and_exits_1_while_there_is_one(monkeypatch, tmp_path):
    runner = CliRunner()
    demo = runner.invoke(cli.app, ["config", "check"])
    assert demo.exit_code == 0 and "Demo mode" in demo.output
    monkeypatch.setenv(config.ENV, "Production")
    refused = runner.invoke(cli.app, ["config", "check"])
    assert refused.exit_code == 1
    for problem in ("BANKCRM_COOKIE_KEY is not set", "BANKCRM_PSEUDONYM_KEY is not set", "BANKCRM_AUDIT_KEY is not set",
                    "BANKCRM_STORE_KEY is not set", "the demo users file", "still have the demo password"):
        assert problem in refused.output
    users = UsersFile(tmp_path / "users.yaml")
    users.add("ops", "Ops", "admin", "a-long-and-private-pass")
    for name in KEYS:
        monkeypatch.setenv(name, secrets.token_hex(32))
    passed = runner.invoke(cli.app, ["config", "check", "--users", str(users.path)])
    assert passed.exit_code == 0 and "no problems" in passed.output, passed.output
    assert not any(secret in passed.output for secret in (config.secret(n) for n in config.SECRETS))


def test_times_read_in_asia_shanghai_unless_bankcrm_tz_names_another_zone(monkeypatch):
    from zoneinfo import ZoneInfo

    monkeypatch.delenv(config.TZ_ENV, raising=False)
    assert config.local_zone() == ZoneInfo("Asia/Shanghai")
    monkeypatch.setenv(config.TZ_ENV, "Europe/London")
    assert config.local_zone() == ZoneInfo("Europe/London")
    monkeypatch.setenv(config.TZ_ENV, "Mars/Olympus_Mons")
    with pytest.raises(config.Refused, match="BANKCRM_TZ='Mars/Olympus_Mons' is not a time zone"):
        config.local_zone()
    monkeypatch.setenv(config.ENV, "production")
    assert any("BANKCRM_TZ" in p for p in config.problems())


def test_today_is_the_local_day(monkeypatch):
    """UTC+14 and UTC-11 are 25 hours apart: their days always differ."""
    monkeypatch.setenv(config.TZ_ENV, "Pacific/Kiritimati")
    ahead = config.today()
    monkeypatch.setenv(config.TZ_ENV, "Pacific/Pago_Pago")
    assert config.today() < ahead
