"""The two MLflow models of a trained booster, logged from code (no pickle), and their signatures.

- `model` (registered as `<name>`): feature rows -> fraud probability (`pyfunc_features.py`).
- `service` (registered as `<name>-service`): raw transactions -> score, decision, threshold,
  model version, reason codes, reading card and merchant state from Feast (`pyfunc_service.py`).

Both carry the same booster artifact in XGBoost's own format. No heavy import at module top.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.features import FEATURES

HERE = Path(__file__).resolve().parent
FEATURE_MODEL_FILE = HERE / "pyfunc_features.py"
SERVICE_MODEL_FILE = HERE / "pyfunc_service.py"
SERVICE_SUFFIX = "-service"
# Tag on a service version naming the feature-model version it was logged with (alias mirroring).
MODEL_VERSION_TAG = "fraudshield.model_version"
# Features that are undefined for some rows (no history, no labelled window): null in the table.
_NULLABLE_PREFIXES = ("customer_amount_mean_", "customer_hours_since", "customer_amount_zscore", "customer_amount_ratio", "merchant_fraud_risk_")
# Serving policy, read by the service at load (overridable with load_model(model_config=...)).
DEFAULT_SERVICE_CONFIG = {
    "fallback_decision": "review",  # what a degraded answer says: a human looks at it
    "breaker_failures": 1,  # consecutive store failures that open the circuit
    "breaker_reset_s": 5.0,  # how long the circuit stays open before one probe request
    "record": True,  # advance the card's and merchant's state with every scored transaction
    "exact_reasons": False,  # alerts' reason codes by TreeSHAP (~10x the cost) instead of XGBoost's approximate split
}


def load_booster_artifact(path: str):
    """The booster from the artifact MLflow downloaded for this model (XGBoost's own format)."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(path)
    return booster


def load_service_model(model_uri: str):
    """The registered scoring service as MLflow loads it (`models:/<name>-service@<alias>`: the
    alias resolved now), for a front that serves it (`serving.server`)."""
    import mlflow

    return mlflow.pyfunc.load_model(model_uri)


def feature_signature(feature_names: Sequence[str], categories) :
    """Feature rows in, probability out: types as the feature table stores them, nullable ones optional."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    specs = {f.name: f for f in FEATURES}
    columns = []
    for name in feature_names:
        spec = specs.get(name)
        optional = spec is None or spec.requires is not None or name.startswith(_NULLABLE_PREFIXES)
        if name in categories:
            columns.append(ColSpec("string", name, required=False))
        elif spec is not None and spec.dtype == "int":
            columns.append(ColSpec("long", name, required=not optional))
        else:
            columns.append(ColSpec("double", name, required=not optional))
    return ModelSignature(Schema(columns), Schema([ColSpec("float", "fraud_probability")]))


def service_signature():
    """Raw transactions in; score, decision, threshold, model version, reasons, degradation out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema(
        [
            ColSpec("string", s.TRANSACTION_ID),
            ColSpec("string", s.CUSTOMER_ID),
            ColSpec("string", s.MERCHANT_ID),
            ColSpec("string", s.EVENT_TIMESTAMP),  # ISO 8601; naive means UTC
            ColSpec("double", s.AMOUNT),
            ColSpec("string", s.CHANNEL, required=False),
            ColSpec("string", s.MERCHANT_CATEGORY, required=False),
            ColSpec("string", s.COUNTRY, required=False),
        ]
    )
    outputs = Schema(
        [
            ColSpec("string", s.TRANSACTION_ID),
            ColSpec("double", "score", required=False),  # null when degraded
            ColSpec("string", "decision"),  # approve | alert | review (fallback)
            ColSpec("double", "threshold"),
            ColSpec("string", "model_version"),
            ColSpec("string", "reasons"),  # JSON list of {feature, value, contribution}
            ColSpec("boolean", "degraded"),
            ColSpec("string", "degraded_reason", required=False),
        ]
    )
    return ModelSignature(inputs, outputs)


def log_models(mlflow, booster, pip_requirements: list[str], service_requirements: list[str]):
    """Logs both models into the active run; returns their ModelInfo (feature model, service)."""
    from fraudshield_pipeline.domain.train import model_contract

    names, categories, _ = model_contract(booster)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "booster.ubj")
        booster.save_model(path)
        features = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(FEATURE_MODEL_FILE),
            artifacts={"booster": path},
            signature=feature_signature(names, categories),
            pip_requirements=pip_requirements,
        )
        service = mlflow.pyfunc.log_model(
            name="service",
            python_model=str(SERVICE_MODEL_FILE),
            artifacts={"booster": path},
            signature=service_signature(),
            model_config=DEFAULT_SERVICE_CONFIG,
            pip_requirements=pip_requirements + service_requirements,
        )
    return features, service
