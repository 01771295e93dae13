"""Sign-in throttling: per client address, and for the whole server.

After `client_failures` failed sign-ins from one client address within the
window, every further attempt from it waits `client_wait_s` before it is
checked; after `overall_failures` failures from anywhere within the window,
every attempt waits `overall_wait_s`. Password spraying (one guess at many
accounts) is slowed down as much as guessing at one. The failures live in
the state store, so they count across sessions and server processes. Both
limits are settings:

    BANKCRM_THROTTLE_CLIENT=20/30     # failures per client address within the window / seconds each attempt waits
    BANKCRM_THROTTLE_OVERALL=200/5    # failures overall within the window / seconds each attempt waits
    BANKCRM_THROTTLE_WINDOW=600       # seconds
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from analytics.state import StateStore


class BadThrottle(ValueError):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Throttle:
    client_failures: int = 20
    client_wait_s: float = 30.0
    overall_failures: int = 200
    overall_wait_s: float = 5.0
    window_s: float = 600.0

    @classmethod
    def from_env(cls) -> Throttle:
        values = {}
        for name, (count, wait) in {"BANKCRM_THROTTLE_CLIENT": ("client_failures", "client_wait_s"),
                                    "BANKCRM_THROTTLE_OVERALL": ("overall_failures", "overall_wait_s")}.items():
            if text := os.environ.get(name):
                try:
                    failures, seconds = text.split("/")
                    values[count], values[wait] = int(failures), float(seconds)
                except ValueError:
                    raise BadThrottle(f"{name}={text!r}: expected FAILURES/SECONDS, such as 20/30") from None
        if text := os.environ.get("BANKCRM_THROTTLE_WINDOW"):
            try:
                values["window_s"] = float(text)
            except ValueError:
                raise BadThrottle(f"BANKCRM_THROTTLE_WINDOW={text!r}: expected seconds, such as 600") from None
        return cls(**values)


class Throttling:
    def __init__(self, state: StateStore, throttle: Throttle | None = None, clock=_now):
        self.state, self.throttle, self.clock = state, throttle or Throttle.from_env(), clock

    def wait_s(self, client: str) -> float:
        """How long an attempt from `client` waits before it is checked (0: at once)."""
        since = (self.clock() - dt.timedelta(seconds=self.throttle.window_s)).isoformat(sep=" ")
        with self.state.connect() as con:
            from_client, overall = con.execute(
                "SELECT count(*) FILTER (WHERE client = ?), count(*) FROM sign_in_failures WHERE occurred_at >= ?",
                [client, since]).fetchone()
        waits = [0.0]
        if from_client >= self.throttle.client_failures:
            waits.append(self.throttle.client_wait_s)
        if overall >= self.throttle.overall_failures:
            waits.append(self.throttle.overall_wait_s)
        return max(waits)

    def failed(self, client: str) -> None:
        now = self.clock()
        with self.state.transaction() as con:
            con.execute("DELETE FROM sign_in_failures WHERE occurred_at < ?",
                        [(now - dt.timedelta(seconds=self.throttle.window_s)).isoformat(sep=" ")])
            con.execute("INSERT INTO sign_in_failures (client, occurred_at) VALUES (?, ?)",
                        [client, now.isoformat(sep=" ")])
