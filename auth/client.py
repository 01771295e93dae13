"""The client address a request comes from: what throttling, lockouts, sessions and the audit log record.

It is the peer address of the browser's connection, or, when that peer is a
reverse proxy named in $BANKCRM_TRUSTED_PROXIES (comma-separated addresses,
such as the nginx of a multi-process web tier), the address that proxy
forwarded in X-Forwarded-For: the right-most one that is not itself a
trusted proxy. A forwarded header from anyone else is ignored, so a client
cannot choose its own address.
"""

from __future__ import annotations

import ipaddress
import os

import streamlit as st

LOOPBACK = "127.0.0.1"


def trusted_proxies() -> frozenset[str]:
    return frozenset(_normal(a) for a in os.environ.get("BANKCRM_TRUSTED_PROXIES", "").split(",") if a.strip())


def _normal(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return address.strip()


def address() -> str:
    """This run's client address (Streamlit gives none for a loopback peer, nor under AppTest: 127.0.0.1)."""
    peer = _normal(_text(st.context.ip_address) or LOOPBACK)
    proxies = trusted_proxies()
    if peer not in proxies:
        return peer
    hops = [_normal(a) for a in _text(st.context.headers.get("X-Forwarded-For")).split(",") if a.strip()]
    return next((hop for hop in reversed(hops) if hop not in proxies), peer)


def _text(value) -> str:
    return value if isinstance(value, str) else ""  # under AppTest the context is a mock
