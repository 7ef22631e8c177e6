"""Benchmark: single-row latency of the compiled ensemble against the fitted stack.

Fits the design-default stack (configs/train.yaml) on synthetic 5,000 x 220 rows, exports it
with `models.compiled.export_ensemble`, loads it back and times, per call, after a warm-up:
`CompiledEnsemble.predict_one` (an array row, the serving path), `CompiledEnsemble.predict_proba`
on a 1-row DataFrame, and the original `MetaLearner.predict_proba` on the same 1-row DataFrame.
Prints one JSON line: median, p99 and minimum microseconds of each (the minimum is the cost
on a quiet machine; median and p99 also measure whatever else the machine is doing), the same
for each compiled base model on the row, and the largest difference between the compiled and
the original forecasts on held-out rows.

The stack is fitted with 2 time blocks instead of the configured 5 (`--folds`): the blocks only
decide how many out-of-fold fits train the logistic layer; the served base models are the
refits on all rows either way, so latency is the same and the fit takes ~60 s instead of ~150 s.

    .venv/bin/python benchmarks/predict_one.py [--rows 5000] [--features 220] [--calls 1000]
        [--folds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models import build_meta_learner  # noqa: E402 - needs the path above
from models.compiled import export_ensemble, load_ensemble  # noqa: E402

SEED = 20240601
N_INFORMATIVE = 20
WARM_UP_CALLS = 50


def synthetic_matches(n_rows: int, n_features: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Random features with 5 % missing values; outcomes of an ordered logit on 20 of them."""
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(n_rows, n_features))
    strength = X[:, :N_INFORMATIVE] @ (rng.normal(size=N_INFORMATIVE) / np.sqrt(N_INFORMATIVE))
    p_home = 1 / (1 + np.exp(-(strength - 0.2)))
    p_not_away = 1 / (1 + np.exp(-(strength + 0.8)))
    probs = np.column_stack([p_home, p_not_away - p_home, 1 - p_not_away])
    y = (rng.random(n_rows)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    X[rng.random(X.shape) < 0.05] = np.nan
    return pd.DataFrame(X, columns=[f"x{i:03d}" for i in range(n_features)]), y


def microseconds(call: Callable[[], object], n_calls: int) -> dict[str, float]:
    """Median, p99 and minimum wall time of `call` in microseconds, after a warm-up."""
    for _ in range(WARM_UP_CALLS):
        call()
    times = np.empty(n_calls)
    for i in range(n_calls):
        started = time.perf_counter_ns()
        call()
        times[i] = time.perf_counter_ns() - started
    return {
        "median_us": round(float(np.median(times)) / 1e3, 1),
        "p99_us": round(float(np.percentile(times, 99)) / 1e3, 1),
        "min_us": round(float(times.min()) / 1e3, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--features", type=int, default=220)
    parser.add_argument("--test-rows", type=int, default=500)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--folds", type=int, default=2)
    args = parser.parse_args()

    X, y = synthetic_matches(args.rows + args.test_rows, args.features)
    X_train, X_test = X.iloc[: args.rows], X.iloc[args.rows :]
    config = yaml.safe_load((REPO / "configs/train.yaml").read_text())
    config["stacking"]["n_folds"] = args.folds
    stack = build_meta_learner(config)
    started = time.perf_counter()
    stack.fit(X_train, y[: args.rows])
    fit_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        ensemble = load_ensemble(export_ensemble(stack, Path(tmp) / "ensemble"))
    frame = X_test.iloc[[0]]
    row = frame.to_numpy(dtype=float)[0]
    base_models = {
        name: microseconds(lambda member=member: member.predict(row[None, :]), args.calls)
        for name, member in zip(ensemble.base_model_names, ensemble.members, strict=True)
    }
    difference = np.abs(ensemble.predict_proba(X_test) - stack.predict_proba(X_test)).max()
    print(
        json.dumps(
            {
                "benchmark": "predict_one",
                "rows": args.rows,
                "features": args.features,
                "calls": args.calls,
                "folds": args.folds,
                "fit_s": round(fit_s, 1),
                "compiled_predict_one": microseconds(lambda: ensemble.predict_one(row), args.calls),
                "compiled_predict_proba_frame": microseconds(
                    lambda: ensemble.predict_proba(frame), args.calls
                ),
                "stack_predict_proba_frame": microseconds(
                    lambda: stack.predict_proba(frame), args.calls
                ),
                "compiled_base_models_one_row": base_models,
                "max_abs_difference": float(difference),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
