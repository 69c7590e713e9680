"""Online scoring: `FraudScorer` (in-process), the resilient service around it, and the MLflow pyfuncs.

Heavy modules (feast, xgboost, mlflow) load only when a scorer or model is built.
"""

from fraudshield_pipeline.serving.scorer import Decision, FraudScorer

__all__ = ["Decision", "FraudScorer"]
