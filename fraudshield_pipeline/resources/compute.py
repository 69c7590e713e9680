"""Where training runs: CPU or GPU, and how a Kubernetes executor is asked for a GPU node."""


import os
from typing import Literal

import dagster as dg
from pydantic import Field

GPU_NODE_SELECTOR = {"fraudshield/node-pool": "gpu"}


def training_op_tags(device: str) -> dict:
    """Op tags for the training step: on CUDA, ask dagster-k8s/ECS for a GPU node."""
    if device != "cuda":
        return {"fraudshield/device": "cpu"}
    return {
        "fraudshield/device": "cuda",
        "dagster-k8s/config": {
            "container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}},
            "pod_spec_config": {
                "node_selector": GPU_NODE_SELECTOR,
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            },
        },
        # ECS takes GPU requirements per container (dagster-aws merges this into the run container).
        "ecs/container_overrides": {"resourceRequirements": [{"type": "GPU", "value": "1"}]},
    }


class TrainingCompute(dg.ConfigurableResource):
    """XGBoost placement: `device` cpu or cuda, and its thread count (0 = all cores)."""

    device: Literal["cpu", "cuda"] = "cpu"
    n_threads: int = Field(default=0, ge=0)

    def xgboost_params(self) -> dict:
        return {"device": self.device, "tree_method": "hist", "nthread": self.n_threads or os.cpu_count() or 1}
