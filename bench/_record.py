"""What a benchmark returns, the machine it ran on, and writing both to ``bench/results/``."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = ("pyspark", "deltalake", "pyarrow")


@dataclass(frozen=True)
class Outcome:
    """``details`` go to ``<name>.json``; ``figures`` are also merged into ``summary.json``."""

    details: dict[str, Any]
    figures: dict[str, float]


class BenchError(RuntimeError):
    """A benchmark produced a wrong result; its figures must not be trusted."""


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        **{name: _version(name) for name in LIBRARIES},
        "java": _java_version(),
    }


def git_revision() -> dict[str, Any]:
    """The commit, and whether tracked files differ from it (then the commit alone does not
    say what was measured). Both None outside a git checkout."""
    commit = _git("rev-parse", "HEAD")
    changes = _git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": None if changes is None else bool(changes)}


def write_result(out: Path, name: str, outcome: Outcome, context: dict[str, Any]) -> Path:
    path = out / f"{name}.json"
    _write_json(path, {"benchmark": name, **context, **outcome.details})
    return path


def merge_summary(out: Path, name: str, outcome: Outcome, context: dict[str, Any]) -> Path:
    """Update this benchmark's keys in ``summary.json``, keeping the other benchmarks' keys."""
    path = out / "summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {}
    summary.update(outcome.figures)
    summary.update(context)
    # The top-level context describes the latest run; remember which run each figure came from.
    summary.setdefault("runs", {})[name] = {
        "figures": sorted(outcome.figures),
        "run_at_utc": context["run_at_utc"],
        "git_commit": context["git_commit"],
    }
    _write_json(path, summary)
    return path


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _memory_gib() -> float | None:
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("MemTotal:"):
            kib = int(line.split()[1])
            return round(kib / 1024**2, 1)
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _java_version() -> str | None:
    # Spark launches $JAVA_HOME/bin/java when JAVA_HOME is set, else the java on PATH.
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else "java"
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[0] if lines else None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()
