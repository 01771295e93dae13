"""The real app in a process of its own, and Debian's Chromium to drive it: shared by the browser
tests and the benchmark suite (never `playwright install`: the browser comes from apt)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class App:
    url: str
    pid: int

    def rss_mib(self) -> float:
        """The server process's resident memory now."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


@contextlib.contextmanager
def running(store_path: Path, state_path: Path, log_path: Path, backend: str | None = None,
            users_path: Path | None = None) -> Iterator[App]:
    """`streamlit run app.py` on a free port against `store_path` (or the facts a BANKCRM_BACKEND `backend`
    names) with the demo users (or those of `users_path`); yields it once the health check answers, and stops
    it afterwards, also when the body fails."""
    port = free_port()
    env = {**os.environ, "BANKCRM_STORE": str(store_path), "BANKCRM_STATE": str(state_path)}
    env.pop("BANKCRM_BACKEND", None)
    if backend:
        env["BANKCRM_BACKEND"] = backend
    env.pop("BANKCRM_USERS", None)
    if users_path:
        env["BANKCRM_USERS"] = str(users_path)
    env.pop("BANKCRM_ENV", None)
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: {Path(log_path).read_text()[-2000:]}")
                time.sleep(0.3)
            yield App(url, server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
