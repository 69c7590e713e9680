"""MLflow models-from-code: the transaction-level scoring service.

    mlflow models serve -m models:/fraudshield-fraud-xgb-service@champion --env-manager local

Input: raw transactions (ids, ISO time, amount, the optional columns). Output per row: score,
decision (approve | alert | review), threshold, model version, reason codes (JSON) and whether
the answer is a degraded fallback. Card and merchant state come from the Feast online store of
the active profile (`resources.profiles.build_resources(os.environ)`: sqlite locally, Redis in
production), exactly as `FraudScorer` reads them; see `serving.service` for the fallback.
The champion is resolved when the server starts: after an alias move, restart the server.
`FRAUDSHIELD_SERVING_METRICS_PORT` set: Prometheus metrics on that port, path /metrics.
Loaded by MLflow only (it imports mlflow at the top); the code location never imports it.
"""

import mlflow

OUTPUT_COLUMNS = ["transaction_id", "score", "decision", "threshold", "model_version", "reasons", "degraded", "degraded_reason"]


class FraudServiceModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        import os

        from fraudshield_pipeline.resources.profiles import build_resources
        from fraudshield_pipeline.serving.models import DEFAULT_SERVICE_CONFIG, load_booster_artifact
        from fraudshield_pipeline.serving.scorer import FraudScorer
        from fraudshield_pipeline.serving.service import ScoringService, serve_metrics

        booster = load_booster_artifact(context.artifacts["booster"])
        resources = build_resources(os.environ)
        # EnvVar fields (secrets, URLs) resolve here, as a Dagster run would resolve them.
        registry = resources["registry"].process_config_and_initialize()
        feature_store = resources["feature_store"].process_config_and_initialize()
        feature_store.store()  # build Feast's client now (seconds), not inside the first requests
        feature_store.checkpoint_in_background()  # sqlite: no WAL checkpoint inside a request
        version = _registered_version(registry, context.artifacts["booster"])
        config = {**DEFAULT_SERVICE_CONFIG, **(context.model_config or {})}
        self.service = ScoringService.from_config(
            FraudScorer(feature_store, booster, version, exact_reasons=bool(config["exact_reasons"])), config
        )
        port = os.environ.get("FRAUDSHIELD_SERVING_METRICS_PORT")
        self.metrics_server = serve_metrics(self.service, "127.0.0.1", int(port)) if port else None

    def predict(self, context, model_input, params=None):
        import pandas as pd

        # Columns to Python lists, then rows: `to_dict("records")` costs ~0.8 ms for one row.
        columns = [str(c) for c in model_input.columns]
        rows = zip(*(model_input[c].tolist() for c in model_input.columns))
        answers = self.service.handle_all([_present(dict(zip(columns, row))) for row in rows])
        return pd.DataFrame(answers, columns=OUTPUT_COLUMNS)


def _present(row: dict) -> dict:
    """The transaction without the optional columns a caller left empty (absent, as in the source)."""
    return {k: v for k, v in row.items() if v is not None and v == v}


def _registered_version(registry, booster_artifact: str) -> str:
    """The feature model's registry version logged in the same run as this service model."""
    from pathlib import Path

    from mlflow.models import Model

    run_id = None
    for folder in Path(booster_artifact).resolve().parents:
        if (folder / "MLmodel").exists():
            run_id = Model.load(str(folder / "MLmodel")).run_id
            break
    if run_id is None:
        return "unknown"
    versions = registry.client().search_model_versions(f"name='{registry.model_name}' and run_id='{run_id}'")
    return str(max(int(v.version) for v in versions)) if versions else f"run:{run_id}"


mlflow.models.set_model(FraudServiceModel())
