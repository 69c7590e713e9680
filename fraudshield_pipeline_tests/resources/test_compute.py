"""Training placement: XGBoost parameters and the op tags that ask an executor for a GPU node."""

import json

from fraudshield_pipeline.resources.compute import TrainingCompute, training_op_tags
from fraudshield_pipeline.resources.profiles import build_resources


def test_cpu_is_the_default_and_uses_every_core_unless_told():
    compute = build_resources({})["compute"]
    params = compute.xgboost_params()
    assert params["device"] == "cpu" and params["tree_method"] == "hist" and params["nthread"] >= 1
    assert TrainingCompute(n_threads=3).xgboost_params()["nthread"] == 3


def test_cuda_sets_xgboost_device_and_asks_kubernetes_and_ecs_for_a_gpu():
    compute = build_resources({"FRAUDSHIELD_TRAINING_DEVICE": "cuda"})["compute"]
    assert compute.xgboost_params()["device"] == "cuda"
    tags = training_op_tags("cuda")
    k8s = tags["dagster-k8s/config"]
    assert k8s["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert k8s["pod_spec_config"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert tags["ecs/container_overrides"]["resourceRequirements"] == [{"type": "GPU", "value": "1"}]
    assert "dagster-k8s/config" not in training_op_tags("cpu")
    json.dumps(tags)  # op tags must be JSON-serializable to reach the executor
