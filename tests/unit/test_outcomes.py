"""The one vocabulary of outcomes: the API's names, football-data's letters, one order."""

from __future__ import annotations

import pytest

from sabiscore import evaluation, staking
from sabiscore.outcomes import OUTCOMES, RESULT_CODES, Outcome, code_of, name_of


def test_names_letters_and_order() -> None:
    assert [str(o) for o in OUTCOMES] == ["home", "draw", "away"]
    assert RESULT_CODES == ("H", "D", "A")
    assert tuple(Outcome) == OUTCOMES


@pytest.mark.parametrize("outcome", list(Outcome))
def test_each_outcome_maps_both_ways(outcome: Outcome) -> None:
    assert Outcome.from_code(outcome.code) is outcome
    assert name_of(code_of(outcome.value)) == outcome.value
    assert type(name_of(outcome.code)) is str  # a plain string, for files and JSON


@pytest.mark.parametrize("bad", ["h", "X", "", None, "home"])
def test_a_letter_that_is_no_result_is_refused(bad) -> None:
    with pytest.raises(ValueError, match="not a 1X2 result letter"):
        Outcome.from_code(bad)


def test_the_domain_tuples_are_the_enum() -> None:
    assert evaluation.OUTCOMES == RESULT_CODES  # the class order of forecast frames
    assert staking.OUTCOMES == OUTCOMES  # the order of every triple
