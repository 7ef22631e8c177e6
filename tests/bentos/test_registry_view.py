"""The registry as /models shows it: a champion promoted by hand is promoted."""

from __future__ import annotations

from types import SimpleNamespace

from bentos.registry_view import version_view


def test_a_champion_promoted_by_hand_shows_promoted_in_new_and_old_stores() -> None:
    new = {
        "promotion.promoted": "true",
        "promotion.by": "hand",
        "promotion.user": "ada",
        "promotion.reason": "promoted by hand; the gate had kept it out: worse than market",
    }
    old = {"promotion.promoted": "false", "promotion.reason": "promoted by hand"}
    kept = {"promotion.promoted": "false", "promotion.reason": "worse than the market"}
    for tags, promoted in ((new, True), (old, True), (kept, False), ({}, None)):
        view = version_view(SimpleNamespace(version="3", tags=tags), ["champion"], {}, "market")
        assert view.promoted is promoted, tags
    assert version_view(
        SimpleNamespace(version="3", tags=new), [], {}, "m"
    ).promotion_reason.startswith("promoted by hand")
