"""One typed, validated configuration object, built once and passed down.

``conf/<env>.yaml`` gives the values; ``LAKEHOUSE_HOME`` names the state directory; variables
named ``LAKEHOUSE__<SECTION>__<KEY>`` override single keys (values parsed as YAML scalars, so
``false`` and ``8`` keep their types). This is the only module that reads the environment, and it
reads it only when asked: callers pass ``environ`` (the CLI passes ``os.environ``).
"""

from __future__ import annotations

import secrets
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from lakehouse.errors import ConfigError

__all__ = [
    "Config",
    "KafkaConfig",
    "MlflowConfig",
    "ModelsConfig",
    "MySQLConfig",
    "RedshiftConfig",
    "S3Config",
    "SparkConfig",
    "StreamingConfig",
    "WarehouseConfig",
    "load_config",
]

Env = Literal["local", "docker", "prod"]
ENV_PREFIX = "LAKEHOUSE__"
DEFAULT_CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkConfig(_Section):
    master: str = "local[*]"
    shuffle_partitions: int = Field(default=8, ge=1)
    ui_enabled: bool = True
    driver_memory: str = "4g"
    log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = "WARN"
    # Debian's libmariadb-java and libpostgresql-jdbc-java put the drivers here.
    jars: tuple[str, ...] = (
        "/usr/share/java/mariadb-java-client.jar",
        "/usr/share/java/postgresql.jar",
    )
    arrow_batch_size: int = Field(default=10_000, ge=1)
    # Added to the driver JVM's options when this process launches it (not under spark-submit,
    # whose --driver-java-options win): e.g. a class-data sharing archive and C1-only JIT,
    # which halve the start-up of short jobs (what the tests run).
    jvm_options: tuple[str, ...] = ()
    # Python workers are forked from a daemon that has imported pandas, pyarrow, scikit-learn
    # and the streaming tasks' modules (lakehouse/spark_worker.py): a new worker's first task
    # then does not pay ~3 s of imports. Where this process starts Spark (not spark-submit).
    preload_workers: bool = True
    extra: dict[str, str] = Field(default_factory=dict)


class WarehouseConfig(_Section):
    # Relative paths resolve against the state directory (LAKEHOUSE_HOME).
    root: str = "warehouse"
    max_records_per_file: int = Field(default=5_000_000, ge=0)
    vacuum_retention_hours: int = Field(default=168, ge=0)
    commit_retries: int = Field(default=5, ge=0)
    storage_options: dict[str, str] = Field(default_factory=dict)


class MySQLConfig(_Section):
    """The MySQL source (MariaDB locally). The password comes only from the environment:
    LAKEHOUSE__MYSQL__PASSWORD; the local instance listens on loopback only and needs none."""

    host: str = "127.0.0.1"
    port: int = Field(default=13306, ge=1, le=65535)
    database: str = "shop"
    user: str = "lakehouse"
    password: SecretStr | None = None
    # Spark JDBC reads split the pull window on updated_at into this many parallel queries.
    read_partitions: int = Field(default=4, ge=1)


class RedshiftConfig(_Section):
    """The Redshift target (PostgreSQL 15 locally, same wire protocol).
    Password: LAKEHOUSE__REDSHIFT__PASSWORD."""

    host: str = "127.0.0.1"
    port: int = Field(default=15439, ge=1, le=65535)
    database: str = "analytics"
    user: str = "lakehouse"
    schema_name: str = "public"
    password: SecretStr | None = None
    # How lakehouse.publish gets rows into the stage table: "client" streams them over the
    # connection (COPY FROM STDIN: PostgreSQL, the local stand-in); "s3" has Redshift read the
    # Parquet files published to S3 (COPY ... FORMAT AS PARQUET), assuming iam_role.
    load_method: Literal["client", "s3"] = "client"
    iam_role: str | None = None  # the role's ARN; an identifier, not a secret
    connect_timeout: int = Field(default=10, ge=1)


class KafkaConfig(_Section):
    # None locally: the broker process writes its address under LAKEHOUSE_HOME/services/kafka.
    bootstrap_servers: str | None = None
    topics: dict[str, int] = Field(
        default_factory=lambda: {"transactions": 4, "alerts": 2, "transactions_dead_letter": 1}
    )


class StreamingConfig(_Section):
    """Structured Streaming apps (streaming/): where their checkpoints live and how they pace."""

    # Relative paths resolve against LAKEHOUSE_HOME; one subdirectory per query name.
    checkpoints: str = "checkpoints"
    # Spark's processing-time trigger: a micro-batch starts at most this often, and one that
    # takes longer is followed at once. At 1 second, a scorer batch of ~0.9 s waited for the
    # next whole second (p99 ~1 s + a batch).
    trigger_interval: str = "500 milliseconds"
    # Events per micro-batch at most; 250k-500k keeps the fixed cost per batch small.
    max_offsets_per_trigger: int = Field(default=250_000, ge=1)
    # Re-sent events are recognised against silver rows of their own txn_date, for event
    # dates up to this many days before the newest one silver holds; older events are
    # dead-lettered as late (the daily batch path takes them).
    dedupe_watermark_days: int = Field(default=3, ge=0)
    # While Kafka is unreachable a running app retries after 1, 2, 4 ... seconds, at most this
    # many (an --available-now run fails at once instead).
    reconnect_max_wait_s: float = Field(default=30.0, gt=0)


class S3Config(_Section):
    """S3 (moto's server locally). Keys: LAKEHOUSE__S3__ACCESS_KEY_ID / __SECRET_ACCESS_KEY."""

    endpoint_url: str | None = "http://127.0.0.1:15000"
    region: str = "us-east-1"
    buckets: tuple[str, ...] = ("lakehouse-landing", "lakehouse-scores")
    # Published scores: s3://<scores_bucket>/<scores_prefix>/<table>/score_date=D/part-0.parquet
    scores_bucket: str = "lakehouse-scores"
    scores_prefix: str = "scores"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None


class PiiConfig(_Section):
    """The tokenization key: only from LAKEHOUSE__PII__TOKEN_KEY. Locally, when unset, a random
    key is created once under LAKEHOUSE_HOME/secrets so tokens stay stable across runs."""

    token_key: SecretStr | None = None


class QualityConfig(_Section):
    # great-expectations re-validates each gate's suite and the run stops if it disagrees with
    # the row flags: a few seconds per gate. The row flags decide either way.
    confirm_with_gx: bool = True


class MlflowConfig(_Section):
    """MLflow tracking and model registry. Unset (local), a sqlite database and an artifact
    directory under LAKEHOUSE_HOME/mlflow; in production, the tracking server's URL."""

    tracking_uri: str | None = None
    registry_uri: str | None = None  # defaults to the tracking URI
    artifact_root: str | None = None  # for new experiments; default LAKEHOUSE_HOME/mlflow/artifacts
    experiment: str = "lakehouse"


class ChurnModelConfig(_Section):
    # Churned on snapshot date D: no transaction in (D, D + horizon_days].
    horizon_days: int = Field(default=30, ge=1)
    # Snapshots (training rows are customers holding an open account at the end of each and
    # active in the active_days up to it: models.training_set.churn_population) every
    # snapshot_every_days over the training window; the last holdout_days of labelled
    # snapshots are the test window, the validation_days before them the validation window.
    active_days: int = Field(default=30, ge=1)
    snapshot_every_days: int = Field(default=7, ge=1)
    validation_days: int = Field(default=14, ge=1)
    holdout_days: int = Field(default=14, ge=1)
    # A challenger becomes champion only if its holdout ROC-AUC beats the champion's on the
    # same holdout by at least this much.
    champion_margin: float = Field(default=0.002, ge=0.0)


class ScoringConfig(_Section):
    # Rows per Arrow batch handed to the scoring UDF (spark.sql.execution.arrow.maxRecordsPerBatch).
    arrow_batch_size: int = Field(default=50_000, ge=1)
    reason_codes: int = Field(default=3, ge=1, le=10)
    # Reason codes: exact SHAP contributions for the top deciles (the rows someone reads),
    # XGBoost's approximate contributions for the rest.
    exact_reason_deciles: int = Field(default=1, ge=0, le=10)
    alert_threshold: float = Field(default=0.8, gt=0.0, lt=1.0)


class AnomalyModelConfig(_Section):
    # Days of transactions up to the run date the forest learns what is usual from: at least a
    # month, or the monthly payments (salary, rent) it never saw look unusual.
    train_days: int = Field(default=35, ge=1)
    # The alert threshold: the anomaly score above which this share of the training
    # transactions lies (stored with the model).
    alert_rate: float = Field(default=0.002, gt=0.0, lt=0.5)
    trees: int = Field(default=200, ge=10)
    max_samples: int = Field(default=2048, ge=16)
    seed: int = 7


class SegmentationModelConfig(_Section):
    # k is chosen by the silhouette (on a sample of customers) among k_min..k_max.
    k_min: int = Field(default=4, ge=2)
    k_max: int = Field(default=8, ge=2)
    silhouette_sample: int = Field(default=3000, ge=100)
    # Customers segmented on a date: those with a transaction in the active_days up to it.
    active_days: int = Field(default=30, ge=1)
    seed: int = 7

    @model_validator(mode="after")
    def _k_range(self) -> SegmentationModelConfig:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min {self.k_min} is above k_max {self.k_max}")
        return self


class OffersModelConfig(_Section):
    # Label: the product was opened in (D, D + horizon_days] by a customer not holding it on D.
    horizon_days: int = Field(default=30, ge=1)
    # Training snapshot dates, horizon_days apart, counted back from run date - horizon_days.
    snapshots: int = Field(default=3, ge=1)
    active_days: int = Field(default=30, ge=1)
    # Fewer opens of a product than this in the training rows: it is ranked by popularity only.
    min_positives: int = Field(default=10, ge=1)
    # Inverse L2 strength of each product's logistic regression (few positives: keep it small).
    regularization: float = Field(default=0.1, gt=0.0)
    # Eligibility rules and the number of offers per customer: conf/offers.yaml.


class ModelsConfig(_Section):
    churn: ChurnModelConfig = ChurnModelConfig()
    scoring: ScoringConfig = ScoringConfig()
    anomaly: AnomalyModelConfig = AnomalyModelConfig()
    segmentation: SegmentationModelConfig = SegmentationModelConfig()
    offers: OffersModelConfig = OffersModelConfig()


class PathsConfig(_Section):
    # Relative paths resolve against LAKEHOUSE_HOME.
    landing: str = "landing"
    truth: str = "truth"
    services: str = "services"
    mlflow: str = "mlflow"
    # Files for consumers outside the warehouse, e.g. exports/churn_scores/score_date=D/.
    exports: str = "exports"


class Config(_Section):
    env: Env
    home: Path
    conf_dir: Path = DEFAULT_CONF_DIR  # where <env>.yaml, quality/ and merchants.yaml live
    spark: SparkConfig = SparkConfig()
    warehouse: WarehouseConfig = WarehouseConfig()
    mysql: MySQLConfig = MySQLConfig()
    redshift: RedshiftConfig = RedshiftConfig()
    kafka: KafkaConfig = KafkaConfig()
    streaming: StreamingConfig = StreamingConfig()
    s3: S3Config = S3Config()
    pii: PiiConfig = PiiConfig()
    quality: QualityConfig = QualityConfig()
    mlflow: MlflowConfig = MlflowConfig()
    models: ModelsConfig = ModelsConfig()
    paths: PathsConfig = PathsConfig()

    def pii_key(self) -> bytes:
        """The PII tokenization key (see PiiConfig)."""
        if self.pii.token_key is not None:
            return self.pii.token_key.get_secret_value().encode()
        if self.env != "local":
            raise ConfigError(f"env {self.env}: set LAKEHOUSE__PII__TOKEN_KEY (tokenization key)")
        path = self.home / "secrets" / "pii_token.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.write_bytes(secrets.token_hex(32).encode())
            path.chmod(0o600)
        return path.read_bytes().strip()

    def path(self, name: Literal["landing", "truth", "services", "mlflow", "exports"]) -> Path:
        """A state path (landing area, generator truth, service data, exports) made absolute."""
        return (self.home / getattr(self.paths, name)).resolve()

    def checkpoint_dir(self, query: str) -> Path:
        """A streaming query's checkpoint directory (under streaming.checkpoints)."""
        return (self.home / self.streaming.checkpoints / query).resolve()

    @property
    def mlflow_tracking_uri(self) -> str:
        """The MLflow tracking URI: the configured server, else a sqlite file under HOME."""
        return self.mlflow.tracking_uri or f"sqlite:///{self.path('mlflow') / 'mlflow.db'}"

    @property
    def mlflow_artifact_root(self) -> str:
        """Where new experiments keep their artifacts (the server decides when it is remote)."""
        return self.mlflow.artifact_root or (self.path("mlflow") / "artifacts").as_uri()

    @property
    def warehouse_uri(self) -> str:
        """The warehouse root as a URI or absolute path (object-store URIs pass unchanged)."""
        root = self.warehouse.root
        if "://" in root:
            return root
        return str((self.home / root).resolve())


def load_config(
    env: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    conf_dir: Path | None = None,
) -> Config:
    """Build the Config for ``env`` (default: ``LAKEHOUSE_ENV`` or ``local``).

    Raises ConfigError naming the file and key for a missing file, an unknown key or a value of
    the wrong type.
    """
    environ = {} if environ is None else environ
    env = env or environ.get("LAKEHOUSE_ENV", "local")
    conf_dir = Path(conf_dir or environ.get("LAKEHOUSE_CONF_DIR") or DEFAULT_CONF_DIR)
    path = conf_dir / f"{env}.yaml"
    data = _read_yaml(path)
    _reject_secrets_in_file(data, path)
    data.setdefault("env", env)
    data["conf_dir"] = conf_dir.resolve()
    data["home"] = environ.get("LAKEHOUSE_HOME") or data.get("home") or ".lakehouse"
    data["home"] = str(Path(data["home"]).expanduser().resolve())
    for var, value in sorted(environ.items()):
        if var.startswith(ENV_PREFIX):
            _apply_override(data, var, value)
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, path)) from None


SECRET_KEYS = frozenset({"password", "access_key_id", "secret_access_key", "token_key"})


def _reject_secrets_in_file(data: dict[str, Any], path: Path) -> None:
    for section, values in data.items():
        if isinstance(values, dict):
            for key in SECRET_KEYS & set(values):
                var = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
                raise ConfigError(
                    f"{path}: '{section}.{key}' is a secret; remove it from the file and set {var}"
                )


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        known = sorted(e for e in typing.get_args(Env) if (path.parent / f"{e}.yaml").is_file())
        raise ConfigError(
            f"{path}: configuration file not found; set LAKEHOUSE_ENV to one of {known}"
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err}); fix the file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data


def _apply_override(data: dict[str, Any], var: str, value: str) -> None:
    keys = [k.lower() for k in var[len(ENV_PREFIX) :].split("__")]
    fields: Any = Config.model_fields
    node = data
    for depth, key in enumerate(keys):
        if fields is None or key not in fields:
            raise ConfigError(f"environment variable {var}: no config key {'.'.join(keys)}")
        last = depth == len(keys) - 1
        annotation = fields[key].annotation
        if last:
            node[key] = value if _is_text(annotation) or not value else _scalar(var, value)
            return
        node = node.setdefault(key, {})
        model = annotation if isinstance(annotation, type) else None
        fields = model.model_fields if model and issubclass(model, BaseModel) else None


def _is_text(annotation: Any) -> bool:
    """Strings and secrets keep the variable's exact text ("00123" stays a string); a list
    (``tuple[str, ...]``) is YAML, like ``["a", "b"]``."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = typing.get_args(annotation) if union else (annotation,)
    return any(option in (str, SecretStr) for option in options)


def _scalar(var: str, value: str) -> Any:
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise ConfigError(
            f"environment variable {var}: {value!r} is not a YAML value ({err}); fix or quote it"
        ) from None


def _describe(err: ValidationError, path: Path) -> str:
    problems = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            problems.append(f"unknown key '{key}'")
        else:
            problems.append(f"'{key}': {e['msg']} (got {e.get('input')!r})")
    overrides = f" or a {ENV_PREFIX}* environment variable"
    return f"{path}{overrides}: " + "; ".join(problems)
