"""Words for people: counts with the right plural."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun, singular for one.

    >>> counted(1, "window"), counted(3, "window"), counted(0, "match", "matches")
    ('1 window', '3 windows', '0 matches')
    """
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
