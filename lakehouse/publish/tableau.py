"""The Redshift views Tableau reads: customer_360, daily_score_distribution, alerts.

Written in the SQL both Redshift and PostgreSQL 15 (the local stand-in) accept; where the two
differ, the portable form is used:
- conditional counts as COUNT(CASE ...): Redshift has no aggregate FILTER (WHERE ...);
- the latest row per customer with ROW_NUMBER(): Redshift has no DISTINCT ON;
- reasons joined with || and COALESCE: Redshift has no CONCAT_WS, and its CONCAT takes two
  arguments;
- PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY score) as an aggregate works on both; Redshift
  requires every such call in one query to order by the same expression (all use score);
- NULL columns in a UNION carry an explicit CAST so both engines agree on their type.

Views are replaced with CREATE OR REPLACE, which keeps the grants Tableau's users hold. When a
new version changes a view's columns PostgreSQL refuses that (Redshift accepts it), so the view
is then dropped and created again in the same transaction; grants must be re-applied after.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from lakehouse.config import Config
from lakehouse.errors import PublishError
from lakehouse.publish.redshift import connect, ensure_table
from schemas.scores import (
    CHURN_SCORES,
    CUSTOMER_SEGMENTS,
    NEXT_BEST_OFFERS,
    SCORE_TABLES,
    TRANSACTION_ANOMALIES,
)

__all__ = ["VIEWS", "create_views", "view_sql"]

# Each customer's latest churn score, its decile and reasons; the customer's latest segment
# and the offers of the customer's latest offer date. Built from churn scores with LEFT JOINs:
# the view works before segments or offers have ever been published.
CUSTOMER_360 = """
WITH churn AS (
    SELECT c.customer_id, c.score_date, c.score, c.decile, c.reason_1, c.reason_2, c.reason_3,
           c.model_version,
           ROW_NUMBER() OVER (PARTITION BY c.customer_id ORDER BY c.score_date DESC) AS recency
    FROM {schema}.{churn} AS c
),
segment AS (
    SELECT s.customer_id, s.score_date, s.segment, s.segment_id,
           ROW_NUMBER() OVER (PARTITION BY s.customer_id ORDER BY s.score_date DESC) AS recency
    FROM {schema}.{segments} AS s
),
offer_day AS (
    SELECT customer_id, MAX(score_date) AS score_date
    FROM {schema}.{offers}
    GROUP BY customer_id
),
offer AS (
    SELECT o.customer_id, o.score_date,
           MAX(CASE WHEN o."rank" = 1 THEN o.product_code END) AS offer_1_product,
           MAX(CASE WHEN o."rank" = 1 THEN o.confidence END) AS offer_1_confidence,
           MAX(CASE WHEN o."rank" = 1 THEN o.reason END) AS offer_1_reason,
           MAX(CASE WHEN o."rank" = 2 THEN o.product_code END) AS offer_2_product,
           MAX(CASE WHEN o."rank" = 2 THEN o.confidence END) AS offer_2_confidence,
           MAX(CASE WHEN o."rank" = 2 THEN o.reason END) AS offer_2_reason,
           MAX(CASE WHEN o."rank" = 3 THEN o.product_code END) AS offer_3_product,
           MAX(CASE WHEN o."rank" = 3 THEN o.confidence END) AS offer_3_confidence,
           MAX(CASE WHEN o."rank" = 3 THEN o.reason END) AS offer_3_reason
    FROM {schema}.{offers} AS o
    JOIN offer_day AS d ON d.customer_id = o.customer_id AND d.score_date = o.score_date
    GROUP BY o.customer_id, o.score_date
)
SELECT churn.customer_id,
       churn.score_date AS churn_score_date,
       churn.score AS churn_score,
       churn.decile AS churn_decile,
       churn.reason_1 AS churn_reason_1,
       churn.reason_2 AS churn_reason_2,
       churn.reason_3 AS churn_reason_3,
       churn.model_version AS churn_model_version,
       segment.segment,
       segment.segment_id,
       segment.score_date AS segment_date,
       offer.score_date AS offers_date,
       offer.offer_1_product, offer.offer_1_confidence, offer.offer_1_reason,
       offer.offer_2_product, offer.offer_2_confidence, offer.offer_2_reason,
       offer.offer_3_product, offer.offer_3_confidence, offer.offer_3_reason
FROM churn
LEFT JOIN segment ON segment.customer_id = churn.customer_id AND segment.recency = 1
LEFT JOIN offer ON offer.customer_id = churn.customer_id
WHERE churn.recency = 1
"""

# Per score date and model (churn and anomaly scores): rows, mean, p10/p50/p90 and, for the
# churn model, the rows per decile (decile 1 = the riskiest tenth).
_DECILES = ",\n".join(
    f"       COUNT(CASE WHEN decile = {d} THEN 1 END) AS decile_{d}_rows" for d in range(1, 11)
)
DAILY_SCORE_DISTRIBUTION = f"""
WITH scores AS (
    SELECT score_date, model_name, model_version, score, decile
    FROM {{schema}}.{{churn}}
    UNION ALL
    SELECT score_date, model_name, model_version, anomaly_score, CAST(NULL AS INTEGER)
    FROM {{schema}}.{{anomalies}}
)
SELECT score_date, model_name, model_version,
       COUNT(*) AS rows_scored,
       AVG(score) AS mean_score,
       PERCENTILE_CONT(0.1) WITHIN GROUP (ORDER BY score) AS p10_score,
       PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY score) AS p50_score,
       PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY score) AS p90_score,
{_DECILES}
FROM scores
GROUP BY score_date, model_name, model_version
"""

# What someone should look at: transactions flagged as anomalies, and customers in the
# riskiest churn decile, each with its reasons in plain words.
ALERTS = """
SELECT CAST('transaction_anomaly' AS VARCHAR(32)) AS alert_type,
       a.score_date, a.customer_id, a.txn_id, a.txn_ts,
       a.anomaly_score AS score, a.reason, a.model_name, a.model_version
FROM {schema}.{anomalies} AS a
WHERE a.is_alert
UNION ALL
SELECT CAST('churn_risk' AS VARCHAR(32)),
       c.score_date, c.customer_id, CAST(NULL AS VARCHAR(256)), CAST(NULL AS TIMESTAMP),
       c.score,
       c.reason_1 || COALESCE(', ' || c.reason_2, '') || COALESCE(', ' || c.reason_3, ''),
       c.model_name, c.model_version
FROM {schema}.{churn} AS c
WHERE c.decile = 1
"""

VIEWS = {
    "customer_360": CUSTOMER_360,
    "daily_score_distribution": DAILY_SCORE_DISTRIBUTION,
    "alerts": ALERTS,
}


def view_sql(name: str, *, schema: str, replace: bool = True) -> sql.Composed:
    """The CREATE [OR REPLACE] VIEW statement for one of VIEWS in ``schema``."""
    body = sql.SQL(VIEWS[name].strip()).format(
        schema=sql.Identifier(schema),
        churn=sql.Identifier(CHURN_SCORES.entity),
        segments=sql.Identifier(CUSTOMER_SEGMENTS.entity),
        offers=sql.Identifier(NEXT_BEST_OFFERS.entity),
        anomalies=sql.Identifier(TRANSACTION_ANOMALIES.entity),
    )
    verb = "CREATE OR REPLACE VIEW" if replace else "CREATE VIEW"
    return sql.SQL("{} {} AS\n{}").format(sql.SQL(verb), sql.Identifier(schema, name), body)


def create_views(cfg: Config) -> list[str]:
    """Create the score tables if missing, then create or replace every view; returns the
    views' qualified names."""
    schema = cfg.redshift.schema_name
    with connect(cfg) as conn:
        try:
            for contract in SCORE_TABLES.values():
                ensure_table(conn, contract, schema=schema)
            with conn.transaction():
                for name in VIEWS:
                    _replace_view(conn, name, schema=schema)
        except psycopg.Error as err:
            raise PublishError(
                f"views in {schema}: creating them failed and was rolled back ({err}); "
                "the previous views are unchanged"
            ) from err
    return [f"{schema}.{name}" for name in VIEWS]


def _replace_view(conn: psycopg.Connection, name: str, *, schema: str) -> None:
    try:
        with conn.transaction():  # a savepoint: a refused replace leaves the outer one usable
            conn.execute(view_sql(name, schema=schema))
    except psycopg.errors.InvalidTableDefinition:
        # PostgreSQL: "cannot drop columns from view" / "cannot change name of view column".
        conn.execute(sql.SQL("DROP VIEW {}").format(sql.Identifier(schema, name)))
        conn.execute(view_sql(name, schema=schema, replace=False))
