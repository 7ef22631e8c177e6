"""``mkt_ou25_``: the opening over/under 2.5 goals line, de-margined.

The 1X2 line prices who wins; the totals line prices how many goals. A low expected total makes
a draw likelier, and the two books are set apart, so the totals line may know something about
the draw that the 1X2 line does not price consistently. Only the match's own opening prices are
read, of the books of `market.sharp_books` in that order (a forecast then does not depend on
which other books a caller sends); closing prices never.
"""

from __future__ import annotations

import numpy as np

from sabiscore.odds import first_quoted_line

#: The outcomes of the totals market, in the order of a price array's last axis.
TOTALS_SIDES: tuple[str, str] = ("over", "under")

#: De-margined P(over 2.5 goals) of the first book quoting both sides, and that book's margin.
TOTALS_COLUMNS: tuple[str, str] = ("mkt_ou25_over", "mkt_ou25_overround")


def totals_line(totals_prices: np.ndarray, method: str) -> dict[str, np.ndarray]:
    """`mkt_ou25_over`, `mkt_ou25_overround` from opening prices as (match, book, over/under):
    the line of the first book (in the order of the books' axis) quoting both sides, NaN where
    none does.

    >>> prices = np.array([[[np.nan, 1.9], [1.8, 2.2]]])  # book 0 quotes one side: book 1
    >>> line = totals_line(prices, "multiplicative")
    >>> line["mkt_ou25_over"].round(4).tolist(), line["mkt_ou25_overround"].round(4).tolist()
    ([0.55], [0.0101])
    """
    line, margin = first_quoted_line(totals_prices, method)
    return {"mkt_ou25_over": line[:, 0], "mkt_ou25_overround": margin}
