"""Churn training sets: snapshot dates, labels from silver.transactions, features from the
feature store's point-in-time join, and a split by time.

    plan = plan_snapshots(first_day, last_day, settings=cfg.models.churn)
    labelled = label_snapshots(customer_days, accounts, plan, settings=cfg.models.churn)
    rows = store.get_historical_features(labelled, CHURN_VIEWS)

Population: a snapshot date ``D`` gives one row per customer who is still a customer at the
end of ``D`` and uses the bank: at least one account open at the end of ``D``
(silver.accounts) and a transaction in the ``active_days`` ending with ``D``
(``churn_population``, which scoring must share). Each row is observed just after the end
of ``D`` (``observed_at``): the features are the daily snapshot of ``D`` and nothing later.

Label: ``churned`` is 1 when the customer makes no transaction in ``(D, D + horizon_days]``,
so only dates whose horizon ends inside the data are snapshots. The open-account condition is
what makes this a forecast: without it most churned rows (85-90% on generated data) were
customers who had already closed their accounts before ``D`` and were in the population only
because they transacted in the month before; the label then said "has left" and recency alone
ranked it. With it, a churned row is a customer who still holds an account at ``D`` and will
go silent. Requiring a transaction in the last few days instead was measured and rejected:
within 3 days, 24% of the churned rows were still already gone and 28% of the others were lost;
within 7 days, 59% and 1%.

Split: the last ``holdout_days`` of snapshots are the test window, the ``validation_days``
before them the validation window, everything earlier trains: rows are never split at random
across time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from feature_store.core import FEATURE_DATE, FeatureView
from feature_store.registry import Registry
from lakehouse.config import ChurnModelConfig
from lakehouse.delta import Table, Warehouse
from lakehouse.errors import SourceUnavailableError, TableNotFoundError, TrainingDataError

__all__ = [
    "CHURN_VIEWS",
    "KEY",
    "LABEL",
    "SPLITS",
    "SnapshotPlan",
    "TrainingFrame",
    "check_materialized",
    "churn_population",
    "data_span",
    "label_snapshots",
    "load_training_frame",
    "model_features",
    "observed_at",
    "plan_snapshots",
    "read_accounts",
    "read_customer_days",
    "source_tables",
    "training_rows",
]

KEY, LABEL, SNAPSHOT, EVENT_TS, SPLIT = (
    "customer_id",
    "churned",
    "snapshot_date",
    "event_ts",
    "split",
)
SPLITS = ("train", "validation", "test")
TRANSACTIONS, ACCOUNTS = "silver.transactions", "silver.accounts"
CLOSED = "closed"  # silver.accounts status of a closed account (closing is final)
# What a customer did and bought; home_location (a place name) is not a model input.
CHURN_VIEWS = (
    "customer_spend",
    "customer_lifestyle",
    "customer_activity",
    "customer_cashflow",
    "customer_income",
    "customer_fraud_profile",
    "customer_orders",
    "customer_returns",
)
_NUMERIC_TYPES = ("double", "long", "int", "boolean")
_ONE_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class SnapshotPlan:
    """Snapshot dates per window, each window ascending and every train date before every
    validation date before every test date."""

    train: tuple[dt.date, ...]
    validation: tuple[dt.date, ...]
    test: tuple[dt.date, ...]

    @property
    def dates(self) -> tuple[dt.date, ...]:
        return (*self.train, *self.validation, *self.test)

    def window(self, split: str) -> tuple[dt.date, ...]:
        return getattr(self, split)

    def describe(self) -> dict[str, str]:
        return {s: f"{self.window(s)[0]}..{self.window(s)[-1]}" for s in SPLITS}


def observed_at(day: dt.date) -> dt.datetime:
    """When a snapshot row for ``day`` is observed: one microsecond after ``day`` ends (UTC).

    A daily view's values for ``day`` are stamped ``feature_ts = day + 1, 00:00`` and the
    point-in-time join takes values stamped strictly before a row's time; at exactly
    midnight it would hand back the day before. One microsecond later it takes ``day``'s
    values, which were computed from events up to the end of ``day`` only."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    return midnight + _ONE_MICROSECOND


def plan_snapshots(
    first_day: dt.date, last_day: dt.date, *, settings: ChurnModelConfig
) -> SnapshotPlan:
    """Snapshot dates every ``snapshot_every_days`` counted back from the last date whose
    horizon ends by ``last_day``, back to the first date with a full activity window."""
    newest = last_day - dt.timedelta(days=settings.horizon_days)
    oldest = first_day + dt.timedelta(days=settings.active_days - 1)
    step = dt.timedelta(days=settings.snapshot_every_days)
    dates = []
    day = newest
    while day >= oldest:
        dates.append(day)
        day -= step
    test_after = newest - dt.timedelta(days=settings.holdout_days)
    validation_after = test_after - dt.timedelta(days=settings.validation_days)
    plan = SnapshotPlan(
        train=tuple(sorted(d for d in dates if d <= validation_after)),
        validation=tuple(sorted(d for d in dates if validation_after < d <= test_after)),
        test=tuple(sorted(d for d in dates if d > test_after)),
    )
    empty = [s for s in SPLITS if not plan.window(s)]
    if empty:
        needed = (
            settings.active_days
            + settings.horizon_days
            + settings.holdout_days
            + settings.validation_days
            + settings.snapshot_every_days
        )
        raise TrainingDataError(
            f"churn training set: {first_day}..{last_day} gives no snapshot date for the "
            f"{'/'.join(empty)} window(s); it needs about {needed} days of data (activity "
            f"{settings.active_days} + horizon {settings.horizon_days} + test "
            f"{settings.holdout_days} + validation {settings.validation_days} + one training "
            f"step of {settings.snapshot_every_days}): load more history or shorten models.churn"
        )
    return plan


def churn_population(
    customer_days: DataFrame,
    accounts: DataFrame,
    dates: Sequence[dt.date],
    *,
    active_days: int,
) -> DataFrame:
    """customer_id, snapshot_date for every customer who, at the end of a date ``D`` of
    ``dates``, holds an account open then and made a transaction in the ``active_days``
    ending with ``D``: who churn is predicted for, in training and in scoring.
    ``customer_days`` holds customer_id and txn_date; ``accounts`` customer_id,
    opened_date and closed_date (NULL while open; see ``read_accounts``)."""
    snapshots = F.broadcast(
        customer_days.sparkSession.createDataFrame([(d,) for d in dates], f"{SNAPSHOT} date")
    )
    day = F.col(SNAPSHOT)
    in_window = (F.col("txn_date") > F.date_sub(day, active_days)) & (F.col("txn_date") <= day)
    active = customer_days.select(KEY, "txn_date").join(snapshots, on=in_window, how="inner")
    still_open = (F.col("opened_date") <= day) & (
        F.col("closed_date").isNull() | (F.col("closed_date") > day)
    )
    holding = accounts.select(KEY, "opened_date", "closed_date").join(
        snapshots, on=still_open, how="inner"
    )
    return (
        active.select(KEY, SNAPSHOT)
        .distinct()
        .join(holding.select(KEY, SNAPSHOT), on=[KEY, SNAPSHOT], how="left_semi")
    )


def label_snapshots(
    customer_days: DataFrame, accounts: DataFrame, plan: SnapshotPlan, *, settings: ChurnModelConfig
) -> DataFrame:
    """customer_id, snapshot_date, event_ts, split, churned (0/1) for the population of each
    snapshot date (``churn_population``). ``customer_days`` holds customer_id and txn_date
    (one row per transaction, or per distinct day); ``accounts`` as ``read_accounts``."""
    split_of = {d: s for s in SPLITS for d in plan.window(s)}
    snapshots = F.broadcast(
        customer_days.sparkSession.createDataFrame(
            [(d, observed_at(d), split_of[d]) for d in plan.dates],
            f"{SNAPSHOT} date, {EVENT_TS} timestamp, {SPLIT} string",
        )
    )
    days = customer_days.select(KEY, "txn_date").distinct()
    population = churn_population(days, accounts, plan.dates, active_days=settings.active_days)
    day = F.col(SNAPSHOT)
    in_horizon = (F.col("txn_date") > day) & (
        F.col("txn_date") <= F.date_add(day, settings.horizon_days)
    )
    # Few snapshot dates: a broadcast range join is one pass over the customer-days.
    returned = (
        days.join(snapshots.select(SNAPSHOT), on=in_horizon, how="inner")
        .select(KEY, SNAPSHOT, F.lit(0).alias(LABEL))
        .distinct()
    )
    return (
        population.join(snapshots, on=SNAPSHOT, how="inner")
        .join(returned, on=[KEY, SNAPSHOT], how="left")
        .select(KEY, SNAPSHOT, EVENT_TS, SPLIT, F.coalesce(F.col(LABEL), F.lit(1)).alias(LABEL))
    )


def model_features(registry: Registry, views: Sequence[str] = CHURN_VIEWS) -> tuple[str, ...]:
    """The numeric features of ``views`` (strings such as home_location are not inputs)."""
    return tuple(
        f.name
        for view in registry.materialized_views(list(views))
        for f in view.features
        if f.dtype in _NUMERIC_TYPES
    )


def source_tables(registry: Registry, views: Sequence[str] = CHURN_VIEWS) -> tuple[str, ...]:
    """Every Delta table a training set over ``views`` reads: labels, population, views'
    sources, the views' offline tables."""
    stored = registry.materialized_views(list(views))
    names = [
        TRANSACTIONS,
        ACCOUNTS,
        *(v.source.name for v in stored),
        *(v.offline_table for v in stored),
    ]
    return tuple(dict.fromkeys(names))


def data_span(warehouse: Warehouse) -> tuple[dt.date, dt.date, Table]:
    """First and last txn_date of silver.transactions (from the Delta log), and the table."""
    try:
        table = warehouse.table(TRANSACTIONS)
    except TableNotFoundError:
        raise SourceUnavailableError(
            f"{TRANSACTIONS} does not exist yet: run the daily batch first "
            "(lakehouse batch --run-date D)"
        ) from None
    dates = _partition_dates(table, "txn_date")
    if not dates:
        raise SourceUnavailableError(
            f"{TRANSACTIONS} has no rows: run the daily batch first (lakehouse batch --run-date D)"
        )
    return min(dates), max(dates), table


def check_materialized(
    warehouse: Warehouse, registry: Registry, dates: Sequence[dt.date], views: Sequence[str]
) -> None:
    """Raise SourceUnavailableError naming every view with snapshot dates whose daily values
    were never materialized (the point-in-time join would quietly fill them with NULLs or
    older values), and the command that materializes them."""
    missing = {
        view.name: sorted(set(dates) - _materialized_dates(warehouse, view))
        for view in registry.materialized_views(list(views))
    }
    missing = {name: days for name, days in missing.items() if days}
    if not missing:
        return
    days = sorted({d for found in missing.values() for d in found})
    shown = ", ".join(str(d) for d in days[:3]) + (" ..." if len(days) > 3 else "")
    flags = " ".join(f"--view {name}" for name in missing)
    raise SourceUnavailableError(
        f"feature view(s) {', '.join(missing)} not materialized for {len(days)} of the "
        f"{len(dates)} snapshot dates ({shown}): run lakehouse features materialize "
        f"--from-date {days[0]} --run-date {days[-1]} {flags}"
    )


def _materialized_dates(warehouse: Warehouse, view: FeatureView) -> set[dt.date]:
    try:
        table = warehouse.table(view.offline_table)
    except TableNotFoundError:
        return set()
    return _partition_dates(table, FEATURE_DATE)


def _partition_dates(table: Table, column: str) -> set[dt.date]:
    actions = pa.table(table.delta().get_add_actions(flatten=True))
    name = f"partition.{column}"
    if not actions.num_rows or name not in actions.column_names:
        return set()
    values = pc.unique(actions.column(name)).to_pylist()
    return {v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)) for v in values}


def read_accounts(warehouse: Warehouse, spark) -> DataFrame:
    """customer_id, opened_date, closed_date (NULL while open) of every account in
    silver.accounts. It holds each account's latest status, and closing is final: a closed
    account was closed on the day of that status (its updated_at, UTC), open before."""
    try:
        table = warehouse.table(ACCOUNTS)
    except TableNotFoundError:
        raise SourceUnavailableError(
            f"{ACCOUNTS} does not exist yet: run the daily batch first (lakehouse batch "
            "--run-date D); churn is predicted only for customers holding an open account"
        ) from None
    accounts = table.to_spark(spark, columns=[KEY, "opened_date", "status", "updated_at"])
    is_closed = F.col("status") == CLOSED
    return accounts.select(
        KEY,
        "opened_date",
        F.when(is_closed, F.to_date("updated_at")).alias("closed_date"),
    )


def read_customer_days(
    table: Table, spark, plan: SnapshotPlan, *, settings: ChurnModelConfig
) -> DataFrame:
    """customer_id, txn_date of the transactions the plan's windows cover (partition-pruned)."""
    first = plan.dates[0] - dt.timedelta(days=settings.active_days)
    last = plan.dates[-1] + dt.timedelta(days=settings.horizon_days)
    window = [("txn_date", ">", first), ("txn_date", "<=", last)]
    return table.to_spark(spark, filters=window, columns=[KEY, "txn_date"])


def training_rows(
    store,
    customer_days: DataFrame,
    accounts: DataFrame,
    plan: SnapshotPlan,
    *,
    settings: ChurnModelConfig,
    views: Sequence[str] = CHURN_VIEWS,
    feature_timestamps: bool = False,
) -> DataFrame:
    """The labelled snapshot rows with every numeric feature of ``views`` as a double (the
    booster sees float32 either way; booleans become 0/1), NULL where a view has no value.
    ``feature_timestamps`` adds ``<view>__feature_ts`` per view, for audits."""
    labelled = label_snapshots(customer_days, accounts, plan, settings=settings)
    features = model_features(store.registry, views)
    rows = store.get_historical_features(
        labelled, list(views), feature_timestamps=feature_timestamps
    )
    stamps = [c for c in rows.columns if c.endswith("__feature_ts")]
    as_doubles = [F.col(name).cast("double").alias(name) for name in features]
    return rows.select(KEY, SNAPSHOT, EVENT_TS, SPLIT, LABEL, *as_doubles, *stamps)


@dataclass(frozen=True, eq=False)
class TrainingFrame:
    """A collected training set and what it was built from."""

    rows: pd.DataFrame  # KEY, snapshot_date, event_ts, split, churned, features
    plan: SnapshotPlan
    features: tuple[str, ...]
    views: tuple[str, ...]
    tables: dict[str, int]  # Delta table -> version when the set was read

    def split(self, name: str) -> pd.DataFrame:
        return self.rows[self.rows[SPLIT] == name]


def load_training_frame(
    store,
    *,
    last_day: dt.date,
    settings: ChurnModelConfig,
    views: Sequence[str] = CHURN_VIEWS,
    feature_timestamps: bool = False,
) -> TrainingFrame:
    """The churn training set over the data up to ``last_day``, collected to pandas (with
    ``<view>__feature_ts`` columns if ``feature_timestamps``). Raises SourceUnavailableError
    when silver.transactions or a snapshot date's features are missing, TrainingDataError
    when the history is too short."""
    warehouse, registry = store.warehouse, store.registry
    first, last, table = data_span(warehouse)
    if last < last_day:
        raise SourceUnavailableError(
            f"{TRANSACTIONS} holds {first}..{last}, which ends before the run date {last_day}: "
            f"train with --run-date {last} or run the daily batch up to {last_day}"
        )
    plan = plan_snapshots(first, last_day, settings=settings)
    check_materialized(warehouse, registry, plan.dates, views)
    accounts = read_accounts(warehouse, store.spark)
    tables = {name: warehouse.table(name).version for name in source_tables(registry, views)}
    customer_days = read_customer_days(table, store.spark, plan, settings=settings)
    rows = training_rows(
        store,
        customer_days,
        accounts,
        plan,
        settings=settings,
        views=views,
        feature_timestamps=feature_timestamps,
    )
    collected = rows.toPandas().sort_values([SNAPSHOT, KEY], ignore_index=True)
    return TrainingFrame(
        rows=collected,
        plan=plan,
        features=model_features(registry, views),
        views=tuple(views),
        tables=tables,
    )
