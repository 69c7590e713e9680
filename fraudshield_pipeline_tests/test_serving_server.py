"""`fraudshield serve`'s own front reads MLflow's request formats and enforces the signature as
MLflow's scoring server does (the HTTP test in test_serving_models runs both fronts)."""

import math

import pytest

from fraudshield_pipeline.serving.server import BadRequest, conform, request_rows

COLUMNS = [("transaction_id", "string", True), ("amount", "double", True), ("country", "string", False)]
ROWS = [{"transaction_id": "T1", "amount": 12.5, "country": "FR"}, {"transaction_id": "T2", "amount": 3, "country": None}]


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": ["transaction_id", "amount", "country"], "data": [["T1", 12.5, "FR"], ["T2", 3, None]]}},
        {"dataframe_records": ROWS},
        {"inputs": ROWS},
        {"instances": ROWS},
        {"inputs": {"transaction_id": ["T1", "T2"], "amount": [12.5, 3], "country": ["FR", None]}},
    ],
    ids=["split", "records", "inputs", "instances", "columnar"],
)
def test_every_mlflow_request_format_gives_the_same_rows(payload):
    assert request_rows(payload) == ROWS


@pytest.mark.parametrize(
    "payload, words",
    [
        ([1, 2], "JSON object"),
        ({"rows": ROWS}, "exactly one of"),
        ({"inputs": ROWS, "instances": ROWS}, "exactly one of"),
        ({"dataframe_split": {"columns": ["a", "b"], "data": [["x"]]}}, "list of 2 values"),
        ({"dataframe_split": {"data": []}}, "'columns'"),
        ({"dataframe_records": ["T1"]}, "list of objects"),
        ({"inputs": {"a": [1, 2], "b": [1]}}, "one length"),
    ],
)
def test_a_malformed_request_is_a_bad_request_saying_what_is_wrong(payload, words):
    with pytest.raises(BadRequest, match=words):
        request_rows(payload)


def test_rows_are_conformed_to_the_signature_like_mlflows_enforcement():
    rows = conform(ROWS + [{"transaction_id": "T3", "amount": 1.0, "country": math.nan, "extra": 1}], COLUMNS)
    # an integer amount becomes a double; a null optional column is absent; unknown columns dropped
    assert rows == [{"transaction_id": "T1", "amount": 12.5, "country": "FR"}, {"transaction_id": "T2", "amount": 3.0},
                    {"transaction_id": "T3", "amount": 1.0}]  # fmt: skip
    assert isinstance(rows[1]["amount"], float)


@pytest.mark.parametrize(
    "row, words",
    [
        ({"amount": 1.0}, "row 0: column 'transaction_id' is required"),
        ({"transaction_id": "T1", "amount": None}, "'amount' is required"),
        ({"transaction_id": "T1", "amount": math.nan}, "'amount' is required"),
        ({"transaction_id": "T1", "amount": "12,50"}, "'amount' must be double, got str '12,50'"),
        ({"transaction_id": "T1", "amount": True}, "'amount' must be double, got bool"),
        ({"transaction_id": 7, "amount": 1.0}, "'transaction_id' must be string, got int"),
    ],
)
def test_a_row_the_signature_rejects_names_its_column(row, words):
    with pytest.raises(BadRequest, match=words):
        conform([row], COLUMNS)
