"""Nothing loads pickles, and models are loaded only through MLflow from the configured registry.

A pickle deserializes arbitrary code: a table or model store that an attacker (or a careless
colleague) can write to becomes remote code execution. Tables are parquet through one IO
manager; models are XGBoost's own format, loaded by the registry resource.
"""

import ast
from pathlib import Path

import dagster as dg
import pytest

from fraudshield_pipeline.resources.io_managers import ParquetIOManager

PACKAGE = Path(__file__).resolve().parents[1] / "fraudshield_pipeline"
REGISTRY_MODULE = PACKAGE / "resources" / "registry.py"
# The pyfuncs' loader: opens the booster artifact MLflow downloaded for a model it loads.
PYFUNC_LOADER_MODULE = PACKAGE / "serving" / "models.py"
# The backtest's fold cache: boosters the pipeline itself wrote, in XGBoost's UBJ format (no pickle),
# under a content fingerprint; a fold that does not load is refit. Never a registered model.
FOLD_STORE_MODULE = PACKAGE / "domain" / "fold_store.py"

PICKLE_MODULES = {"pickle", "_pickle", "cPickle", "cloudpickle", "dill", "joblib", "shelve", "marshal", "pickletools"}
PICKLE_NAMES = {
    # Dagster's pickle-based IO managers (the default when no io_manager is bound is one of them)
    "FilesystemIOManager", "fs_io_manager", "custom_path_fs_io_manager",
    "PickledObjectFilesystemIOManager", "PickledObjectS3IOManager", "ConfigurablePickledObjectS3IOManager",
    "S3PickleIOManager", "s3_pickle_io_manager", "PickledObjectGCSIOManager", "GCSPickleIOManager",
    "gcs_pickle_io_manager", "PickledObjectADLS2IOManager", "ADLS2PickleIOManager", "adls2_pickle_io_manager",
    "UPathIOManager",  # its subclasses here would have to be reviewed: none is needed
    # pandas / numpy / torch readers that unpickle
    "read_pickle", "to_pickle",
}


def violations(source: str, filename: str) -> list[str]:
    """Every pickle use and every model load outside the registry in one module's source."""
    found = []
    in_registry = Path(filename) in (REGISTRY_MODULE, PYFUNC_LOADER_MODULE, FOLD_STORE_MODULE)
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} imports {a.name}" for a in node.names if a.name.split(".")[0] in PICKLE_MODULES]
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in PICKLE_MODULES:
                found.append(f"{where} imports from {node.module}")
            found += [f"{where} imports {a.name}" for a in node.names if a.name in PICKLE_NAMES]
        elif isinstance(node, ast.Name) and node.id in PICKLE_NAMES:
            found.append(f"{where} uses {node.id}")
        elif isinstance(node, ast.Attribute):
            if node.attr in PICKLE_NAMES:
                found.append(f"{where} uses .{node.attr}")
            if node.attr in ("load_model", "load_state_dict") and not in_registry:
                found.append(f"{where} loads a model outside the registry (.{node.attr})")
        elif isinstance(node, ast.keyword) and node.arg in ("allow_pickle", "model_file") and not (
            node.arg == "allow_pickle" and isinstance(node.value, ast.Constant) and node.value.value is False
        ):
            found.append(f"{where} passes {node.arg}=")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load":
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in ("torch", "np", "numpy"):
                found.append(f"{where} calls {owner.id}.load")
    return found


def package_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_of_the_package_uses_pickle_or_loads_a_model_itself():
    assert len(package_modules()) > 20  # the scan sees the package
    found = [v for path in package_modules() for v in violations(path.read_text(), str(path))]
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "import pickle\npickle.loads(b'')",
        "from pickle import loads",
        "import joblib",
        "import cloudpickle as cp",
        "from dagster import FilesystemIOManager",
        "import dagster as dg\nio = dg.fs_io_manager",
        "from dagster_aws.s3 import S3PickleIOManager",
        "import pandas as pd\npd.read_pickle('x')",
        "import numpy as np\nnp.load('x.npy', allow_pickle=True)",
        "import xgboost\nxgboost.Booster().load_model('model.json')",
        "import xgboost\nxgboost.Booster(model_file='model.ubj')",
        "import mlflow\nmlflow.pyfunc.load_model('runs:/x/model')",
    ],
)
def test_the_scan_catches_each_kind_of_violation(source):
    assert violations(source, str(PACKAGE / "defs" / "example.py"))


def test_the_registry_loads_models_only_from_its_own_registered_name():
    tree = ast.parse(REGISTRY_MODULE.read_text())
    loads = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "load_model"]
    assert len(loads) == 1
    (uri,) = loads[0].args
    assert isinstance(uri, ast.JoinedStr) and ast.unparse(uri).startswith("f'models:/{self.model_name}/")


PROFILES = {
    "local": {},
    "s3": {"FRAUDSHIELD_STORAGE": "s3", "FRAUDSHIELD_S3_BUCKET": "bucket"},
    "landing": {"FRAUDSHIELD_SOURCE": "landing", "FRAUDSHIELD_LANDING_URI": "data/examples/landing"},
}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_asset_output_goes_to_the_parquet_io_manager(profile, tmp_path, monkeypatch):
    from fraudshield_pipeline.definitions import stage_definitions
    from fraudshield_pipeline.resources.profiles import build_resources

    env = {"FRAUDSHIELD_DATA_DIR": str(tmp_path), **PROFILES[profile]}
    resources = build_resources(env)
    defs = dg.Definitions.merge(stage_definitions(), dg.Definitions(resources=resources))
    outputs = 0
    for asset in defs.assets or []:
        if not isinstance(asset, dg.AssetsDefinition) or not asset.is_executable:
            continue
        for name, output in asset.node_def.output_dict.items():
            outputs += 1
            manager = resources.get(output.io_manager_key)
            assert isinstance(manager, ParquetIOManager), (asset.node_def.name, name, output.io_manager_key, manager)
    assert outputs >= 10
    # Nothing falls back to Dagster's default (a pickling filesystem IO manager): the key is bound.
    assert isinstance(resources["io_manager"], ParquetIOManager)
