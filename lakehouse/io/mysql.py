"""The MySQL source through Spark JDBC (MariaDB's driver from Debian, /usr/share/java)."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import Config

__all__ = ["jdbc_url", "read_mysql"]

# Spark picks its MySQL dialect from a jdbc:mysql:// URL; jdbc:mariadb:// gets no dialect.
DRIVER = "org.mariadb.jdbc.Driver"


def jdbc_url(cfg: Config) -> str:
    return f"jdbc:mysql://{cfg.mysql.host}:{cfg.mysql.port}/{cfg.mysql.database}"


def read_mysql(spark: SparkSession, cfg: Config, table: str) -> DataFrame:
    """One table (or a parenthesized subquery with an alias) as a DataFrame."""
    password = cfg.mysql.password.get_secret_value() if cfg.mysql.password else ""
    return (
        spark.read.format("jdbc")
        .option("url", jdbc_url(cfg))
        .option("driver", DRIVER)
        .option("dbtable", table)
        .option("user", cfg.mysql.user)
        .option("password", password)
        .load()
    )
