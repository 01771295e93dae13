"""The users file: who may sign in, with which role and branches.

A YAML file in streamlit-authenticator's layout (a `cookie` section and
`credentials.usernames`), whose path is $BANKCRM_USERS (default: the demo
file beside this module). Passwords are stored only as bcrypt hashes; the
`bankcrm users` commands change the file so that nobody edits hashes by
hand. Every change is written to a temporary file and renamed over the old
one, so a reader never sees half a file.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import yaml

from analytics import config, files
from auth.roles import ROLES

DEMO_USERS_FILE = Path(__file__).with_name("demo_users.yaml")
DEMO_PASSWORD = "bankcrm-demo"
BCRYPT_MAX_BYTES = 72
MIN_PASSWORD_LENGTH = 10


class UsersError(ValueError):
    pass


def users_path() -> Path:
    return Path(os.environ.get("BANKCRM_USERS", DEMO_USERS_FILE))


@dataclass(frozen=True)
class User:
    username: str
    name: str
    role: str
    branches: tuple[str, ...] = ()
    disabled: bool = False
    password_hash: str = field(default="", repr=False)


def hash_password(password: str, *, rounds: int = 12) -> str:
    check_password_rules(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsersError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode("utf-8")) > BCRYPT_MAX_BYTES:
        raise UsersError(f"password too long: bcrypt uses at most {BCRYPT_MAX_BYTES} bytes "
                         f"(this one has {len(password.encode('utf-8'))}); choose a shorter one")


def password_matches(password: str, password_hash: str) -> bool:
    encoded = password.encode("utf-8")
    if len(encoded) > BCRYPT_MAX_BYTES:
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode("ascii"))
    except ValueError:
        return False


class UsersFile:
    def __init__(self, path: Path | None = None):
        self.path = Path(path or users_path())
        self._parsed: tuple[int, dict] | None = None

    def _read(self) -> dict:
        """The parsed file, read again only when it changed on disk (callers copy before changing it)."""
        if not self.path.exists():
            return {"cookie": {"name": "bankcrm_auth", "expiry_days": 0.5}, "credentials": {"usernames": {}}}
        stamp = self.path.stat().st_mtime_ns
        if self._parsed is None or self._parsed[0] != stamp:
            self._parsed = (stamp, yaml.safe_load(self.path.read_text("utf-8")) or {})
        return copy.deepcopy(self._parsed[1])

    def _write(self, config: dict) -> None:
        files.make_dir(self.path.parent)
        files.write_private(self.path, yaml.safe_dump(config, allow_unicode=True, sort_keys=False))

    @property
    def cookie(self) -> dict:
        """name and expiry_days of the sign-in cookie (from the file), and the key that signs it: $BANKCRM_COOKIE_KEY
        (analytics.config: in production it must be set and strong)."""
        cookie = dict(self._read().get("cookie") or {})
        cookie.setdefault("name", "bankcrm_auth")
        cookie.setdefault("expiry_days", 0.5)
        cookie["key"] = config.secret("cookie")
        return cookie

    def users(self) -> list[User]:
        entries = (self._read().get("credentials") or {}).get("usernames") or {}
        return [
            User(username, entry.get("name", username), (entry.get("roles") or ["executive"])[0],
                 tuple(entry.get("branches") or ()), bool(entry.get("disabled", False)), entry.get("password", ""))
            for username, entry in entries.items()
        ]

    def get(self, username: str) -> User | None:
        return next((u for u in self.users() if u.username == username), None)

    def credentials(self) -> dict:
        """A fresh copy in streamlit-authenticator's layout (it mutates what it is given)."""
        return {"usernames": (self._read().get("credentials") or {}).get("usernames") or {}}

    # --- changes -----------------------------------------------------------------

    def _change(self, username: str, must_exist: bool = True):
        config = self._read()
        entries = config.setdefault("credentials", {}).setdefault("usernames", {})
        if must_exist and username not in entries:
            raise UsersError(f"no user {username!r}")
        return config, entries

    def add(self, username: str, name: str, role: str, password: str, branches: tuple[str, ...] = ()) -> None:
        if not username or username != username.lower() or not username.replace("_", "").replace("-", "").isalnum():
            raise UsersError("usernames are lower-case letters, digits, '-' and '_'")
        _check_role(role, branches)
        config, entries = self._change(username, must_exist=False)
        if username in entries:
            raise UsersError(f"user {username!r} exists already")
        entries[username] = {"name": name, "password": hash_password(password), "roles": [role],
                             "branches": list(branches), "disabled": False}
        self._write(config)

    def disable(self, username: str) -> None:
        config, entries = self._change(username)
        entries[username]["disabled"] = True
        self._write(config)

    def reset_password(self, username: str, password: str) -> None:
        config, entries = self._change(username)
        entries[username]["password"] = hash_password(password)
        self._write(config)

    def set_role(self, username: str, role: str) -> None:
        config, entries = self._change(username)
        _check_role(role, tuple(entries[username].get("branches") or ()))
        entries[username]["roles"] = [role]
        self._write(config)

    def set_branches(self, username: str, branches: tuple[str, ...]) -> None:
        config, entries = self._change(username)
        _check_role((entries[username].get("roles") or ["executive"])[0], branches)
        entries[username]["branches"] = list(branches)
        self._write(config)


def _check_role(role: str, branches: tuple[str, ...]) -> None:
    if role not in ROLES:
        raise UsersError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if role == "branch_head" and not branches:
        raise UsersError("a branch head needs at least one branch (--branches SH01,SH02)")
