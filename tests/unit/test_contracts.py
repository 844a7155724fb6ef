"""TableContract: validated at construction; its Delta table properties."""

from __future__ import annotations

from typing import Any

import pytest
from pyspark.sql import types as T

from lakehouse.contracts import TableContract
from lakehouse.errors import ContractError

pytestmark = pytest.mark.unit

ORDER_FIELDS = T.StructType(
    [
        T.StructField("order_id", T.StringType(), nullable=False),
        T.StructField("line_no", T.IntegerType(), nullable=False),
        T.StructField("order_date", T.DateType()),
        T.StructField("order_ts", T.TimestampType()),
        T.StructField("amount", T.DecimalType(18, 2)),
        T.StructField("score", T.DoubleType()),
        T.StructField("email", T.StringType()),
    ]
)


def orders_contract(**overrides: Any) -> TableContract:
    options: dict[str, Any] = {
        "name": "silver.orders",
        "version": 2,
        "schema": ORDER_FIELDS,
        "primary_key": ("order_id", "line_no"),
        "partition_by": ("order_date",),
        "pii": {"email": "tokenize"},
        "owner": "retail-data",
        "description": "Order lines; written by jobs/ingest_orders.py",
    }
    options.update(overrides)
    return TableContract(**options)


def test_valid_contract_builds() -> None:
    contract = orders_contract()

    assert (contract.layer, contract.entity) == ("silver", "orders")
    assert contract.column_names == (
        "order_id",
        "line_no",
        "order_date",
        "order_ts",
        "amount",
        "score",
        "email",
    )


@pytest.mark.parametrize(
    "name",
    ["orders", "platinum.orders", "silver.Orders", "silver.orders.v2", "silver.", "silver.1st"],
)
def test_name_not_layer_dot_entity_raises(name: str) -> None:
    with pytest.raises(ContractError, match=r"<layer>\.<entity>"):
        orders_contract(name=name)


def test_name_with_trailing_newline_raises() -> None:
    with pytest.raises(ContractError, match=r"<layer>\.<entity>"):
        orders_contract(name="silver.orders\n")


def test_unknown_partition_column_raises_naming_it() -> None:
    with pytest.raises(ContractError, match=r"partition column \['ship_date'\]"):
        orders_contract(partition_by=("ship_date",))


def test_unknown_primary_key_column_raises_naming_it() -> None:
    with pytest.raises(ContractError, match=r"primary key column \['orderid'\]"):
        orders_contract(primary_key=("orderid",))


def test_unknown_pii_column_raises_naming_it() -> None:
    with pytest.raises(ContractError, match=r"PII column \['phone'\]"):
        orders_contract(pii={"phone": "mask"})


def test_unknown_pii_treatment_raises_naming_it() -> None:
    with pytest.raises(ContractError, match="hash"):
        orders_contract(pii={"email": "hash"})


@pytest.mark.parametrize(("column", "type_name"), [("score", "double"), ("order_ts", "timestamp")])
def test_partition_column_of_unsupported_type_raises(column: str, type_name: str) -> None:
    with pytest.raises(ContractError, match=f"'{column}' is {type_name}"):
        orders_contract(partition_by=(column,))


def test_partitioning_by_every_column_raises() -> None:
    schema = T.StructType([T.StructField("order_date", T.DateType())])

    with pytest.raises(ContractError, match="at least one column"):
        orders_contract(schema=schema, primary_key=(), pii={}, partition_by=("order_date",))


def test_delta_configuration_records_version_owner_and_primary_key() -> None:
    contract = orders_contract()

    assert contract.delta_configuration() == {
        "lakehouse.contract.version": "2",
        "lakehouse.owner": "retail-data",
        "lakehouse.primaryKey": "order_id,line_no",
    }


def test_delta_configuration_includes_extra_properties() -> None:
    contract = orders_contract(properties={"delta.appendOnly": "true"})

    assert contract.delta_configuration()["delta.appendOnly"] == "true"


def test_contract_is_frozen() -> None:
    contract = orders_contract()

    with pytest.raises(AttributeError):
        contract.version = 3  # type: ignore[misc]
