"""The one place that turns environment variables into resource instances.

Every switch has an embedded default, so a fresh clone runs with no configuration:
  FRAUDSHIELD_DATA_DIR         local stores (default: <repo>/data for the simulator, <repo>/data/landing-<name>
                               for a landing zone named <name>: each source has its own tables, models and features)
  FRAUDSHIELD_STORAGE          local | s3  (s3 needs FRAUDSHIELD_S3_BUCKET; AWS_* credentials)
  MLFLOW_TRACKING_URI          default: sqlite under the data dir
  FRAUDSHIELD_MLFLOW_UI_URL    the MLflow UI a browser opens (links); default http://127.0.0.1:5000
  FRAUDSHIELD_ONLINE_STORE     sqlite | redis  (redis needs FRAUDSHIELD_REDIS_URL)
  FRAUDSHIELD_FEAST_REGISTRY   default: registry.db under the data dir; s3://... in production
  FRAUDSHIELD_TRAINING_DEVICE  cpu | cuda  (FRAUDSHIELD_GPU_CAPACITY_PROVIDER: the ECS GPU capacity)
  FRAUDSHIELD_SOURCE           simulator | landing  (landing needs FRAUDSHIELD_LANDING_URI)
Values that may be secret are passed as `dagster.EnvVar`, resolved only when a run starts.
"""


import re
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from fraudshield_pipeline.resources.compute import TrainingCompute
from fraudshield_pipeline.resources.feature_store import FeastFeatureStore
from fraudshield_pipeline.resources.io_managers import ParquetIOManager
from fraudshield_pipeline.resources.policy import build_policy
from fraudshield_pipeline.resources.quality_policy import build_quality_policy
from fraudshield_pipeline.resources.registry import ModelRegistry
from fraudshield_pipeline.resources.sources import SimulatorSource, TransactionSource
from fraudshield_pipeline.resources.storage import ArtifactStore, LocalArtifactStore, table_key

REPO_ROOT = Path(__file__).resolve().parents[2]

# What a deployment must provide for the production profile (S3 data, MLflow server, Redis online
# store; Dagster's own PostgreSQL storage in dagster.yaml). Terraform's outputs are tested against it.
PRODUCTION_ENV_VARS = (
    "FRAUDSHIELD_STORAGE",
    "FRAUDSHIELD_S3_BUCKET",
    "FRAUDSHIELD_S3_PREFIX",
    "AWS_DEFAULT_REGION",
    "MLFLOW_TRACKING_URI",
    # MLflow's own client variables: the pipeline's user on the basic-auth server (read/write).
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "FRAUDSHIELD_MLFLOW_ARTIFACT_LOCATION",
    "FRAUDSHIELD_ONLINE_STORE",
    "FRAUDSHIELD_REDIS_URL",
    "FRAUDSHIELD_FEAST_REGISTRY",
    "FRAUDSHIELD_TRAINING_DEVICE",
    "FRAUDSHIELD_GPU_CAPACITY_PROVIDER",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_DB",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
)
SECRET_ENV_VARS = ("FRAUDSHIELD_REDIS_URL", "DAGSTER_PG_PASSWORD", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def _landing(env: Mapping[str, str]) -> bool:
    return env.get("FRAUDSHIELD_SOURCE", "simulator") == "landing"


def source_id(env: Mapping[str, str]) -> str:
    """Which data source a store holds: `simulator`, or `landing:` and the zone's absolute URI.

    Any simulator seed or volume is the same source (a re-run replaces days, as intended); two
    landing zones are two sources. The store refuses to mix them (ArtifactStore.check_source).
    """
    if not _landing(env):
        return "simulator"
    uri = env.get("FRAUDSHIELD_LANDING_URI") or ""
    return f"landing:{uri.rstrip('/') if uri.startswith('s3://') else Path(uri).resolve()}"


def data_dir(env: Mapping[str, str]) -> Path:
    """FRAUDSHIELD_DATA_DIR, or one directory per source: data/ (simulator), data/landing-<zone folder name>/."""
    if env.get("FRAUDSHIELD_DATA_DIR"):
        return Path(env["FRAUDSHIELD_DATA_DIR"]).resolve()
    if not _landing(env):
        return (REPO_ROOT / "data").resolve()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", source_id(env).rstrip("/").rsplit("/", 1)[-1]).strip("-.") or "zone"
    return (REPO_ROOT / "data" / f"landing-{name}").resolve()


def _env(env: Mapping[str, str], name: str, default: str | None = None):
    """An EnvVar when the variable is set (shown as such in the UI), else the embedded default."""
    return dg.EnvVar(name) if env.get(name) else default


def build_s3(env: Mapping[str, str]):
    """dagster-aws's S3 resource; imported here, only by the profiles that use S3."""
    from dagster_aws.s3 import S3Resource

    return S3Resource(
        endpoint_url=_env(env, "AWS_ENDPOINT_URL"),
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=_env(env, "AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=_env(env, "AWS_SECRET_ACCESS_KEY"),
        # botocore's `max_attempts` counts retries after the first call (dagster-aws passes it
        # through); FRAUDSHIELD_S3_MAX_ATTEMPTS counts every attempt, as its name says.
        max_attempts=max(int(env.get("FRAUDSHIELD_S3_MAX_ATTEMPTS", "8")) - 1, 0),
    )


def build_storage(env: Mapping[str, str]) -> ArtifactStore:
    if env.get("FRAUDSHIELD_STORAGE", "local") == "s3":
        if not env.get("FRAUDSHIELD_S3_BUCKET"):
            raise ValueError("FRAUDSHIELD_STORAGE=s3 needs FRAUDSHIELD_S3_BUCKET")
        from fraudshield_pipeline.resources.s3_storage import S3ArtifactStore

        return S3ArtifactStore(
            s3=build_s3(env),
            bucket=dg.EnvVar("FRAUDSHIELD_S3_BUCKET"),
            prefix=env.get("FRAUDSHIELD_S3_PREFIX", "fraudshield"),
            source=source_id(env),
        )
    return LocalArtifactStore(base_dir=str(data_dir(env) / "store"), source=source_id(env))


def build_source(env: Mapping[str, str]) -> TransactionSource:
    """The embedded simulator, or the user's landing zone (FRAUDSHIELD_LANDING_URI)."""
    if env.get("FRAUDSHIELD_SOURCE", "simulator") == "landing":
        uri = env.get("FRAUDSHIELD_LANDING_URI")
        if not uri:
            raise ValueError("FRAUDSHIELD_SOURCE=landing needs FRAUDSHIELD_LANDING_URI (a directory or s3://bucket/prefix)")
        from fraudshield_pipeline.resources.landing_source import LandingZoneSource

        return LandingZoneSource(
            uri=uri,
            mapping_file=env.get("FRAUDSHIELD_LANDING_MAPPING", "mapping.yaml"),
            late_file_days=int(env.get("FRAUDSHIELD_LATE_FILE_DAYS", "120")),
            s3=build_s3(env) if uri.startswith("s3://") else None,
        )
    return SimulatorSource(
        seed=int(env.get("FRAUDSHIELD_SIM_SEED", "7")),
        transactions_per_day=int(env.get("FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY", "6000")),
        n_customers=int(env.get("FRAUDSHIELD_SIM_CUSTOMERS", "20000")),
        n_merchants=int(env.get("FRAUDSHIELD_SIM_MERCHANTS", "2000")),
        holiday_shift_start=env.get("FRAUDSHIELD_SIM_HOLIDAY_SHIFT_START"),
        new_partner_start=env.get("FRAUDSHIELD_SIM_NEW_PARTNER_START"),
        fraud_strategy_change_start=env.get("FRAUDSHIELD_SIM_FRAUD_STRATEGY_CHANGE_START"),
        label_delay=env.get("FRAUDSHIELD_SIM_LABEL_DELAY", "mixed"),
        fraud_rate_factor=float(env.get("FRAUDSHIELD_SIM_FRAUD_RATE_FACTOR", "1")),
        weekday_factors=env.get("FRAUDSHIELD_SIM_WEEKDAY_FACTORS") or None,
        minimal_columns=env.get("FRAUDSHIELD_SIM_MINIMAL_COLUMNS", "").lower() in ("1", "true", "yes"),
    )


def _tables_uri(env: Mapping[str, str], storage: ArtifactStore) -> str:
    """Where Feast's offline sources point: the root of the tables the storage resource writes."""
    key = table_key("any", "*").split("/", 1)[0]
    if isinstance(storage, LocalArtifactStore):
        return storage.uri(key)
    prefix = env.get("FRAUDSHIELD_S3_PREFIX", "fraudshield").strip("/")
    return f"s3://{env['FRAUDSHIELD_S3_BUCKET']}/{prefix}/{key}"


def build_resources(env: Mapping[str, str]) -> dict[str, object]:
    root = data_dir(env)
    storage = build_storage(env)
    online_store = env.get("FRAUDSHIELD_ONLINE_STORE", "sqlite")
    return {
        "storage": storage,
        "io_manager": ParquetIOManager(store=storage),
        "source": build_source(env),
        "registry": ModelRegistry(
            tracking_uri=_env(env, "MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"),
            artifact_location=_env(env, "FRAUDSHIELD_MLFLOW_ARTIFACT_LOCATION", str(root / "mlflow" / "artifacts")),
            ui_url=_env(env, "FRAUDSHIELD_MLFLOW_UI_URL"),  # links in the UI; see ModelRegistry.browser_url
        ),
        "feature_store": FeastFeatureStore(
            repo_dir=str(root / "feast"),
            online_store=online_store,
            redis_connection_string=_env(env, "FRAUDSHIELD_REDIS_URL"),
            tables_uri=_tables_uri(env, storage),
            s3_endpoint_override=env.get("AWS_ENDPOINT_URL") or None,
            registry_path=env.get("FRAUDSHIELD_FEAST_REGISTRY") or None,
        ),
        "compute": TrainingCompute(
            device=env.get("FRAUDSHIELD_TRAINING_DEVICE", "cpu"),
            n_threads=int(env.get("FRAUDSHIELD_TRAINING_THREADS", "0")),
        ),
        # The retraining policy (thresholds, cooldown, approval): every environment has one.
        "policy": build_policy(env),
        # The limits the snapshot checks block downstream assets with.
        "quality": build_quality_policy(env),
    }
