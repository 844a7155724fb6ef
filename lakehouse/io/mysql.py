"""The MySQL source through Spark JDBC (MariaDB's driver from Debian, /usr/share/java)."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import Config

__all__ = ["jdbc_options", "jdbc_url", "read_mysql"]

# Spark picks its MySQL dialect from a jdbc:mysql:// URL; jdbc:mariadb:// gets no dialect.
DRIVER = "org.mariadb.jdbc.Driver"


def jdbc_url(cfg: Config) -> str:
    return f"jdbc:mysql://{cfg.mysql.host}:{cfg.mysql.port}/{cfg.mysql.database}"


def jdbc_options(cfg: Config) -> dict[str, str]:
    """Connection options for Spark's JDBC source."""
    password = cfg.mysql.password.get_secret_value() if cfg.mysql.password else ""
    return {"url": jdbc_url(cfg), "driver": DRIVER, "user": cfg.mysql.user, "password": password}


def read_mysql(spark: SparkSession, cfg: Config, table: str) -> DataFrame:
    """One table (or a parenthesized subquery with an alias) as a DataFrame."""
    return spark.read.format("jdbc").options(**jdbc_options(cfg)).option("dbtable", table).load()
