"""Whether this deployment may serve: the environment's secrets (analytics.config) and the users file.

Read by app.py, which refuses every visitor while there is a problem (the
details go to the server log only), and by `bankcrm config check`, which
prints them.
"""

from __future__ import annotations

import ipaddress

from analytics import config
from auth.users import DEMO_PASSWORD, DEMO_USERS_FILE, UsersFile, password_matches


def problems(users: UsersFile, server_address: str | None = None) -> list[str]:
    """Every reason this configuration must not serve; empty when it may. `server_address` is the address the
    app listens on (Streamlit's server.address; empty: every interface), checked in demo mode: the public demo
    secrets are safe only on this machine."""
    if config.is_demo():
        if server_address is not None and not _loopback(server_address):
            return [f"demo mode listens on {server_address or 'every interface'}: in demo mode (BANKCRM_ENV unset "
                    "or demo) the app serves on 127.0.0.1 only, for its demo secrets are public"]
        return []
    found = config.problems()
    if users.path.resolve() == DEMO_USERS_FILE.resolve():
        found.append(f"the demo users file {DEMO_USERS_FILE} is in use: set BANKCRM_USERS to your own file "
                     "(create it with `bankcrm users add`)")
    if demo_password_users := [u.username for u in users.users() if password_matches(DEMO_PASSWORD, u.password_hash)]:
        found.append(f"these users still have the demo password: {', '.join(demo_password_users)} "
                     "(change it with `bankcrm users reset-password`)")
    return found


def _loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
