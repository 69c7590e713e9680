"""The Dockerfile parses and builds what terraform/ runs, checked without a Docker daemon."""

import json
import re
import shlex
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}  # fmt: skip


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with comments dropped and continuation lines joined."""
    parsed, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        parsed.append((keyword, arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return parsed


DOCKERFILE = instructions((REPO_ROOT / "Dockerfile").read_text())


def test_every_instruction_is_a_dockerfile_instruction():
    assert DOCKERFILE[0][0] == "FROM"
    for keyword, arguments in DOCKERFILE:
        assert keyword in INSTRUCTIONS and arguments, (keyword, arguments)
        if keyword in {"CMD", "ENTRYPOINT"}:
            assert isinstance(json.loads(arguments), list), "exec form, so signals reach the process"
        if keyword == "ENV":
            assert all(re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S+", pair) for pair in shlex.split(arguments)), arguments


def test_python_and_uv_match_the_project():
    base = next(args for kw, args in DOCKERFILE if kw == "FROM")
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert re.match(r"python:3\.11[-.]", base) and ">=3.11,<3.12" in requires
    runs = [args for kw, args in DOCKERFILE if kw == "RUN"]
    syncs = [r for r in runs if r.startswith("uv sync")]
    assert syncs and all("--frozen" in r and "--no-dev" in r and "--extra" not in r for r in syncs), syncs


def test_copies_exist_and_reach_the_build_context():
    ignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for keyword, arguments in DOCKERFILE:
        if keyword == "COPY" and not arguments.startswith("--from="):
            *sources, _ = arguments.split()
            for source in sources:
                assert (REPO_ROOT / source).exists(), source
                assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"


def test_runs_as_a_non_root_user():
    users = [(i, args) for i, (kw, args) in enumerate(DOCKERFILE) if kw == "USER"]
    assert users, "no USER: the container would run as root"
    index, user = users[-1]
    assert user not in {"root", "0"} and not user.startswith(("root:", "0:"))
    assert not any(kw == "RUN" for kw, _ in DOCKERFILE[index:]), "RUN after USER would need root"


def test_default_command_serves_the_code_location_terraform_names():
    import importlib.util

    cmd = json.loads(next(args for kw, args in reversed(DOCKERFILE) if kw == "CMD"))
    module = cmd[cmd.index("-m") + 1]
    assert importlib.util.find_spec(module)
    compute = (REPO_ROOT / "terraform" / "modules" / "compute" / "main.tf").read_text()
    assert f'"dagster", "code-server", "start"' in compute and f'"{module}"' in compute
