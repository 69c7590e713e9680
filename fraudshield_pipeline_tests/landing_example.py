"""The landing-zone example script (data/examples/make_landing_example.py), loaded once for every test.

The script lives beside the example files it writes, outside the package, so it is imported by
path; this module is the one place that knows where it is.
"""

import importlib.util
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
_spec = importlib.util.spec_from_file_location("make_landing_example", EXAMPLES / "make_landing_example.py")
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)


def mapping_with(**changes) -> str:
    """The example's mapping.yaml with some keys replaced; a key path is spelt with `__`
    (`transactions__csv__multiline=True`), so each test names only what it changes."""
    data = yaml.safe_load(example.MAPPING)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    return yaml.safe_dump(data, sort_keys=False)
