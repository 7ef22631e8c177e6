"""The stack's logistic layer: a log-linear pool of forecasters, shrunk towards an anchor.

A multinomial logistic regression on the members' log-probabilities is a weighted geometric
pool (Benter 1994: the public's odds pooled with a fundamental model in log space). scikit-learn's
`LogisticRegression` shrinks every weight towards 0, i.e. towards the uniform forecast — so
with the market as a member, a strong penalty pulls the pool *away* from the market, the best
forecaster there is. Here the penalty pulls the weights towards an `anchor` instead (weight 1 on
the market's log-probability of each class, 0 on everything else): with no evidence the pool is
the market, and it moves only as far as the models earn on out-of-fold rows. With a zero
anchor it is scikit-learn's problem (same objective: C x summed log loss + 1/2 x squared
weights, intercepts free).

`tied=True` (the default of the stack) keeps one weight per member, the same for its three
log-probabilities — log p_k = sum_m w_m log p_m,k + b_k, Benter's pool — so the layer has as
many free knobs as members plus three intercepts, and the weights are non-negative (Breiman's
stacked regressions): members that are near copies of each other (every member starts from the
market) cannot be set against each other with large opposite weights. The full matrix
(`tied=False`, 3 weights per member and class) let the layer trade one member's home
log-probability against another's away one; on the shared data it overfitted (2020-21, trained
on the seasons before: pooled 0.9962 against the market's 0.9950, its best member alone 0.9945).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from models.base import N_CLASSES


class AnchoredLogistic:
    """Multinomial logistic regression with an L2 penalty around `anchor` (3 x n_features).

    Fitted state as scikit-learn's (`coef_`, `intercept_`, `classes_`), so the compiled
    ensemble stores and replays it as any logistic layer.

    >>> rng = np.random.default_rng(0)
    >>> market = rng.dirichlet([8, 4, 5], size=400)
    >>> y = np.array([rng.choice(3, p=p) for p in market])
    >>> layer = AnchoredLogistic(C=1e-6, anchor=np.eye(3)).fit(np.log(market), y)
    >>> bool(np.abs(layer.coef_ - np.eye(3)).max() < 1e-3)  # strong penalty: the market as is
    True
    """

    def __init__(
        self, C: float = 1.0, anchor: np.ndarray | None = None, tied: bool = False
    ) -> None:
        self.C = C
        self.anchor = anchor
        self.tied = tied

    def fit(self, features: np.ndarray, y: np.ndarray) -> AnchoredLogistic:
        features = np.asarray(features, dtype=float)
        y = np.asarray(y, dtype=int)
        n, p = features.shape
        anchor = np.zeros((N_CLASSES, p)) if self.anchor is None else np.asarray(self.anchor)
        if anchor.shape != (N_CLASSES, p):
            raise ValueError(f"anchor must be ({N_CLASSES}, {p}), got {anchor.shape}")
        onehot = np.eye(N_CLASSES)[y]
        penalty = 1.0 / self.C
        if self.tied:
            return self._fit_tied(features, onehot, anchor, penalty)

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            coef = theta[: N_CLASSES * p].reshape(N_CLASSES, p)
            intercept = theta[N_CLASSES * p :]
            logp = log_softmax(features @ coef.T + intercept, axis=1)
            step = coef - anchor
            loss = -(onehot * logp).sum() + 0.5 * penalty * (step * step).sum()
            residual = np.exp(logp) - onehot
            grad_coef = residual.T @ features + penalty * step
            return loss, np.concatenate([grad_coef.ravel(), residual.sum(axis=0)])

        start = np.concatenate([anchor.ravel(), np.log(onehot.mean(axis=0) + 1e-3)])
        result = minimize(
            objective, start, jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-8}
        )
        self.coef_ = result.x[: N_CLASSES * p].reshape(N_CLASSES, p)
        self.intercept_ = result.x[N_CLASSES * p :]
        self.classes_ = np.arange(N_CLASSES)
        self.n_iter_ = int(result.nit)
        return self

    def _fit_tied(
        self, features: np.ndarray, onehot: np.ndarray, anchor: np.ndarray, penalty: float
    ) -> AnchoredLogistic:
        """One weight per member (a block of 3 log-probabilities H, D, A)."""
        n, p = features.shape
        if p % N_CLASSES:
            raise ValueError(f"tied weights need 3 log-probabilities per member, got {p} columns")
        members = p // N_CLASSES
        blocks = features.reshape(n, members, N_CLASSES).transpose(0, 2, 1)  # (n, class, member)
        start_w = anchor.reshape(N_CLASSES, members, N_CLASSES)[0, :, 0]

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            weights, intercept = theta[:members], theta[members:]
            logp = log_softmax(blocks @ weights + intercept, axis=1)
            step = weights - start_w
            loss = -(onehot * logp).sum() + 0.5 * penalty * (step * step).sum()
            residual = np.exp(logp) - onehot
            grad_w = np.einsum("nk,nkm->m", residual, blocks) + penalty * step
            return loss, np.concatenate([grad_w, residual.sum(axis=0)])

        start = np.concatenate([start_w, np.log(onehot.mean(axis=0) + 1e-3)])
        bounds = [(0.0, None)] * members + [(None, None)] * N_CLASSES
        result = minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "gtol": 1e-8},
        )
        self.weights_ = result.x[:members]
        self.coef_ = np.kron(self.weights_[None, :], np.eye(N_CLASSES))  # the full-matrix view
        self.intercept_ = result.x[members:]
        self.classes_ = np.arange(N_CLASSES)
        self.n_iter_ = int(result.nit)
        return self

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, dtype=float) @ self.coef_.T + self.intercept_

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return np.exp(log_softmax(self.decision_function(features), axis=1))

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        anchor = None if self.anchor is None else np.asarray(self.anchor)
        return {"C": self.C, "anchor": anchor, "tied": self.tied}


def market_anchor(n_features: int, market_offset: int = 0) -> np.ndarray:
    """The anchor that reproduces the market: weight 1 on its own class's log-probability.

    >>> market_anchor(6).tolist()[1]
    [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    """
    anchor = np.zeros((N_CLASSES, n_features))
    anchor[np.arange(N_CLASSES), market_offset + np.arange(N_CLASSES)] = 1.0
    return anchor
