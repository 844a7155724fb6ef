"""Model outputs: one row per customer and score date, partitioned by score date; a scoring
run replaces its date's partition. Written by jobs/score.py to Delta, Parquet (local and S3)
and Redshift."""

from pyspark.sql import types as T

from lakehouse.contracts import TableContract

_S, _D, _I, _F = T.StringType(), T.DateType(), T.IntegerType(), T.DoubleType()


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

SCORE_TABLES = {contract.name: contract for contract in (CHURN_SCORES,)}
