"""The API's words are the domain's: the schema's literals equal the domain's enums (the
schema keeps them as literals, so the OpenAPI document is unchanged)."""

from __future__ import annotations

from typing import get_args

from bentos import schemas
from sabiscore.outcomes import RESULT_CODES, Outcome
from sabiscore.staking import QualityTier


def test_the_schema_outcomes_are_the_outcome_enum() -> None:
    assert get_args(schemas.Outcome) == tuple(o.value for o in Outcome)


def test_the_reliability_classes_are_the_result_letters() -> None:
    annotation = schemas.ReliabilityPoint.model_fields["class_"].annotation
    assert get_args(annotation) == RESULT_CODES


def test_the_schema_tiers_are_the_quality_tiers_in_upper_case() -> None:
    assert get_args(schemas.Quality) == tuple(t.name for t in QualityTier)
