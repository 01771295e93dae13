"""The real app in processes of their own, and Debian's Chromium to drive it: shared by `bankcrm serve`
(`make run PROCESSES=N`), the browser tests and the benchmark suite (never `playwright install`: the browser
comes from apt).

One process is what `make run` starts. A web tier is N Streamlit processes of app.py behind Debian's nginx,
configured from deploy/nginx.conf: sticky sessions, websocket upgrade, one cookie secret (see that file)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # Debian's, installed by scripts/ensure-nginx
NGINX_CONFIG = ROOT / "deploy" / "nginx.conf"
LOOPBACK = "127.0.0.1"  # where the Streamlit processes listen, and the only proxy they trust
START_S = 120  # allowed for a process to answer its health check, on a busy machine too


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class App:
    url: str  # where a browser opens the app: the proxy, or the one process without a proxy
    pids: tuple[int, ...]  # the Streamlit processes
    servers: tuple[str, ...]  # each process's own address (behind the proxy, reached directly)
    processes: tuple[subprocess.Popen, ...] = field(default=(), compare=False, repr=False)  # nginx's too

    def stopped(self) -> bool:
        """Whether a process of the tier has stopped."""
        return any(process.poll() is not None for process in self.processes)

    def rss_mib(self) -> float:
        """The Streamlit processes' resident memory now, added up (nginx's few MiB are not counted)."""
        total = 0
        for pid in self.pids:
            status = Path(f"/proc/{pid}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        return total / 1024


def nginx_config(listen: str, servers: Sequence[str], run_dir: Path) -> str:
    """deploy/nginx.conf with its places filled in: nginx listening on `listen` (address:port), sending to the
    Streamlit processes at `servers` (host:port), keeping its pid, error log and (unused) temporary files in
    `run_dir`."""
    text = NGINX_CONFIG.read_text()
    for place, value in {"listen": listen, "run_dir": str(run_dir),
                         "servers": "\n".join(f"        server {server};" for server in servers)}.items():
        text = text.replace(f"{{{{ {place} }}}}", value)
    if left := re.findall(r"\{\{ \w+ \}\}", text):
        raise ValueError(f"{NGINX_CONFIG}: nginx_config does not fill in {', '.join(left)}")
    return text


def healthy(url: str) -> bool:
    """Whether the app at `url` answers Streamlit's health check."""
    try:
        return urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok"
    except OSError:
        return False


def _wait_healthy(url: str, processes: Sequence[subprocess.Popen], logs: Sequence[Path | None]) -> None:
    deadline = time.monotonic() + START_S
    while not healthy(url):
        stopped = next((i for i, p in enumerate(processes) if p.poll() is not None), None)
        if stopped is not None or time.monotonic() > deadline:
            log = logs[stopped or 0]
            raise RuntimeError(f"{url} did not start: " + (log.read_text()[-2000:] if log else "see its output above"))
        time.sleep(0.3)


@contextlib.contextmanager
def tier(env: Mapping[str, str], processes: int = 1, proxy: bool | None = None, address: str = LOOPBACK,
         port: int | None = None, log_path: Path | None = None) -> Iterator[App]:
    """`processes` Streamlit processes of app.py with the environment `env`, and (`proxy`, by default when there
    is more than one) Debian's nginx in front of them on `address`:`port` (a free port when None); without the
    proxy the one process listens there itself. Yields once every process and the proxy answer, and stops them
    all afterwards, also when the body fails. Output goes to `log_path` (process i > 1 to log-i, nginx's to
    log-nginx) or, when None, to this terminal.

    Every process gets the same environment, so one BANKCRM_COOKIE_KEY checks every sign-in cookie and one
    state store holds the sessions, sign-outs and lockouts; and one Streamlit cookie secret
    ($STREAMLIT_SERVER_COOKIE_SECRET, else a random one for this tier), which Streamlit would otherwise draw
    for each process. Each process reads a new store file at its next rerun (ui.cache.pin_store)."""
    proxy = processes > 1 if proxy is None else proxy
    if processes < 1 or (processes > 1 and not proxy):
        raise ValueError("one process, or one or more behind the proxy")
    if proxy and not os.path.exists(NGINX):
        raise RuntimeError("nginx is missing: scripts/ensure-nginx installs Debian's")
    env = dict(env)
    if proxy:
        env["BANKCRM_TRUSTED_PROXIES"] = LOOPBACK  # the address a person's X-Forwarded-For is read from
    env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))  # an environment variable only
    port = port or free_port()
    ports = [free_port() for _ in range(processes)] if proxy else [port]
    def log_of(name: str) -> Path | None:
        return log_path and log_path.with_name(f"{log_path.stem}{name}{log_path.suffix}")

    logs = [log_of(f"-{i + 1}" if i else "") for i in range(processes)]
    with contextlib.ExitStack() as stack:
        servers = []
        for own_port, log in zip(ports, logs):
            out = stack.enter_context(open(log, "w")) if log else None
            servers.append(stack.enter_context(_stopping(subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(own_port),
                 "--server.address", LOOPBACK if proxy else address, "--server.headless", "true",
                 "--server.fileWatcherType", "none", "--browser.serverPort", str(port)],  # the URL it prints
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT if out else None))))
        own = tuple(f"http://{LOOPBACK}:{p}" for p in ports)
        for url in own:
            _wait_healthy(url, servers, logs)
        url = f"http://{address}:{port}"
        everyone = list(servers)
        if proxy:
            run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bankcrm-nginx-")))
            (run_dir / "nginx.conf").write_text(nginx_config(f"{address}:{port}", [u.removeprefix("http://")
                                                                                   for u in own], run_dir))
            log = log_of("-nginx")
            out = stack.enter_context(open(log, "w")) if log else None
            nginx = stack.enter_context(_stopping(subprocess.Popen(
                [NGINX, "-p", str(run_dir), "-c", str(run_dir / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"],
                stdout=out, stderr=subprocess.STDOUT if out else None)))
            everyone.append(nginx)
            _wait_healthy(url, [nginx, *servers], [log, *logs])
        yield App(url, tuple(s.pid for s in servers), own if proxy else (), tuple(everyone))


@contextlib.contextmanager
def _stopping(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def demo_env(store_path: Path, state_path: Path, backend: str | None = None,
             users_path: Path | None = None) -> dict[str, str]:
    """This environment in demo mode, reading `store_path` (or the facts a BANKCRM_BACKEND `backend` names) and
    `state_path` with the demo users (or those of `users_path`)."""
    env = {**os.environ, "BANKCRM_STORE": str(store_path), "BANKCRM_STATE": str(state_path)}
    for name, value in {"BANKCRM_BACKEND": backend, "BANKCRM_USERS": users_path, "BANKCRM_ENV": None}.items():
        env.pop(name, None)
        if value:
            env[name] = str(value)
    return env


@contextlib.contextmanager
def running(store_path: Path, state_path: Path, log_path: Path, backend: str | None = None,
            users_path: Path | None = None, processes: int = 1, proxy: bool | None = None) -> Iterator[App]:
    """The app in demo mode on a free port of 127.0.0.1 against `store_path` (see demo_env): one process, or
    (`processes` > 1, or `proxy`) that many behind nginx (see tier)."""
    with tier(demo_env(store_path, state_path, backend, users_path), processes, proxy, log_path=log_path) as app:
        yield app
