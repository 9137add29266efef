"""Request parsing, response formatting and content negotiation, without sockets."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from model_code import payload
from model_code.inference import InferenceApp, negotiate
from model_code.payload import PayloadError
from model_code.schema import FEATURES

ROW = [66, 108.6, 0.067, 0.411, 0, 33.1, 9, 0]
ROW_CSV = "66,108.6,0.067,0.411,0,33.1,9,0"


def csv(text: str) -> np.ndarray:
    return payload.parse_csv(text.encode(), FEATURES)


def js(obj: object) -> np.ndarray:
    return payload.parse_json(json.dumps(obj).encode(), FEATURES)


@pytest.mark.parametrize(
    "body",
    [
        ROW_CSV,
        ROW_CSV + "\n",
        ROW_CSV + "\r\n",
        " 66 , 108.6,0.067,0.411,0,33.1,9,0 \n\n",
        ",".join(FEATURES) + "\n" + ROW_CSV,  # optional header row
        "66.,108.6,.067,0.411,+0,33.1,9,0",  # numbers JSON would not accept take the careful path
        "6.6e1,108.6,0.067,0.411,0,33.1,9,0",
        "\ufeff" + ROW_CSV,  # byte order mark
    ],
)
def test_csv_single_row_variants(body: str) -> None:
    assert np.array_equal(csv(body), np.array([ROW], dtype=float))


def test_csv_batch_keeps_row_order() -> None:
    rows = np.arange(5 * 8, dtype=float).reshape(5, 8) / 7
    text = "\n".join(",".join(repr(v) for v in r) for r in rows.tolist())
    assert np.array_equal(csv(text), rows)


@pytest.mark.parametrize(
    "obj",
    [
        {"instances": [ROW]},
        [ROW],
        ROW,
        {"instances": [{"features": ROW}]},
        {"instances": [dict(zip(FEATURES, ROW, strict=True))]},
        [dict(reversed(list(zip(FEATURES, ROW, strict=True))))],
    ],
)
def test_json_shapes(obj: object) -> None:
    assert np.array_equal(js(obj), np.array([ROW], dtype=float))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("1,2,3", "CSV row 1 has 3 values, expected 8 features (age, income_k,"),
        (ROW_CSV + "\n1,2,3,4,5,6,7,8,9", "CSV row 2 has 9 values, expected 8"),
        ("66,abc,0.067,0.411,0,33.1,9,0", "CSV row 1, feature 2 ('income_k'): 'abc' is not a number"),
        ("66,,0.067,0.411,0,33.1,9,0", "feature 2 ('income_k'): an empty value is not a number"),
        ("66,108.6,nan,0.411,0,33.1,9,0", "feature 3 ('debt_to_income'): 'nan' is not a finite number"),
        ("66,108.6,0.067,inf,0,33.1,9,0", "feature 4 ('credit_utilization'): 'inf' is not a finite number"),
        ("\n \n", "CSV body has no data rows"),
        (",".join(FEATURES), "CSV body has no data rows"),
    ],
)
def test_csv_errors_name_row_and_feature(body: str, message: str) -> None:
    with pytest.raises(PayloadError) as info:
        csv(body)
    assert info.value.status == 400
    assert message in info.value.message


def test_csv_invalid_utf8() -> None:
    with pytest.raises(PayloadError, match="not valid UTF-8"):
        payload.parse_csv(b"\xff\xfe1,2", FEATURES)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "body is not valid JSON"),
        (b'{"instances": [[1,2,3,4,5,6,7,NaN]]}', "body is not valid JSON"),
        (b'{"rows": []}', 'JSON object must have an "instances" list'),
        (b'{"instances": 5}', '"instances" must be a list of rows, got number'),
        (b'{"instances": []}', "JSON body has no rows"),
        (b"[]", "JSON body has no rows"),
        (b'"hello"', 'JSON body must be an object with "instances" or a list, got string'),
        (b"[[1,2,3]]", "JSON row 1 has 3 values, expected 8 features"),
        (
            b'[[66,"108.6",0.067,0.411,0,33.1,9,0]]',
            "JSON row 1, feature 2 ('income_k'): expected a number, got string",
        ),
        (
            b"[[66,108.6,0.067,0.411,true,33.1,9,0]]",
            "feature 5 ('late_payments_12m'): expected a number, got boolean",
        ),
        (
            b"[[66,108.6,0.067,0.411,0,null,9,0]]",
            "feature 6 ('credit_history_years'): expected a number, got null",
        ),
        (b'[[66,108.6,0.067,0.411,0,33.1,9,0], "x"]', "JSON row 2 must be a list of 8 numbers or an object"),
        (b'[{"age": 1}]', "JSON row 1: missing income_k"),
        (b'[{"age": 1, "colour": 2}]', "unknown colour"),
    ],
)
def test_json_errors(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError) as info:
        payload.parse_json(body, FEATURES)
    assert info.value.status == 400
    assert message in info.value.message


def test_unsupported_content_type_is_415() -> None:
    with pytest.raises(PayloadError) as info:
        payload.parse(b"1", "text/plain", FEATURES)
    assert info.value.status == 415


def test_output_formats_round_trip_exactly() -> None:
    scores = np.random.default_rng(0).random(50) ** 8  # includes tiny values printed with exponents
    labels = (scores >= 0.5).astype(np.int64)
    lines = payload.format_csv(labels, scores[::1]).decode().splitlines()
    assert [int(line.split(",")[0]) for line in lines] == labels.tolist()
    assert [float(line.split(",")[1]) for line in lines] == scores.tolist()
    doc = orjson.loads(payload.format_json(labels, scores))
    assert [p["score"] for p in doc["predictions"]] == scores.tolist()
    assert [p["predicted_label"] for p in doc["predictions"]] == labels.tolist()
    # a non-contiguous column (what predict_proba(X)[:, 1] returns) formats the same
    both = np.column_stack([1 - scores, scores])
    assert payload.format_csv(labels, both[:, 1]) == payload.format_csv(labels, scores.copy())


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/csv"),
        ("", "text/csv"),
        ("*/*", "text/csv"),
        ("application/json", "application/json"),
        ("Application/JSON; charset=utf-8", "application/json"),
        ("text/csv;q=0.5, application/json", "application/json"),
        ("application/json;q=0.1, text/csv;q=0.9", "text/csv"),
        ("application/xml, text/*", "text/csv"),
        ("application/*", "application/json"),
        ("application/xml", None),
        ("text/csv;q=0", None),
    ],
)
def test_accept_negotiation(accept: str | None, expected: str | None) -> None:
    assert negotiate(accept, "text/csv") == expected


def test_ping_is_503_until_a_model_is_loaded() -> None:
    app = InferenceApp(None, 1024)
    assert app.handle("GET", "/ping", {}, b"").status == 503
    assert app.handle("POST", "/invocations", {"content-type": "text/csv"}, b"1").status == 503
