"""The MariaDB and Kafka sinks without servers: pure parts, SQL shape, producer settings.
(Loading into a real MariaDB and a real broker is the integration tier's job.)"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from lakehouse.generate import mysql_sink
from lakehouse.generate.kafka_sink import PRODUCER_CONFIG, stream_transactions
from lakehouse.generate.mysql_sink import load_mysql, state_as_of

pytestmark = pytest.mark.unit


def at(day: int, hour: int) -> datetime:
    return datetime(2024, 1, day, hour, tzinfo=UTC)


ORDER_VERSIONS = pa.table(
    {
        "order_id": ["o1", "o2", "o1", "o1", "o2"],
        "status": ["placed", "placed", "shipped", "delivered", "cancelled"],
        "updated_at": pa.array(
            [at(1, 9), at(1, 10), at(2, 8), at(4, 23), at(3, 1)], pa.timestamp("s", tz="UTC")
        ),
    }
)


def test_state_as_of_a_day_keeps_the_latest_version_up_to_its_end() -> None:
    got = state_as_of(ORDER_VERSIONS, ("order_id",), date(2024, 1, 2)).to_pylist()

    assert got == [
        {"order_id": "o1", "status": "shipped", "updated_at": at(2, 8)},
        {"order_id": "o2", "status": "placed", "updated_at": at(1, 10)},
    ]


def test_state_as_of_none_is_the_final_state() -> None:
    got = state_as_of(ORDER_VERSIONS, ("order_id",), None).column("status").to_pylist()

    assert got == ["delivered", "cancelled"]


def test_state_as_of_a_day_before_everything_is_empty() -> None:
    assert state_as_of(ORDER_VERSIONS, ("order_id",), date(2023, 12, 31)).num_rows == 0


def test_upsert_sql_is_parameterized_and_keeps_keys() -> None:
    sql = mysql_sink._upsert_sql("order_items", ["order_id", "line_no", "quantity", "updated_at"])

    assert sql == (
        "INSERT INTO `order_items` (`order_id`, `line_no`, `quantity`, `updated_at`) "
        "VALUES (%s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
        "`quantity`=VALUES(`quantity`), `updated_at`=VALUES(`updated_at`)"
    )


@pytest.mark.parametrize("table", ["customers", "accounts", "orders", "order_items", "products"])
def test_each_table_has_a_primary_key_and_an_updated_at_index(table: str) -> None:
    ddl = mysql_sink._create_sql(table)

    assert "PRIMARY KEY (" in ddl
    assert f"INDEX ix_{table}_updated_at (updated_at)" in ddl


def test_unsafe_database_name_is_refused_before_connecting() -> None:
    from lakehouse.errors import LakehouseError

    with pytest.raises(LakehouseError, match="not a plain identifier"):
        load_mysql(None, host="127.0.0.1", port=1, user="u", password=None, database="x`; DROP")


def test_producer_is_configured_for_throughput() -> None:
    assert PRODUCER_CONFIG["compression.type"] == "zstd"
    assert PRODUCER_CONFIG["linger.ms"] == 20
    assert PRODUCER_CONFIG["batch.num.messages"] >= 10_000
    assert callable(stream_transactions)
