"""typed_errors(): a lakehouse error raised in a Python worker reaches the driver as text inside
a Spark exception; the context manager gives the caller that error back as one line."""

from __future__ import annotations

import pytest

from lakehouse.errors import DataLossError, TopicNotFoundError
from streaming.kafka_source import typed_errors

pytestmark = pytest.mark.unit

WORKER_TRACE = """[PYTHON_STREAMING_DATA_SOURCE_RUNTIME_ERROR] Failed when Python streaming data \
source perform partitions: Traceback (most recent call last):
  File "/work/main/streaming/_kafka_offsets.py", line 120, in resolve
    raise TopicNotFoundError(
lakehouse.errors.TopicNotFoundError: kafka-py: t-7 is gone

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/work/main/streaming/kafka_source.py", line 230, in partitions
lakehouse.errors.DataLossError: kafka-py: t-0 went back from 50 to 20; set failOnDataLoss=false
\tat org.apache.spark.sql.execution.python.PythonStreamingSourceRunner.partitions(...)
"""


def test_the_error_finally_raised_in_the_worker_comes_back_as_one_line():
    with pytest.raises(DataLossError) as caught, typed_errors():
        raise RuntimeError(WORKER_TRACE)

    assert str(caught.value) == ("kafka-py: t-0 went back from 50 to 20; set failOnDataLoss=false")


def test_other_errors_pass_through_unchanged():
    with pytest.raises(RuntimeError, match="disk full"), typed_errors():
        raise RuntimeError("disk full\nlakehouse.errors.NoSuchError: not ours")


def test_a_lakehouse_error_raised_in_the_driver_is_left_alone():
    with pytest.raises(TopicNotFoundError, match="direct"), typed_errors():
        raise TopicNotFoundError("direct")
