"""A validation report that opens offline: one self-contained HTML page, no script, no CDN.

GX's Data Docs load jQuery, Bootstrap and their tables from CDNs and show nothing without
them; this page lists the same verdicts (suite, expectation, column, rows that failed) with
its styles inline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class ExpectationVerdict:
    """One expectation of one suite on one run."""

    suite: str
    expectation: str
    column: str
    reason: str
    success: bool
    unexpected: int
    rows: int


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%}th,td{padding:.3rem .6rem;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}
.ok{color:#1a7f37}.bad{color:#b42318;font-weight:600}
"""


def report_html(verdicts: Sequence[ExpectationVerdict], title: str, generated: str) -> str:
    """The page: a line of totals, then a table of every expectation, failures first.

    >>> page = report_html([ExpectationVerdict("m", "expect_x", "<b>", "why", False, 2, 9)],
    ...                    "t", "now")
    >>> "1 of 1 expectations failed" in page and "&lt;b&gt;" in page and "<script" not in page
    True
    """
    failed = sum(not v.success for v in verdicts)
    rows = "".join(
        f"<tr><td>{escape(v.suite)}</td><td>{escape(v.expectation)}</td>"
        f"<td>{escape(v.column)}</td><td>{escape(v.reason)}</td>"
        f"<td class={'ok' if v.success else 'bad'}>{'passed' if v.success else 'FAILED'}</td>"
        f"<td class=n>{v.unexpected:,}</td><td class=n>{v.rows:,}</td></tr>"
        for v in sorted(verdicts, key=lambda v: (v.success, v.suite, v.expectation, v.column))
    )
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{STYLE}</style><h1>{escape(title)}</h1>"
        f"<p>{failed} of {len(verdicts)} expectations failed. Generated {escape(generated)}. "
        f"GX's full Data Docs: <a href=index.html>index.html</a> (they need the internet for "
        f"their styles and tables).</p>"
        f"<table><tr><th>suite</th><th>expectation</th><th>column</th><th>why it matters</th>"
        f"<th>verdict</th><th>rows failing</th><th>rows checked</th></tr>{rows}</table></html>"
    )
