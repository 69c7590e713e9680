"""Metadata helpers: what the asset pages show must be readable (rounded, typed, no index)."""

import math

import dagster as dg
import pandas as pd

from fraudshield_pipeline.defs.metadata import as_float, bar, frame_table, image_markdown, measured, rounded
from fraudshield_pipeline.resources.registry import ModelRegistry


def test_floats_are_rounded_and_other_values_kept():
    assert rounded(0.16999999999999998) == 0.17
    assert math.isnan(rounded(float("nan"))) and rounded("x") == "x" and rounded(3) == 3
    import numpy as np

    assert rounded(np.float32(0.123456789)) == 0.1235 and isinstance(rounded(np.int64(4)), int)


def test_a_metric_that_was_not_measured_is_null_not_a_number():
    assert measured(float("nan")) is None and measured(float("inf")) is None and measured(None) is None
    assert measured(0.123456789) == rounded(0.123456789) and measured(3) == 3
    assert math.isnan(as_float(None)) and as_float(0.5) == 0.5


def test_frame_table_is_typed_has_no_index_and_keeps_missing_text():
    slices = pd.DataFrame(
        {"slice": ["channel", "channel"], "value": ["<missing>", "online"], "n": [10, 20], "ap": [0.123456, float("nan")]}
    )
    value = frame_table(slices, descriptions={"ap": "fraction 0-1"})
    assert isinstance(value, dg.TableMetadataValue)
    assert [(c.name, c.type) for c in value.schema.columns] == [("slice", "string"), ("value", "string"), ("n", "int"), ("ap", "float")]
    assert value.schema.columns[3].description == "fraction 0-1"
    assert [r.data for r in value.records] == [
        {"slice": "channel", "value": "<missing>", "n": 10, "ap": 0.1235},
        {"slice": "channel", "value": "online", "n": 20, "ap": None},
    ]
    metrics = pd.DataFrame({"challenger v2": [0.5]}, index=pd.Index(["roc_auc"], name="metric"))
    table = frame_table(metrics)
    assert [c.name for c in table.schema.columns] == ["metric", "challenger v2"]
    assert table.records[0].data == {"metric": "roc_auc", "challenger v2": 0.5}


def test_bar_and_inline_image():
    assert bar(1.0, 2.0, width=10) == "█████·····" and bar(5.0, 2.0, width=4) == "████" and bar(float("nan"), 1.0) == ""
    md = image_markdown("http://mlflow/get-artifact?path=a.png", "curves")
    assert md.md_str.startswith("![curves](http://mlflow/get-artifact?path=a.png)") and len(md.md_str) < 1000


def test_mlflow_links_come_from_configuration_without_credentials(tmp_path):
    local = ModelRegistry(tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")
    assert local.browser_url() == "http://127.0.0.1:5000"
    assert local.run_url("abc", experiment_id="3", artifact="drift_report.html") == (
        "http://127.0.0.1:5000/#/experiments/3/runs/abc/artifacts/drift_report.html"
    )
    assert local.version_url("4") == "http://127.0.0.1:5000/#/models/fraudshield-fraud-xgb/versions/4"
    server = ModelRegistry(tracking_uri="https://pipeline:s3cret@mlflow.internal:5000")
    assert server.browser_url() == "https://mlflow.internal:5000"
    public = ModelRegistry(tracking_uri="http://mlflow.internal:5000", ui_url="https://mlflow.example.com/")
    assert public.artifact_file_url("r1", "evaluation/curves.png") == (
        "https://mlflow.example.com/get-artifact?path=evaluation%2Fcurves.png&run_uuid=r1"
    )


def test_report_runs_are_served_by_mlflow(tmp_path):
    registry = ModelRegistry(tracking_uri=f"sqlite:///{tmp_path / 'm.db'}", artifact_location=str(tmp_path / "artifacts"))
    run_id = registry.log_report_run(
        experiment_name="fraudshield-monitoring", run_name="drift-2026-09-01", texts={"drift_report.html": "<html>evidently</html>"},
        metrics={"share_drifted": 0.25, "prediction_drift_score": float("nan")}, tags={"partition": "2026-09-01"},
    )
    run = registry.client().get_run(run_id)
    assert run.data.metrics == {"share_drifted": 0.25} and run.info.status == "FINISHED"
    path = registry.client().download_artifacts(run_id, "drift_report.html", str(tmp_path))
    assert open(path).read() == "<html>evidently</html>"
    assert registry.run_url(run_id).endswith(f"/#/experiments/{run.info.experiment_id}/runs/{run_id}")
