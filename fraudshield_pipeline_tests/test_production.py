"""The production profile on real servers on loopback.

- The production Dagster instance (the one Terraform renders for ECS) loads against a real
  PostgreSQL with TLS, moto's S3 and ECS: PostgreSQL storage, the ECS run launcher, S3 compute
  logs, the run queue with its tag limits, run retries; a run's records land in PostgreSQL and
  its compute logs in S3.
- The GPU path: with FRAUDSHIELD_TRAINING_DEVICE=cuda, dagster-aws's ECS executor asks ECS for a
  GPU (container resourceRequirements) on the GPU capacity provider for trained_model only.
- The whole pipeline once in the production profile (slow): data and the Feast registry on S3,
  MLflow server on PostgreSQL (its own role; basic-auth app, runs log as the pipeline's user)
  with artifacts on S3, Feast online store on Redis, Dagster runs in PostgreSQL.
"""

import datetime as dt
import importlib
import json
import os
import uuid
from pathlib import Path

import boto3
import dagster as dg
import pytest

from fraudshield_pipeline_tests.conftest import TEST_CREDENTIALS, TEST_REGION
from fraudshield_pipeline_tests.instance_home import make_production_home

RUN_CONTAINER = "run"
GPU_CAPACITY_PROVIDER = "fraudshield-test-gpu"
COMPUTE_LOGS_PREFIX = "dagster/compute-logs"


def _ecs(moto_s3):
    return boto3.client("ecs", endpoint_url=moto_s3.endpoint_url, region_name=TEST_REGION, **TEST_CREDENTIALS)


@pytest.fixture
def production_env(postgres_server, moto_s3, aws_test_env, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """DAGSTER_PG_* for a fresh database on the test PostgreSQL, AWS calls to moto."""
    database = f"dagster_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(database)
    env = {**postgres_server.env(), "DAGSTER_PG_DB": database, "AWS_ENDPOINT_URL": moto_s3.endpoint_url}
    for name in list(os.environ):
        if name.startswith(("FRAUDSHIELD_", "MLFLOW_", "DAGSTER_PG_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def ecs_cluster(moto_s3, production_env) -> dict[str, object]:
    """On moto's ECS: the cluster, the run task definition and the template values Terraform fills."""
    ecs = _ecs(moto_s3)
    ec2 = boto3.client("ec2", endpoint_url=moto_s3.endpoint_url, region_name=TEST_REGION, **TEST_CREDENTIALS)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    security_group = ec2.create_security_group(GroupName=f"app-{uuid.uuid4().hex[:8]}", Description="app", VpcId=vpc)["GroupId"]
    cluster = f"fraudshield-{uuid.uuid4().hex[:8]}"
    # As terraform/modules/compute: Fargate by default, plus the GPU capacity provider, here with
    # one GPU instance registered (in AWS, managed scaling starts it from zero on demand).
    ecs.create_capacity_provider(
        name=GPU_CAPACITY_PROVIDER,
        autoScalingGroupProvider={"autoScalingGroupArn": f"arn:aws:autoscaling:{TEST_REGION}:123456789012:autoScalingGroup:1:autoScalingGroupName/gpu"},
    )
    ecs.create_cluster(
        clusterName=cluster,
        capacityProviders=["FARGATE", "FARGATE_SPOT", GPU_CAPACITY_PROVIDER],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1, "base": 0}],
    )
    gpu_instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="g4dn.xlarge")["Instances"][0]["InstanceId"]
    ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=json.dumps({"instanceId": gpu_instance}))
    task_definition = ecs.register_task_definition(
        family=f"{cluster}-run",
        requiresCompatibilities=["FARGATE", "EC2"],
        networkMode="awsvpc",
        cpu="1024",
        memory="4096",
        containerDefinitions=[{"name": RUN_CONTAINER, "image": "fraudshield:test", "essential": True, "cpu": 1024, "memory": 4096}],
    )["taskDefinition"]["taskDefinitionArn"]
    bucket = moto_s3.create_bucket()
    return {
        "run_task_definition": task_definition,
        "run_container_name": RUN_CONTAINER,
        "cluster": cluster,
        "subnets": json.dumps(subnets),
        "security_groups": json.dumps([security_group]),
        "max_concurrent_runs": 16,
        "backfill_max_concurrent_runs": 8,
        "compute_logs_bucket": bucket,
        "compute_logs_prefix": COMPUTE_LOGS_PREFIX,
    }


def _run_ids_in_postgres(postgres_server, database: str) -> set[str]:
    conn = postgres_server.connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT run_id FROM runs")
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


@dg.asset
def hello_production() -> int:
    print("hello from a production step")
    return 1


def test_production_instance_on_loopback_services(ecs_cluster, production_env, postgres_server, moto_s3, tmp_path, monkeypatch):
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_aws.ecs import EcsRunLauncher
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    home = make_production_home(tmp_path / "dagster_home", ecs_cluster)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
        launcher = instance.run_launcher  # built now: describes the task definition on (moto) ECS
        assert isinstance(launcher, EcsRunLauncher)
        assert launcher.task_definition == ecs_cluster["run_task_definition"]
        assert launcher.run_task_kwargs["cluster"] == ecs_cluster["cluster"]
        assert launcher.use_current_ecs_task_config is False
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        limits = {limit["key"]: limit for limit in coordinator.get_run_queue_config().tag_concurrency_limits}
        assert limits["fraudshield/retrain"]["limit"] == 1
        assert limits["dagster/backfill"]["limit"] == 8
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1

        # A run on this instance: its record is in PostgreSQL, its step's stdout in S3.
        result = dg.materialize([hello_production], instance=instance)
        assert result.success
        run_id = result.run_id
    assert run_id in _run_ids_in_postgres(postgres_server, production_env["DAGSTER_PG_DB"])
    keys = moto_s3.keys(ecs_cluster["compute_logs_bucket"], COMPUTE_LOGS_PREFIX)
    assert any(run_id in key and key.endswith(".out") for key in keys), keys


# --- the GPU path -----------------------------------------------------------------------------


@pytest.fixture
def cuda_definitions(monkeypatch: pytest.MonkeyPatch):
    """The code location as a deployment with FRAUDSHIELD_TRAINING_DEVICE=cuda loads it."""
    import fraudshield_pipeline.defs.training.assets as training_assets
    from fraudshield_pipeline.definitions import stage_definitions
    from fraudshield_pipeline.defs.resources import resources

    with monkeypatch.context() as patch:
        patch.setenv("FRAUDSHIELD_TRAINING_DEVICE", "cuda")
        patch.setenv("FRAUDSHIELD_GPU_CAPACITY_PROVIDER", GPU_CAPACITY_PROVIDER)
        importlib.reload(training_assets)  # op tags are decided when the module is imported
        try:
            yield dg.Definitions.merge(stage_definitions(), resources())
        finally:
            patch.undo()
            importlib.reload(training_assets)


def test_training_step_alone_asks_ecs_for_a_gpu(cuda_definitions, ecs_cluster, moto_s3, tmp_path, monkeypatch):
    """The RunTask requests dagster-aws's ECS executor sends for each step of retrain_job."""
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import create_execution_plan
    from dagster._core.execution.context.system import PlanData, PlanOrchestrationContext
    from dagster._core.execution.context_creation_job import create_context_free_log_manager
    from dagster._core.execution.retries import RetryMode
    from dagster._core.executor.init import InitExecutorContext
    from dagster._core.executor.step_delegating import StepHandlerContext
    from dagster._grpc.types import ExecuteStepArgs
    from dagster_aws.ecs import executor as ecs_executor_module
    from dagster_aws.ecs.tasks import CurrentEcsTaskMetadata

    ecs = _ecs(moto_s3)
    cluster = ecs_cluster["cluster"]
    # The run worker's own task: the executor reads its task definition and cluster. Inside ECS
    # the task metadata endpoint names it; here there is none, so name the moto task directly.
    run_task = ecs.run_task(
        cluster=cluster,
        taskDefinition=ecs_cluster["run_task_definition"],
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": json.loads(ecs_cluster["subnets"]), "securityGroups": json.loads(ecs_cluster["security_groups"])}
        },
    )["tasks"][0]
    monkeypatch.setattr(
        ecs_executor_module, "get_current_ecs_task_metadata", lambda: CurrentEcsTaskMetadata(cluster=cluster, task_arn=run_task["taskArn"])
    )

    home = make_production_home(tmp_path / "dagster_home", ecs_cluster)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    job = cuda_definitions.resolve_job_def("retrain_job")
    origin = (
        ReconstructableRepository.for_module("fraudshield_pipeline.definitions", "defs", working_directory=str(Path.cwd()))
        .get_reconstructable_job("retrain_job")
        .get_python_origin()
    )
    sent: dict[str, dict] = {}
    with dg.DagsterInstance.get() as instance:
        executor = ecs_executor_module.ecs_executor.executor_creation_fn(
            InitExecutorContext(job=InMemoryJob(job), executor_def=ecs_executor_module.ecs_executor, executor_config={"retries": {"enabled": {}}}, instance=instance)
        )
        handler = executor._step_handler
        step_key = {"current": None}
        handler.ecs.meta.events.register(
            "provide-client-params.ecs.RunTask", lambda params, **_: sent.__setitem__(step_key["current"], json.loads(json.dumps(params)))
        )
        plan = create_execution_plan(job)
        run = instance.create_run_for_job(job_def=job, execution_plan=plan)
        plan_context = PlanOrchestrationContext(
            plan_data=PlanData(job=job, dagster_run=run, instance=instance, execution_plan=plan, raise_on_error=True, retry_mode=RetryMode.DISABLED),
            log_manager=create_context_free_log_manager(instance, run),
            executor=executor,
            output_capture=None,
        )
        for step in plan.steps:
            step_key["current"] = step.key
            context = StepHandlerContext(
                instance=instance,
                plan_context=plan_context,
                steps=[step],
                execute_step_args=ExecuteStepArgs(origin, run.run_id, [step.key], instance_ref=instance.get_ref(), print_serialized_events=False),
                dagster_run=run,
            )
            list(handler.launch_step(context))  # a real RunTask call to (moto) ECS

    assert {"training_set", "trained_model", "evaluation_report"} <= set(sent)
    for key, request in sent.items():
        (container,) = request["overrides"]["containerOverrides"]
        assert container["name"] == RUN_CONTAINER and container["command"] == ["dagster", "api", "execute_step"]
        assert {tag["key"]: tag["value"] for tag in request["tags"]}["dagster/step-key"] == key
        assert request["cluster"] == cluster and request["taskDefinition"] == run_task["taskDefinitionArn"]
        # RunTask rejects a launch type together with a capacity provider strategy.
        assert "launchType" not in request, key
        if key == "trained_model":
            assert container["resourceRequirements"] == [{"type": "GPU", "value": "1"}]
            assert request["capacityProviderStrategy"] == [{"capacityProvider": GPU_CAPACITY_PROVIDER, "weight": 1, "base": 0}]
        else:
            assert "resourceRequirements" not in container, key
            assert "capacityProviderStrategy" not in request, key  # the cluster's default: Fargate, CPU
    # ECS accepted them: the training task went to the GPU instance, every other step to Fargate.
    arns = [arn for arn in ecs.list_tasks(cluster=cluster)["taskArns"] if arn != run_task["taskArn"]]
    placed = {}
    for task in ecs.describe_tasks(cluster=cluster, tasks=arns, include=["TAGS"])["tasks"]:
        key = {tag["key"]: tag["value"] for tag in task["tags"]}["dagster/step-key"]
        placed[key] = (task.get("capacityProviderName"), task.get("containerInstanceArn"))
    assert set(placed) == set(sent)
    assert placed.pop("trained_model")[0] == GPU_CAPACITY_PROVIDER
    assert all(provider == "FARGATE" and instance is None for provider, instance in placed.values()), placed


def test_training_compute_uses_cuda_on_the_gpu_path():
    from fraudshield_pipeline.resources.profiles import build_resources

    compute = build_resources({"FRAUDSHIELD_TRAINING_DEVICE": "cuda", "FRAUDSHIELD_DATA_DIR": "/nonexistent"})["compute"]
    assert compute.xgboost_params()["device"] == "cuda"
    assert build_resources({"FRAUDSHIELD_DATA_DIR": "/nonexistent"})["compute"].xgboost_params()["device"] == "cpu"


# --- the whole pipeline in the production profile ---------------------------------------------------

FIRST_DAY = dt.date(2026, 9, 1)
DAYS = 36
PREFIX = "fraudshield"


@pytest.mark.slow
def test_whole_pipeline_in_the_production_profile(
    production_env, postgres_server, mlflow_server, redis_server, moto_s3, tmp_path: Path, monkeypatch
):
    from mlflow import MlflowClient

    from fraudshield_pipeline.resources.profiles import PRODUCTION_ENV_VARS, build_resources
    from fraudshield_pipeline.runner import MATURED, MONITORING, STAGES, run_pipeline

    bucket = moto_s3.create_bucket()
    env = {
        **production_env,
        "FRAUDSHIELD_STORAGE": "s3",
        "FRAUDSHIELD_S3_BUCKET": bucket,
        "FRAUDSHIELD_S3_PREFIX": PREFIX,
        "AWS_DEFAULT_REGION": TEST_REGION,
        "MLFLOW_TRACKING_URI": mlflow_server.uri,
        # The MLflow server runs the basic-auth app: runs log and register as the pipeline's user.
        **mlflow_server.users.client_env("pipeline"),
        "FRAUDSHIELD_MLFLOW_ARTIFACT_LOCATION": f"s3://{mlflow_server.bucket}/mlflow",
        "MLFLOW_S3_ENDPOINT_URL": moto_s3.endpoint_url,
        "FRAUDSHIELD_ONLINE_STORE": "redis",
        "FRAUDSHIELD_REDIS_URL": redis_server.url,
        "FRAUDSHIELD_FEAST_REGISTRY": f"s3://{bucket}/{PREFIX}/feast/registry.pb",
        "FRAUDSHIELD_TRAINING_DEVICE": "cpu",  # no GPU here; the GPU path is tested above
        "FRAUDSHIELD_GPU_CAPACITY_PROVIDER": GPU_CAPACITY_PROVIDER,
        "FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"),
        "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "1500",
    }
    assert set(PRODUCTION_ENV_VARS) <= set(env), set(PRODUCTION_ENV_VARS) - set(env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    redis_server.client().flushall()
    compute_logs = moto_s3.create_bucket()
    # The production instance without its ECS launcher: runs execute here, in this process.
    unused = {"run_task_definition": "unused", "run_container_name": "run", "cluster": "unused", "subnets": "[]", "security_groups": "[]"}
    values = {**unused, "compute_logs_bucket": compute_logs, "compute_logs_prefix": COMPUTE_LOGS_PREFIX, "max_concurrent_runs": 4, "backfill_max_concurrent_runs": 2}
    home = make_production_home(tmp_path / "dagster_home", values, in_process=True)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        results = run_pipeline(instance, build_resources(env), FIRST_DAY, DAYS, drift_days=1)
        assert [r.name for r in results] == [s.name for s in STAGES] + [MONITORING.name, MATURED.name]
        run_ids = {run_id for stage in results for run_id in stage.run_ids}
        for run_id in run_ids:
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS, run_id
    by_stage = {r.name: r.metadata for r in results}

    # Dagster: every run recorded in PostgreSQL; step logs in S3.
    assert run_ids <= _run_ids_in_postgres(postgres_server, env["DAGSTER_PG_DB"])
    # (empty step logs are not uploaded: skip_empty_files)
    log_keys = moto_s3.keys(compute_logs, COMPUTE_LOGS_PREFIX)
    assert log_keys and all(any(run_id in k for run_id in run_ids) for k in log_keys), log_keys[:5]

    # Data and the Feast registry on S3.
    keys = set(moto_s3.keys(bucket, f"{PREFIX}/"))
    last_day = (FIRST_DAY + dt.timedelta(days=DAYS - 1)).isoformat()
    for table in ("raw_transactions", "validated_transactions", "transaction_features"):
        assert f"{PREFIX}/tables/{table}/{last_day}.parquet" in keys, table
    assert f"{PREFIX}/tables/training_set/data.parquet" in keys
    assert f"{PREFIX}/feast/registry.pb" in keys
    assert f"{PREFIX}/reports/drift/{last_day}.html" in keys

    # MLflow: the model versions on the server (PostgreSQL), their artifacts in the S3 bucket.
    client = MlflowClient(tracking_uri=mlflow_server.uri, registry_uri=mlflow_server.uri)
    versions = client.search_model_versions("name = 'fraudshield-fraud-xgb'")
    challenger = by_stage["evaluation"]["evaluation_report"]["challenger_version"]
    assert str(challenger) in {v.version for v in versions}
    run = client.get_run(client.get_model_version("fraudshield-fraud-xgb", str(challenger)).run_id)
    assert run.info.artifact_uri.startswith(f"s3://{mlflow_server.bucket}/mlflow/")
    artifact_keys = moto_s3.keys(mlflow_server.bucket, "mlflow/")
    assert any(k.endswith("MLmodel") for k in artifact_keys) and any(k.endswith(".ubj") for k in artifact_keys), artifact_keys[:20]
    conn = postgres_server.connect("mlflow")
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM model_versions WHERE name = 'fraudshield-fraud-xgb'")
        assert cur.fetchone()[0] == len(versions) >= 1
    conn.close()

    # Feast's online store: the latest features per entity in Redis.
    assert redis_server.client().dbsize() > 0
    online = by_stage["features"]["online_features"]
    assert online, "online_features reported nothing"

    # The scoring service: the champion's service model, loaded from the MLflow server, reads and
    # records card state in Redis (the production online store) and answers undegraded.
    import mlflow
    import pandas as pd

    from fraudshield_pipeline.resources.storage import table_key
    from fraudshield_pipeline.serving.models import SERVICE_SUFFIX

    with build_resources(env)["storage"].process_config_and_initialize_cm() as storage:  # S3: has a teardown
        tx = storage.read_table(table_key("validated_transactions", last_day)).to_pandas().iloc[0]
    next_day = dt.datetime.combine(FIRST_DAY + dt.timedelta(days=DAYS), dt.time(1), dt.timezone.utc)
    request = pd.DataFrame([{"transaction_id": "prod-serving-1", "customer_id": tx["customer_id"], "merchant_id": tx["merchant_id"],
                             "event_timestamp": next_day.isoformat(), "amount": float(tx["amount"])}])  # fmt: skip
    keys_before = redis_server.client().dbsize()
    service = mlflow.pyfunc.load_model(f"models:/fraudshield-fraud-xgb{SERVICE_SUFFIX}@champion")
    answer = service.predict(request).iloc[0]
    assert not answer["degraded"] and 0 <= answer["score"] <= 1, answer.to_dict()
    assert answer["model_version"] == client.get_model_version_by_alias("fraudshield-fraud-xgb", "champion").version
    assert redis_server.client().dbsize() >= keys_before  # recorded into the same Redis
