"""The SQL lakehouse.publish sends to Redshift, read as text: the production COPY from S3 (which
cannot run against the local PostgreSQL), the DDL, the replace-a-date pair, quoting, and the
views' portability to Redshift."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from pyspark.sql import types as T

from lakehouse import TableContract, load_config
from lakehouse.errors import ConfigError, ContractError
from lakehouse.publish.s3 import date_prefix
from lakehouse.publish.statements import (
    copy_from_s3_sql,
    create_table_sql,
    replace_date_sql,
    stage_table_sql,
)
from lakehouse.publish.tableau import VIEWS, view_sql
from schemas.scores import CHURN_SCORES, NEXT_BEST_OFFERS

pytestmark = pytest.mark.unit

ROLE = "arn:aws:iam::123456789012:role/RedshiftLoadScores"
URI = "s3://acme-lakehouse-scores/scores/churn_scores/score_date=2024-05-01/"


def text(statement) -> str:
    return statement.as_string(None)


def test_copy_from_s3_reads_the_dates_parquet_prefix_with_the_iam_role():
    statement = copy_from_s3_sql("stage_churn_scores", uri=URI, iam_role=ROLE)

    assert text(statement) == (
        'COPY "stage_churn_scores" '
        "FROM 's3://acme-lakehouse-scores/scores/churn_scores/score_date=2024-05-01/' "
        "IAM_ROLE 'arn:aws:iam::123456789012:role/RedshiftLoadScores' FORMAT AS PARQUET"
    )


def test_copy_from_s3_takes_the_default_role_as_a_keyword_and_a_role_chain_as_one_string():
    chain = f"{ROLE},arn:aws:iam::210987654321:role/Target"

    assert text(copy_from_s3_sql("s", uri=URI, iam_role="default")).endswith(
        "IAM_ROLE default FORMAT AS PARQUET"
    )
    assert f"IAM_ROLE '{chain}' FORMAT" in text(copy_from_s3_sql("s", uri=URI, iam_role=chain))


@pytest.mark.parametrize(
    "role",
    ["RedshiftLoadScores", "arn:aws:iam::123:role/x", f"{ROLE}' CREDENTIALS 'x", f"{ROLE}\\"],
)
def test_copy_from_s3_refuses_anything_but_an_iam_role_arn(role):
    with pytest.raises(ConfigError, match=r"not 'default' or an IAM role ARN"):
        copy_from_s3_sql("s", uri=URI, iam_role=role)


def test_copy_from_s3_without_a_role_names_the_variable_to_set():
    with pytest.raises(ConfigError, match=r"set LAKEHOUSE__REDSHIFT__IAM_ROLE"):
        copy_from_s3_sql("s", uri=URI, iam_role=None)


@pytest.mark.parametrize("uri", ["/local/path/", "s3://b/it's/", "s3://b/a\\b/"])
def test_copy_from_s3_refuses_a_uri_that_is_not_a_plain_s3_uri(uri):
    with pytest.raises(ConfigError, match=r"s3:// URI"):
        copy_from_s3_sql("s", uri=uri, iam_role=ROLE)


def test_create_table_follows_the_contract_with_types_not_null_and_primary_key():
    assert text(create_table_sql(NEXT_BEST_OFFERS, schema="tableau")) == (
        'CREATE TABLE IF NOT EXISTS "tableau"."next_best_offers" ('
        '"score_date" DATE NOT NULL, "customer_id" VARCHAR(256) NOT NULL, '
        '"rank" INTEGER NOT NULL, "product_code" VARCHAR(256) NOT NULL, '
        '"confidence" INTEGER NOT NULL, "reason" VARCHAR(1024) NOT NULL, '
        '"model_name" VARCHAR(256) NOT NULL, "model_version" VARCHAR(256) NOT NULL, '
        'PRIMARY KEY ("score_date", "customer_id", "rank"))'
    )


def test_identifiers_are_quoted_so_odd_schema_names_stay_names():
    statement = text(create_table_sql(CHURN_SCORES, schema='we"ird; DROP'))

    assert statement.startswith('CREATE TABLE IF NOT EXISTS "we""ird; DROP"."churn_scores" (')


def test_stage_holds_the_published_files_columns_in_order_without_the_date():
    assert text(stage_table_sql(CHURN_SCORES, "stage_churn_scores")) == (
        'CREATE TEMP TABLE "stage_churn_scores" ("customer_id" VARCHAR(256) NOT NULL, '
        '"score" DOUBLE PRECISION NOT NULL, "decile" INTEGER NOT NULL, '
        '"model_name" VARCHAR(256) NOT NULL, "model_version" VARCHAR(256) NOT NULL, '
        '"reason_1" VARCHAR(256), "reason_2" VARCHAR(256), "reason_3" VARCHAR(256), '
        '"reason_method" VARCHAR(256) NOT NULL)'
    )


def test_replacing_a_date_deletes_it_and_inserts_the_stage_stamped_with_it():
    delete, insert = replace_date_sql(
        CHURN_SCORES, "stage_churn_scores", schema="public", run_date=dt.date(2024, 5, 1)
    )

    assert text(delete) == (
        'DELETE FROM "public"."churn_scores" WHERE "score_date" = \'2024-05-01\'::date'
    )
    columns = '"customer_id", "score", "decile", "model_name", "model_version", '
    columns += '"reason_1", "reason_2", "reason_3", "reason_method"'
    assert text(insert) == (
        f'INSERT INTO "public"."churn_scores" ("score_date", {columns}) '
        f"SELECT '2024-05-01'::date, {columns} FROM \"stage_churn_scores\""
    )


def test_a_column_type_redshift_cannot_hold_is_a_contract_error():
    contract = TableContract(
        name="gold.tagged",
        owner="t",
        description="t",
        partition_by=("score_date",),
        schema=T.StructType(
            [
                T.StructField("score_date", T.DateType(), nullable=False),
                T.StructField("tags", T.ArrayType(T.StringType())),
            ]
        ),
    )

    with pytest.raises(ContractError, match=r"'tags' is array<string>, which has no Redshift"):
        create_table_sql(contract, schema="public")


def test_s3_prefix_is_bucket_prefix_table_and_hive_date(tmp_path):
    cfg = load_config("prod", environ={"LAKEHOUSE_HOME": str(tmp_path)})

    prefix = date_prefix(CHURN_SCORES, cfg=cfg, run_date=dt.date(2024, 5, 1))

    assert prefix == "acme-lakehouse-scores/scores/churn_scores/score_date=2024-05-01"


def test_an_s3_prefix_with_a_quote_is_refused(tmp_path):
    cfg = load_config(
        "local",
        environ={"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE__S3__SCORES_PREFIX": "it's"},
    )

    with pytest.raises(ConfigError, match=r"s3.scores_prefix"):
        date_prefix(CHURN_SCORES, cfg=cfg, run_date=dt.date(2024, 5, 1))


# PostgreSQL-only SQL that Redshift rejects; the views must not use it.
POSTGRES_ONLY = {
    "aggregate FILTER": r"\bFILTER\s*\(",
    "DISTINCT ON": r"\bDISTINCT\s+ON\b",
    "CONCAT_WS": r"\bCONCAT_WS\b",
    "string_agg": r"\bSTRING_AGG\b",
    "LATERAL": r"\bLATERAL\b",
    "::text casts": r"::\s*TEXT\b",
    "ILIKE ANY": r"\bANY\s*\(ARRAY",
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_views_use_no_postgresql_only_sql(name):
    statement = text(view_sql(name, schema="tableau"))

    used = [what for what, pattern in POSTGRES_ONLY.items() if re.search(pattern, statement, re.I)]
    assert used == []
    assert statement.startswith(f'CREATE OR REPLACE VIEW "tableau"."{name}" AS')
    assert re.findall(r'FROM "tableau"\."\w+"', statement)  # tables in the view's schema
