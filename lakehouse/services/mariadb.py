"""MariaDB from Debian, standing in for the MySQL source."""

from __future__ import annotations

import os
import pwd

import pymysql

from lakehouse.errors import ServiceError
from lakehouse.services import _process
from lakehouse.services._base import Service

MARIADBD = "/usr/sbin/mariadbd"


class MariaDB(Service):
    name = "mariadb"
    binaries = (MARIADBD, "mariadb-install-db")
    port_variable = "LAKEHOUSE__MYSQL__PORT"

    @property
    def port(self) -> int:
        return self.cfg.mysql.port

    def address(self) -> str:
        mysql = self.cfg.mysql
        return f"mysql://{mysql.user}@{mysql.host}:{mysql.port}/{mysql.database}"

    @property
    def _socket(self) -> str:
        return str(self.dir / "mysqld.sock")

    def healthy(self) -> bool:
        try:
            _admin(self._socket).close()
        except pymysql.MySQLError:
            return False
        return True

    def _start(self) -> int:
        data = self.dir / "data"
        if not (data / "mysql").is_dir():
            _process.run(
                [
                    "mariadb-install-db",
                    "--no-defaults",
                    f"--datadir={data}",
                    f"--user={_os_user()}",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                ],
                what="mariadb-install-db",
            )
        return _process.spawn(
            [
                MARIADBD,
                "--no-defaults",
                f"--datadir={data}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self._socket}",
                f"--pid-file={self.dir / 'mariadbd.pid'}",
                f"--log-error={self.log_file}",
                f"--user={_os_user()}",
                "--skip-name-resolve",
            ],
            log_file=self.dir / "stdout.log",
            pid_file=self.pid_file,
        )

    def _after_start(self) -> None:
        mysql = self.cfg.mysql
        password = mysql.password.get_secret_value() if mysql.password else ""
        conn = _admin(self._socket)
        try:
            with conn.cursor() as cur:
                # install-db creates anonymous users that would shadow ours on TCP logins.
                cur.execute("DELETE FROM mysql.global_priv WHERE User = ''")
                cur.execute("FLUSH PRIVILEGES")
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{_ident(mysql.database)}`")
                cur.execute(
                    "CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s",
                    (mysql.user, password),
                )
                cur.execute(
                    f"GRANT ALL ON `{_ident(mysql.database)}`.* TO %s@'127.0.0.1'", (mysql.user,)
                )
        finally:
            conn.close()
        self._check_login(password)

    def _check_login(self, password: str) -> None:
        mysql = self.cfg.mysql
        try:
            pymysql.connect(
                host=mysql.host,
                port=mysql.port,
                user=mysql.user,
                password=password,
                database=mysql.database,
                connect_timeout=5,
            ).close()
        except pymysql.MySQLError as err:
            raise ServiceError(f"mariadb: {mysql.user} cannot log in over TCP ({err})") from err


def _admin(socket_path: str) -> pymysql.Connection:
    # Socket authentication: the OS user that started the server is its administrator.
    return pymysql.connect(
        unix_socket=socket_path, user=_os_user(), connect_timeout=2, autocommit=True
    )


def _os_user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ServiceError(f"mariadb: database name {name!r} must be letters, digits and _")
    return name
