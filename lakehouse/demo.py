"""`lakehouse demo`: what exists so far, end to end on embedded defaults.

Starts the local services, generates a bank's data (CSV drops, MariaDB, a Kafka stream), then
shows the Delta table layer on silver.orders: loads three days of orders (one replace_where
commit per day, each an app transaction so a re-run writes nothing), re-sends a corrected day,
merges status changes and cancellations, travels back in time, compacts, and checks the result
with an independent reader (delta-rs). Ingest (issue 5) replaces the synthetic orders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from rich.console import Console
from rich.table import Table as RichTable

from lakehouse.config import Config
from lakehouse.delta import AppTransaction, Table, Warehouse
from lakehouse.session import build_spark

DEMO_DAYS = (dt.date(2024, 5, 1), dt.date(2024, 5, 2), dt.date(2024, 5, 3))
ORDERS_PER_DAY = 100_000
APP_ID = "lakehouse.demo.orders"
DEMO_CUSTOMERS, DEMO_DAYS_GENERATED, DEMO_SEED = 2_000, 30, 42
CHANNELS = ("web", "app", "store")


def demo_orders(spark: SparkSession, day: dt.date, *, revision: int = 0) -> DataFrame:
    """One day of orders, deterministic per (day, revision): hashes, not random draws."""
    from schemas.orders import ORDERS

    day_number = (day - dt.date(2024, 1, 1)).days
    ids = spark.range(ORDERS_PER_DAY).select(
        "id", F.abs(F.xxhash64("id", F.lit(day_number), F.lit(revision))).alias("h")
    )
    order_ts = F.timestamp_seconds(F.lit(_epoch(day)) + F.col("h") % 86_400)
    channel = F.element_at(F.array(*map(F.lit, CHANNELS)), (F.col("h") % 3 + 1).cast("int"))
    orders = ids.select(
        F.format_string("O%s-%07d", F.lit(day.strftime("%Y%m%d")), "id").alias("order_id"),
        (F.col("h") % 20_000 + 1).alias("customer_id"),
        order_ts.alias("order_ts"),
        F.lit(day).alias("order_date"),
        F.lit("placed").alias("status"),
        channel.alias("channel"),
        F.lit("EUR").alias("currency"),
        (F.col("h") % 50_000 / 100 + 1).cast("decimal(18,2)").alias("total_amount"),
        (F.col("h") % 5 + 1).cast("int").alias("item_count"),
        order_ts.alias("updated_ts"),
    )
    return orders.select(*ORDERS.column_names)


def status_changes(orders: DataFrame) -> DataFrame:
    """Every 10th order ships a day later; every 50th is cancelled instead (op 'D')."""
    number = F.substring_index("order_id", "-", -1).cast("int")
    is_cancelled = number % 50 == 0
    changed = orders.filter(number % 10 == 0)
    return changed.select(
        *[c for c in orders.columns if c not in ("status", "updated_ts")],
        F.when(is_cancelled, F.lit("cancelled")).otherwise(F.lit("shipped")).alias("status"),
        (F.col("order_ts") + F.expr("INTERVAL 1 DAY")).alias("updated_ts"),
        F.when(is_cancelled, F.lit("D")).otherwise(F.lit("U")).alias("op"),
    )


def _epoch(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def run_demo(cfg: Config, *, console: Console) -> int:
    from schemas.orders import ORDERS

    steps: list[tuple[str, Callable[[], str]]] = []
    state: dict = {}

    def step(title: str):
        def register(fn: Callable[[], str]) -> Callable[[], str]:
            steps.append((title, fn))
            return fn

        return register

    @step("start the local services (MariaDB, PostgreSQL, Kafka broker, S3)")
    def _services() -> str:
        from lakehouse import services

        return "; ".join(f"{s.name} {s.address}" for s in services.up(cfg))

    @step(f"generate {DEMO_CUSTOMERS:,} customers x {DEMO_DAYS_GENERATED} days (seed {DEMO_SEED})")
    def _generate() -> str:
        from lakehouse.generate import GeneratorSpec, generate
        from lakehouse.generate.mysql_sink import load_mysql

        spec = GeneratorSpec(customers=DEMO_CUSTOMERS, days=DEMO_DAYS_GENERATED, seed=DEMO_SEED)
        data = generate(spec, landing=cfg.path("landing"), truth=cfg.path("truth"))
        mysql = cfg.mysql
        password = mysql.password.get_secret_value() if mysql.password else ""
        loaded = load_mysql(
            data,
            host=mysql.host,
            port=mysql.port,
            user=mysql.user,
            password=password,
            database=mysql.database,
        )
        return (
            f"{data.row_counts.get('csv.transactions', 0):,} transactions as CSV drops in "
            f"{cfg.path('landing')}; MariaDB {mysql.database}: {sum(loaded.values()):,} rows"
        )

    @step("stream transaction events to Kafka for 2 s")
    def _stream() -> str:
        from lakehouse.generate import GeneratorSpec
        from lakehouse.generate.kafka_sink import stream_transactions
        from lakehouse.services import kafka_bootstrap

        spec = GeneratorSpec(customers=DEMO_CUSTOMERS, days=DEMO_DAYS_GENERATED, seed=DEMO_SEED)
        bootstrap = kafka_bootstrap(cfg)
        sent = stream_transactions(
            spec,
            bootstrap_servers=bootstrap,
            topic="transactions",
            rate=5_000,
            seconds=2,
            seed=DEMO_SEED,
        )
        return f"{sent:,} events on topic transactions at {bootstrap}"

    @step("start Spark")
    def _start() -> str:
        state["spark"] = build_spark("lakehouse-demo", cfg)
        return f"master {state['spark'].sparkContext.master}, Spark {state['spark'].version}"

    @step(f"create {ORDERS.name} from its contract")
    def _create() -> str:
        state["orders"] = Warehouse.from_config(cfg).create(ORDERS)
        return state["orders"].uri

    @step(f"load {len(DEMO_DAYS)} days of orders, one replace_where commit per day")
    def _load() -> str:
        return "; ".join(_load_day(state["spark"], state["orders"], day, 0) for day in DEMO_DAYS)

    @step("re-run the first day (an Airflow retry)")
    def _rerun() -> str:
        return _load_day(state["spark"], state["orders"], DEMO_DAYS[0], 0)

    @step("a corrected file for the second day replaces that day only")
    def _correct() -> str:
        state["before_merge"] = state["orders"].version
        return _load_day(state["spark"], state["orders"], DEMO_DAYS[1], 1)

    @step("merge shipments and cancellations into the first day")
    def _merge() -> str:
        orders: Table = state["orders"]
        day = orders.to_spark(state["spark"], filters=[("order_date", "=", DEMO_DAYS[0])])
        result = orders.merge(
            status_changes(day), delete_if="op = 'D'", txn=AppTransaction(f"{APP_ID}.merge", 1)
        )
        if result.skipped:
            return "already committed: skipped"
        return (
            f"{result.rows_updated:,} updated, {result.rows_deleted:,} deleted, "
            f"{result.files_rewritten} file(s) rewritten (version {result.version})"
        )

    @step("time travel")
    def _travel() -> str:
        orders: Table = state["orders"]
        then = orders.to_spark(state["spark"], version=state["before_merge"]).count()
        return f"version {state['before_merge']}: {then:,} rows; now: {orders.count():,} rows"

    @step("check with an independent reader (delta-rs, no Spark)")
    def _check() -> str:
        orders: Table = state["orders"]
        spark_rows = orders.to_spark(state["spark"]).count()
        delta_rs_rows = DeltaTable(orders.uri).to_pyarrow_dataset().count_rows()
        if spark_rows != delta_rs_rows:
            raise RuntimeError(f"Spark reads {spark_rows} rows, delta-rs {delta_rs_rows}")
        return f"Spark and delta-rs both read {spark_rows:,} rows"

    @step("compact small files")
    def _optimize() -> str:
        result = state["orders"].optimize(state["spark"])
        return (
            "nothing to compact"
            if result.skipped
            else f"{result.files_removed} -> {result.files_added} files"
        )

    with console.status("") as status:
        for number, (title, fn) in enumerate(steps, start=1):
            status.update(f"[{number}/{len(steps)}] {title} ...")
            outcome = fn()
            console.print(
                f"[green]✓[/] [{number}/{len(steps)}] {title}: {outcome}", highlight=False
            )
    _summary(cfg, console, state["orders"])
    state["spark"].stop()
    return 0


def _load_day(spark: SparkSession, orders: Table, day: dt.date, revision: int) -> str:
    result = orders.write(
        demo_orders(spark, day, revision=revision),
        mode="replace_where",
        predicate=f"order_date = DATE'{day.isoformat()}'",
        # The task owns its day: one app id per day, the version counts deliberate re-sends.
        txn=AppTransaction(f"{APP_ID}.{day.isoformat()}", revision + 1),
    )
    if result.skipped:
        return f"{day}: already committed, skipped"
    return f"{day}: {result.rows_written:,} rows (v{result.version})"


def _summary(cfg: Config, console: Console, orders: Table) -> None:
    view = RichTable(title="what the demo produced")
    for column in ("table", "version", "rows", "path"):
        view.add_column(column)
    for info in Warehouse.from_config(cfg).tables():
        view.add_row(info.name, str(info.version), f"{info.rows:,}", info.uri)
    console.print(view)
    console.print("Look further:")
    console.print("  .venv/bin/lakehouse services status      (stop them: lakehouse services down)")
    console.print(f"  ls {cfg.path('landing')}/transactions", highlight=False)
    console.print(f"  .venv/bin/lakehouse table history {orders.name}")
    console.print("  .venv/bin/lakehouse tables --json")
    console.print(
        f"  .venv/bin/python -c \"import deltalake; print(deltalake.DeltaTable('{orders.uri}')"
        '.to_pyarrow_table().slice(0, 5))"',
        highlight=False,
    )
