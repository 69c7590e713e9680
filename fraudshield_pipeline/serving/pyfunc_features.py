"""MLflow models-from-code: the fraud model for any MLflow client, on feature rows as they are.

    mlflow.pyfunc.load_model("models:/fraudshield-fraud-xgb@champion").predict(feature_rows)

Feature rows are rows of the `transaction_features` table: float64 and int64 numbers, nulls
where a feature is undefined, string categoricals (unseen ones and missing columns are
missing values). The booster travels in XGBoost's own format as an artifact (no pickle); this
file is logged by path and runs `model_matrix`, the project's single conversion to model input,
so the answer equals the pipeline's own `predict` value for value.
Loaded by MLflow only (it imports mlflow at the top); the code location never imports it.
"""

import mlflow
import numpy as np


class FraudFeatureModel(mlflow.pyfunc.PythonModel):
    """Fraud probability per feature row, from the booster and the contract stored inside it."""

    def load_context(self, context):
        from fraudshield_pipeline.serving.models import load_booster_artifact

        self.booster = load_booster_artifact(context.artifacts["booster"])

    def predict(self, context, model_input, params=None):
        from fraudshield_pipeline.domain.train import model_contract, model_matrix

        names, categories, _ = model_contract(self.booster)
        frame = model_input.copy(deep=False)
        for name in names:  # optional columns a caller left out are missing values
            if name not in frame.columns:
                frame[name] = None if name in categories else np.nan
        return self.booster.inplace_predict(model_matrix(frame, names, categories))


mlflow.models.set_model(FraudFeatureModel())
