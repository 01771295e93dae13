"""A load test against the running app: real websocket sessions, each speaking Streamlit's own protocol as
a browser tab does, signing in and clicking through its role's pages, with no pause (the worst case, while
imports swap the store) or as people work (a think time between clicks, drawn from a seeded random generator).

Each page run is timed from the request to the server's "script finished"; an exception element, an error
box or a run that does not finish counts as an error. The Overview's metrics are kept, so the caller can
check that every run read one whole store (the figures of the store before or after an import, never a mix).
Localhost only, bounded in sessions and seconds.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

from analytics import store
from auth.roles import PAGES, allowed
from auth.users import DEMO_PASSWORD, UsersFile

MAX_SESSIONS, MAX_SECONDS = 50, 600
# Who the sessions are, in turn: three roles that see the whole bank and two branch heads (their own branch).
PEOPLE = ("exec", "analyst", "admin", "head_sh01", "head_bj01")
FINISHED = ForwardMsg.ScriptFinishedStatus


@dataclass(frozen=True)
class PageRun:
    username: str
    page: str
    ms: float
    errors: tuple[str, ...]
    metrics: dict[str, str]


@dataclass(frozen=True)
class Report:
    sessions: int
    seconds: float
    runs: tuple[PageRun, ...]
    failures: tuple[str, ...] = field(default=())  # sessions that could not sign in or lost their connection

    @property
    def errors(self) -> list[str]:
        return [*self.failures, *(f"{r.username} on {r.page}: {e}" for r in self.runs for e in r.errors)]

    def percentile_ms(self, share: float) -> float:
        times = sorted(r.ms for r in self.runs)
        return times[min(len(times) - 1, round(share * (len(times) - 1)))] if times else float("nan")

    @property
    def median_ms(self) -> float:
        return statistics.median(r.ms for r in self.runs) if self.runs else float("nan")


class Session:
    """One browser tab's websocket to `url`: runs the app as a signed-in person and opens pages."""

    def __init__(self, url: str, username: str, password: str = DEMO_PASSWORD, timeout_s: float = 120):
        if not url.startswith(("http://127.0.0.1", "http://localhost")):
            raise ValueError(f"the load test runs against localhost only, not {url}")
        self.username, self.timeout_s = username, timeout_s
        self.pages = [spec.key for spec in PAGES if allowed(UsersFile().get(username).role, spec.key)]
        self._open = contextlib.ExitStack()
        # As a browser: the page first, then the websocket with the cookies the page set (behind the proxy, the
        # route that keeps the tab on one process).
        with urllib.request.urlopen(url, timeout=timeout_s) as page:
            cookies = "; ".join(c.split(";")[0] for c in page.headers.get_all("Set-Cookie") or [])
        self._ws = self._open.enter_context(connect(url.replace("http", "ws", 1).rstrip("/") + "/_stcore/stream",
                                                    subprotocols=["streamlit"], max_size=None, open_timeout=timeout_s,
                                                    additional_headers={"Cookie": cookies} if cookies else None))
        self._pages: dict[str, str] = {}  # url path -> page script hash, from the server's navigation message
        self.page = ""
        first = self._run(widgets={})
        form = {e.text_input.label: e.text_input.id for e in first.elements if e.WhichOneof("type") == "text_input"}
        submit = next(e.button.id for e in first.elements
                      if e.WhichOneof("type") == "button" and e.button.is_form_submitter)
        signed = self._run(widgets={form["Username"]: ("string_value", username),
                                    form["Password"]: ("string_value", password), submit: ("trigger_value", True)})
        if not signed.menu:  # the menu is for the signed-in
            raise RuntimeError(f"{username} could not sign in: {signed.errors or 'no menu after the form'}")

    def open(self, key: str) -> PageRun:
        path = "" if key == PAGES[0].key else key
        self.page = key
        started = time.perf_counter()
        run = self._run(widgets={}, page_hash=self._pages[path])
        return PageRun(self.username, key, (time.perf_counter() - started) * 1000, run.errors, run.metrics)

    def close(self) -> None:
        self._open.close()

    def _run(self, widgets: dict, page_hash: str = "") -> _Run:
        message = BackMsg()
        state = message.rerun_script
        state.page_script_hash = page_hash
        for widget_id, (kind, value) in widgets.items():
            widget = state.widget_states.widgets.add()
            widget.id = widget_id
            setattr(widget, kind, value)
        self._ws.send(message.SerializeToString())
        run = _Run()
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            kind = reply.WhichOneof("type")
            if kind == "navigation":
                self._pages = {p.url_pathname: p.page_script_hash for p in reply.navigation.app_pages}
                run.menu = [p.url_pathname for p in reply.navigation.app_pages if not p.is_hidden]
            elif kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                run.add(reply.delta.new_element)
            elif kind == "script_finished":
                if reply.script_finished == FINISHED.FINISHED_SUCCESSFULLY:
                    return run
                if reply.script_finished == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                    run.errors += ("the page did not compile",)
                    return run
                run = _Run()  # cut short by a rerun the app asked for (st.rerun): the next run is the page


class _Run:
    def __init__(self):
        self.elements: list = []
        self.menu: list[str] = []  # the pages the run's menu shows
        self.errors: tuple[str, ...] = ()
        self.metrics: dict[str, str] = {}

    def add(self, element) -> None:
        self.elements.append(element)
        kind = element.WhichOneof("type")
        if kind == "exception":
            self.errors += (f"{element.exception.type}: {element.exception.message}",)
        elif kind == "alert" and element.alert.format == element.alert.ERROR:
            self.errors += (element.alert.body,)
        elif kind == "metric":
            self.metrics[element.metric.label] = element.metric.body


def people(sessions: int) -> list[str]:
    """`sessions` usernames, PEOPLE in turn."""
    return list(itertools.islice(itertools.cycle(PEOPLE), sessions))


def run(url: str, users: Sequence[str], seconds: float,
        background: Callable[[threading.Event], None] | None = None,
        until: Callable[[Sequence[PageRun]], bool] | None = None,
        think_s: tuple[float, float] | None = None, seed: int = 0) -> Report:
    """Sign in one session per username in `users` (a name may repeat) and click through its pages in turn for
    `seconds`, and on until `until(runs so far)` holds (what the caller needs to have happened, however slow the
    machine; every_page_opened, for one), but never beyond MAX_SECONDS; `background(stop)` runs alongside (an
    import loop) until the clicking ends.

    Without `think_s` the sessions sign in all at once and click with no pause. With `think_s` = (least, most)
    each session, as a person does, signs in after a pause of up to `most` seconds and waits between `least` and
    `most` seconds (uniformly) before each click, its pauses drawn from a generator seeded by `seed` and its
    place in `users`: the same arguments, the same pauses."""
    if not 0 < len(users) <= MAX_SESSIONS or not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"at most {MAX_SESSIONS} sessions and {MAX_SECONDS} s")
    if think_s and not 0 <= think_s[0] <= think_s[1]:
        raise ValueError(f"a think time between {think_s[0]} and {think_s[1]} s")
    runs: list[PageRun] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    started = threading.Barrier(len(users) + 1)
    # The sessions of one person start their rounds spread over that person's pages, so that every page is
    # opened early on however few rounds a slow machine allows.
    nth = [users[:i].count(name) for i, name in enumerate(users)]

    def click_through(place: int, nth: int, username: str) -> None:
        pauses = random.Random(seed * MAX_SESSIONS + place)
        session = None
        try:
            if think_s:
                time.sleep(pauses.uniform(0, think_s[1]))  # people do not all arrive in the same second
            session = Session(url, username)
        except Exception as problem:  # noqa: BLE001 (reported as a failure of this session)
            with lock:
                failures.append(f"{username}: {type(problem).__name__}: {problem}")
        finally:
            started.wait()
        if session is None:
            return
        pages = session.pages
        turn = nth * len(pages) // users.count(username)
        try:
            while not stop.wait(pauses.uniform(*think_s) if think_s else 0):
                done = session.open(pages[turn % len(pages)])
                turn += 1
                with lock:
                    runs.append(done)
        except Exception as problem:  # noqa: BLE001
            with lock:
                failures.append(f"{username} on {session.page}: {type(problem).__name__}: {problem}")
        finally:
            session.close()

    threads = [threading.Thread(target=click_through, args=user, daemon=True)
               for user in zip(itertools.count(), nth, users)]
    for thread in threads:
        thread.start()
    started.wait()  # every session has signed in (or failed to): the clock starts now
    helper = threading.Thread(target=background, args=(stop,), daemon=True) if background else None
    if helper:
        helper.start()
    began = time.perf_counter()
    stop.wait(seconds)

    def enough() -> bool:
        with lock:
            done = list(runs)
        return until is None or until(done)

    while not failures and not enough() and time.perf_counter() - began < MAX_SECONDS:
        stop.wait(0.5)
    stop.set()
    for thread in [*threads, *([helper] if helper else [])]:
        thread.join()
    return Report(len(users), time.perf_counter() - began, tuple(runs), tuple(failures))


def every_page_opened(users: Sequence[str]) -> Callable[[Sequence[PageRun]], bool]:
    """An `until` for `run`: each page that one of `users` may open was opened."""
    due = {spec.key for spec in PAGES if any(allowed(UsersFile().get(name).role, spec.key) for name in users)}
    return lambda runs: {r.page for r in runs} >= due


def latest_month_files(store_path: Path, workdir: Path, raise_cny: float) -> list[tuple[str, Path]]:
    """Two imports that swap the store back and forth: its latest month's balances with every deposit
    raised by `raise_cny`, and as they are stored now."""
    latest = "SELECT * FROM monthly_balances WHERE month = (SELECT max(month) FROM monthly_balances)"
    raised, stored = workdir / "balances_raised.csv", workdir / "balances_stored.csv"
    with store.connect(store_path, read_only=True) as con:
        con.sql(latest).write_csv(str(stored), header=True)
        con.sql("SELECT * REPLACE (deposits_cny + $raise AS deposits_cny) FROM (" + latest + ")",
                params={"raise": raise_cny}).write_csv(str(raised), header=True)
    return [("monthly_balances", raised), ("monthly_balances", stored)]


def bankcrm_import(store_path: Path, table: str, file: Path, state_path: Path) -> subprocess.CompletedProcess:
    """`bankcrm import` in a process of its own, as an operator runs it beside the app."""
    return subprocess.run([str(Path(sys.executable).with_name("bankcrm")), "import", table, str(file),
                           "--store", str(store_path)], capture_output=True, text=True, timeout=MAX_SECONDS,
                          env={**os.environ, "BANKCRM_STATE": str(state_path)})


def importing(store_path: Path, files: Sequence[tuple[str, Path]], state_path: Path,
              done: list[subprocess.CompletedProcess], pause_s: float) -> Callable[[threading.Event], None]:
    """A background for `run`: import each (table, file) in turn, `pause_s` apart, until stopped; each
    result goes to `done`."""
    def loop(stop: threading.Event) -> None:
        for table, file in itertools.cycle(files):
            if stop.wait(pause_s):
                return
            done.append(bankcrm_import(store_path, table, file, state_path))

    return loop
