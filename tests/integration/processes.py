"""Running `lakehouse` commands as subprocesses for the crash and PII tests: output to files (so
it can be scanned), each process leading its own session so it and everything it started
(the JVM, Spark's Python workers) can be killed together."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("cli_driver.py")


@dataclass
class Job:
    """A started subprocess and the files holding its stdout and stderr."""

    proc: subprocess.Popen
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_session(self)
            tail = self.output()[-3000:]
            raise AssertionError(f"still running after {timeout} s:\n{tail}") from None


def driver_argv(*commands: Sequence[str], crash: Sequence[str] = ()) -> list[str]:
    """``cli_driver.py [crash] -- C1 --then C2 ...``: the commands in one process."""
    argv = [sys.executable, str(DRIVER), *crash, "--"]
    for i, command in enumerate(commands):
        argv += (["--then"] if i else []) + list(command)
    return argv


def cli_argv(*args: str) -> list[str]:
    """The `lakehouse` command itself (``python -m lakehouse.cli``)."""
    return [sys.executable, "-m", "lakehouse.cli", *args]


def start(argv: Sequence[str], env: Mapping[str, str], *, logs: Path, name: str) -> Job:
    logs.mkdir(parents=True, exist_ok=True)
    stdout, stderr = logs / f"{name}.stdout", logs / f"{name}.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            list(argv),
            env={**env, "PYTHONPATH": str(REPO)},
            cwd=logs,  # anything Spark drops in its working directory lands here, and is scanned
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    return Job(proc, stdout, stderr)


def run(argv: Sequence[str], env: Mapping[str, str], *, logs: Path, name: str) -> Job:
    job = start(argv, env, logs=logs, name=name)
    job.wait(timeout=900)
    return job


def wait_until(job: Job, ready: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if job.proc.poll() is not None:
            raise AssertionError(f"exited ({job.proc.returncode}) before {what}:\n{job.output()}")
        if time.monotonic() > deadline:
            kill_session(job)
            raise AssertionError(f"no {what} after {timeout} s:\n{job.output()[-3000:]}")
        time.sleep(0.1)


def kill_session(job: Job) -> None:
    """SIGKILL the process and every process of its session (the JVM, Spark's Python daemon
    and workers, which put themselves in process groups of their own), then reap it."""
    sid = job.proc.pid
    for pid in [sid, *_session_members(sid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    job.proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while _session_members(sid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _session_members(sid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Fields after the parenthesised command: state ppid pgrp session ...
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry.name))
    return members
