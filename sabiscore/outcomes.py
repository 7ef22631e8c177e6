"""The three outcomes of a 1X2 match: one vocabulary from the CSV to the JSON.

An outcome is named `home`, `draw` or `away` (the API's words, and the domain's); its `code`
is the letter football-data writes for it (`FTR` = H, D or A), kept wherever it is the file
format or a stored name: the result column, the `outcome` column of the odds table, the
columns of a forecast frame and of the stored model's output (`H`, `D`, `A`), the wide price
columns (`pinnacle_close_H`). Every probability and price triple is in the order of
`OUTCOMES`: home, draw, away.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """A 1X2 outcome; its value is its name in the API, `code` its football-data letter."""

    HOME = "home"
    DRAW = "draw"
    AWAY = "away"

    @property
    def code(self) -> str:
        """football-data's letter for the outcome (the `FTR` column's H, D or A).

        >>> [outcome.code for outcome in Outcome]
        ['H', 'D', 'A']
        """
        return _CODES[self]

    @classmethod
    def from_code(cls, code: str) -> Outcome:
        """The outcome of a football-data letter; anything else is a ValueError.

        >>> Outcome.from_code("D")
        <Outcome.DRAW: 'draw'>
        """
        try:
            return _BY_CODE[code]
        except (KeyError, TypeError):
            raise ValueError(f"not a 1X2 result letter (H, D or A): {code!r}") from None


_CODES: dict[Outcome, str] = {Outcome.HOME: "H", Outcome.DRAW: "D", Outcome.AWAY: "A"}
_BY_CODE: dict[str, Outcome] = {code: outcome for outcome, code in _CODES.items()}

#: The order of every triple: home, draw, away.
OUTCOMES: tuple[Outcome, Outcome, Outcome] = (Outcome.HOME, Outcome.DRAW, Outcome.AWAY)

#: football-data's letters in that order: the class order of every forecast frame.
RESULT_CODES: tuple[str, str, str] = (OUTCOMES[0].code, OUTCOMES[1].code, OUTCOMES[2].code)


def code_of(name: str) -> str:
    """The football-data letter of an outcome named as the API names it.

    >>> code_of("away")
    'A'
    """
    return Outcome(name).code


def name_of(code: str) -> str:
    """The API's name (a plain string) of a football-data result letter.

    >>> name_of("H")
    'home'
    """
    return Outcome.from_code(code).value
