"""The landing-zone example script (data/examples/make_landing_example.py), loaded once for every test.

The script lives beside the example files it writes, outside the package, so it is imported by
path; this module is the one place that knows where it is.
"""

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
_spec = importlib.util.spec_from_file_location("make_landing_example", EXAMPLES / "make_landing_example.py")
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)
