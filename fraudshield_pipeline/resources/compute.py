"""Where training runs: CPU or GPU, and how a Kubernetes or ECS executor is asked for a GPU node."""


import os
from typing import Literal

import dagster as dg
from pydantic import Field

GPU_NODE_SELECTOR = {"fraudshield/node-pool": "gpu"}


def training_op_tags(device: str, gpu_capacity_provider: str | None = None) -> dict:
    """Op tags for the training step: on CUDA, ask dagster-k8s/ECS for a GPU node.

    `gpu_capacity_provider` (default: FRAUDSHIELD_GPU_CAPACITY_PROVIDER) is the ECS capacity
    provider whose instances have GPUs; the ECS executor starts the step's task there. Other
    steps keep the cluster's default (Fargate, CPU).
    """
    if device != "cuda":
        return {"fraudshield/device": "cpu"}
    provider = gpu_capacity_provider or os.environ.get("FRAUDSHIELD_GPU_CAPACITY_PROVIDER")
    ecs_placement = (
        {"ecs/run_task_kwargs": {"capacityProviderStrategy": [{"capacityProvider": provider, "weight": 1, "base": 0}]}}
        if provider
        else {}
    )
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
        **ecs_placement,
    }


class TrainingCompute(dg.ConfigurableResource):
    """XGBoost placement: `device` cpu or cuda, and its thread count (0 = all cores)."""

    device: Literal["cpu", "cuda"] = "cpu"
    n_threads: int = Field(default=0, ge=0)

    def xgboost_params(self) -> dict:
        return {"device": self.device, "tree_method": "hist", "nthread": self.n_threads or os.cpu_count() or 1}
