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
