"""The LakehouseError tree. Messages say: object, expected, found, what to do next."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ContractError",
    "CorruptTableError",
    "DataLossError",
    "FeatureDefinitionError",
    "LakehouseError",
    "ModelInputError",
    "ModelNotFoundError",
    "NotADeltaTableError",
    "PredicateError",
    "PublishError",
    "SchemaMismatchError",
    "ServiceError",
    "SourceOptionError",
    "SourceUnavailableError",
    "StreamError",
    "TableExistsError",
    "TableNotFoundError",
    "TopicNotFoundError",
    "TrainingDataError",
    "WriteConflictError",
]


class LakehouseError(Exception):
    """Base of every error the lakehouse raises on purpose; the CLI prints it as one line."""


class ConfigError(LakehouseError):
    """A configuration file or environment override is missing, unknown or of the wrong type."""


class ContractError(LakehouseError):
    """A table contract is invalid (unknown partition column, unsupported type, ...)."""


class SchemaMismatchError(LakehouseError):
    """Data does not match the table's schema in a way that cannot be evolved safely."""


class TableNotFoundError(LakehouseError):
    """No Delta table exists at the name or path."""


class TableExistsError(LakehouseError):
    """A table was created where one already exists with a different layout."""


class NotADeltaTableError(LakehouseError):
    """The path holds files but no Delta transaction log."""


class CorruptTableError(LakehouseError):
    """The Delta log or a data file it references cannot be read."""


class WriteConflictError(LakehouseError):
    """Another writer committed a conflicting change first; nothing of this write was kept."""


class PredicateError(LakehouseError):
    """A replace_where predicate or read filter is invalid for the table."""


class PublishError(LakehouseError):
    """Publishing a run date to S3 or Redshift failed; the target keeps the rows it had."""


class ServiceError(LakehouseError):
    """A local service could not be started, reached or stopped."""


class SourceUnavailableError(LakehouseError):
    """A source system (database, broker, object store) does not answer."""


class SourceOptionError(LakehouseError):
    """A source's read options are missing, unknown, conflicting or of the wrong value."""


class TopicNotFoundError(LakehouseError):
    """A Kafka topic (or partition) a read names does not exist on the broker."""


class DataLossError(LakehouseError):
    """Offsets a stream still had to read are gone (retention, a recreated topic)."""


class FeatureDefinitionError(LakehouseError):
    """A feature store declaration (entity, source, view) is invalid, or a view's transform
    returned other columns than it declares."""


class ModelNotFoundError(LakehouseError):
    """No model (or no version with the alias) by that name in the MLflow registry."""


class ModelInputError(LakehouseError):
    """Rows given to a model lack a feature it was trained on, or hold one of the wrong type."""


class TrainingDataError(LakehouseError):
    """The data cannot train a model: too little history, too few labelled rows, one class."""


class StreamError(LakehouseError):
    """A streaming app is unknown, already running, not running, or did not stop."""
