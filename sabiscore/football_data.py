"""Reading football-data.co.uk season files into a canonical match table and tidy odds.

The format has changed many times (bookmakers come and go, closing prices appeared in
2019-20, Betfair Exchange in 2024-25), so columns are chosen by what their *names mean*,
never by their position: `B365CH` is "Bet365, closing, 1X2, home" wherever it stands.

Parsing converts and records; it judges nothing. Whether a row or a price is good is the
validation suite's decision (see `configs/validation.yaml`), so the parsed tables keep the raw
strings and line numbers needed to explain each rejection.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from sabiscore.outcomes import RESULT_CODES

# --- what the columns mean -------------------------------------------------------------------

#: Canonical name -> accepted header spellings (football-data has used several over the years).
CORE_ALIASES: dict[str, tuple[str, ...]] = {
    "div": ("Div",),
    "date": ("Date",),
    "time": ("Time",),
    "home_team": ("HomeTeam", "Home", "HT"),
    "away_team": ("AwayTeam", "Away", "AT"),
    "home_goals": ("FTHG", "HG"),
    "away_goals": ("FTAG", "AG"),
    "result": ("FTR", "Res"),
    "ht_home_goals": ("HTHG",),
    "ht_away_goals": ("HTAG",),
    "ht_result": ("HTR",),
    "referee": ("Referee",),
    # the extra leagues' layout (football-data.co.uk/new/ARG.csv ...): no Div; these instead
    "country": ("Country",),
    "league_name": ("League",),
    "season_label": ("Season",),
}

#: Match statistics, where present: canonical name -> header.
STAT_COLUMNS: dict[str, str] = {
    "home_shots": "HS",
    "away_shots": "AS",
    "home_shots_on_target": "HST",
    "away_shots_on_target": "AST",
    "home_fouls": "HF",
    "away_fouls": "AF",
    "home_corners": "HC",
    "away_corners": "AC",
    "home_yellow": "HY",
    "away_yellow": "AY",
    "home_red": "HR",
    "away_red": "AR",
}

REQUIRED_CORE = ("div", "date", "home_team", "away_team", "home_goals", "away_goals", "result")
#: The extra leagues' files name their league and season in these columns instead of `Div`.
EXTRA_LAYOUT = ("league_name", "season_label")
RESULT_COLUMNS = ("home_goals", "away_goals", "result")

#: Bookmaker codes -> readable names. Unknown codes are kept, lower-cased: a new bookmaker in
#: next season's files is read, not dropped.
BOOKMAKERS: dict[str, str] = {
    "B365": "bet365",
    "BW": "bwin",
    "IW": "interwetten",
    "LB": "ladbrokes",
    "PS": "pinnacle",
    "P": "pinnacle",
    "WH": "william_hill",
    "VC": "bet_victor",
    "GB": "gamebookers",
    "SJ": "stan_james",
    "BS": "blue_square",
    "SO": "sporting_odds",
    "SB": "sportingbet",
    "SY": "stanleybet",
    "BF": "betfair",
    "BFD": "betfred",
    "BFE": "betfair_exchange",
    "1XB": "1xbet",
    "BMGM": "betmgm",
    "BV": "betvictor",
    "CL": "coral",
    "Max": "market_max",
    "Avg": "market_avg",
    "BbMx": "market_max",
    "BbAv": "market_avg",
}

#: Best-price and average-price columns are not bookmakers: their "overround" is often below 1.
AGGREGATES = frozenset({"market_max", "market_avg"})

_OU_RE = re.compile(r"^(?P<prefix>[A-Za-z0-9]+?)(?P<side>[<>])2\.5$")
_NON_ODDS_1X2 = frozenset({"BbAH", "BbOU", "Bb1X2"})


@dataclass(frozen=True)
class OddsColumn:
    """One price column, decoded from its header."""

    header: str
    code: str  # bookmaker code as in the file, e.g. "B365", "PS", "BbMx"
    bookmaker: str  # readable name, e.g. "bet365"
    phase: str  # "open" or "close"
    market: str  # "1x2" or "ou2.5"
    outcome: str  # "H", "D", "A" (1X2) or "over", "under"


@dataclass(frozen=True)
class ColumnMap:
    """Where each meaning lives in one file's header."""

    core: dict[str, int]
    stats: dict[str, int]
    odds: tuple[tuple[int, OddsColumn], ...]
    unknown: tuple[str, ...] = ()

    @property
    def extra_layout(self) -> bool:
        """One of football-data's extra leagues' files: one league, all its seasons, no Div."""
        return _is_extra_layout(self.core)

    def missing_required(self) -> list[str]:
        """Required columns the header lacks. A fixture list (football-data's `fixtures.csv`)
        has no result columns at all: that is complete, every row an upcoming match."""
        missing = [name for name in REQUIRED_CORE if name not in self.core]
        if "div" in missing and self.extra_layout:
            missing.remove("div")  # the league's code is the file's name (`league_code`)
        if set(missing) == set(RESULT_COLUMNS):
            return []
        return missing


def _is_extra_layout(core: dict[str, int]) -> bool:
    return "div" not in core and all(name in core for name in EXTRA_LAYOUT)


def bookmaker_name(code: str) -> str:
    """Readable bookmaker name for a football-data code (unknown codes lower-cased)."""
    return BOOKMAKERS.get(code, code.lower())


def _split_phase(prefix: str, prefixes: set[str]) -> tuple[str, str]:
    """`PSC` -> (`PS`, close); `PS` -> (`PS`, open); a known code such as `CL` stays itself."""
    if prefix in BOOKMAKERS:
        return prefix, "open"
    base = prefix[:-1]
    if prefix.endswith("C") and base and (base in BOOKMAKERS or base in prefixes):
        return base, "close"
    return prefix, "open"


def _one_x_two_prefixes(header: Sequence[str]) -> set[str]:
    """Prefixes P with P+H, P+D and P+A all present: the 1X2 price triples of the file."""
    names = set(header)
    found = set()
    for name in header:
        if name.endswith("H") and len(name) > 1 and "AH" not in name:
            prefix = name[:-1]
            if prefix + "D" in names and prefix + "A" in names and prefix not in _NON_ODDS_1X2:
                found.add(prefix)
    return found


def classify_columns(header: Sequence[str]) -> ColumnMap:
    """Map a football-data header to meanings (core fields, statistics, price columns).

    >>> cm = classify_columns(["Div", "Date", "HomeTeam", "AwayTeam", "PSH", "PSD", "PSA",
    ...                        "PSCH", "PSCD", "PSCA"])
    >>> sorted({(c.bookmaker, c.phase) for _, c in cm.odds})
    [('pinnacle', 'close'), ('pinnacle', 'open')]
    """
    index = {name: i for i, name in enumerate(header)}
    core = {}
    for canonical, spellings in CORE_ALIASES.items():
        for spelling in spellings:
            if spelling in index:
                core[canonical] = index[spelling]
                break
    stats = {name: index[col] for name, col in STAT_COLUMNS.items() if col in index}

    prefixes = _one_x_two_prefixes(header)
    odds: list[tuple[int, OddsColumn]] = []
    for prefix in sorted(prefixes):
        code, phase = _split_phase(prefix, prefixes)
        for outcome in RESULT_CODES:
            name = prefix + outcome
            column = OddsColumn(name, code, bookmaker_name(code), phase, "1x2", outcome)
            odds.append((index[name], column))
    for name, i in index.items():
        match = _OU_RE.match(name)
        if match:
            code, phase = _split_phase(match["prefix"], prefixes)
            outcome = "over" if match["side"] == ">" else "under"
            odds.append((i, OddsColumn(name, code, bookmaker_name(code), phase, "ou2.5", outcome)))
    odds.sort(key=lambda item: item[0])
    if _is_extra_layout(core):
        # the extra leagues' prices are closing prices, with a C (PSCH) or without (older PH):
        # never read one as an opening price, which the features would then see before kick-off
        odds = [(i, replace(c, phase="close")) for i, c in odds]

    used = set(core.values()) | set(stats.values()) | {i for i, _ in odds}
    unknown = tuple(name for name, i in index.items() if i not in used and name)
    return ColumnMap(core=core, stats=stats, odds=tuple(odds), unknown=unknown)


# --- decoding bytes ---------------------------------------------------------------------------


class FileFormatError(ValueError):
    """The file is not a football-data.co.uk CSV at all (empty, HTML, binary, wrong header)."""


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str
    warnings: tuple[str, ...] = ()


def decode_bytes(data: bytes) -> DecodedText:
    """Decode a downloaded file: UTF-8 (with or without BOM), else Windows-1252 with a warning.

    >>> decode_bytes("Div,Date\\r\\n".encode("utf-8-sig")).text
    'Div,Date\\r\\n'
    """
    if not data.strip(b"\xef\xbb\xbf \t\r\n,"):
        raise FileFormatError("the file is empty (no header, no rows)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise FileFormatError(
            "wrong encoding: the file looks like UTF-16 or binary; expected a UTF-8/ASCII CSV"
        )
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return DecodedText(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError as error:
        text = data.decode("cp1252", errors="replace")
        note = (
            f"not valid UTF-8 (byte {error.start}); decoded as Windows-1252/latin-1 — "
            "check accented team names"
        )
        return DecodedText(text, "cp1252", (note,))


def _looks_like_html(text: str) -> bool:
    head = text.lstrip()[:512].lower()
    return head.startswith("<") or "<html" in head or "<!doctype" in head


# --- parsing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedFile:
    """A file, read: every non-blank data row as a match or fixture, plus its tidy prices."""

    matches: pd.DataFrame
    odds: pd.DataFrame
    columns: ColumnMap
    encoding: str
    warnings: tuple[str, ...] = field(default_factory=tuple)
    ends_with_newline: bool = True  # False: the last row may be cut off (see sabiscore.guards)

    @property
    def n_rows(self) -> int:
        return len(self.matches)


MATCH_COLUMNS = (
    "match_id",
    "league",
    "season",
    "date",
    "kickoff",
    "home_team",
    "away_team",
    "home_goals",
    "away_goals",
    "result",
    "ht_home_goals",
    "ht_away_goals",
    "ht_result",
    "referee",
    *STAT_COLUMNS,
    "status",
    "source",
    "line",
    "n_fields",
    "n_header_fields",
    "date_raw",
    "home_goals_raw",
    "away_goals_raw",
    "raw_row",
)

ODDS_COLUMNS = (
    "match_id",
    "league",
    "season",
    "bookmaker",
    "code",
    "phase",
    "market",
    "outcome",
    "price",
    "price_raw",
    "is_aggregate",
    "source",
    "line",
)


def slug(text: str) -> str:
    """Lower-case, URL-safe form of a team or league name.

    >>> slug("Nott'm Forest")
    'nott-m-forest'
    """
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


_slug = functools.lru_cache(maxsize=4096)(slug)  # a file names its 20 teams 760 times


#: What a match id may be wherever it travels (HTTP, WebSocket paths, the site's revalidation
#: path, logs): letters, digits, "-" and "_", at most 255 characters. `make_match_id` makes only
#: such ids; a caller's own id is refused otherwise (no "../", "?", "/" or line breaks).
MATCH_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"


def is_safe_match_id(match_id: str) -> bool:
    """Whether `match_id` fits `MATCH_ID_PATTERN`.

    >>> is_safe_match_id("e0-20230811-burnley-man-city"), is_safe_match_id("../../api/admin")
    (True, False)
    >>> is_safe_match_id("x forged log line"), is_safe_match_id("x?secret=leak&path=/")
    (False, False)
    """
    return isinstance(match_id, str) and re.fullmatch(MATCH_ID_PATTERN, match_id) is not None


def make_match_id(league: str, date: pd.Timestamp, home_team: str, away_team: str) -> str:
    """Stable, URL-safe id from division, date and teams.

    >>> make_match_id("E0", pd.Timestamp("2023-08-11"), "Burnley", "Man City")
    'e0-20230811-burnley-man-city'
    """
    return _id_text(league, f"{date:%Y%m%d}", home_team, away_team)


def _id_text(league: str, day: str, home_team: str, away_team: str) -> str:
    return f"{_slug(league)}-{day}-{_slug(home_team)}-{_slug(away_team)}"


#: football-data.co.uk writes dates and kick-off times in UK time, so a match's id carries its
#: UK day. Live sources give UTC: `uk_day` turns their kick-off into the day the files will use.
UK_TIME = "Europe/London"


def uk_day(kickoff_utc: pd.Timestamp) -> pd.Timestamp:
    """The UK calendar day (naive midnight) of a naive UTC kick-off.

    >>> uk_day(pd.Timestamp("2024-08-24 23:30")), uk_day(pd.Timestamp("2024-12-07 23:30"))
    (Timestamp('2024-08-25 00:00:00'), Timestamp('2024-12-07 00:00:00'))
    """
    local = kickoff_utc.tz_localize("UTC").tz_convert(UK_TIME)
    return pd.Timestamp(local.date())


def league_code(source: str) -> str:
    """The league code of an extra leagues' file: its name, as football-data.co.uk names them
    (`new/ARG.csv` is Argentina's). Raises `FileFormatError` for a name that is not a code.

    >>> league_code("https://www.football-data.co.uk/new/ARG.csv"), league_code("data/swz.csv")
    ('ARG', 'SWZ')
    """
    name = re.split(r"[\\/]", source.split("?", 1)[0].rstrip("/"))[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    if not re.fullmatch(r"[A-Za-z0-9_]{1,12}", stem):
        raise FileFormatError(
            f"a file of football-data's extra leagues (Country, League and Season columns, no "
            f"Div) is named after its league, as football-data names them (ARG.csv, SWE.csv): "
            f"{name!r} is not such a name"
        )
    return stem.upper()


def season_labels(raw: pd.Series) -> pd.Series:
    """The extra leagues' Season column as this project writes seasons: `2012/2013` becomes
    `2012-2013`; a calendar-year league's `2012` stays `2012`; anything else is None.

    >>> season_labels(pd.Series(["2012/2013", "2023", " 2019/20 ", ""])).tolist()
    ['2012-2013', '2023', None, None]
    """
    text = raw.str.strip()
    split = text.str.fullmatch(r"\d{4}/\d{4}")
    labels = text.where(split | text.str.fullmatch(r"\d{4}"), None)
    return labels.str.replace("/", "-", regex=False).astype(object).where(labels.notna(), None)


def season_of(date: pd.Timestamp, start_month: int = 7) -> str:
    """The European season a date falls in, e.g. 2024-03-02 -> '2023-2024'.

    >>> season_of(pd.Timestamp("2024-03-02"))
    '2023-2024'
    """
    start = date.year if date.month >= start_month else date.year - 1
    return f"{start}-{start + 1}"


def parse_dates(raw: pd.Series) -> pd.Series:
    """Parse `dd/mm/yy` and `dd/mm/yyyy` (both occur, sometimes within one league's history).

    Each distinct text is parsed once (a season file repeats ~100 dates 380 times).

    >>> parse_dates(pd.Series(["11/08/23", " 02/01/2024", "", "31/02/23"])).tolist()
    [Timestamp('2023-08-11 00:00:00'), Timestamp('2024-01-02 00:00:00'), NaT, NaT]
    """
    codes, texts = pd.factorize(raw.str.strip(), use_na_sentinel=True)
    texts = pd.Series(texts, dtype=object)
    long = pd.to_datetime(texts, format="%d/%m/%Y", errors="coerce").astype("datetime64[us]")
    short = pd.to_datetime(texts, format="%d/%m/%y", errors="coerce").astype("datetime64[us]")
    days = long.where(texts.str.len() > 8, short).to_numpy()
    parsed = np.where(codes >= 0, days[np.maximum(codes, 0)], np.datetime64("NaT", "us"))
    return pd.Series(parsed, index=raw.index)


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return np.nan


def _numbers(texts: np.ndarray) -> np.ndarray:
    """`float(text)` of each stripped string in an object array; '' and text become NaN.

    >>> _numbers(np.array(["1.5", "", "x", " 2"], dtype=object))
    array([1.5, nan, nan, 2. ])
    """
    values = texts.copy()
    values[values == ""] = "nan"
    try:
        return values.astype(float)  # float() of each element, in C: one bad cell spoils it
    except ValueError:
        return np.asarray([_float_or_nan(v) for v in values], dtype=float)


def _to_number(raw: pd.Series) -> pd.Series:
    """Numbers from stripped strings; '' and text become NaN (the raw text is kept elsewhere)."""
    return pd.Series(_numbers(raw.to_numpy(dtype=object)), dtype=float)


def _text_stream(data: bytes, encoding: str) -> io.TextIOWrapper:
    """The file's text as a stream, decoded as `decode_bytes` decided (a BOM dropped).

    Read lazily, so a large file is never held as a second, wider copy of itself (a
    `StringIO` of the whole text keeps four bytes a character).
    """
    stream = io.BytesIO(data)
    if data.startswith(b"\xef\xbb\xbf"):
        stream.seek(3)
    return io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")


def _csv_records(data: bytes, encoding: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Header and a lazy stream of (line number, fields) of every row that is not blank or
    made of commas. Raises `FileFormatError` when the text is not CSV (the rows: when read)."""
    reader = csv.reader(_text_stream(data, encoding))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration as error:
        raise FileFormatError("the file is empty (no header, no rows)") from error
    except csv.Error as error:
        raise FileFormatError(f"not a CSV: {error}") from error

    def records() -> Iterator[tuple[int, list[str]]]:
        try:
            for fields in reader:
                if any(f.strip() for f in fields):
                    yield reader.line_num, fields
        except csv.Error as error:
            raise FileFormatError(f"not a CSV (line {reader.line_num}): {error}") from error

    return header, records()


def count_data_lines(data: bytes) -> int:
    """Lines after the header: at least as many as the file's rows (blank lines and line
    breaks inside quotes only add lines), known before a single row is parsed.

    >>> count_data_lines(b"Div\\r\\nE0,1\\r\\nE0,2\\r\\n"), count_data_lines(b"Div\\nE0\\n\\nE0")
    (2, 3)
    """
    breaks = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return max(breaks - data.endswith((b"\n", b"\r")), 0)


def _strings(rows: list[tuple[int, list[str]]], width: int) -> np.ndarray:
    """Rows as a rectangular object array of stripped strings: short rows padded with '',
    long ones cut. One flat list and `str.strip` each: numpy's own strings would drop a NUL
    at the end of a value, and converting to them costs more than the stripping."""
    flat: list[str] = []
    for _, fields in rows:
        flat.extend(fields[:width])
        if len(fields) < width:
            flat.extend([""] * (width - len(fields)))
    table = np.empty(len(flat), dtype=object)
    table[:] = [value.strip() for value in flat]
    return table.reshape(len(rows), width)


def _open(data: bytes) -> tuple[DecodedText, list[str], ColumnMap, Iterator]:
    """Decode and check a file up to its header; its rows still to be read."""
    decoded = decode_bytes(data)
    if _looks_like_html(decoded.text):
        raise FileFormatError("this is an HTML page, not a CSV (an error or login page?)")
    header, records = _csv_records(data, decoded.encoding)
    columns = classify_columns(header)
    missing = columns.missing_required()
    if missing:
        wanted = ", ".join(CORE_ALIASES[m][0] for m in missing)
        raise FileFormatError(
            f"not a football-data.co.uk results file: header lacks {wanted} "
            f"(header starts {','.join(header[:6])!r})"
        )
    return decoded, header, columns, records


def parse_football_data(data: bytes, source: str, season_start_month: int = 7) -> ParsedFile:
    """Parse one football-data.co.uk CSV file (any season's layout) into canonical tables.

    Raises `FileFormatError` when the bytes are not such a file at all.
    """
    decoded, header, columns, records = _open(data)
    rows = list(records)
    if not rows:
        raise FileFormatError("the file has a header but no data rows")
    table = _strings(rows, len(header))
    matches = _match_table(table, rows, header, columns, source, season_start_month)
    odds = _odds_table(table, matches, columns, source)
    ends_with_newline = data.rstrip(b", \t").endswith((b"\n", b"\r"))
    return ParsedFile(matches, odds, columns, decoded.encoding, decoded.warnings, ends_with_newline)


@dataclass(frozen=True)
class MatchChunk:
    """Consecutive rows of a file as a match table (no prices), and whether rows follow."""

    matches: pd.DataFrame
    last: bool


def iter_match_chunks(
    data: bytes, source: str, chunk_rows: int, season_start_month: int = 7
) -> Iterator[MatchChunk]:
    """The file's match table `chunk_rows` rows at a time, without its prices: for judging a
    large file before all of it is read (`sabiscore.quality.screen_file`).

    Each row reads as in `parse_football_data`, except the season of a league, which is the
    most common one of the chunk rather than of the file. Raises `FileFormatError` likewise.
    """
    decoded, header, columns, records = _open(data)
    chunk = list(itertools.islice(records, chunk_rows))
    if not chunk:
        raise FileFormatError("the file has a header but no data rows")
    while chunk:
        following = list(itertools.islice(records, chunk_rows))
        table = _strings(chunk, len(header))
        matches = _match_table(table, chunk, header, columns, source, season_start_month)
        yield MatchChunk(matches, last=not following)
        chunk = following


def _column(table: np.ndarray, i: int | None) -> pd.Series:
    if i is None:
        return pd.Series([""] * len(table), dtype=object)
    return pd.Series(table[:, i], dtype=object)


def _match_table(
    table: np.ndarray,
    rows: list[tuple[int, list[str]]],
    header: list[str],
    columns: ColumnMap,
    source: str,
    season_start_month: int,
) -> pd.DataFrame:
    def core(name: str) -> pd.Series:
        return _column(table, columns.core.get(name))

    date_raw = core("date")
    date = parse_dates(date_raw)
    time_raw = core("time")
    kickoff = date + pd.to_timedelta(
        time_raw.where(time_raw.str.fullmatch(r"\d{1,2}:\d{2}"), "00:00") + ":00",
        errors="coerce",
    ).fillna(pd.Timedelta(0))
    if columns.extra_layout:  # one league per file, named by the file; its Season column
        league = pd.Series(league_code(source), index=date_raw.index, dtype=object)
    else:
        league = core("div").replace("", None)
    home, away = core("home_team"), core("away_team")
    home_goals_raw, away_goals_raw = core("home_goals"), core("away_goals")
    result = core("result").str.upper()

    data = {
        "league": league,
        "date": date,
        "kickoff": kickoff,
        "home_team": home.replace("", None),
        "away_team": away.replace("", None),
        "home_goals": _to_number(home_goals_raw),
        "away_goals": _to_number(away_goals_raw),
        "result": result.replace("", None),
        "ht_home_goals": _to_number(core("ht_home_goals")),
        "ht_away_goals": _to_number(core("ht_away_goals")),
        "ht_result": core("ht_result").str.upper().replace("", None),
        "referee": core("referee").replace("", None),
    }
    for name, i in columns.stats.items():
        data[name] = _to_number(_column(table, i))
    for name in STAT_COLUMNS:
        data.setdefault(name, pd.Series(np.nan, index=league.index))
    no_result = (home_goals_raw == "") & (away_goals_raw == "") & (result == "")
    status = pd.Series(np.where(no_result, "fixture", "played"), index=league.index)
    identified = date.notna() & league.notna() & (home != "") & (away != "")
    data |= {
        "status": status,
        "season": _extra_seasons(core("season_label"), date, season_start_month)
        if columns.extra_layout
        else _file_seasons(date, league, status, season_start_month),
        "match_id": _match_ids(identified, league, date, home, away),
        "source": source,
        "line": [line for line, _ in rows],
        "n_fields": [len(fields) for _, fields in rows],
        "n_header_fields": len(header),
        "date_raw": date_raw,
        "home_goals_raw": home_goals_raw,
        "away_goals_raw": away_goals_raw,
        "raw_row": [",".join(fields) for _, fields in rows],
    }
    return pd.DataFrame({name: data[name] for name in MATCH_COLUMNS}, index=league.index)


def _match_ids(
    identified: pd.Series, league: pd.Series, date: pd.Series, home: pd.Series, away: pd.Series
) -> list[str | None]:
    """`make_match_id` of each identified row (None for the others), each day formatted once.

    >>> days = pd.Series(pd.to_datetime(["2023-08-11", "2023-08-11", None]))
    >>> _match_ids(pd.Series([True, True, False]), pd.Series(["E0"] * 3), days,
    ...     pd.Series(["Burnley", "Arsenal", ""]), pd.Series(["Man City", "Forest", ""]))
    ['e0-20230811-burnley-man-city', 'e0-20230811-arsenal-forest', None]
    """
    day_text = {day: f"{day:%Y%m%d}" for day in date.dropna().unique()}
    return [
        _id_text(lg, day_text[d], h, a) if ok else None
        for ok, lg, d, h, a in zip(identified, league, date, home, away, strict=True)
    ]


def _file_seasons(
    date: pd.Series, league: pd.Series, status: pd.Series, start_month: int
) -> pd.Series:
    """One season per league in a file: the most common nominal season of its played rows
    (on a tie, the one met first).

    A season file can run past its nominal end (2019-20 finished in July 2020), so each row's
    own date would split it; fixture lists spanning two seasons keep per-row seasons.
    """
    codes, days = pd.factorize(date)  # each distinct day once; NaT is -1
    names = np.asarray([season_of(day, start_month) for day in days] + [np.nan], dtype=object)
    nominal = pd.Series(names[codes], index=date.index)  # -1 takes the trailing NaN
    tally: dict[str, dict[str, list[int]]] = {}  # league -> season -> [played rows, first]
    rows = zip(
        league.to_numpy(dtype=object),
        nominal.to_numpy(dtype=object),
        (status == "played").to_numpy(),
        strict=True,
    )
    for at, (code, season, played) in enumerate(rows):
        if played and isinstance(code, str) and isinstance(season, str):
            tally.setdefault(code, {}).setdefault(season, [0, at])[0] += 1
    top = {code: min(by, key=lambda s: (-by[s][0], by[s][1])) for code, by in tally.items()}
    seasons = nominal.copy()
    in_league = league.isin(list(top))
    seasons[in_league] = league[in_league].map(top)
    return seasons


def _extra_seasons(raw: pd.Series, date: pd.Series, start_month: int) -> pd.Series:
    """Each row's own season, from the Season column (the date's season where it is unreadable):
    an extra leagues' file holds every season of its league."""
    labels = season_labels(raw)
    missing = labels.isna() & date.notna()
    if missing.any():
        labels[missing] = [season_of(day, start_month) for day in date[missing]]
    return labels


def _odds_table(
    table: np.ndarray, matches: pd.DataFrame, columns: ColumnMap, source: str
) -> pd.DataFrame:
    """Long form of every quoted price: one row per (match, bookmaker, phase, market, outcome)."""
    if not columns.odds:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in ODDS_COLUMNS})
    meta = [c for _, c in columns.odds]
    block = table[:, [i for i, _ in columns.odds]]
    quoted = block != ""
    row, col = np.nonzero(quoted)  # row by row, as the file reads
    raws = block[quoted]

    def attr(name: str) -> pd.Categorical:
        values = [getattr(c, name) for c in meta]
        categories = sorted(set(values))
        codes = np.asarray([categories.index(v) for v in values], dtype=np.int16)[col]
        return pd.Categorical.from_codes(codes, categories=categories, validate=False)

    def per_match(name: str) -> pd.api.extensions.ExtensionArray:
        """A match column repeated for each of its prices (as text, taken in Arrow)."""
        return pd.array(matches[name].to_numpy(dtype=object), dtype="str").take(row)

    aggregate = np.asarray([c.bookmaker in AGGREGATES for c in meta])[col]
    return pd.DataFrame(
        {
            "match_id": per_match("match_id"),
            "league": per_match("league"),
            "season": per_match("season"),
            "bookmaker": attr("bookmaker"),
            "code": attr("code"),
            "phase": attr("phase"),
            "market": attr("market"),
            "outcome": attr("outcome"),
            "price": _numbers(raws),
            "price_raw": pd.array(raws, dtype="str"),
            "is_aggregate": aggregate,
            "source": pd.array([source], dtype="str").take(np.zeros(len(row), dtype=np.intp)),
            "line": matches["line"].to_numpy()[row],
        }
    )


# --- convenient views -----------------------------------------------------------------------


def one_x_two(
    odds: pd.DataFrame,
    bookmakers: Iterable[str] = ("pinnacle", "bet365", "market_avg", "market_max"),
    phases: Iterable[str] = ("open", "close"),
) -> pd.DataFrame:
    """Wide 1X2 prices, one row per match: columns like `pinnacle_close_H`.

    The same bookmaker may appear under two codes in one file (`BbAv` and `Avg` never do,
    but `P` and `PS` name Pinnacle in different markets); the first quoted price wins.
    """
    wanted = odds[
        (odds["market"] == "1x2")
        & odds["bookmaker"].isin(list(bookmakers))
        & odds["phase"].isin(list(phases))
    ]
    wide = wanted.pivot_table(
        index="match_id",
        columns=["bookmaker", "phase", "outcome"],
        values="price",
        aggfunc="first",
    )
    wide.columns = [f"{b}_{p}_{o}" for b, p, o in wide.columns]
    return wide


#: A price at or below this is not a price: the validation suite drops such books
#: (configs/validation.yaml); the raw files hold a few 0.00 quotes, e.g. Bet365 in E1.
MIN_PRICE = 1.01


def book_prices(wide: pd.DataFrame, bookmaker: str, phase: str) -> np.ndarray:
    """One book's (n, 3) H, D, A prices at `phase` from `one_x_two`'s wide frame; a row of NaN
    where it has no full quote above `MIN_PRICE` (a book absent from `wide` quoted nothing).

    >>> wide = pd.DataFrame({"bet365_open_H": [2.0, 2.5], "bet365_open_D": [3.4, 1.0],
    ...     "bet365_open_A": [4.0, 3.0]}, index=["m1", "m2"])
    >>> book_prices(wide, "bet365", "open").tolist()
    [[2.0, 3.4, 4.0], [nan, nan, nan]]
    >>> bool(np.isnan(book_prices(wide, "pinnacle", "open")).all())
    True
    """
    columns = [f"{bookmaker}_{phase}_{outcome}" for outcome in RESULT_CODES]
    prices = wide.reindex(columns=columns).to_numpy(dtype=float)
    valid = (prices > MIN_PRICE).all(axis=1, keepdims=True)
    return np.where(valid, prices, np.nan)
