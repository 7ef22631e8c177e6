"""Benchmark: train the full stack (out-of-fold folds, refits, logistic layer) on 5,000 x 220.

Prints one JSON line: total wall and CPU seconds, fit seconds per base model per fold and for
the final refit, the meta-learner's seconds, held-out log loss of every member (so a faster
setting cannot silently cost accuracy), the settings used and the machine's load.

    .venv/bin/python benchmarks/train_speed.py [--rows 5000] [--features 220]
        [--set models.xgboost.max_bin=32 --set stacking.n_jobs=1 ...]

The data are random but learnable: an ordered-logit "home strength" built from 20 informative
features (one interaction included), the other 200 are noise; base rates near the real
H .45 / D .24 / A .31. Settings come from configs/train.yaml; `--set` overrides one of them
(dotted path = YAML value), which is how the speed settings were chosen.

Fold timings are wall seconds of each fit; with stacking.n_jobs > 1 fits overlap, so their sum
exceeds the total.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models import build_meta_learner  # noqa: E402 - needs the path above
from sabiscore.evaluation import log_loss  # noqa: E402

N_INFORMATIVE = 20
SEED = 20240601


def synthetic_matches(
    n_rows: int, n_features: int, seed: int = SEED
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, outcomes 0/1/2 and the true probabilities of an ordered-logit league."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features))
    weights = rng.normal(size=N_INFORMATIVE) * 1.5 / np.sqrt(N_INFORMATIVE)
    strength = X[:, :N_INFORMATIVE] @ weights + 0.5 * np.tanh(X[:, 0] * X[:, 1])
    p_home = 1 / (1 + np.exp(-(strength - 0.2)))
    p_not_away = 1 / (1 + np.exp(-(strength + 0.8)))
    probs = np.column_stack([p_home, p_not_away - p_home, 1 - p_not_away])
    y = (rng.random(n_rows)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    columns = [f"x{i:03d}" for i in range(n_features)]
    return pd.DataFrame(X, columns=columns), y, probs


def apply_override(config: dict[str, Any], assignment: str) -> None:
    """`a.b.c=value` sets config[a][b][c] to the YAML-parsed value."""
    path, _, raw = assignment.partition("=")
    *parents, leaf = path.split(".")
    node = config
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = yaml.safe_load(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--features", type=int, default=220)
    parser.add_argument("--test-rows", type=int, default=2000)
    parser.add_argument("--config", type=Path, default=REPO / "configs/train.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    for assignment in args.set:
        apply_override(config, assignment)

    X, y, truth = synthetic_matches(args.rows + args.test_rows, args.features)
    train, test = slice(0, args.rows), slice(args.rows, None)
    stack = build_meta_learner(config)
    load_before = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    stack.fit(X.iloc[train], y[train])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    held_out = {"stack": log_loss(stack.predict_proba(X.iloc[test]), y[test])}
    for name, model in zip(stack.base_model_names_, stack.base_models_, strict=True):
        held_out[name] = log_loss(model.predict_proba(X.iloc[test]), y[test])
    held_out["truth"] = log_loss(truth[test], y[test])
    print(
        json.dumps(
            {
                "benchmark": "train_speed",
                "rows": args.rows,
                "features": args.features,
                "total_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "fit_s": stack.timings_,
                "held_out_log_loss": {k: round(v, 4) for k, v in held_out.items()},
                "oof_log_loss": {k: round(v, 4) for k, v in stack.oof_scores_.items()},
                "base_model_weights": {
                    k: round(v, 3) for k, v in stack.get_base_model_weights().items()
                },
                "settings": config,
                "load_avg_1m_before": round(load_before, 2),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
