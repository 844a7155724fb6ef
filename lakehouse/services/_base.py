"""What every local service shares: state directory, pid file, up/down/status."""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lakehouse.config import Config
from lakehouse.errors import ServiceError
from lakehouse.services import _process

State = Literal["running", "stopped", "unhealthy"]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: State
    address: str
    pid: int | None
    detail: str = ""


class Service(ABC):
    name: str
    binaries: tuple[str, ...] = ()
    port_variable: str = ""
    start_timeout: float = 60

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.dir = cfg.path("services") / self.name
        self.pid_file = self.dir / f"{self.name}.pid"
        self.log_file = self.dir / f"{self.name}.log"

    @property
    @abstractmethod
    def port(self) -> int | None: ...

    @abstractmethod
    def address(self) -> str: ...

    @abstractmethod
    def healthy(self) -> bool: ...

    @abstractmethod
    def _start(self) -> int:
        """Start the server process; return its pid."""

    def _after_start(self) -> None:  # noqa: B027 (optional hook; Kafka needs none)
        """Create databases, users, topics or buckets (idempotent)."""

    def _stop(self, pid: int) -> None:
        _process.stop_pid(pid)

    def up(self) -> ServiceStatus:
        had_pid_file = self.pid_file.exists()
        pid = _process.read_pid(self.pid_file)
        if pid is not None:
            if not self.healthy():
                raise ServiceError(
                    f"{self.name} (pid {pid}) is running but does not answer at {self.address()}; "
                    f"see {self.log_file}, then `lakehouse services down {self.name}` and up again"
                )
            self._after_start()
            return ServiceStatus(self.name, "running", self.address(), pid, "already running")
        if self.port is not None and _process.port_open(self.port):
            raise ServiceError(
                f"{self.name}: port {self.port} on 127.0.0.1 is taken by another process; stop "
                f"it or choose another port with {self.port_variable}=<port>"
            )
        self._check_binaries()
        self.dir.mkdir(parents=True, exist_ok=True)
        pid = self._start()
        _process.wait_until(
            self.healthy,
            what=self.name,
            timeout=self.start_timeout,
            log_file=self.log_file,
            pid=pid,
        )
        self._after_start()
        detail = "started (removed a stale pid file)" if had_pid_file else "started"
        return ServiceStatus(self.name, "running", self.address(), pid, detail)

    def down(self) -> ServiceStatus:
        pid = _process.read_pid(self.pid_file)
        if pid is None:
            return ServiceStatus(self.name, "stopped", self.address(), None, "was not running")
        self._stop(pid)
        self.pid_file.unlink(missing_ok=True)
        return ServiceStatus(self.name, "stopped", self.address(), None, f"stopped pid {pid}")

    def status(self) -> ServiceStatus:
        pid = _process.read_pid(self.pid_file)
        if pid is None:
            return ServiceStatus(self.name, "stopped", self.address(), None)
        state: State = "running" if self.healthy() else "unhealthy"
        return ServiceStatus(self.name, state, self.address(), pid)

    def _check_binaries(self) -> None:
        for binary in self.binaries:
            if not (Path(binary).is_file() or shutil.which(binary)):
                raise ServiceError(
                    f"{self.name}: '{binary}' is not installed; run `make setup` (it installs "
                    "the Debian packages) or scripts/install-system-packages.sh"
                )
