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


class _Service:
    """Stands in for the model's ScoringService: echoes what reached it (the real model's HTTP
    test is test_serving_models.test_fraudshield_serve_answers_http_on_loopback_like_the_batch)."""

    def __init__(self):
        self.seen = []

    def handle_all(self, rows):
        self.seen.extend(rows)
        return [{"transaction_id": row["transaction_id"], "score": 0.5, "degraded": False} for row in rows]

    def metrics_text(self):
        return f"fraudshield_serving_requests_total {len(self.seen)}\n"


class _Model:
    """What `mlflow.pyfunc.load_model` returns, as far as the front uses it, with the real signature."""

    def __init__(self, service):
        from fraudshield_pipeline.serving.models import service_signature

        self.service = service
        self.metadata = type("Metadata", (), {"get_input_schema": staticmethod(lambda: service_signature().inputs)})()

    def unwrap_python_model(self):
        return self


@pytest.fixture
def client():
    from starlette.testclient import TestClient

    from fraudshield_pipeline.serving.server import build_app

    service = _Service()
    with TestClient(build_app(_Model(service), max_request_bytes=2_000)) as test_client:
        yield test_client, service


TRANSACTION = {"transaction_id": "T1", "customer_id": "C1", "merchant_id": "M1", "event_timestamp": "2026-10-07T10:00:00Z", "amount": 12}


def test_the_front_answers_mlflows_protocol_and_refuses_what_it_must(client):
    test_client, service = client
    answer = test_client.post("/invocations", json={"dataframe_records": [{**TRANSACTION, "country": None, "extra": 1}]})
    assert answer.status_code == 200 and answer.json() == {"predictions": [{"transaction_id": "T1", "score": 0.5, "degraded": False}]}
    assert service.seen == [{**{k: v for k, v in TRANSACTION.items() if k != "amount"}, "amount": 12.0}]
    refused = test_client.post("/invocations", json={"dataframe_records": [{**TRANSACTION, "merchant_id": None}]})
    assert refused.status_code == 400 and "merchant_id" in refused.json()["message"] and len(service.seen) == 1
    assert test_client.post("/invocations", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert test_client.post("/invocations", content=b"a,b", headers={"Content-Type": "text/csv"}).status_code == 415
    too_big = {"dataframe_records": [TRANSACTION] * 40}  # ~4 kB against a 2 kB cap
    assert test_client.post("/invocations", json=too_big).status_code == 413 and len(service.seen) == 1
    streamed = iter([b'{"dataframe_records": [' + b" " * 1500, b" " * 1500 + b"]}"])  # chunked: no length declared
    assert test_client.post("/invocations", content=streamed, headers={"Content-Type": "application/json"}).status_code == 413
    assert test_client.get("/ping").status_code == 200 and test_client.get("/health").status_code == 200
    assert test_client.get("/metrics").text == "fraudshield_serving_requests_total 1\n"
