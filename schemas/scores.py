"""Model outputs, partitioned by score date; a scoring run replaces its date's partition.
Written by the scoring jobs to Delta, published by lakehouse.publish as Parquet on S3 and to
Redshift, where the Tableau views (lakehouse/publish/tableau.py) read them.

Strings become VARCHAR(256) in Redshift unless the contract's ``redshift.varchar`` property
names a wider length ("column=length,..."): Redshift counts bytes, so leave room for UTF-8."""

from pyspark.sql import types as T

from lakehouse.contracts import TableContract

_S, _D, _I, _F = T.StringType(), T.DateType(), T.IntegerType(), T.DoubleType()
_B, _TS = T.BooleanType(), T.TimestampType()


def _field(name: str, dtype: T.DataType, *, nullable: bool = False) -> T.StructField:
    return T.StructField(name, dtype, nullable=nullable)


CHURN_SCORES = TableContract(
    name="gold.churn_scores",
    owner="customer-analytics",
    description="Churn probability per customer active on the score date (features as of the "
    "score date, calibrated), its decile (1 = the riskiest tenth), the model that scored it "
    "and the three features that pushed the score up most (exact TreeSHAP in the top "
    "deciles, XGBoost's approximate contributions elsewhere)",
    partition_by=("score_date",),
    primary_key=("score_date", "customer_id"),
    schema=T.StructType(
        [
            _field("score_date", _D),
            _field("customer_id", _S),
            _field("score", _F),
            _field("decile", _I),
            _field("model_name", _S),
            _field("model_version", _S),
            _field("reason_1", _S, nullable=True),
            _field("reason_2", _S, nullable=True),
            _field("reason_3", _S, nullable=True),
            _field("reason_method", _S),  # "exact" | "approximate"
        ]
    ),
)

CUSTOMER_SEGMENTS = TableContract(
    name="gold.customer_segments",
    owner="customer-analytics",
    description="Lifestyle segment per customer scored on the score date: the KMeans cluster "
    "(segment_id), the name given to it from its centroid (segment) and the distance to that "
    "centroid in the model's scaled feature space (large = a poor fit)",
    partition_by=("score_date",),
    primary_key=("score_date", "customer_id"),
    schema=T.StructType(
        [
            _field("score_date", _D),
            _field("customer_id", _S),
            _field("segment", _S),
            _field("segment_id", _I),
            _field("distance", _F),
            _field("model_name", _S),
            _field("model_version", _S),
        ]
    ),
)

NEXT_BEST_OFFERS = TableContract(
    name="gold.next_best_offers",
    owner="customer-analytics",
    description="Up to three offers per customer and score date, rank 1 first: products the "
    "customer is eligible for and does not hold, ranked by propensity, with a 0-100 "
    "confidence and a plain-language reason",
    partition_by=("score_date",),
    primary_key=("score_date", "customer_id", "rank"),
    properties={"redshift.varchar": "reason=1024"},
    schema=T.StructType(
        [
            _field("score_date", _D),
            _field("customer_id", _S),
            _field("rank", _I),  # 1..3
            _field("product_code", _S),
            _field("confidence", _I),  # 0..100
            _field("reason", _S),
            _field("model_name", _S),
            _field("model_version", _S),
        ]
    ),
)

TRANSACTION_ANOMALIES = TableContract(
    name="gold.transaction_anomalies",
    owner="fraud-analytics",
    description="Anomaly score per transaction booked on the score date (IsolationForest, "
    "higher = more unusual); is_alert when the score passes the configured alert threshold, "
    "with the features that made it unusual in plain language",
    partition_by=("score_date",),
    primary_key=("score_date", "txn_id"),
    properties={"redshift.varchar": "reason=1024"},
    schema=T.StructType(
        [
            _field("score_date", _D),
            _field("txn_id", _S),
            _field("customer_id", _S),
            _field("txn_ts", _TS),
            _field("anomaly_score", _F),
            _field("is_alert", _B),
            _field("reason", _S, nullable=True),  # set for alerts at least
            _field("model_name", _S),
            _field("model_version", _S),
        ]
    ),
)

SCORE_TABLES = {
    contract.name: contract
    for contract in (CHURN_SCORES, CUSTOMER_SEGMENTS, NEXT_BEST_OFFERS, TRANSACTION_ANOMALIES)
}
