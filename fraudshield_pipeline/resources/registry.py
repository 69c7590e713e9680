"""MLflow tracking and model registry behind narrow verbs.

Models travel only in XGBoost's own format through MLflow (no pickles); aliases
(`challenger`, `champion`) are the only pointers serving code follows.
"""


import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    run_id: str
    model_uri: str


@dataclass(frozen=True)
class ModelVersionInfo:
    version: str
    run_id: str
    tags: dict[str, str]
    aliases: tuple[str, ...]


class ModelRegistry(dg.ConfigurableResource):
    """MLflow: local sqlite store by default, or a tracking server URI."""

    tracking_uri: str = Field(description="MLflow tracking URI (sqlite:///... or http://host:5000).")
    artifact_location: str | None = Field(
        default=None, description="Where new experiments store artifacts (a directory or s3:// URI)."
    )
    experiment_name: str = "fraudshield"
    model_name: str = "fraudshield-fraud-xgb"
    connect_timeout_s: float = Field(
        default=10.0, description="How long the up-front reachability check of a tracking server waits."
    )
    ui_url: str | None = Field(
        default=None,
        description=(
            "Address of the MLflow UI a browser opens (FRAUDSHIELD_MLFLOW_UI_URL), the base of every run, "
            "version and report link; default: an http(s) tracking URI without credentials, else "
            "http://127.0.0.1:5000 (the MLflow UI `fraudshield ui` starts beside Dagster)."
        ),
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Fail a run at its start, in seconds and with a clear message, when the tracking server is
        # down: not after training, and not after MLflow's own HTTP retries (minutes).
        self.check_reachable()

    def check_reachable(self) -> None:
        """Raises dagster.Failure naming the tracking URI when an http(s) tracking server does not answer."""
        if not self.tracking_uri.startswith(("http://", "https://")):
            return  # a local store (sqlite, file): nothing to reach
        import urllib.error
        import urllib.request

        shown = _redacted(self.tracking_uri)
        try:
            # Any HTTP answer (even 401/404 from a proxy in front) means the server is there.
            with urllib.request.urlopen(f"{self.tracking_uri.rstrip('/')}/health", timeout=self.connect_timeout_s):
                pass
        except urllib.error.HTTPError:
            pass
        except (OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise dg.Failure(
                description=(
                    f"MLflow tracking server {shown} is unreachable ({reason}); nothing was logged or registered. "
                    "Start the server or correct MLFLOW_TRACKING_URI, then re-run."
                ),
                metadata={"tracking_uri": shown},
                allow_retries=True,
            ) from error

    def _mlflow(self):
        import mlflow

        # mlflow.set_*_uri also export MLFLOW_*_URI into os.environ; undo that, so one
        # resource's store never leaks into another resource or process built later.
        saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        return mlflow

    def client(self):
        from mlflow import MlflowClient

        self._mlflow()
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def experiment_id(self) -> str:
        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        location = self.artifact_location
        if location and "://" not in location:
            Path(location).mkdir(parents=True, exist_ok=True)
            location = Path(location).resolve().as_uri()
        return client.create_experiment(self.experiment_name, artifact_location=location)

    def log_training(
        self,
        *,
        run_name: str,
        booster,
        example: pd.DataFrame,
        params: Mapping[str, object],
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        inputs: Mapping[str, tuple[pd.DataFrame, str, str]],
        artifacts: Mapping[str, str | bytes] = {},
    ) -> RegisteredModel:
        """One MLflow run: params, metrics, input datasets, the model; then a new registry version.

        `inputs` maps a context name ("training", "validation") to (frame, source URI, digest).
        """
        mlflow = self._mlflow()
        from fraudshield_pipeline.serving.models import log_models

        experiment_id = self.experiment_id()
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=dict(tags)) as run:
            mlflow.log_params({k: _param(v) for k, v in params.items()})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
            for context, (frame, source, digest) in inputs.items():
                dataset = mlflow.data.from_pandas(frame.head(1000), source=source, name=f"{context}-{digest}", digest=digest)
                mlflow.log_input(dataset, context=context)
            for name, content in artifacts.items():
                if isinstance(content, bytes):
                    mlflow.log_text(content.decode(), name)
                else:
                    mlflow.log_text(content, name)
            # Two pyfuncs from code around the booster (XGBoost's format, no pickle): feature rows
            # for any MLflow client, and the transaction-level scoring service (serving/models.py).
            info, service = log_models(mlflow, booster, _pip_requirements(), _service_requirements())
        # model_id: a tracking server (unlike the sqlite store) rejects a models:/m-... source without it.
        version = self.client().create_model_version(
            name=self._ensure_registered_model(),
            source=info.model_uri,
            run_id=run.info.run_id,
            tags=dict(tags),
            model_id=info.model_id,
        )
        self._register_service(service, run.info.run_id, str(version.version))
        return RegisteredModel(self.model_name, str(version.version), run.info.run_id, info.model_uri)

    def _ensure_registered_model(self, name: str | None = None, description: str = "FraudShield card-fraud model (XGBoost).") -> str:
        from mlflow.exceptions import MlflowException

        client = self.client()
        name = name or self.model_name
        try:
            client.get_registered_model(name)
        except MlflowException:
            client.create_registered_model(name, description=description)
        return name

    def _register_service(self, service, run_id: str, version: str) -> None:
        """The service model as a version of `<model_name>-service`, tagged with its feature-model version."""
        from fraudshield_pipeline.serving.models import MODEL_VERSION_TAG, SERVICE_SUFFIX

        client = self.client()
        name = self._ensure_registered_model(self.model_name + SERVICE_SUFFIX, "FraudShield scoring service (raw transactions).")
        client.create_model_version(
            name=name, source=service.model_uri, run_id=run_id, tags={MODEL_VERSION_TAG: version}, model_id=service.model_id
        )

    def service_version(self, version: str) -> str | None:
        """The service-model version logged with feature-model `version` (None for versions before the service)."""
        from fraudshield_pipeline.serving.models import MODEL_VERSION_TAG, SERVICE_SUFFIX

        from mlflow.exceptions import MlflowException

        try:
            found = self.client().search_model_versions(
                f"name='{self.model_name}{SERVICE_SUFFIX}' and tags.`{MODEL_VERSION_TAG}`='{version}'"
            )
        except MlflowException:
            return None
        return str(max(int(v.version) for v in found)) if found else None

    def set_alias(self, alias: str, version: str) -> None:
        """Moves `alias` on the model and, in step, on its scoring service (serving follows one alias)."""
        from fraudshield_pipeline.serving.models import SERVICE_SUFFIX

        self.client().set_registered_model_alias(self.model_name, alias, str(version))
        if (service := self.service_version(str(version))) is not None:
            self.client().set_registered_model_alias(self.model_name + SERVICE_SUFFIX, alias, service)

    def version_for_alias(self, alias: str) -> ModelVersionInfo | None:
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client().get_model_version_by_alias(self.model_name, alias)
        except MlflowException:
            return None
        return ModelVersionInfo(str(mv.version), mv.run_id, dict(mv.tags), tuple(mv.aliases))

    def find_version(self, tags: Mapping[str, str]) -> ModelVersionInfo | None:
        """The newest ready version carrying every one of `tags` (exact values), or None."""
        from mlflow.exceptions import MlflowException

        clauses = [f"name = '{self.model_name}'"] + [f"tags.`{k}` = '{str(v).replace(chr(39), '')}'" for k, v in tags.items()]
        try:
            found = self.client().search_model_versions(" and ".join(clauses))
        except MlflowException:
            return None  # no registered model yet
        ready = [mv for mv in found if mv.status == "READY" and all(mv.tags.get(k) == str(v) for k, v in tags.items())]
        if not ready:
            return None
        mv = max(ready, key=lambda m: int(m.version))
        return ModelVersionInfo(str(mv.version), mv.run_id, dict(mv.tags), tuple(mv.aliases))

    def log_child_runs(self, parent_run_id: str, runs: list[Mapping[str, object]]) -> list[str]:
        """Nested runs under a finished run, e.g. one per hyperparameter-search trial.

        Each item: run_name, params (dict), metrics (dict), status ("FINISHED", "FAILED", "KILLED"),
        start_ms/end_ms (epoch milliseconds). Logged after the fact, so the search itself needs no run.
        """
        from mlflow.entities import Metric, Param, RunTag

        client = self.client()
        parent = client.get_run(parent_run_id)
        ids = []
        for item in runs:
            run = client.create_run(
                parent.info.experiment_id,
                start_time=int(item.get("start_ms") or 0) or None,
                tags={"mlflow.parentRunId": parent_run_id},
                run_name=str(item["run_name"]),
            )
            end_ms = int(item.get("end_ms") or 0) or None
            client.log_batch(
                run.info.run_id,
                metrics=[Metric(k, float(v), end_ms or 0, 0) for k, v in dict(item.get("metrics") or {}).items() if v == v],
                params=[Param(k, _param(v)) for k, v in dict(item.get("params") or {}).items()],
                tags=[RunTag("mlflow.runName", str(item["run_name"]))],
            )
            client.set_terminated(run.info.run_id, status=str(item.get("status", "FINISHED")), end_time=end_ms)
            ids.append(run.info.run_id)
        return ids

    def get_version(self, version: str) -> ModelVersionInfo:
        mv = self.client().get_model_version(self.model_name, str(version))
        return ModelVersionInfo(str(mv.version), mv.run_id, dict(mv.tags), tuple(mv.aliases))

    def set_version_tags(self, version: str, tags: Mapping[str, str]) -> None:
        client = self.client()
        for key, value in tags.items():
            client.set_model_version_tag(self.model_name, str(version), key, str(value))

    def load_booster(self, version: str):
        """The model as an `xgboost.Booster`, from the registry this resource names."""
        mlflow = self._mlflow()
        # A pyfunc from code wraps the booster (`.booster`); versions logged before it are the
        # xgboost flavor, whose raw model is the booster (or an sklearn wrapper around it).
        loaded = mlflow.pyfunc.load_model(f"models:/{self.model_name}/{version}")
        try:
            model = loaded.unwrap_python_model().booster
        except Exception:  # not a PythonModel: the xgboost flavor
            model = loaded.get_raw_model()
        return model.get_booster() if hasattr(model, "get_booster") else model

    def log_run_artifact_text(self, run_id: str, text: str, path: str) -> None:
        self.client().log_text(run_id, text, path)

    def log_run_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        client = self.client()
        for key, value in metrics.items():
            if value == value:  # MLflow rejects NaN on some backends; absent is clearer than NaN
                client.log_metric(run_id, key, float(value))

    def log_run_artifact_bytes(self, run_id: str, content: bytes, path: str) -> None:
        """A binary artifact (e.g. a PNG plot) at `path` inside the run's artifacts."""
        import tempfile
        from pathlib import PurePosixPath

        target = PurePosixPath(path)
        with tempfile.TemporaryDirectory() as tmp:
            local = os.path.join(tmp, target.name)
            with open(local, "wb") as handle:
                handle.write(content)
            self.client().log_artifact(run_id, local, str(target.parent) if str(target.parent) != "." else None)

    def log_report_run(
        self, *, experiment_name: str, run_name: str, texts: Mapping[str, str], metrics: Mapping[str, float], tags: Mapping[str, str]
    ) -> str:
        """One MLflow run holding human-facing reports (e.g. a day's drift HTML), so the MLflow UI
        serves them to a browser wherever the tracking server runs; returns the run id."""
        client = self.client()
        experiment = client.get_experiment_by_name(experiment_name)
        experiment_id = experiment.experiment_id if experiment else self._create_experiment(experiment_name)
        run = client.create_run(experiment_id, run_name=run_name, tags=dict(tags))
        for path, text in texts.items():
            client.log_text(run.info.run_id, text, path)
        for key, value in metrics.items():
            if value == value:
                client.log_metric(run.info.run_id, key, float(value))
        client.set_terminated(run.info.run_id)
        return run.info.run_id

    def _create_experiment(self, name: str) -> str:
        location = self.artifact_location
        if location and "://" not in location:
            location = (Path(location).resolve() / name).as_uri()
        elif location:
            location = f"{location.rstrip('/')}/{name}"
        return self.client().create_experiment(name, artifact_location=location)

    def browser_url(self) -> str:
        """The MLflow UI's address for links (never credentials)."""
        if self.ui_url:
            return _without_credentials(self.ui_url).rstrip("/")
        if self.tracking_uri.startswith(("http://", "https://")):
            return _without_credentials(self.tracking_uri).rstrip("/")
        return DEFAULT_UI_URL

    def run_url(self, run_id: str, experiment_id: str | None = None, artifact: str | None = None) -> str:
        """The run's page in the MLflow UI, or one of its artifacts (HTML and markdown render there)."""
        experiment_id = experiment_id or self.client().get_run(run_id).info.experiment_id
        url = f"{self.browser_url()}/#/experiments/{experiment_id}/runs/{run_id}"
        return f"{url}/artifacts/{artifact}" if artifact else url

    def artifact_file_url(self, run_id: str, path: str) -> str:
        """The artifact's bytes as the MLflow server serves them (for an image shown inline)."""
        from urllib.parse import urlencode

        return f"{self.browser_url()}/get-artifact?{urlencode({'path': path, 'run_uuid': run_id})}"

    def version_url(self, version: str) -> str:
        from urllib.parse import quote

        return f"{self.browser_url()}/#/models/{quote(self.model_name)}/versions/{version}"


DEFAULT_UI_URL = "http://127.0.0.1:5000"


def _without_credentials(uri: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=host))


def _redacted(uri: str) -> str:
    """The URI without a password, fit for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _param(value: object) -> str:
    return json.dumps(value) if isinstance(value, (dict, list, tuple)) else str(value)


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [
        f"xgboost=={version('xgboost')}",
        f"pandas=={version('pandas')}",
        f"numpy=={version('numpy')}",
        f"fraudshield-pipeline=={version('fraudshield-pipeline')}",  # model_matrix, the model's input conversion
    ]


def _service_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"feast[redis]=={version('feast')}"]
