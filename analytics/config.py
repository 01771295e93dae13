"""The deployment's mode and secrets, failing closed.

`BANKCRM_ENV` unset (or empty) or `demo` is demo mode: the public demo
secrets below stand in for missing ones, so the demo runs with no setup.
Any other value (`production`, `Production`, `prod`, a typo) is production:
every secret must then be set and strong, and whatever needs a missing or
weak one refuses to run (`Refused`) instead of falling back to a public
default. `problems()` lists every reason this deployment is refused; `bankcrm
config check` prints them and the app refuses to serve while there is one.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV = "BANKCRM_ENV"
DEMO = "demo"
TZ_ENV = "BANKCRM_TZ"
DEFAULT_TZ = "Asia/Shanghai"
MIN_SECRET_BITS = 256  # 32 random bytes: 64 hex digits or 43 base64 characters
_HEX = re.compile(r"[0-9a-fA-F]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


class Refused(RuntimeError):
    """This deployment's configuration may not serve (production without its secrets)."""


@dataclass(frozen=True)
class Secret:
    env: str
    purpose: str
    demo: str | None  # what demo mode uses when it is not set (None: go without, e.g. no encryption)


SECRETS: dict[str, Secret] = {
    "cookie": Secret("BANKCRM_COOKIE_KEY", "signs the sign-in cookie", "bankcrm-demo-cookie-key-not-for-production"),
    "pseudonym": Secret("BANKCRM_PSEUDONYM_KEY", "makes the analysts' pseudonyms unguessable", "bankcrm-demo-pseudonyms"),
    "audit": Secret("BANKCRM_AUDIT_KEY", "chains the audit log so that a changed row shows",
                    "bankcrm-demo-audit-key-not-for-production"),
    "store": Secret("BANKCRM_STORE_KEY", "encrypts the facts store at rest", None),
}


def mode() -> str:
    """"demo" or "production": whatever BANKCRM_ENV says but demo is production."""
    return DEMO if os.environ.get(ENV, "").strip() in ("", DEMO) else "production"


def is_demo() -> bool:
    return mode() == DEMO


def secret_bits(value: str) -> float:
    """How many bits of randomness a secret written as hex or base64 can hold (0 for anything else, or for
    text too uniform to be random, such as one character repeated)."""
    if len(set(value)) < 8:
        return 0.0
    if _HEX.fullmatch(value):
        return 4.0 * len(value)
    if _BASE64.fullmatch(value):
        return 6.0 * len(value.rstrip("="))
    return 0.0


def secret_problem(name: str) -> str | None:
    """Why the secret `name` may not be used in production, or None."""
    spec = SECRETS[name]
    value = os.environ.get(spec.env, "")
    if not value:
        return f"{spec.env} is not set ({spec.purpose})"
    if spec.demo is not None and value == spec.demo:
        return f"{spec.env} is the public demo value ({spec.purpose})"
    if secret_bits(value) < MIN_SECRET_BITS:
        return (f"{spec.env} is too weak ({spec.purpose}): use at least 32 random bytes, written as 64 hex "
                f"digits or {math.ceil(MIN_SECRET_BITS / 6)} base64 characters (openssl rand -hex 32)")
    return None


def secret(name: str) -> str | None:
    """The secret `name`: from the environment; in demo mode the demo value when unset. In production a
    missing or weak secret raises Refused."""
    spec = SECRETS[name]
    if is_demo():
        return os.environ.get(spec.env) or spec.demo
    if problem := secret_problem(name):
        raise Refused(f"production configuration refused: {problem}")
    return os.environ[spec.env]


def local_zone() -> ZoneInfo:
    """The time zone people read times and days in: $BANKCRM_TZ (an IANA name), Asia/Shanghai when unset. A name
    that is no time zone raises Refused, in any mode: every time shown would be wrong."""
    name = os.environ.get(TZ_ENV, "").strip() or DEFAULT_TZ
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused(f"{TZ_ENV}={name!r} is not a time zone: use an IANA name such as {DEFAULT_TZ}") from None


def today() -> dt.date:
    """The day it is now where people read the app (local_zone)."""
    return dt.datetime.now(local_zone()).date()


def problems() -> list[str]:
    """Every reason the environment refuses production (none in demo mode); the users file is checked by
    auth.config on top of these."""
    if is_demo():
        return []
    found = [p for name in SECRETS if (p := secret_problem(name))]
    try:
        local_zone()
    except Refused as problem:
        found.append(str(problem))
    return found
