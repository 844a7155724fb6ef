"""`lakehouse demo`: the pipeline end to end on embedded defaults.

Starts the local services, generates a bank's data (CSV drops with defects, the shop's MariaDB
tables, a Kafka stream, and the hidden truth), then runs the daily batch for the first days:
the CSV drops and the MariaDB changes of the day into bronze, quality gates into silver
(transactions with standardized merchants and tokenized account numbers, customers as an SCD2
dimension, orders, order lines, products, accounts), the gold aggregates and the feature views;
re-runs a day to show nothing changes, checks the result against an independent reader
(delta-rs), and builds a point-in-time training set from the feature store. Then the models'
path: customer segments trained and registered in MLflow, the day scored (pandas-UDF scoring
into gold), exported as Parquet and published to S3 and Redshift (PostgreSQL here), compared
with the generator's hidden segments; and the streaming ingest app reads the events on the
Kafka topic into Delta. Churn is not trained here: its training set needs ~100 days of history
(snapshots, a 30-day horizon, validation and test windows), more than a demo's daily batches.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from pyspark.sql import functions as F
from rich.console import Console
from rich.table import Table as RichTable

from lakehouse.config import Config
from lakehouse.delta import Warehouse
from lakehouse.run import RunContext

CUSTOMERS, DAYS_GENERATED, SEED = 2_000, 30, 42
START = dt.date(2024, 1, 1)


def run_demo(cfg: Config, *, console: Console, days: int = 3) -> int:
    steps: list[tuple[str, Callable[[], str]]] = []
    state: dict = {}
    batch_days = [START + dt.timedelta(days=i) for i in range(days)]

    def step(title: str):
        def register(fn: Callable[[], str]) -> Callable[[], str]:
            steps.append((title, fn))
            return fn

        return register

    @step("start the local services (MariaDB, PostgreSQL, Kafka broker, S3)")
    def _services() -> str:
        from lakehouse import services

        return "; ".join(f"{s.name} {s.address}" for s in services.up(cfg))

    @step(f"generate {CUSTOMERS:,} customers x {DAYS_GENERATED} days (seed {SEED})")
    def _generate() -> str:
        from lakehouse.generate import GeneratorSpec, generate
        from lakehouse.generate.command import load_into_mysql

        spec = GeneratorSpec(customers=CUSTOMERS, days=DAYS_GENERATED, seed=SEED, start_date=START)
        data = generate(spec, landing=cfg.path("landing"), truth=cfg.path("truth"))
        state["spec"] = spec
        state["data"] = data
        loaded = load_into_mysql(data, cfg, up_to=START)
        return (
            f"{data.row_counts.get('csv.transactions', 0):,} transactions as CSV drops in "
            f"{cfg.path('landing')}; MariaDB {cfg.mysql.database}: {sum(loaded.values()):,} rows"
        )

    @step("stream transaction events to Kafka for 2 s")
    def _stream() -> str:
        from lakehouse.generate.kafka_sink import stream_transactions
        from lakehouse.services import kafka_bootstrap

        bootstrap = kafka_bootstrap(cfg)
        sent = stream_transactions(
            state["spec"],
            bootstrap_servers=bootstrap,
            topic="transactions",
            rate=5_000,
            seconds=2,
            seed=SEED,
        )
        return f"{sent:,} events on topic transactions at {bootstrap}"

    @step("start Spark")
    def _spark() -> str:
        from lakehouse.session import build_spark

        state["spark"] = build_spark("lakehouse-demo", cfg)
        return f"master {state['spark'].sparkContext.master}, Spark {state['spark'].version}"

    for day in batch_days:

        @step(f"daily batch {day}: CSV + MySQL -> bronze -> gates -> silver -> gold -> features")
        def _day(day: dt.date = day) -> str:
            return _daily_batch(state["spark"], cfg, state["data"], day, state["status"])

    @step(f"re-run {batch_days[-1]} (an Airflow retry): tables must not change")
    def _rerun() -> str:
        from lakehouse.runs import RUN_HISTORY

        warehouse = Warehouse.from_config(cfg)
        before = {t.name: t.rows for t in warehouse.tables() if t.name != RUN_HISTORY}
        _daily_batch(state["spark"], cfg, state["data"], batch_days[-1], state["status"])
        after = {t.name: t.rows for t in warehouse.tables() if t.name != RUN_HISTORY}
        if before != after:
            raise RuntimeError(f"re-run changed row counts: {before} -> {after}")
        return "same row counts in every table (the run history grew by the re-run's jobs)"

    @step("check silver.transactions with an independent reader (delta-rs, no Spark)")
    def _check() -> str:
        table = Warehouse.from_config(cfg).table("silver.transactions")
        spark_rows = table.to_spark(state["spark"]).count()
        delta_rs_rows = table.to_arrow_dataset().count_rows()
        if spark_rows != delta_rs_rows:
            raise RuntimeError(f"Spark reads {spark_rows} rows, delta-rs {delta_rs_rows}")
        first = table.to_spark(state["spark"], version=2).count()
        return f"Spark and delta-rs both read {spark_rows:,} rows (time travel: v2 had {first:,})"

    @step("a point-in-time training set from the feature store")
    def _training_set() -> str:
        return _training_set_summary(state["spark"], cfg, batch_days[-1])

    @step(f"train the customer segments on {batch_days[-1]} (KMeans), tracked in MLflow")
    def _train() -> str:
        from jobs.train import train_other

        context = RunContext.start("train", batch_days[-1])
        return str(train_other(state["spark"], cfg, context=context, model_name="segments"))

    @step(f"score {batch_days[-1]} and publish to S3 (Parquet) and Redshift (PostgreSQL)")
    def _score() -> str:
        from jobs.score import run as score

        context = RunContext.start("score", batch_days[-1])
        done = score(
            state["spark"], cfg, context=context, model_name="segments", publish=("s3", "redshift")
        )
        state["scored"] = done
        return str(done)

    @step("compare the segments with the generator's hidden ones")
    def _truth() -> str:
        return _segments_against_truth(cfg, batch_days[-1])

    @step("stream: the ingest app reads the events on the topic (availableNow) into Delta")
    def _stream_ingest() -> str:
        from streaming.ingest_transactions import run as ingest

        return str(ingest(state["spark"], cfg, available_now=True))

    with console.status("") as status:
        state["status"] = status
        for number, (title, fn) in enumerate(steps, start=1):
            status.update(f"[{number}/{len(steps)}] {title} ...")
            started = time.monotonic()
            outcome = fn()
            took = time.monotonic() - started
            console.print(
                f"[green]✓[/] [{number}/{len(steps)}] {title} ({took:.0f} s): {outcome}",
                highlight=False,
            )
    _summary(cfg, console, state["spark"])
    _outputs(cfg, console, state["scored"])
    state["spark"].stop()
    return 0


def _daily_batch(spark, cfg: Config, data, day: dt.date, status) -> str:
    from lakehouse.daily import run_daily_batch
    from lakehouse.generate.command import load_into_mysql

    # The shop's MySQL as it stands that evening: the pull sees only that day's changes.
    load_into_mysql(data, cfg, up_to=day)
    title = f"daily batch {day}"
    done = run_daily_batch(spark, cfg, day, progress=lambda s: status.update(f"{title}: {s} ..."))
    return done.summary()


def _training_set_summary(spark, cfg: Config, day: dt.date) -> str:
    from feature_store import FeatureStore

    store = FeatureStore(spark, cfg)
    # Every customer as of noon the day after: the values known strictly before then.
    noon = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    customers = (
        Warehouse.from_config(cfg)
        .table("silver.customers")
        .to_spark(spark)
        .filter(F.col("is_current"))
        .select("customer_id", F.lit(noon).alias("event_ts"))
    )
    views = ["customer_spend", "customer_activity", "customer_cashflow", "customer_orders"]
    training = store.get_historical_features(customers, views).cache()
    rows = training.count()
    with_spend = training.filter(F.col("spend_count_30d").isNotNull()).count()
    training.unpersist()
    return (
        f"{rows:,} customers as of {noon:%Y-%m-%d %H:%M} UTC, "
        f"{len(training.columns) - 2} features from {len(views)} views; "
        f"{with_spend:,} with spend history"
    )


def _segments_against_truth(cfg: Config, day: dt.date) -> str:
    """Adjusted Rand index of gold.customer_segments on ``day`` against the latent segments
    the generator drew (truth/segments.parquet): 1 is the same partition, 0 chance."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from sklearn.metrics import adjusted_rand_score

    scores = Warehouse.from_config(cfg).table("gold.customer_segments")
    found = scores.to_arrow(filters=[("score_date", "=", day)]).to_pandas()
    latent = pq.read_table(cfg.path("truth") / "segments.parquet")
    on_day = pc.and_(
        pc.less_equal(latent["valid_from"], day),
        pc.or_kleene(pc.is_null(latent["valid_to"]), pc.greater(latent["valid_to"], day)),
    )
    truth = latent.filter(on_day).to_pandas()[["customer_id", "segment"]]
    both = found.merge(truth, on="customer_id", suffixes=("", "_latent"))
    ari = adjusted_rand_score(both["segment_latent"], both["segment"])
    return (
        f"adjusted Rand index {ari:.2f} over {len(both):,} customers "
        f"({found['segment'].nunique()} segments found, {truth['segment'].nunique()} hidden); "
        "from only the demo's few days of history (150 days: 0.72, `python -m bench model_quality`)"
    )


def _outputs(cfg: Config, console: Console, scored) -> None:
    """Where the scores went, and a command to query each place."""
    rs = cfg.redshift
    table = scored.table.split(".", 1)[1]
    console.print("Scores for Tableau:")
    console.print(f"  Parquet export  {scored.export_dir}", highlight=False)
    console.print(f"  S3 and Redshift {scored.published}", highlight=False)
    password = "" if cfg.redshift.password is None else "PGPASSWORD=... "  # trust locally
    console.print(
        f"  {password}psql -h {rs.host} -p {rs.port} -U {rs.user} -d {rs.database} -c "
        f"'SELECT segment, count(*) FROM {rs.schema_name}.{table} GROUP BY 1'",
        highlight=False,
    )
    query = f"SELECT segment, count(*) FROM '{scored.export_dir}/*.parquet' GROUP BY 1"
    console.print(f'  .venv/bin/python -c "import duckdb; duckdb.sql(\\"{query}\\").show()"')


def _summary(cfg: Config, console: Console, spark) -> None:
    warehouse = Warehouse.from_config(cfg)
    view = RichTable(title="tables")
    for column in ("table", "version", "rows", "path"):
        view.add_column(column)
    for info in warehouse.tables():
        view.add_row(info.name, str(info.version), f"{info.rows:,}", info.uri)
    console.print(view)
    quarantine = warehouse.table("ops.quarantine").to_spark(spark)
    reasons = RichTable(title="quarantined rows by reason (ops.quarantine)")
    for column in ("table", "rule", "reason", "rows"):
        reasons.add_column(column)
    by_reason = quarantine.groupBy("table_name", "rule", "reason").count().orderBy(F.desc("count"))
    for row in by_reason.collect():
        reasons.add_row(row["table_name"], row["rule"], row["reason"], f"{row['count']:,}")
    console.print(reasons)
    from lakehouse.reports import print_quality_results, quality_results

    latest_day = quality_results(cfg, last=1)
    print_quality_results([r for r in latest_day if r["failed_rows"]], console)
    console.print("Look further:")
    console.print("  .venv/bin/lakehouse tables")
    console.print("  .venv/bin/lakehouse table history silver.transactions")
    console.print("  .venv/bin/lakehouse quality            (every gate's results per rule)")
    console.print("  .venv/bin/lakehouse features list      (feature views, last materialized)")
    # Through the table layer: deltalake's own Arrow reader can abort the process at exit.
    console.print(
        '  .venv/bin/python -c "from lakehouse import Warehouse; '
        f"print(Warehouse('{warehouse.root}').table('gold.daily_sales').to_arrow().to_pandas())\""
        "   (gold, read without Spark)",
        highlight=False,
    )
    console.print(f"  ls {cfg.path('landing')}/transactions   (the CSV drops)", highlight=False)
    console.print("  .venv/bin/lakehouse services status      (stop them: lakehouse services down)")
