"""Bookmaker prices to probabilities: overround and margin removal (de-margining).

A 1X2 book prices home/draw/away at decimal odds o_i; the raw implied probabilities 1/o_i
sum to more than 1 by the bookmaker's margin (the overround). Three standard ways to remove it:

* multiplicative — scale 1/o_i to sum to 1 (the margin spread in proportion);
* power — p_i = (1/o_i)^k with k chosen so that the p_i sum to 1 (more margin on long shots);
* Shin — Shin's (1993) model of a bookmaker facing a share z of insider money.

They differ little on a sharp book (Pinnacle's ~2.5 %) and more on long shots, where edges are
found. All functions are vectorised over rows: an (n, k) array of prices, k outcomes.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np


class ImpliedMethod(StrEnum):
    MULTIPLICATIVE = "multiplicative"
    POWER = "power"
    SHIN = "shin"


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (n, k) raw scores, stable for large margins (the one copy: the
    synthetic books, the Elo baseline and the compiled models all use it).

    >>> softmax(np.array([[0.0, 0.0], [1000.0, 0.0]])).round(6).tolist()
    [[0.5, 0.5], [1.0, 0.0]]
    """
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _as_prices(decimal_odds: np.ndarray | list) -> np.ndarray:
    prices = np.atleast_2d(np.asarray(decimal_odds, dtype=float))
    low = prices <= 1.0  # False for NaN
    if low.any() and np.isfinite(prices[low]).any():  # -inf is missing, not a price
        raise ValueError("decimal odds must be greater than 1.0")
    return prices


def overround(decimal_odds: np.ndarray | list) -> np.ndarray:
    """Sum of 1/price minus 1, per row (NaN where a price is missing).

    >>> overround([[2.0, 4.0, 4.0]]).round(3).tolist()
    [0.0]
    """
    return (1.0 / _as_prices(decimal_odds)).sum(axis=1) - 1.0


def multiplicative(decimal_odds: np.ndarray | list) -> np.ndarray:
    """Normalised inverse prices.

    >>> multiplicative([[1.9, 3.5, 4.2]]).round(4).tolist()
    [[0.5012, 0.2721, 0.2267]]
    """
    inverse = 1.0 / _as_prices(decimal_odds)
    return inverse / inverse.sum(axis=1, keepdims=True)


def power(decimal_odds: np.ndarray | list, iterations: int = 60) -> np.ndarray:
    """Solve sum((1/o_i)^k) = 1 for k per row (bisection on k in [0.5, 3]).

    >>> power([[1.9, 3.5, 4.2]]).round(4).tolist()
    [[0.5098, 0.2685, 0.2217]]
    """
    inverse = 1.0 / _as_prices(decimal_odds)
    low = np.full(len(inverse), 0.5)
    high = np.full(len(inverse), 3.0)
    for _ in range(iterations):
        mid = (low + high) / 2
        total = (inverse ** mid[:, None]).sum(axis=1)
        too_big = total > 1.0  # sum falls as k grows (each 1/o_i < 1)
        low = np.where(too_big, mid, low)
        high = np.where(too_big, high, mid)
    k = (low + high) / 2
    probabilities = inverse ** k[:, None]
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def shin(decimal_odds: np.ndarray | list, iterations: int = 100) -> np.ndarray:
    """Shin's method: solve for the insider share z by fixed point, then the probabilities.

    >>> shin([[1.9, 3.5, 4.2]]).round(4).tolist()
    [[0.5074, 0.2698, 0.2228]]
    """
    inverse = 1.0 / _as_prices(decimal_odds)
    book = inverse.sum(axis=1, keepdims=True)
    n = inverse.shape[1]
    z = np.zeros_like(book)
    for _ in range(iterations if n > 2 else 0):
        root = np.sqrt(z**2 + 4 * (1 - z) * inverse**2 / book).sum(axis=1, keepdims=True)
        z = np.clip((root - 2) / (n - 2), 0.0, 0.99)
    probabilities = (np.sqrt(z**2 + 4 * (1 - z) * inverse**2 / book) - z) / (2 * (1 - z))
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def implied_probabilities(
    decimal_odds: np.ndarray | list, method: ImpliedMethod | str = ImpliedMethod.MULTIPLICATIVE
) -> np.ndarray:
    """De-margined probabilities by the chosen method; rows with a missing price give NaN."""
    prices = _as_prices(decimal_odds)
    out = np.full(prices.shape, np.nan)
    complete = np.isfinite(prices).all(axis=1)
    if complete.any():
        solver = {
            ImpliedMethod.MULTIPLICATIVE: multiplicative,
            ImpliedMethod.POWER: power,
            ImpliedMethod.SHIN: shin,
        }[ImpliedMethod(method)]
        out[complete] = solver(prices[complete])
    return out


def first_quoted_line(
    prices: np.ndarray, method: ImpliedMethod | str = ImpliedMethod.MULTIPLICATIVE
) -> tuple[np.ndarray, np.ndarray]:
    """Prices as (match, book, outcome) -> the de-margined line (match, outcome) and overround
    (match,) of the first book, in the order of the books' axis, quoting every outcome of the
    match; NaN where no book does.

    >>> prices = np.array([[[np.nan, 1.9], [1.8, 2.2]], [[np.nan, np.nan], [np.nan, 2.0]]])
    >>> line, margin = first_quoted_line(prices)
    >>> line.round(2).tolist(), margin.round(4).tolist()
    ([[0.55, 0.45], [nan, nan]], [0.0101, nan])
    """
    n_outcomes = prices.shape[2]
    probs = implied_probabilities(prices.reshape(-1, n_outcomes), method).reshape(prices.shape)
    margins = overround(prices.reshape(-1, n_outcomes)).reshape(prices.shape[:2])
    quoted = np.isfinite(probs).all(axis=2)
    first = np.where(quoted.any(axis=1), quoted.argmax(axis=1), -1)
    rows, book, found = np.arange(len(probs)), np.maximum(first, 0), first >= 0
    line = np.where(found[:, None], probs[rows, book], np.nan)
    return line, np.where(found, margins[rows, book], np.nan)
