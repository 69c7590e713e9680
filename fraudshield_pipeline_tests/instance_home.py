"""A test Dagster home: the repository's dagster.yaml with its storage moved under a temp folder."""

import os
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


def instance_yaml(repo_yaml: Path, home: Path) -> str:
    """The repository's dagster.yaml with its relative base_dir paths made absolute under `home`."""
    config = yaml.safe_load(repo_yaml.read_text())

    def absolutize(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "base_dir" and isinstance(value, str) and not os.path.isabs(value):
                    node[key] = str(home / value)
                else:
                    absolutize(value)
        elif isinstance(node, list):
            for value in node:
                absolutize(value)

    absolutize(config)
    return yaml.safe_dump(config, sort_keys=False)


def make_home(home: Path) -> Path:
    """Writes the instance config into `home` (queue, concurrency limits and all) and returns it."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(instance_yaml(REPO_ROOT / "dagster.yaml", home))
    return home


# The production instance: rendered by Terraform (modules/compute) into DAGSTER_HOME of the
# webserver and daemon. Secrets and connection details are `env:` references; the ECS placement
# values Dagster cannot read from the environment are the template's ${...} arguments.
PRODUCTION_TEMPLATE = REPO_ROOT / "terraform" / "modules" / "compute" / "templates" / "dagster.yaml.tftpl"


def render_production(values: dict[str, object]) -> dict:
    """The production dagster.yaml with Terraform's template arguments filled in."""
    import re

    text = PRODUCTION_TEMPLATE.read_text()
    rendered = re.sub(r"\$\{(\w+)\}", lambda m: str(values[m.group(1)]), text)
    assert "${" not in rendered and "%{" not in rendered
    return yaml.safe_load(rendered)


def make_production_home(home: Path, values: dict[str, object], in_process: bool = False) -> Path:
    """A Dagster home with the production instance; `in_process` drops the ECS run launcher
    (for runs executed in this process: storage, compute logs, queue and retries stay)."""
    config = render_production(values)
    if in_process:
        del config["run_launcher"]
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home
