"""terraform/ against the pipeline's configuration contract, without terraform or a network.

The names the deployment hands to the pipeline are the ones profiles.py reads: the root outputs
`pipeline_environment` / `pipeline_secrets` hold exactly PRODUCTION_ENV_VARS (split by
SECRET_ENV_VARS), and the compute module builds every ECS task definition from those same maps.
The tfvars hold no secrets and set only declared variables, the provider tags everything, and
the Dagster instance the compute module renders is valid for the installed dagster / dagster-aws.
A small HCL reader below (blocks, attributes, object keys) is enough for these files.
"""

import re
from pathlib import Path

import pytest
import yaml

from fraudshield_pipeline.resources.profiles import PRODUCTION_ENV_VARS, SECRET_ENV_VARS

TERRAFORM = Path(__file__).resolve().parents[1] / "terraform"
COMPUTE = TERRAFORM / "modules" / "compute"
NON_SECRET = set(PRODUCTION_ENV_VARS) - set(SECRET_ENV_VARS)
COST_TAGS = {"project", "environment", "owner", "cost-center"}


# --- a small HCL reader ----------------------------------------------------------------------


def _skip_string(text: str, i: int) -> int:
    """`text[i]` is an opening quote: the index after the closing one (escapes, ${...} nesting)."""
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if text.startswith("${", i) or text.startswith("%{", i):
            i = _skip_braces(text, i + 1)
            continue
        i += 1
    raise ValueError("unterminated string")


def _skip_braces(text: str, i: int) -> int:
    """`text[i]` is `{`, `[` or `(`: the index after its match (strings and comments skipped)."""
    close = {"{": "}", "[": "]", "(": ")"}
    stack = [close[text[i]]]
    i += 1
    while stack:
        c = text[i]
        if c == '"':
            i = _skip_string(text, i)
            continue
        if c in close:
            stack.append(close[c])
        elif c == stack[-1]:
            stack.pop()
        i += 1
    return i


def strip_comments(text: str) -> str:
    """HCL without `#`, `//` and `/* */` comments (strings and heredocs kept)."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == '"':
            j = _skip_string(text, i)
            out.append(text[i:j])
            i = j
        elif text.startswith("<<", i) and (m := re.match(r"<<-?([A-Z_]+)\n", text[i:])):
            end = re.compile(rf"^\s*{m.group(1)}\s*$", re.M).search(text, i + m.end())
            out.append(text[i : end.end()])
            i = end.end()
        elif c == "#" or text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def blocks(text: str, kind: str, *labels: str) -> list[tuple[tuple[str, ...], str]]:
    """Top-level `kind "l1" "l2" { ... }` blocks whose leading labels match: (labels, body)."""
    found, depth, i = [], 0, 0
    head = re.compile(rf'[ \t]*{kind}((?:\s+"[^"]*")*)\s*\{{')
    while i < len(text):
        c = text[i]
        if c == '"':
            i = _skip_string(text, i)
            continue
        if depth == 0 and (i == 0 or text[i - 1] == "\n") and (m := head.match(text, i)):
            block_labels = tuple(re.findall(r'"([^"]*)"', m.group(1)))
            start = m.end() - 1
            end = _skip_braces(text, start)
            if block_labels[: len(labels)] == labels:
                found.append((block_labels, text[start + 1 : end - 1]))
            i = end
            continue
        if c in "{[(":
            i = _skip_braces(text, i)
            continue
        i += 1
    return found


def attributes(body: str) -> dict[str, str]:
    """`name = expression` pairs at the top level of a block or object body (keys unquoted)."""
    attrs, i = {}, 0
    key = re.compile(r'\s*("[^"]*"|[A-Za-z_][\w-]*)\s*=(?!=)\s*')
    while i < len(body):
        m = key.match(body, i)
        if not m:
            # a nested block (`name {` / `name "label" {`) or a blank line: skip it
            nl = body.find("\n", i)
            brace = body.find("{", i)
            if brace != -1 and (nl == -1 or brace < nl):
                i = _skip_braces(body, brace)
            else:
                i = len(body) if nl == -1 else nl + 1
            continue
        j = m.end()
        while j < len(body) and body[j] not in "\n,":
            if body[j] == '"':
                j = _skip_string(body, j)
            elif body[j] in "{[(":
                j = _skip_braces(body, j)
            elif body.startswith("<<", j) and (h := re.match(r"<<-?([A-Z_]+)\n", body[j:])):
                j = re.compile(rf"^\s*{h.group(1)}\s*$", re.M).search(body, j + h.end()).end()
            else:
                j += 1
        attrs[m.group(1).strip('"')] = body[m.end() : j].strip()
        i = j + 1
    return attrs


def object_keys(expression: str) -> set[str]:
    expression = expression.strip()
    assert expression.startswith("{") and expression.endswith("}"), f"not an object literal: {expression[:80]}"
    return set(attributes(expression[1:-1]))


def read_dir(directory: Path) -> str:
    return "\n".join(strip_comments(p.read_text()) for p in sorted(directory.glob("*.tf")))


def all_locals(text: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for _, body in blocks(text, "locals"):
        merged.update(attributes(body))
    return merged


def resolve(expression: str, local_values: dict[str, str]) -> str:
    """`local.x` -> the expression of local x (one level at a time, until a literal)."""
    while (m := re.fullmatch(r"local\.(\w+)", expression.strip())) and m.group(1) in local_values:
        expression = local_values[m.group(1)]
    return expression


ROOT = read_dir(TERRAFORM)
ROOT_LOCALS = all_locals(ROOT)
COMPUTE_TEXT = read_dir(COMPUTE)
COMPUTE_LOCALS = all_locals(COMPUTE_TEXT)


def output_value(name: str) -> str:
    ((_, body),) = blocks(ROOT, "output", name)
    return attributes(body)["value"]


def module_arguments(name: str) -> dict[str, str]:
    ((_, body),) = blocks(ROOT, "module", name)
    return attributes(body)


# --- the pipeline's configuration contract -----------------------------------------------------


def test_pipeline_environment_output_is_exactly_the_non_secret_production_vars():
    keys = object_keys(resolve(output_value("pipeline_environment"), ROOT_LOCALS))
    assert keys == NON_SECRET, f"missing {NON_SECRET - keys}, unexpected {keys - NON_SECRET}"


def test_pipeline_secrets_output_is_exactly_the_secret_vars_mapped_to_secret_arns():
    expression = resolve(output_value("pipeline_secrets"), ROOT_LOCALS)
    assert object_keys(expression) == set(SECRET_ENV_VARS)
    for name, value in attributes(expression.strip()[1:-1]).items():
        assert re.fullmatch(r"module\.\w+\.\w*secret\w*_arn", value), f"{name} = {value}: not a secret ARN"


def test_secret_values_never_appear_in_the_environment_map():
    environment = attributes(resolve(output_value("pipeline_environment"), ROOT_LOCALS).strip()[1:-1])
    for name, value in environment.items():
        assert not re.search(r"password|secret|token|auth", value, re.I), f"{name} = {value}"


def test_compute_module_receives_the_same_maps_as_the_outputs():
    arguments = module_arguments("compute")
    assert arguments["pipeline_environment"] == output_value("pipeline_environment")
    assert arguments["pipeline_secrets"] == output_value("pipeline_secrets")
    declared = {labels[0] for labels, _ in blocks(COMPUTE_TEXT, "variable")}
    assert {"pipeline_environment", "pipeline_secrets"} <= declared


def _derived_from(expression: str, local_name: str) -> bool:
    """The expression uses local.<local_name>, directly or through other locals."""
    seen: set[str] = set()
    pending = [expression]
    while pending:
        text = pending.pop()
        if re.search(rf"\blocal\.{local_name}\b", text):
            return True
        for name in re.findall(r"\blocal\.(\w+)", text):
            if name not in seen and name in COMPUTE_LOCALS:
                seen.add(name)
                pending.append(COMPUTE_LOCALS[name])
    return False


def _container_field(task_definition_body: str, field: str) -> list[str]:
    """The expressions of a container-definition field, one per for_each entry."""
    attrs = attributes(task_definition_body)
    definitions = attrs["container_definitions"]
    m = re.search(rf"\b{field}\s*=\s*([^\n]+)", definitions)
    assert m, f"container definition without {field}"
    expression = m.group(1).strip()
    if expression.startswith("each.value."):
        services = resolve(attrs["for_each"], COMPUTE_LOCALS)
        entries = attributes(services.strip()[1:-1])
        return [attributes(entry.strip()[1:-1])[expression.removeprefix("each.value.")] for entry in entries.values()]
    return [expression]


def _services() -> dict[str, dict[str, str]]:
    """The compute module's `services` local: service -> its attributes (expressions)."""
    entries = attributes(COMPUTE_LOCALS["services"].strip()[1:-1])
    return {name: attributes(entry.strip()[1:-1]) for name, entry in entries.items()}


def test_every_task_definition_takes_environment_and_secrets_from_the_maps():
    """Dagster's tasks get the pipeline's maps; MLflow and the database bootstrap their own secrets."""
    task_definitions = {labels[1]: body for labels, body in blocks(COMPUTE_TEXT, "resource", "aws_ecs_task_definition")}
    assert set(task_definitions) == {"service", "run", "db_bootstrap"}
    assert _container_field(task_definitions["service"], "secrets") == [s["secrets"] for s in _services().values()]
    for name, service in _services().items():
        assert _derived_from(service["environment"], "pipeline_environment"), f"{name}: environment = {service['environment']}"
        if name == "mlflow":
            assert service["secrets"] == "local.mlflow_secrets"  # pragma: allowlist secret (names of secrets, not values)
            assert not _derived_from(service["secrets"], "pipeline_secrets"), "MLflow must not get Dagster's or the pipeline's credentials"
        else:
            assert _derived_from(service["secrets"], "pipeline_secrets"), f"{name}: secrets = {service['secrets']}"
    for expression in _container_field(task_definitions["run"], "environment"):
        assert _derived_from(expression, "pipeline_environment"), f"run: environment = {expression}"
    assert _container_field(task_definitions["run"], "secrets") == ["local.pipeline_secrets"]
    bootstrap = _container_field(task_definitions["db_bootstrap"], "secrets")
    assert bootstrap == ["local.db_bootstrap_secrets"] and not _derived_from(bootstrap[0], "pipeline_secrets")
    assert "var.pipeline_environment" in COMPUTE_LOCALS["pipeline_environment"]
    assert "var.pipeline_secrets" in COMPUTE_LOCALS["pipeline_secrets"]
    assert "var.mlflow_secrets" in COMPUTE_LOCALS["mlflow_secrets"]
    assert "var.db_bootstrap_secrets" in COMPUTE_LOCALS["db_bootstrap_secrets"]


def test_compute_module_spells_no_pipeline_variable_itself():
    """Names come only from the maps: the module may add other variables, never these."""
    for name in PRODUCTION_ENV_VARS:
        assert not re.search(rf'name\s*=\s*"{name}"', COMPUTE_TEXT), f"{name} hard-coded in the compute module"


def test_every_service_and_the_runs_have_a_task_definition():
    services = attributes(COMPUTE_LOCALS["services"].strip()[1:-1])
    assert set(services) == {"webserver", "daemon", "code-server", "mlflow"}
    assert blocks(COMPUTE_TEXT, "resource", "aws_ecs_task_definition", "run")
    assert blocks(COMPUTE_TEXT, "resource", "aws_ecs_capacity_provider", "gpu")
    asg = attributes(blocks(COMPUTE_TEXT, "resource", "aws_autoscaling_group", "gpu")[0][1])
    assert asg["min_size"] == "0", "GPU capacity must scale to zero"


# --- tfvars ---------------------------------------------------------------------------------------

TFVARS = sorted((TERRAFORM / "environments").glob("*.tfvars"))
SECRET_KEY = re.compile(r"password|passwd|secret|token|api[_-]?key|private[_-]?key|credential", re.I)


def _assignments(body: str, prefix: str = "") -> list[tuple[str, str]]:
    """Every `key = value` in a tfvars body, nested objects included (dotted keys)."""
    pairs = []
    for key, value in attributes(body).items():
        pairs.append((prefix + key, value))
        if value.startswith("{"):
            pairs.extend(_assignments(value[1:-1], f"{prefix}{key}."))
    return pairs


def test_there_are_staging_and_prod_tfvars():
    assert {p.stem for p in TFVARS} == {"staging", "prod"}


@pytest.mark.parametrize("tfvars", TFVARS, ids=lambda p: p.stem)
def test_tfvars_hold_no_secret(tfvars):
    for key, value in _assignments(strip_comments(tfvars.read_text())):
        literal = re.fullmatch(r'"[^"]*"|-?\d+(\.\d+)?|true|false', value)
        if SECRET_KEY.search(key.rsplit(".", 1)[-1]) and literal:
            allowed = value == "null" or value.startswith('"arn:aws:secretsmanager:') or (key.endswith("_version") and value.isdigit())
            assert allowed, f"{tfvars.name}: {key} has a literal value"
        assert not re.search(r"://[^/\s\"]*:[^@\s\"]+@|password=", value, re.I), f"{tfvars.name}: {key} embeds a credential"


@pytest.mark.parametrize("tfvars", TFVARS, ids=lambda p: p.stem)
def test_tfvars_set_declared_variables_and_every_required_one(tfvars):
    variables = {labels[0]: attributes(body) for labels, body in blocks(ROOT, "variable")}
    required = {name for name, attrs in variables.items() if "default" not in attrs}
    assigned = set(attributes(strip_comments(tfvars.read_text())))
    assert assigned <= set(variables), f"undeclared: {assigned - set(variables)}"
    assert required <= assigned, f"required but not set: {required - assigned}"


# --- tags and providers ------------------------------------------------------------------------------


def test_provider_tags_everything_with_the_cost_allocation_tags():
    providers = blocks(ROOT, "provider", "aws")
    assert len(providers) == 1, "one aws provider (no aliases that could miss default_tags)"
    (_, default_tags), *_ = blocks(providers[0][1], "default_tags")
    tags = resolve(attributes(default_tags)["tags"], ROOT_LOCALS)
    merged = re.search(r"\{[^{}]*\}\s*\)\s*$", tags)
    assert merged and COST_TAGS <= object_keys(merged.group(0)[: merged.group(0).rindex("}") + 1])


def test_every_resource_module_is_deployed_under_that_provider():
    module_dirs = {p.parent for p in (TERRAFORM / "modules").glob("*/*.tf")}

    def calls(directory: Path, text: str) -> list[tuple[Path, str]]:
        return [((directory / attributes(body)["source"].strip('"')).resolve(), body) for _, body in blocks(text, "module")]

    # Modules reached from the root, directly or through another module, inherit its provider.
    reached, frontier = set(), calls(TERRAFORM, ROOT)
    while frontier:
        directory, body = frontier.pop()
        assert "providers" not in attributes(body), "modules inherit the default (tagged) provider"
        if directory not in reached:
            reached.add(directory)
            frontier += calls(directory, read_dir(directory))
    for directory in sorted(module_dirs):
        text = read_dir(directory)
        if not blocks(text, "resource"):
            continue
        assert directory.resolve() in reached, f"{directory.name} is not used by the root module"
        assert not blocks(text, "provider"), f"{directory.name} declares its own provider (no default_tags)"


def test_auto_scaling_instances_get_the_cost_tags():
    """default_tags do not reach Auto Scaling groups: they must propagate them to instances."""
    for directory in {p.parent for p in (TERRAFORM / "modules").glob("*/*.tf")}:
        for _, body in blocks(read_dir(directory), "resource", "aws_autoscaling_group"):
            assert "data.aws_default_tags" in body and "propagate_at_launch = true" in body


def test_versions_are_pinned():
    ((_, terraform),) = blocks(strip_comments((TERRAFORM / "versions.tf").read_text()), "terraform")
    assert re.search(r'required_version\s*=\s*">=\s*1\.\d+', terraform)
    ((_, providers),) = blocks(terraform, "required_providers")
    for name, spec in attributes(providers).items():
        assert re.search(r'version\s*=\s*"~>', spec), f"provider {name} not pinned"
    backend = strip_comments((TERRAFORM / "backend.tf").read_text())
    assert re.search(r'backend\s+"s3"\s*\{\s*\}', backend), "S3 backend with partial configuration"


# --- the Dagster instance the compute module renders -------------------------------------------------


def _render(template: Path, values: dict[str, object]) -> str:
    text = template.read_text()
    rendered = re.sub(r"\$\{(\w+)\}", lambda m: str(values[m.group(1)]), text)
    assert "${" not in rendered and "%{" not in rendered
    return rendered


def test_rendered_dagster_instance_is_valid(monkeypatch):
    from dagster._config import Shape, process_config
    from dagster._core.instance.config import dagster_instance_config_schema
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_aws.ecs import EcsRunLauncher
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_postgres import DagsterPostgresStorage

    arguments = attributes(re.search(r'templatefile\("\$\{path\.module\}/templates/dagster\.yaml\.tftpl",\s*(\{.*?\})\)', COMPUTE_TEXT, re.S).group(1)[1:-1])
    values = {
        "run_task_definition": "arn:aws:ecs:eu-west-1:111111111111:task-definition/fraudshield-prod-run:3",
        "run_container_name": "run",
        "cluster": "fraudshield-prod",
        "subnets": '["subnet-1", "subnet-2"]',
        "security_groups": '["sg-1"]',
        "max_concurrent_runs": 16,
        "backfill_max_concurrent_runs": 8,
        "compute_logs_bucket": "fraudshield-prod-artifacts-111111111111",
        "compute_logs_prefix": "dagster/compute-logs",
    }
    assert set(arguments) == set(values), "template arguments changed: update this test"
    config = yaml.safe_load(_render(COMPUTE / "templates" / "dagster.yaml.tftpl", values))

    env_names = set(re.findall(r"env:\s*(\w+)", (COMPUTE / "templates" / "dagster.yaml.tftpl").read_text()))
    assert env_names <= set(PRODUCTION_ENV_VARS), f"instance reads variables the tasks do not get: {env_names - set(PRODUCTION_ENV_VARS)}"
    for name in env_names:
        monkeypatch.setenv(name, "5432" if name.endswith("PORT") else "x")

    checks = [
        (Shape(dagster_instance_config_schema()), config),
        (Shape(DagsterPostgresStorage.config_type()), config["storage"]["postgres"]),
        (Shape(EcsRunLauncher.config_type()), config["run_launcher"]["config"]),
        (Shape(QueuedRunCoordinator.config_type()), config["run_coordinator"]["config"]),
        (Shape(S3ComputeLogManager.config_type()), config["compute_logs"]["config"]),
    ]
    for schema, value in checks:
        result = process_config(schema, value)
        assert result.success, result.errors
    assert config["run_launcher"]["class"] == "EcsRunLauncher"
    assert config["run_launcher"]["config"]["secrets_tag"] is None, "no ListSecrets on * for the launcher"


def test_workspace_points_at_the_code_location():
    import importlib.util

    assert importlib.util.find_spec("fraudshield_pipeline.definitions"), "the module the code server loads"
    services = attributes(COMPUTE_LOCALS["services"].strip()[1:-1])
    command = attributes(services["code-server"].strip()[1:-1])["command"]
    assert '"fraudshield_pipeline.definitions"' in command
    workspace = yaml.safe_load(_render(COMPUTE / "templates" / "workspace.yaml.tftpl", {"host": "code-server.x.internal", "port": 4000, "location_name": "fraudshield_pipeline"}))
    assert workspace["load_from"][0]["grpc_server"]["location_name"] == "fraudshield_pipeline"


# --- who may move the champion: MLflow authentication and least-privilege credentials -----------------

TEMPLATES = COMPUTE / "templates"
CREDENTIALS_TEXT = read_dir(TERRAFORM / "modules" / "credentials")


def _object(expression: str) -> dict[str, str]:
    return attributes(resolve(expression, ROOT_LOCALS).strip()[1:-1])


def _map_keys(local_name: str) -> set[str]:
    """Keys of a root local map, `merge(local.a, {...})` included."""
    expression = ROOT_LOCALS[local_name].strip()
    if expression.startswith("merge("):
        keys: set[str] = set()
        for part in re.findall(r"local\.\w+|\{[^{}]*\}", expression[len("merge(") : -1]):
            keys |= _map_keys(part.removeprefix("local.")) if part.startswith("local.") else object_keys(part)
        return keys
    return object_keys(expression)


def _required_env(script: Path) -> set[str]:
    """Variables a template reads without a default (env["X"], env.pop("X"))."""
    text = script.read_text()
    return set(re.findall(r'env\["(\w+)"\](?!\s*=[^=])', text)) | set(re.findall(r'env\.pop\("(\w+)"\)', text))


def test_dagster_and_the_pipeline_do_not_use_the_database_master_user():
    environment = _object(output_value("pipeline_environment"))
    secrets = _object(output_value("pipeline_secrets"))
    assert environment["DAGSTER_PG_USER"] == 'module.credentials.usernames["db-dagster"]'
    assert secrets["DAGSTER_PG_PASSWORD"] == "module.credentials.dagster_db_secret_arn"  # pragma: allowlist secret (names of secrets, not values)
    # The master user's secret reaches one task only: the database bootstrap.
    users = [name for name, value in ROOT_LOCALS.items() if "master_user_secret_arn" in value or "module.database.username" in value]
    assert users == ["db_bootstrap_secrets"], users
    assert "DB_MASTER_PASSWORD" in _map_keys("db_bootstrap_secrets")


def test_the_pipeline_gets_its_own_mlflow_user_and_the_dagster_services_none():
    secrets = _object(output_value("pipeline_secrets"))
    keys = _object(ROOT_LOCALS["pipeline_secret_json_keys"])
    assert secrets["MLFLOW_TRACKING_USERNAME"] == secrets["MLFLOW_TRACKING_PASSWORD"] == "module.credentials.mlflow_pipeline_secret_arn"
    assert (keys["MLFLOW_TRACKING_USERNAME"], keys["MLFLOW_TRACKING_PASSWORD"]) == ('"username"', '"password"')
    services = _services()
    for name in ("webserver", "daemon"):  # they never call MLflow
        assert services[name]["secrets"] == "local.dagster_secrets"  # pragma: allowlist secret (names of secrets, not values)
    assert '!startswith(s.name, "MLFLOW_")' in COMPUTE_LOCALS["dagster_secrets"]
    assert services["code-server"]["secrets"] == "local.pipeline_secrets"  # pragma: allowlist secret (names of secrets, not values)


def test_mlflow_server_requires_authentication_with_least_privilege_users():
    script = (TEMPLATES / "mlflow_server.py").read_text()
    assert '"--app-name",\n        "basic-auth"' in script
    assert '"default_permission": "NO_PERMISSIONS"' in script
    assert '"registered_model", model, "EDIT"' in script and '"registered_model", model, "READ"' in script
    assert "DAGSTER_PG_" not in script, "MLflow logs in as its own database role"
    # Every variable the script needs is one the mlflow task gets, secrets from Secrets Manager.
    provided = _map_keys("mlflow_server_environment") | _map_keys("mlflow_server_secrets") | NON_SECRET
    assert _required_env(TEMPLATES / "mlflow_server.py") <= provided, _required_env(TEMPLATES / "mlflow_server.py") - provided
    secret_names = _map_keys("mlflow_server_secrets")
    assert {"MLFLOW_DB_PASSWORD", "MLFLOW_AUTH_ADMIN_PASSWORD", "FRAUDSHIELD_MLFLOW_PIPELINE_PASSWORD",
            "FRAUDSHIELD_MLFLOW_SCORING_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"} <= secret_names  # fmt: skip
    assert not any("PASSWORD" in name or "SECRET" in name for name in _map_keys("mlflow_server_environment"))
    assert "module.database" not in ROOT_LOCALS["mlflow_server_secrets"]


def test_database_bootstrap_task_gets_everything_its_script_reads():
    provided = _map_keys("db_bootstrap_environment") | _map_keys("db_bootstrap_secrets")
    required = _required_env(TEMPLATES / "db_bootstrap.py")
    assert required <= provided, required - provided
    assert not any("PASSWORD" in name for name in _map_keys("db_bootstrap_environment"))
    ((_, body),) = blocks(COMPUTE_TEXT, "resource", "aws_ecs_task_definition", "db_bootstrap")
    assert "task_role_arn" not in attributes(body), "the bootstrap calls no AWS API"
    assert 'file("${path.module}/templates/db_bootstrap.py")' in body
    assert "db_bootstrap_command" in {labels[0] for labels, _ in blocks(ROOT, "output")}


def test_credentials_are_generated_into_secrets_manager_never_written_in_code():
    credentials = attributes(blocks(CREDENTIALS_TEXT, "locals")[0][1])["credentials"]
    assert object_keys(credentials) == {"db-dagster", "db-mlflow", "mlflow-admin", "mlflow-pipeline", "mlflow-scoring"}
    assert blocks(CREDENTIALS_TEXT, "ephemeral", "aws_secretsmanager_random_password", "this")
    for _, body in blocks(CREDENTIALS_TEXT, "resource", "aws_secretsmanager_secret_version"):
        attrs = attributes(body)
        assert "secret_string_wo" in attrs and "secret_string" not in attrs, "write-only: never in the plan or the state"
        assert "ephemeral.aws_secretsmanager_random_password" in attrs["secret_string_wo"]
        assert "var.versions" in attrs["secret_string_wo_version"], "rotation: raise the version"
    for _, body in blocks(CREDENTIALS_TEXT, "resource", "aws_secretsmanager_secret"):
        assert attributes(body)["kms_key_id"] == "module.kms.arn"
    # The ECS agent may read exactly the secrets the task definitions name, and decrypt them.
    assert [attributes(b)["source"] for _, b in blocks(ROOT, "module", "credentials")] == ['"./modules/credentials"']
    assert "module.credentials.kms_key_arn" in module_arguments("compute")["secrets_kms_key_arns"]
    assert re.search(r'Sid\s*=\s*"ReadTaskSecrets"[^}]*Resource\s*=\s*local\.secret_arns', COMPUTE_TEXT)
    for name in ("pipeline_secrets", "mlflow_secrets", "db_bootstrap_secrets"):
        assert f"var.{name}" in COMPUTE_LOCALS["secret_arns"]
