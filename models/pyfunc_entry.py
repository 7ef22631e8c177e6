"""The MLflow pyfunc of the ensemble, logged as "model from code".

MLflow copies this file into the model and runs it when the model is loaded; the last line hands
it the model object. Nothing is pickled: the fitted parts travel as the explicit files that
`models.compiled.export_ensemble` writes (JSON, NumPy arrays, XGBoost UBJ, LightGBM text), the
`ensemble` artifact of the logged model. Only `models.registry` should point MLflow at this file.
"""

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from sabiscore.outcomes import RESULT_CODES

OUTPUT_COLUMNS = list(RESULT_CODES)  # H, D, A: football-data's result letters


class SabiScoreEnsemble(PythonModel):
    """Feature rows in, the three class probabilities (home win, draw, away win) out."""

    def load_context(self, context):
        from models.compiled import load_ensemble

        self.ensemble = load_ensemble(Path(context.artifacts["ensemble"]))

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        probs = self.ensemble.predict_proba(frame)
        return pd.DataFrame(probs, columns=OUTPUT_COLUMNS, index=frame.index)


mlflow.models.set_model(SabiScoreEnsemble())
