"""`fraudshield serve`: the registered scoring service behind a lean HTTP front.

    fraudshield serve                      # this server: models:/<name>-service@champion
    fraudshield serve --server mlflow      # the same model behind `mlflow models serve`

Both load the same registered model with MLflow (`mlflow.pyfunc.load_model`, the alias resolved
at start) and speak the same protocol: `POST /invocations` with MLflow's JSON request formats
(`dataframe_split`, `dataframe_records`, `inputs`, `instances`), answered as
`{"predictions": [...]}`; `GET /ping`, `/health`, `/version`; here also `GET /metrics`.

Why a second front: MLflow's scoring server turns every request into a pandas DataFrame,
enforces the signature on it, and turns the answer back from a DataFrame; for one transaction
that is ~5 ms of CPU around a ~1 ms answer, which on a small host sets the latency under load
(README, Serving). Here each row is checked against the same signature (required columns,
types, optional columns may be null) as plain Python values and handed to the model's own
`ScoringService`. Requests run one at a time on a worker thread, which keeps `/ping` and
`/metrics` answering while a request waits on a slow store (the circuit breaker bounds that).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence

_FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")
# A request body larger than this is refused (413) before it is read whole: a scoring request is
# a few transactions; a client that sends megabytes is broken or hostile, and must not take the
# server's memory.
MAX_REQUEST_BYTES = 4 * 1024 * 1024


class BadRequest(ValueError):
    """The request breaks the protocol or the model's input signature (HTTP 400)."""


def request_rows(payload: object) -> list[dict]:
    """The rows of an MLflow scoring request, as dicts, whichever of its JSON formats it uses."""
    if not isinstance(payload, Mapping):
        raise BadRequest("the body must be a JSON object with one of the keys " + ", ".join(_FORMATS))
    formats = [key for key in _FORMATS if key in payload]
    if len(formats) != 1:
        raise BadRequest(f"the body must have exactly one of the keys {', '.join(_FORMATS)}; it has {sorted(payload)}")
    data = payload[formats[0]]
    if formats[0] == "dataframe_split":
        if not isinstance(data, Mapping) or not isinstance(data.get("columns"), list) or not isinstance(data.get("data"), list):
            raise BadRequest("dataframe_split needs 'columns' (a list) and 'data' (a list of rows)")
        columns = data["columns"]
        if any(not isinstance(row, list) or len(row) != len(columns) for row in data["data"]):
            raise BadRequest(f"dataframe_split: every row of 'data' must be a list of {len(columns)} values")
        return [dict(zip(columns, row)) for row in data["data"]]
    if isinstance(data, Mapping):  # columnar `inputs`: {column: [values]}
        lengths = {len(v) if isinstance(v, list) else -1 for v in data.values()}
        if len(lengths) != 1 or -1 in lengths:
            raise BadRequest(f"{formats[0]} as columns needs lists of one length")
        return [dict(zip(data, values)) for values in zip(*data.values())]
    if not isinstance(data, list) or not all(isinstance(row, Mapping) for row in data):
        raise BadRequest(f"{formats[0]} must be a list of objects (one per transaction)")
    return [dict(row) for row in data]


_TYPES = {"string": (str,), "double": (float, int), "float": (float, int), "long": (int,), "integer": (int,), "boolean": (bool,)}


def conform(rows: Iterable[Mapping[str, object]], columns: Sequence[tuple[str, str, bool]]) -> list[dict]:
    """Rows checked against the input signature, `(name, type, required)` per column.

    As MLflow's own enforcement: a required column must be present and not null, every value has
    the column's type (an integer passes as a double; a bool is no number), and columns outside
    the signature are dropped. A null optional column is left out of the row (absent, as in the
    source), which is what the model's `_present` does on MLflow's path.
    """
    out = []
    for index, row in enumerate(rows):
        clean = {}
        for name, kind, required in columns:
            value = row.get(name)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                if required:
                    raise BadRequest(f"row {index}: column {name!r} is required by the model's signature")
                continue
            allowed = _TYPES.get(kind, (object,))
            if not isinstance(value, allowed) or (isinstance(value, bool) and kind != "boolean"):
                raise BadRequest(f"row {index}: column {name!r} must be {kind}, got {type(value).__name__} {value!r:.40}")
            clean[name] = float(value) if kind in ("double", "float") else value
        out.append(clean)
    return out


def signature_columns(pyfunc_model) -> list[tuple[str, str, bool]]:
    """`(name, type, required)` of the loaded model's input signature."""
    schema = pyfunc_model.metadata.get_input_schema()
    return [(spec.name, spec.type.name, bool(spec.required)) for spec in schema.inputs]


def build_app(pyfunc_model, max_request_bytes: int = MAX_REQUEST_BYTES):
    """The ASGI app (Starlette) serving a loaded `FraudServiceModel` pyfunc."""
    import asyncio
    import contextlib
    from concurrent.futures import ThreadPoolExecutor

    import mlflow
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from fraudshield_pipeline.serving.service import CALLER_ERRORS

    service = pyfunc_model.unwrap_python_model().service
    columns = signature_columns(pyfunc_model)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fraudshield-score")

    def answer(body: bytes) -> tuple[int, bytes]:
        try:
            rows = conform(request_rows(json.loads(body)), columns)
            predictions = service.handle_all(rows)
        except CALLER_ERRORS as error:  # BadRequest and JSONDecodeError are ValueErrors
            return 400, json.dumps({"error_code": "BAD_REQUEST", "message": str(error)}).encode()
        return 200, json.dumps({"predictions": predictions}).encode()

    async def capped_body(request) -> bytes | None:
        """The body, or None once it is larger than `max_request_bytes` (declared or as it streams)."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_request_bytes:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_request_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def invocations(request):
        media_type = request.headers.get("content-type", "").split(";")[0].strip()
        if media_type != "application/json":
            return Response(f"this server takes application/json, not {media_type or 'no content type'!r}\n", 415)
        body = await capped_body(request)
        if body is None:
            return Response(f"a request body is at most {max_request_bytes:,} bytes\n", 413)
        status, content = await asyncio.get_running_loop().run_in_executor(worker, answer, body)
        return Response(content, status, media_type="application/json")

    async def ping(request):
        return Response("\n", 200, media_type="application/json")

    async def version(request):
        return Response(mlflow.__version__, 200, media_type="application/json")

    async def metrics(request):
        return Response(service.metrics_text(), 200, media_type="text/plain; version=0.0.4")

    routes = [
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", ping), Route("/health", ping), Route("/version", version), Route("/metrics", metrics),
    ]  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        worker.shutdown(wait=False)

    return Starlette(routes=routes, lifespan=lifespan)


def run(model_uri: str, host: str, port: int) -> None:
    """Loads the model (the alias resolved now) and serves it until interrupted."""
    import gc

    import uvicorn

    from fraudshield_pipeline.serving.models import load_service_model

    model = load_service_model(model_uri)
    # What loading left behind (MLflow, Feast, pandas: millions of objects) lives as long as the
    # server: out of the collector's sight, a full collection no longer stalls a request (~0.3 s).
    gc.collect()
    gc.freeze()
    uvicorn.run(build_app(model), host=host, port=port, workers=1, access_log=False, log_level="warning")
