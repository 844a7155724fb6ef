"""Processes the services layer starts: pid files, ports, waiting, stopping."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lakehouse.errors import ServiceError

LOOPBACK = "127.0.0.1"


def port_open(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if that process is alive; a stale file is removed."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    if not pid_alive(pid):
        pid_file.unlink(missing_ok=True)
        return None
    return pid


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited; it only waits for its parent to reap it.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def spawn(args: Sequence[str], *, log_file: Path, pid_file: Path, env: dict | None = None) -> int:
    """Start a long-running process detached from ours (its own session) and record its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(args),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    log_file: Path | None = None,
    pid: int | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if pid is not None and not pid_alive(pid):
            raise ServiceError(f"{what} exited during start-up; see {log_file}: {_tail(log_file)}")
        time.sleep(0.2)
    raise ServiceError(
        f"{what} did not answer within {timeout:.0f} s; see {log_file}: {_tail(log_file)}"
    )


def stop_pid(pid: int, *, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not exited in time."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM) if _leads_group(pid) else os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def run(args: Sequence[str], *, what: str, env: dict | None = None, timeout: float = 120) -> str:
    """Run a set-up command; a failure names the command and shows its output."""
    try:
        done = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
    except FileNotFoundError:
        raise ServiceError(
            f"{what}: '{args[0]}' not found; run `make setup` to install it"
        ) from None
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise ServiceError(f"{what} failed ({' '.join(args[:2])} ...): {' | '.join(output)}")
    return done.stdout


def _tail(log_file: Path | None, lines: int = 3) -> str:
    if log_file is None or not log_file.exists():
        return "(no log)"
    return " | ".join(log_file.read_text(errors="replace").strip().splitlines()[-lines:])
