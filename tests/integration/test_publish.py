"""Publishing scores against the real local services: PostgreSQL (the Redshift stand-in) and
moto's S3 server, both started by the `local_services` fixture.

Each test works in its own Redshift schema and S3 bucket, so tests (and other modules that
load score tables) never see each other's rows."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import psycopg
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake
from pyarrow import fs as pafs
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema
from rich.console import Console

from lakehouse import Config, TableContract
from lakehouse.delta import Warehouse
from lakehouse.errors import ConfigError, PublishError, SchemaMismatchError
from lakehouse.publish import load_run_date, publish_run_date, write_run_date
from lakehouse.publish._rows import file_columns
from lakehouse.publish.command import run as run_command
from lakehouse.publish.s3 import s3_filesystem
from lakehouse.publish.tableau import create_views
from schemas.scores import (
    CHURN_SCORES,
    CUSTOMER_SEGMENTS,
    NEXT_BEST_OFFERS,
    TRANSACTION_ANOMALIES,
)

pytestmark = pytest.mark.integration

D1, D2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)


@pytest.fixture
def pub_cfg(cfg: Config, local_services, request, tmp_path) -> Config:
    """cfg with a Redshift schema, an S3 bucket and a warehouse of this test's own."""
    name = request.node.name.removeprefix("test_")[:40].replace("_", "-")
    return cfg.model_copy(
        update={
            "home": tmp_path,
            "redshift": cfg.redshift.model_copy(update={"schema_name": name.replace("-", "_")}),
            "s3": cfg.s3.model_copy(update={"scores_bucket": f"t-{name}".rstrip("-")}),
        }
    )


def arrow(contract, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=to_arrow_schema(contract.schema, timezone="UTC"))


def churn(day: dt.date, scores: dict[str, float], *, version: str = "1") -> pa.Table:
    """Churn rows: decile 1 for scores >= 0.8, else 5; reasons named after the customer."""
    return arrow(
        CHURN_SCORES,
        [
            {
                "score_date": day,
                "customer_id": customer,
                "score": score,
                "decile": 1 if score >= 0.8 else 5,
                "model_name": "churn",
                "model_version": version,
                "reason_1": f"{customer} spend down",
                "reason_2": "fewer active days" if score >= 0.8 else None,
                "reason_3": None,
                "reason_method": "exact",
            }
            for customer, score in scores.items()
        ],
    )


def query(cfg: Config, statement: str) -> list[tuple]:
    rs = cfg.redshift
    with psycopg.connect(host=rs.host, port=rs.port, user=rs.user, dbname=rs.database) as conn:
        conn.execute(f"SET search_path TO {rs.schema_name}")  # the test's own schema
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def churn_rows(cfg: Config) -> list[tuple]:
    return query(
        cfg,
        "SELECT score_date, customer_id, score, decile, reason_1, reason_2 FROM churn_scores "
        "ORDER BY score_date, customer_id",
    )


# -- Redshift loads ----------------------------------------------------------------------------
def test_loading_a_date_twice_leaves_its_rows_once(pub_cfg):
    rows = churn(D1, {"c1": 0.9, "c2": 0.2, "c3": 0.5})

    first = load_run_date(rows, CHURN_SCORES, cfg=pub_cfg, run_date=D1)
    second = load_run_date(rows, CHURN_SCORES, cfg=pub_cfg, run_date=D1)

    assert (first.rows_deleted, first.rows_loaded) == (0, 3)
    assert (second.rows_deleted, second.rows_loaded) == (3, 3)
    assert churn_rows(pub_cfg) == [
        (D1, "c1", 0.9, 1, "c1 spend down", "fewer active days"),
        (D1, "c2", 0.2, 5, "c2 spend down", None),
        (D1, "c3", 0.5, 5, "c3 spend down", None),
    ]


def test_loading_another_date_keeps_the_first_and_a_reload_replaces_only_its_date(pub_cfg):
    load_run_date(churn(D1, {"c1": 0.9, "c2": 0.2}), CHURN_SCORES, cfg=pub_cfg, run_date=D1)
    load_run_date(churn(D2, {"c1": 0.3}), CHURN_SCORES, cfg=pub_cfg, run_date=D2)
    load_run_date(churn(D1, {"c2": 0.85}), CHURN_SCORES, cfg=pub_cfg, run_date=D1)

    assert churn_rows(pub_cfg) == [
        (D1, "c2", 0.85, 1, "c2 spend down", "fewer active days"),
        (D2, "c1", 0.3, 5, "c1 spend down", None),
    ]


def test_a_null_in_a_not_null_column_is_refused_and_the_date_keeps_its_rows(pub_cfg):
    load_run_date(churn(D1, {"c1": 0.9}), CHURN_SCORES, cfg=pub_cfg, run_date=D1)
    bad = churn(D1, {"c1": 0.1, "c2": 0.2})
    bad = bad.set_column(3, "decile", pa.array([5, None], pa.int32()))

    with pytest.raises(SchemaMismatchError, match=r"column 'decile' is NOT NULL but 1 row"):
        load_run_date(bad, CHURN_SCORES, cfg=pub_cfg, run_date=D1)

    assert churn_rows(pub_cfg) == [(D1, "c1", 0.9, 1, "c1 spend down", "fewer active days")]


def test_a_value_of_the_wrong_type_is_refused_and_the_date_keeps_its_rows(pub_cfg):
    load_run_date(churn(D1, {"c1": 0.9}), CHURN_SCORES, cfg=pub_cfg, run_date=D1)
    bad = churn(D1, {"c1": 0.1}).set_column(2, "score", pa.array(["high"]))

    with pytest.raises(SchemaMismatchError, match=r"column 'score' is string, expected double"):
        load_run_date(bad, CHURN_SCORES, cfg=pub_cfg, run_date=D1)

    assert churn_rows(pub_cfg) == [(D1, "c1", 0.9, 1, "c1 spend down", "fewer active days")]


def test_a_failure_after_the_delete_rolls_the_whole_load_back(pub_cfg):
    """The database refuses one row while the new rows are inserted, i.e. after the date's
    old rows were deleted in the same transaction: the old rows must still be there."""
    load_run_date(churn(D1, {"c1": 0.9, "c2": 0.2}), CHURN_SCORES, cfg=pub_cfg, run_date=D1)
    query(
        pub_cfg,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'row % refused', NEW.customer_id; END $$",
    )
    query(
        pub_cfg,
        "CREATE TRIGGER refuse BEFORE INSERT ON churn_scores FOR EACH ROW "
        "WHEN (NEW.customer_id = 'c-refused') EXECUTE FUNCTION refuse()",
    )

    with pytest.raises(PublishError, match=r"rolled back.*row c-refused refused"):
        load_run_date(
            churn(D1, {"c1": 0.1, "c-refused": 0.5}), CHURN_SCORES, cfg=pub_cfg, run_date=D1
        )

    assert churn_rows(pub_cfg) == [
        (D1, "c1", 0.9, 1, "c1 spend down", "fewer active days"),
        (D1, "c2", 0.2, 5, "c2 spend down", None),
    ]


def test_repeated_keys_are_refused_before_anything_is_replaced(pub_cfg):
    load_run_date(churn(D1, {"c1": 0.9}), CHURN_SCORES, cfg=pub_cfg, run_date=D1)
    twice = pa.concat_tables([churn(D1, {"c2": 0.1}), churn(D1, {"c2": 0.3})])

    with pytest.raises(PublishError, match=r"repeat primary key.*\('c2',\)"):
        load_run_date(twice, CHURN_SCORES, cfg=pub_cfg, run_date=D1)

    assert churn_rows(pub_cfg) == [(D1, "c1", 0.9, 1, "c1 spend down", "fewer active days")]


def test_text_and_timestamps_arrive_as_written(pub_cfg):
    """The client path streams CSV: an empty string must stay '' and only NULL be NULL;
    quotes, commas, newlines and non-ASCII text pass unchanged; timestamps stay UTC."""
    rows = anomalies(D1)
    texts = ["", 'a "quoted", multi\nline reason in Düsseldorf']
    rows = rows.set_column(6, "reason", pa.array(texts))

    load_run_date(rows, TRANSACTION_ANOMALIES, cfg=pub_cfg, run_date=D1)

    got = query(pub_cfg, "SELECT txn_id, reason, txn_ts, is_alert FROM transaction_anomalies")
    at = dt.datetime(2024, 5, 1, 23, 59, 30)
    assert sorted(got) == [("t1", texts[0], at, True), ("t2", texts[1], at, False)]


def test_a_new_nullable_contract_column_is_added_to_the_existing_table(pub_cfg):
    def probe(version: int, *extra: T.StructField) -> TableContract:
        fields = [T.StructField("score_date", T.DateType(), False), *extra]
        return TableContract(
            name="gold.publish_probe",
            owner="t",
            description="t",
            version=version,
            partition_by=("score_date",),
            schema=T.StructType(fields),
        )

    v1 = probe(1, T.StructField("a", T.StringType(), False))
    v2 = probe(2, T.StructField("a", T.StringType(), False), T.StructField("b", T.LongType()))
    load_run_date(arrow(v1, [{"score_date": D1, "a": "x"}]), v1, cfg=pub_cfg, run_date=D1)

    load_run_date(arrow(v2, [{"score_date": D2, "a": "y", "b": 7}]), v2, cfg=pub_cfg, run_date=D2)

    got = query(pub_cfg, "SELECT score_date, a, b FROM publish_probe ORDER BY score_date")
    assert got == [(D1, "x", None), (D2, "y", 7)]
    with pytest.raises(SchemaMismatchError, match=r"beyond new nullable columns"):
        load_run_date(arrow(v1, [{"score_date": D1, "a": "z"}]), v1, cfg=pub_cfg, run_date=D1)


def test_rows_of_another_date_are_refused(pub_cfg):
    with pytest.raises(PublishError, match=r"1 row\(s\) have score_date other than 2024-05-01"):
        load_run_date(churn(D2, {"c1": 0.5}), CHURN_SCORES, cfg=pub_cfg, run_date=D1)


def test_an_s3_load_without_an_iam_role_is_refused_before_connecting(pub_cfg):
    rs = pub_cfg.redshift.model_copy(update={"load_method": "s3", "port": 1})
    s3_cfg = pub_cfg.model_copy(update={"redshift": rs})

    with pytest.raises(ConfigError, match=r"LAKEHOUSE__REDSHIFT__IAM_ROLE"):
        load_run_date(
            churn(D1, {"c1": 0.5}), CHURN_SCORES, cfg=s3_cfg, run_date=D1, s3_uri="s3://b/p/"
        )


# -- Tableau views -----------------------------------------------------------------------------
def segments(day: dt.date, assigned: dict[str, tuple[str, int]]) -> pa.Table:
    return arrow(
        CUSTOMER_SEGMENTS,
        [
            {
                "score_date": day,
                "customer_id": customer,
                "segment": name,
                "segment_id": segment_id,
                "distance": 1.5,
                "model_name": "segments",
                "model_version": "3",
            }
            for customer, (name, segment_id) in assigned.items()
        ],
    )


def offers(day: dt.date, customer: str, products: list[str]) -> pa.Table:
    return arrow(
        NEXT_BEST_OFFERS,
        [
            {
                "score_date": day,
                "customer_id": customer,
                "rank": rank,
                "product_code": product,
                "confidence": 90 - 10 * rank,
                "reason": f"why {product}",
                "model_name": "offers",
                "model_version": "2",
            }
            for rank, product in enumerate(products, start=1)
        ],
    )


def anomalies(day: dt.date) -> pa.Table:
    at = dt.datetime(2024, 5, 1, 23, 59, 30, tzinfo=dt.UTC)
    return arrow(
        TRANSACTION_ANOMALIES,
        [
            {
                "score_date": day,
                "txn_id": txn,
                "customer_id": "c1",
                "txn_ts": at,
                "anomaly_score": score,
                "is_alert": score > 0.7,
                "reason": "amount 12x usual" if score > 0.7 else None,
                "model_name": "anomaly",
                "model_version": "5",
            }
            for txn, score in (("t1", 0.9), ("t2", 0.1))
        ],
    )


CUSTOMER_360 = (
    "SELECT customer_id, churn_score_date, churn_score, churn_decile, churn_reason_1, "
    "churn_model_version, segment, segment_id, segment_date, offers_date, offer_1_product, "
    "offer_1_confidence, offer_1_reason, offer_2_product, offer_3_product "
    "FROM customer_360 ORDER BY customer_id"
)


def test_customer_360_lists_every_scored_customer_before_segments_and_offers_exist(pub_cfg):
    create_views(pub_cfg)
    load_run_date(churn(D1, {"c1": 0.9, "c2": 0.2}), CHURN_SCORES, cfg=pub_cfg, run_date=D1)

    assert query(pub_cfg, CUSTOMER_360) == [
        ("c1", D1, 0.9, 1, "c1 spend down", "1", *[None] * 9),
        ("c2", D1, 0.2, 5, "c2 spend down", "1", *[None] * 9),
    ]
    assert query(pub_cfg, "SELECT alert_type, customer_id, txn_id, reason FROM alerts") == [
        ("churn_risk", "c1", None, "c1 spend down, fewer active days")
    ]


@pytest.fixture
def published_views(pub_cfg) -> Config:
    """Two score dates: c1 scored both days (the second is its latest), c2 only the first;
    c1 segmented on D1 only; c1's offers on both days (D2's are the latest)."""
    create_views(pub_cfg)
    for day, rows in (
        (D1, churn(D1, {"c1": 0.9, "c2": 0.2})),
        (D2, churn(D2, {"c1": 0.4}, version="2")),
    ):
        load_run_date(rows, CHURN_SCORES, cfg=pub_cfg, run_date=day)
    load_run_date(
        segments(D1, {"c1": ("young urban", 2)}), CUSTOMER_SEGMENTS, cfg=pub_cfg, run_date=D1
    )
    for day, products in ((D1, ["card", "loan"]), (D2, ["savings", "card", "insurance"])):
        load_run_date(offers(day, "c1", products), NEXT_BEST_OFFERS, cfg=pub_cfg, run_date=day)
    load_run_date(anomalies(D1), TRANSACTION_ANOMALIES, cfg=pub_cfg, run_date=D1)
    return pub_cfg


def test_customer_360_shows_each_customers_latest_score_segment_and_offers(published_views):
    assert query(published_views, CUSTOMER_360) == [
        (
            *("c1", D2, 0.4, 5, "c1 spend down", "2"),  # D2: c1's latest score
            *("young urban", 2, D1),  # segmented on D1 only
            *(D2, "savings", 80, "why savings", "card", "insurance"),  # D2's offers
        ),
        ("c2", D1, 0.2, 5, "c2 spend down", "1", *[None] * 9),
    ]


def test_daily_score_distribution_counts_and_percentiles_per_date_and_model(published_views):
    rows = query(
        published_views,
        "SELECT score_date, model_name, model_version, rows_scored, mean_score, p10_score, "
        "p50_score, p90_score, decile_1_rows, decile_5_rows, decile_10_rows "
        "FROM daily_score_distribution ORDER BY score_date, model_name",
    )

    # Churn on D1 scores 0.2 and 0.9: percentile_cont interpolates, p = 0.2 + q * 0.7.
    assert [r[:4] for r in rows] == [
        (D1, "anomaly", "5", 2),
        (D1, "churn", "1", 2),
        (D2, "churn", "2", 1),
    ]
    assert [tuple(round(v, 6) for v in r[4:8]) for r in rows] == [
        (0.5, 0.18, 0.5, 0.82),
        (0.55, 0.27, 0.55, 0.83),
        (0.4, 0.4, 0.4, 0.4),
    ]
    assert [r[8:] for r in rows] == [(0, 0, 0), (1, 1, 0), (0, 1, 0)]


def test_alerts_list_flagged_transactions_and_the_riskiest_churn_decile(published_views):
    rows = query(
        published_views,
        "SELECT alert_type, score_date, customer_id, txn_id, txn_ts, score, reason, "
        "model_version FROM alerts ORDER BY alert_type, score_date, customer_id",
    )

    assert rows == [
        ("churn_risk", D1, "c1", None, None, 0.9, "c1 spend down, fewer active days", "1"),
        (
            "transaction_anomaly",
            D1,
            "c1",
            "t1",
            dt.datetime(2024, 5, 1, 23, 59, 30),  # UTC, stored without a zone
            0.9,
            "amount 12x usual",
            "5",
        ),
    ]


def test_views_are_replaced_when_created_again(published_views):
    before = query(published_views, CUSTOMER_360)

    create_views(published_views)

    assert query(published_views, CUSTOMER_360) == before


# -- S3 ----------------------------------------------------------------------------------------
def s3_objects(cfg: Config, prefix: str) -> list[str]:
    selector = pafs.FileSelector(prefix, recursive=True, allow_not_found=True)
    infos = s3_filesystem(cfg).get_file_info(selector)
    return sorted(i.path for i in infos if i.type == pafs.FileType.File)


def test_publishing_a_date_to_s3_twice_leaves_one_file_set_that_reads_back_equal(pub_cfg):
    rows = churn(D1, {"c1": 0.9, "c2": 0.2})
    bucket = pub_cfg.s3.scores_bucket
    prefix = f"{bucket}/scores/churn_scores/score_date=2024-05-01"

    first = write_run_date(churn(D1, {"c9": 0.1}), CHURN_SCORES, cfg=pub_cfg, run_date=D1)
    # A file an older layout left behind: the next publish must remove it.
    pq.write_table(
        churn(D1, {"c8": 0.1}).drop(["score_date"]),
        f"{prefix}/part-1.parquet",
        filesystem=s3_filesystem(pub_cfg),
    )
    second = write_run_date(rows, CHURN_SCORES, cfg=pub_cfg, run_date=D1)

    assert first == second == f"s3://{prefix}/"
    assert s3_objects(pub_cfg, bucket) == [f"{prefix}/part-0.parquet"]
    back = pq.read_table(f"{prefix}/part-0.parquet", filesystem=s3_filesystem(pub_cfg))
    # Redshift's COPY maps Parquet columns to the stage's by position.
    assert back.column_names == file_columns(CHURN_SCORES)
    assert back.equals(rows.drop(["score_date"]).cast(back.schema))


def test_published_dates_read_back_as_one_partitioned_dataset(pub_cfg):
    write_run_date(churn(D1, {"c1": 0.9, "c2": 0.2}), CHURN_SCORES, cfg=pub_cfg, run_date=D1)
    write_run_date(churn(D2, {"c1": 0.4}), CHURN_SCORES, cfg=pub_cfg, run_date=D2)
    partitioning = pads.partitioning(pa.schema([("score_date", pa.date32())]), flavor="hive")

    dataset = pads.dataset(
        f"{pub_cfg.s3.scores_bucket}/scores/churn_scores",
        filesystem=s3_filesystem(pub_cfg),
        partitioning=partitioning,
    )

    got = dataset.to_table().sort_by([("score_date", "ascending"), ("customer_id", "ascending")])
    assert got.select(["score_date", "customer_id", "score"]).to_pylist() == [
        {"score_date": D1, "customer_id": "c1", "score": 0.9},
        {"score_date": D1, "customer_id": "c2", "score": 0.2},
        {"score_date": D2, "customer_id": "c1", "score": 0.4},
    ]


# -- end to end --------------------------------------------------------------------------------
def test_publish_command_sends_a_delta_tables_date_to_s3_and_redshift(pub_cfg):
    table = Warehouse.from_config(pub_cfg).create(CHURN_SCORES)
    write_deltalake(table.uri, churn(D1, {"c1": 0.9, "c2": 0.2}), mode="append")
    write_deltalake(table.uri, churn(D2, {"c3": 0.5}), mode="append")
    args = type(
        "Args", (), {"what": "scores", "model": "churn", "run_date": D1, "to": ["s3", "redshift"]}
    )()

    for _ in range(2):
        assert run_command(args, pub_cfg, Console(quiet=True)) == 0

    assert churn_rows(pub_cfg) == [
        (D1, "c1", 0.9, 1, "c1 spend down", "fewer active days"),
        (D1, "c2", 0.2, 5, "c2 spend down", None),
    ]
    assert s3_objects(pub_cfg, pub_cfg.s3.scores_bucket) == [
        f"{pub_cfg.s3.scores_bucket}/scores/churn_scores/score_date=2024-05-01/part-0.parquet"
    ]
    assert query(pub_cfg, "SELECT customer_id FROM customer_360 ORDER BY 1") == [("c1",), ("c2",)]


def test_publish_refuses_a_date_the_delta_table_has_no_rows_for(pub_cfg):
    table = Warehouse.from_config(pub_cfg).create(CHURN_SCORES)
    write_deltalake(table.uri, churn(D1, {"c1": 0.9}), mode="append")
    publish_run_date(churn(D2, {"c1": 0.4}), CHURN_SCORES, cfg=pub_cfg, run_date=D2)
    args = type(
        "Args", (), {"what": "scores", "model": "churn", "run_date": D2, "to": ["s3", "redshift"]}
    )()

    with pytest.raises(PublishError, match=r"no rows for score_date 2024-05-02"):
        run_command(args, pub_cfg, Console(quiet=True))

    assert churn_rows(pub_cfg) == [(D2, "c1", 0.4, 5, "c1 spend down", None)]


def test_lakehouse_publish_views_runs_from_the_command_line(test_environ, local_services, cfg):
    environ = {**test_environ, "LAKEHOUSE__REDSHIFT__SCHEMA_NAME": "cli_views"}

    done = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "publish", "views"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "cli_views.customer_360, cli_views.daily_score_distribution, cli_views.alerts" in (
        done.stdout
    )
    views = cfg.model_copy(
        update={"redshift": cfg.redshift.model_copy(update={"schema_name": "cli_views"})}
    )
    assert query(views, "SELECT COUNT(*) FROM customer_360") == [(0,)]
