"""``mkt_``: the opening market, de-margined, and the books' disagreement."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sabiscore.features.config import SHARP_COLUMNS, MarketConfig
from sabiscore.features.prepare import _Matches
from sabiscore.features.totals import TOTALS_SIDES, totals_line
from sabiscore.odds import first_quoted_line, implied_probabilities, overround
from sabiscore.outcomes import RESULT_CODES

# --- the opening market ---------------------------------------------------------------------


@dataclass(frozen=True)
class _OpeningQuotes:
    """Every opening quote of one market (1X2 by default; "ou2.5" with `TOTALS_SIDES`) of the
    matches: row position, bookmaker, outcome (its position in `outcomes`), price.

    Closing rows are dropped here, before anything else is read: nothing downstream can see them.
    """

    row: np.ndarray
    book_code: np.ndarray  # codes into `bookmakers`
    bookmakers: pd.Index
    outcome: np.ndarray
    price: np.ndarray
    n_outcomes: int = len(RESULT_CODES)

    @classmethod
    def from_odds(
        cls,
        odds: pd.DataFrame,
        match_id: pd.Index,
        market: str = "1x2",
        outcomes: Sequence[str] = RESULT_CODES,
    ) -> _OpeningQuotes:
        opening = ((odds["phase"] == "open") & (odds["market"] == market)).to_numpy(bool)
        row = _positions(odds["match_id"], match_id)[opening]
        outcome = _positions(odds["outcome"], pd.Index(list(outcomes)))[opening]
        book_code, bookmakers = pd.factorize(odds["bookmaker"])
        price = odds["price"].to_numpy(dtype=float, na_value=np.nan)[opening]
        price = np.where(np.isfinite(price) & (price > 1.0), price, np.nan)  # not a price: unquoted
        keep = (row >= 0) & (outcome >= 0)
        book_codes, bookmakers = book_code[opening][keep], pd.Index(bookmakers)
        return cls(row[keep], book_codes, bookmakers, outcome[keep], price[keep], len(outcomes))

    def prices(self, n_matches: int, books: Sequence[str]) -> np.ndarray:
        """Prices as an array (match, book, outcome: H/D/A for 1X2), NaN where not quoted. The
        first quoted price wins, as in `football_data.one_x_two`."""
        out = np.full((n_matches, len(books), self.n_outcomes), np.nan)
        book = np.append(pd.Index(list(books)).get_indexer(self.bookmakers), -1)[self.book_code]
        keep = np.flatnonzero(book >= 0)[::-1]  # reversed: the last write is the first quote
        out[self.row[keep], book[keep], self.outcome[keep]] = self.price[keep]
        return out


def _positions(values: pd.Series, targets: pd.Index) -> np.ndarray:
    """Position of each value in `targets` (-1 if absent), hashing each distinct value once."""
    codes, uniques = pd.factorize(values)
    return np.append(targets.get_indexer(pd.Index(uniques).astype(object)), -1)[codes]


def _market_features(
    m: _Matches, odds: pd.DataFrame, config: MarketConfig
) -> dict[str, np.ndarray]:
    """The opening market of every row, from the odds table (see `market_features`)."""
    quotes = _OpeningQuotes.from_odds(odds, m.match_id)
    books = config.disagreement_books
    if books is None:
        books = disagreement_books_of(quotes.bookmakers, _aggregate_books(odds))
    n_matches = len(m.match_id)
    individual = disagreement_books_of(quotes.bookmakers, _aggregate_books(odds))
    totals_prices = None
    if config.totals:
        totals = _OpeningQuotes.from_odds(odds, m.match_id, "ou2.5", TOTALS_SIDES)
        totals_prices = totals.prices(n_matches, config.sharp_books)
    return market_features(
        quotes.prices(n_matches, config.books),
        quotes.prices(n_matches, books),
        config,
        sharp_prices=quotes.prices(n_matches, config.sharp_books),
        consensus_prices=quotes.prices(n_matches, individual),
        totals_prices=totals_prices,
    )


def disagreement_books_of(bookmakers: Iterable[str], aggregates: Iterable[str]) -> tuple[str, ...]:
    """The books whose disagreement is measured when the config names none: every individual
    bookmaker, in name order (the order fixes the floating-point sums).

    >>> disagreement_books_of(["pinnacle", "market_avg", "bet365"], ["market_avg"])
    ('bet365', 'pinnacle')
    """
    return tuple(sorted(set(bookmakers) - set(aggregates)))


def market_features(
    book_prices: np.ndarray,
    spread_prices: np.ndarray,
    config: MarketConfig,
    *,
    sharp_prices: np.ndarray,
    consensus_prices: np.ndarray,
    totals_prices: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The market's own forecast (the sharp chain), then, as configured, the de-margined
    opening probabilities of each named book with its overround and home-vs-away log-odds, how
    far the individual books disagree on each outcome, and the sharp chain's over/under 2.5
    goals line.

    Prices are opening decimal odds as (match, book, H/D/A), NaN where not quoted:
    `sharp_prices` of `config.sharp_books`, `consensus_prices` of every individual book quoted
    (their consensus stands in for the sharp line when no sharp book quotes), `book_prices` of
    `config.books`, `spread_prices` of the books whose disagreement is measured;
    `totals_prices` (match, book, over/under) of `config.sharp_books`, needed when
    `config.totals` is on: a caller without them must say so with NaN prices, not by omission.
    `build_features` reads them from the odds table; a caller holding quotes of a match not in
    any table gets the same numbers from here.
    """
    out = sharp_line(sharp_prices, consensus_prices, config.method)
    if not config.books:
        book_prices = np.full((len(sharp_prices), 0, 3), np.nan)
    flat = book_prices.reshape(-1, 3)  # all books in one call: each row is de-margined alone
    probs = implied_probabilities(flat, config.method).reshape(book_prices.shape)
    margins = overround(flat).reshape(book_prices.shape[:2])
    for b, book in enumerate(config.books):
        for j, outcome in enumerate(RESULT_CODES):
            out[f"mkt_{book}_{outcome}"] = probs[:, b, j]
        out[f"mkt_{book}_overround"] = margins[:, b]
        out[f"mkt_{book}_log_odds_home_away"] = np.log(probs[:, b, 0] / probs[:, b, 2])
    if config.disagreement:
        out.update(_disagreement(spread_prices, config.method))
    if config.totals:
        if totals_prices is None:
            raise ValueError("market.totals is on: pass the opening over/under 2.5 prices")
        out.update(totals_line(totals_prices, config.method))
    return out


def sharp_line(
    sharp_prices: np.ndarray, consensus_prices: np.ndarray, method: str
) -> dict[str, np.ndarray]:
    """`mkt_sharp_H/D/A`: the de-margined line of the first sharp book quoting each match (in
    the order of the books' axis), else the mean de-margined line of the individual books that
    quote it, else NaN; `mkt_sharp_overround` is that book's (the consensus's mean) margin.

    >>> sharp = np.array([[[np.nan] * 3, [2.0, 4.0, 4.0]]])  # book 0 missing: book 1 stands in
    >>> line = sharp_line(sharp, sharp[:, :0], "multiplicative")
    >>> [line[k].round(3).tolist() for k in ("mkt_sharp_H", "mkt_sharp_D", "mkt_sharp_A")]
    [[0.5], [0.25], [0.25]]
    """
    line, margin = first_quoted_line(sharp_prices, method)
    missing = np.flatnonzero(np.isnan(margin))
    if missing.size and consensus_prices.shape[1]:
        spread = consensus_prices[missing]
        spread_probs = implied_probabilities(spread.reshape(-1, 3), method).reshape(spread.shape)
        complete = np.isfinite(spread_probs).all(axis=2)
        count = complete.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):  # no book at all: NaN wanted
            line[missing] = (
                np.where(complete[:, :, None], spread_probs, 0.0).sum(axis=1) / count[:, None]
            )
            spread_margins = overround(spread.reshape(-1, 3)).reshape(spread.shape[:2])
            margin[missing] = np.where(complete, spread_margins, 0.0).sum(axis=1) / count
    out = {column: line[:, j] for j, column in enumerate(SHARP_COLUMNS)}
    out["mkt_sharp_overround"] = margin
    return out


def _disagreement(prices: np.ndarray, method: str) -> dict[str, np.ndarray]:
    """Spread of the books' de-margined probabilities (std and max - min); NaN under two books."""
    flat = prices.reshape(-1, 3)
    probs = implied_probabilities(flat, method).reshape(prices.shape)
    complete = np.isfinite(probs).all(axis=2)
    n_books = complete.sum(axis=1)
    several = n_books >= 2
    out: dict[str, np.ndarray] = {"mkt_books_n": n_books.astype(float)}
    # np.nanstd / nanmax / nanmin, written out: a book's row is all NaN or complete, and
    # their generic masking cost more than the rest of a served prediction's features.
    # The same operations in the same order: equal to the last bit (tested).
    quoted = complete[:, :, None]
    count = n_books[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):  # no quotes: 0 / 0, NaN wanted
        mean = np.where(quoted, probs, 0.0).sum(axis=1, keepdims=True) / count[:, None]
        deviation = np.where(quoted, probs - mean, 0.0)
        std = np.sqrt((deviation * deviation).sum(axis=1) / count)
    highest = np.where(quoted, probs, -np.inf).max(axis=1)
    spread = highest - np.where(quoted, probs, np.inf).min(axis=1)
    for j, outcome in enumerate(RESULT_CODES):
        out[f"mkt_books_std_{outcome}"] = np.where(several, std[:, j], np.nan)
        out[f"mkt_books_range_{outcome}"] = np.where(several, spread[:, j], np.nan)
    return out


def _aggregate_books(odds: pd.DataFrame) -> list[str]:
    """Best-price and average-price columns: not bookmakers, so not opinions to compare."""
    return odds.loc[odds["is_aggregate"].astype(bool), "bookmaker"].astype(str).unique().tolist()
