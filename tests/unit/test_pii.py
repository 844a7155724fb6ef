"""PII tokens equal Python's hmac module's; masks keep the last four characters only."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pytest

from lakehouse.errors import ContractError
from lakehouse.pii import apply_pii, apply_pii_arrow, mask_text, token_text

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


# -- the same on pyarrow tables (the stream ingest's Arrow path) -------------------------------
TEXTS = ["zoe@example.com", "Zoë Müller", "", " ", "😀 A0000001", "12", "1234", "12345", "ß" * 9]


def test_token_text_equals_an_independent_hmac_for_short_and_long_keys():
    for key in (KEY, b"k" * 64, b"k" * 100, b"\x00\xff"):
        assert token_text("Zoë Müller", key) == python_token("Zoë Müller", key)
    assert token_text(None, KEY) is None


def test_arrow_tokens_and_masks_equal_sparks(spark):
    rows = [(i, t, t) for i, t in enumerate([*TEXTS, None])]
    frame = spark.createDataFrame(rows, "id int, tok string, msk string")
    pii = {"tok": "tokenize", "msk": "mask"}
    for key in (KEY, b"k" * 100):
        want = apply_pii(frame, pii, key=key).orderBy("id").toArrow()
        got = apply_pii_arrow(frame.orderBy("id").toArrow(), pii, key=key)
        assert got.to_pylist() == want.to_pylist()


def test_arrow_pii_drops_and_keeps_columns_like_spark(people):
    pii = {"name": "drop", "phone": "mask", "email": "tokenize"}
    want = apply_pii(people, pii, key=KEY).orderBy("id").toArrow()
    got = apply_pii_arrow(people.orderBy("id").toArrow(), pii, key=KEY)
    assert got.column_names == ["id", "email", "phone"]
    assert got.to_pylist() == want.to_pylist()


def test_mask_text_counts_characters_not_bytes():
    got = mask_text(pa.array(["Zoë Müller", "😀😀😀😀😀", "abc", None])).to_pylist()
    assert got == ["******ller", "*😀😀😀😀", "abc", None]


def test_arrow_pii_refuses_a_missing_key_or_column():
    table = pa.table({"name": ["x"]})
    with pytest.raises(ContractError, match="LAKEHOUSE__PII__TOKEN_KEY"):
        apply_pii_arrow(table, {"name": "tokenize"}, key=b"")
    with pytest.raises(ContractError, match=r"\['email'\] are not in the data"):
        apply_pii_arrow(table, {"email": "tokenize"}, key=KEY)
