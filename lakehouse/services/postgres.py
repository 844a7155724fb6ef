"""PostgreSQL 15 from Debian, standing in for Redshift (same wire protocol)."""

from __future__ import annotations

import os
import pwd
import shlex
from pathlib import Path

import psycopg
from psycopg import sql

from lakehouse.errors import ServiceError
from lakehouse.services import _process
from lakehouse.services._base import Service

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# PostgreSQL refuses to run as root: as root, its commands run as this account.
PG_ACCOUNT = "postgres"


class Postgres(Service):
    name = "postgres"
    binaries = (str(PG_BIN / "initdb"), str(PG_BIN / "pg_ctl"))
    port_variable = "LAKEHOUSE__REDSHIFT__PORT"

    @property
    def port(self) -> int:
        return self.cfg.redshift.port

    def address(self) -> str:
        rs = self.cfg.redshift
        return f"postgresql://{rs.user}@{rs.host}:{rs.port}/{rs.database}"

    @property
    def _data(self) -> Path:
        return self.dir / "data"

    def healthy(self) -> bool:
        try:
            self._connect("postgres").close()
        except psycopg.Error:
            return False
        return True

    def _connect(self, database: str) -> psycopg.Connection:
        rs = self.cfg.redshift
        password = rs.password.get_secret_value() if rs.password else None
        return psycopg.connect(
            host=rs.host,
            port=rs.port,
            user=rs.user,
            password=password,
            dbname=database,
            connect_timeout=2,
            autocommit=True,
        )

    def _start(self) -> int:
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self._data / "PG_VERSION").exists():
            self._initdb()
        _as_owner(self.dir)
        self._run_pg(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self._data),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
                "start",
            ],
            what="pg_ctl start",
        )
        pid_line = (self._data / "postmaster.pid").read_text().splitlines()[0]
        self.pid_file.write_text(f"{pid_line}\n")
        return int(pid_line)

    def _initdb(self) -> None:
        rs = self.cfg.redshift
        self._data.mkdir(parents=True, exist_ok=True)
        args = [
            str(PG_BIN / "initdb"),
            "-D",
            str(self._data),
            f"--username={rs.user}",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ]
        if rs.password:
            pwfile = self.dir / ".pwfile"
            pwfile.write_text(rs.password.get_secret_value())
            pwfile.chmod(0o600)
            _as_owner(pwfile)
            args += [f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=trust"]
        else:
            args += ["--auth=trust"]  # loopback only, private port: the local default
        _as_owner(self.dir)
        try:
            self._run_pg(args, what="initdb")
        finally:
            (self.dir / ".pwfile").unlink(missing_ok=True)

    def _run_pg(self, args: list[str], *, what: str) -> None:
        if os.getuid() == 0:
            _check_reachable(self.dir)
            args = ["su", PG_ACCOUNT, "-s", "/bin/sh", "-c", shlex.join(args)]
        _process.run(args, what=what, timeout=120)

    def _after_start(self) -> None:
        database = self.cfg.redshift.database
        with self._connect("postgres") as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))

    def _stop(self, pid: int) -> None:
        try:
            self._run_pg(
                [str(PG_BIN / "pg_ctl"), "-D", str(self._data), "-m", "fast", "-w", "stop"],
                what="pg_ctl stop",
            )
        except ServiceError:
            _process.stop_pid(pid)


def _as_owner(path: Path) -> None:
    if os.getuid() != 0:
        return
    account = pwd.getpwnam(PG_ACCOUNT)
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.chown(item, account.pw_uid, account.pw_gid)


def _check_reachable(path: Path) -> None:
    for parent in path.parents:
        if parent.stat().st_mode & 0o001 == 0:
            raise ServiceError(
                f"postgres: runs as the '{PG_ACCOUNT}' account, which cannot enter {parent}; put "
                "LAKEHOUSE_HOME somewhere it can reach (e.g. under /tmp or /srv)"
            )
