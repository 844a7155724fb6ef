"""PII tokens equal Python's hmac module's; masks keep the last four characters only."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from lakehouse.errors import ContractError
from lakehouse.pii import apply_pii

pytestmark = pytest.mark.unit

KEY = b"test-key-not-a-secret"


def python_token(value: str, key: bytes = KEY) -> str:
    return "tok_" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def people(spark):
    return spark.createDataFrame(
        [(1, "Zoë Müller", "zoe@example.com", "+44 7700 900123"), (2, None, "x@y.z", "12")],
        "id int, name string, email string, phone string",
    )


def test_tokens_equal_an_independent_hmac(people):
    got = (
        apply_pii(people, {"name": "tokenize", "email": "tokenize"}, key=KEY)
        .orderBy("id")
        .collect()
    )
    assert got[0]["name"] == python_token("Zoë Müller")
    assert got[0]["email"] == python_token("zoe@example.com")
    assert got[1]["name"] is None


def test_long_keys_are_hashed_first_as_hmac_specifies(people):
    long_key = b"k" * 100
    got = apply_pii(people, {"email": "tokenize"}, key=long_key).orderBy("id").first()
    assert got["email"] == python_token("zoe@example.com", long_key)


def test_same_value_same_token_so_joins_still_work(spark):
    frame = spark.createDataFrame([("a@b.c",), ("a@b.c",)], "email string")
    tokens = {r["email"] for r in apply_pii(frame, {"email": "tokenize"}, key=KEY).collect()}
    assert len(tokens) == 1


def test_mask_keeps_last_four_and_drop_removes(people):
    got = apply_pii(people, {"phone": "mask", "name": "drop"}, key=KEY).orderBy("id").collect()
    assert got[0]["phone"] == "***********0123"
    assert got[1]["phone"] == "12"
    assert "name" not in got[0].asDict()


def test_missing_key_is_refused(people):
    with pytest.raises(ContractError, match="LAKEHOUSE__PII__TOKEN_KEY"):
        apply_pii(people, {"name": "tokenize"}, key=b"")
