"""Render a budget *text* (the format of tests/fixtures/*-budget.txt) into a 部门预算-like PDF.

The text is what a careful extraction of a published 部门预算 looks like: prose paragraphs, ``- ``
list items, ``**bold**`` terms, and tables as TAB-separated lines whose pages repeat the title,
``单位名称：…``, ``单位：万元`` and the header rows. Rendering it back gives PDFs whose content is
known exactly, in several visual styles (ruling, orientation, font), so the parser can be tested
on layouts it has never seen without hand-collecting real documents.

Usable as a module (``render``/``render_file``) and as a CLI::

    python scripts/render_budget_pdf.py INPUT.txt OUTPUT.pdf [--rules grid|hrules|booktabs|none]
        [--orientation auto|portrait|landscape] [--font PATH] [--paginate source|reflow]
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

Rules = Literal["grid", "hrules", "booktabs", "none"]
Orientation = Literal["auto", "portrait", "landscape"]
Paginate = Literal["source", "reflow"]

RULES: tuple[str, ...] = ("grid", "hrules", "booktabs", "none")
ORIENTATIONS: tuple[str, ...] = ("auto", "portrait", "landscape")
PAGINATIONS: tuple[str, ...] = ("source", "reflow")

WQY_ZENHEI = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"  # fonts-wqy-zenhei
NOTO_SANS_CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"  # fonts-noto-cjk (CFF)
AR_PL_UMING = "/usr/share/fonts/truetype/arphic/uming.ttc"  # fonts-arphic-uming
DEFAULT_FONT = WQY_ZENHEI
#: Tried in order when the requested font cannot be used (reportlab reads only TrueType outlines).
FALLBACK_FONTS: tuple[str, ...] = (AR_PL_UMING, WQY_ZENHEI)

#: A printed amount: digits with optional thousands separators and decimals.
AMOUNT_RE = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
DECIMAL_AMOUNT_RE = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)\.\d+$")
CODE_RE = re.compile(r"^\d{3,9}$")
PART_RE = re.compile(r"^第[一二三四五六七八九十]+部分")
SECTION_RE = re.compile(r"^[一二三四五六七八九十]+、")
LABEL_RE = re.compile(r"^(?:部门公开)?表\s*\d+$")
UNIT_NAME_RE = re.compile(r"^单位名称\s*[：:]")
UNIT_RE = re.compile(r"^单位\s*[：:]")
NOTE_RE = re.compile(r"^注\s*[：:]")
BOLD_RE = re.compile(r"\*\*(.+?)\*\*")

# Characters that must not start a line (Chinese line-breaking rule); they hang instead.
NO_LINE_START = set("，。、；：？！）》」』”’,.;:!?)%】〕")
TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.,%\-/:·+_]*|\s+|.", re.S)

MIN_PORTRAIT_FS = 8.0  # below this a table is laid out landscape in ``auto`` mode
LANDSCAPE_COLUMNS = 9  # the seed document turns tables of this many columns landscape


# --- parsed text ---------------------------------------------------------------------------


@dataclass
class Block:
    """A prose element: kind is cover|toc-title|toc-part|toc-item|part|section|para|item|note."""

    kind: str
    text: str


@dataclass
class Table:
    """A titled table; each chunk is one source page (header rows repeated) of TAB rows."""

    title: str
    unit_name: str
    unit: str
    chunks: list[list[list[str]]]
    header_n: int = 0
    label: str | None = None


@dataclass
class InlineTable:
    """An untitled TAB table inside prose (e.g. 重点项目绩效目标); continuation rows merged."""

    rows: list[list[str]]
    header_n: int = 1


@dataclass
class PageBreak:
    """A form feed in the text: start a new page."""


Element = Block | Table | InlineTable | PageBreak


def squash(text: str) -> str:
    """Remove all whitespace, the way labels are compared (``合 计`` == ``合计``)."""
    return re.sub(r"\s+", "", text)


def is_amount(cell: str) -> bool:
    return bool(AMOUNT_RE.match(cell.strip()))


def _split_row(line: str) -> list[str]:
    return [c.strip() for c in line.split("\t")]


def _pad(rows: list[list[str]], n: int) -> list[list[str]]:
    return [r + [""] * (n - len(r)) for r in rows]


def _leading_header_rows(rows: list[list[str]]) -> int:
    """Rows before the first one holding an amount are header rows."""
    for i, row in enumerate(rows):
        if any(is_amount(c) for c in row if c):
            return i
    return min(1, len(rows))


def parse(text: str) -> list[Element]:
    """Split a budget text into prose blocks and tables (chunks kept as the source paged them)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[Element] = []
    i, n = 0, len(lines)
    # a cover is the few lines before 目录; without a contents page there is no cover
    head = [ln.strip() for ln in lines if ln.strip()][:6]
    mode = "start" if "目录" in [squash(x) for x in head] else "body"
    toc_parts: set[str] = set()
    pending_label: str | None = None

    def next_nonblank(j: int) -> int:
        while j < n and not lines[j].strip() and "\f" not in lines[j]:
            j += 1
        return j

    while i < n:
        raw = lines[i]
        if "\f" in raw:
            out.append(PageBreak())
            raw = raw.replace("\f", "")
            if not raw.strip():
                i += 1
                continue
        line = raw.strip()
        if not line:
            i += 1
            continue
        if "\t" in raw:
            rows: list[list[str]] = []
            while i < n and "\t" in lines[i]:
                rows.append(_split_row(lines[i]))
                i += 1
            last = out[-1] if out else None
            if isinstance(last, InlineTable):
                width = max(len(last.rows[0]), *(len(r) for r in rows))
                old = _pad(last.rows, width)
                rows = _pad(rows, width)
                body = old[last.header_n :]
                if body and _is_continuation(rows[0], numeric_columns(body + rows)):
                    old[-1] = _join_rows(old[-1], rows[0])
                    rows = rows[1:]
                last.rows = old + rows
            else:
                width = max(len(r) for r in rows)
                rows = _pad(rows, width)
                out.append(InlineTable(rows, header_n=_leading_header_rows(rows)))
            continue
        # A table title is the line right before 单位名称.
        j = next_nonblank(i + 1)
        if j < n and UNIT_NAME_RE.match(lines[j].strip()) and "\t" not in lines[j]:
            title, unit_name = line, lines[j].strip()
            k = next_nonblank(j + 1)
            unit = ""
            if k < n and UNIT_RE.match(lines[k].strip()) and "\t" not in lines[k]:
                unit = lines[k].strip()
                k = next_nonblank(k + 1)
            rows = []
            while k < n and "\t" in lines[k]:
                rows.append(_split_row(lines[k]))
                k += 1
            last = out[-1] if out else None
            if isinstance(last, Table) and squash(last.title) == squash(title):
                last.chunks.append(rows)
            else:
                out.append(Table(title, unit_name, unit, [rows], label=pending_label))
            pending_label = None
            mode = "body"
            i = k
            continue
        if LABEL_RE.match(line):
            pending_label = line
            i += 1
            continue
        if squash(line) == "目录":
            mode = "toc"
            out.append(Block("toc-title", line))
        elif mode == "start" and not PART_RE.match(line):
            out.append(Block("cover", line))
        elif mode == "toc":
            part = PART_RE.match(line)
            if part and part.group(0) in toc_parts:
                mode = "body"
                out.append(Block("part", line))
            elif part:
                toc_parts.add(part.group(0))
                out.append(Block("toc-part", line))
            else:
                out.append(Block("toc-item", line.removeprefix("- ").strip()))
        elif PART_RE.match(line):
            mode = "body"
            out.append(Block("part", line))
        elif line.startswith("- "):
            out.append(Block("item", line[2:].strip()))
        elif NOTE_RE.match(line) or (_after_table(out) and not SECTION_RE.match(line)):
            out.append(Block("note", line))
        elif SECTION_RE.match(line) and len(line) <= 30 and "：" not in line and "**" not in line:
            out.append(Block("section", line))
        else:
            out.append(Block("para", line))
        i += 1

    for el in out:
        if isinstance(el, Table):
            width = max((len(r) for ch in el.chunks for r in ch), default=1)
            el.chunks = [_pad(ch, width) for ch in el.chunks]
            el.header_n = _leading_header_rows(el.chunks[0]) if el.chunks[0] else 0
    return out


def _after_table(out: list[Element]) -> bool:
    """Text right after a table (or its note) is a further note printed under the table."""
    last = out[-1] if out else None
    return isinstance(last, Table | InlineTable) or (
        isinstance(last, Block) and last.kind == "note"
    )


def numeric_columns(rows: Sequence[Sequence[str]]) -> list[bool]:
    """Columns whose filled cells are mostly decimal amounts (right-aligned, never wrapped)."""
    if not rows:
        return []
    out = []
    for c in range(len(rows[0])):
        cells = [r[c] for r in rows if c < len(r) and r[c]]
        dec = sum(1 for x in cells if DECIMAL_AMOUNT_RE.match(x))
        amt = sum(1 for x in cells if is_amount(x))
        out.append(bool(cells) and amt == len(cells) and dec * 2 >= len(cells))
    return out


def _is_continuation(row: Sequence[str], numeric: Sequence[bool]) -> bool:
    """A row with every amount column empty continues the row above (split by a page end)."""
    return any(numeric) and not any(row[c] for c in range(len(row)) if numeric[c])


def _join_rows(above: list[str], below: Sequence[str]) -> list[str]:
    return [a + b if b else a for a, b in zip(above, below, strict=True)]


def merge_table_chunks(table: Table) -> list[list[str]]:
    """Body rows of all chunks with the repeated headers dropped and split rows re-joined."""
    body: list[list[str]] = []
    for ci, chunk in enumerate(table.chunks):
        rows = chunk[table.header_n :]
        if ci and rows and body and _is_continuation(rows[0], numeric_columns(body)):
            body[-1] = _join_rows(body[-1], rows[0])
            rows = rows[1:]
        body.extend(rows)
    return body


# --- fonts and text measuring ---------------------------------------------------------------

_FONTS: dict[str, str] = {}


def register_font(path: str | Path | None = None) -> tuple[str, str]:
    """Register a TTF/TTC font with reportlab; return (font name, path actually used).

    reportlab embeds TrueType outlines only, so a CFF-based collection such as Noto Sans CJK
    (``NotoSansCJK-Regular.ttc``) is refused; we then warn and fall back to WenQuanYi Zen Hei
    or AR PL UMing so a run never fails just because of the font choice.
    """
    wanted = str(path or DEFAULT_FONT)
    tried: list[str] = []
    for candidate in (wanted, *[f for f in FALLBACK_FONTS if f != wanted]):
        if candidate not in _FONTS:
            if not Path(candidate).exists():
                tried.append(f"{candidate}: missing")
                continue
            name = "BK-" + re.sub(r"[^A-Za-z0-9]+", "-", Path(candidate).stem)
            try:
                font = TTFont(name, candidate, subfontIndex=0)
            except TTFError as exc:
                tried.append(f"{candidate}: {exc}")
                continue
            pdfmetrics.registerFont(font)
            _FONTS[candidate] = name
        if candidate != wanted:
            warnings.warn(
                f"font {wanted} unusable ({'; '.join(tried)}); using {candidate}", stacklevel=3
            )
        return _FONTS[candidate], candidate
    raise RuntimeError(
        "no usable CJK font (apt-get install fonts-wqy-zenhei fonts-arphic-uming): "
        + "; ".join(tried)
    )


class Metrics:
    """String widths with a per-character cache (wrapping long CJK cells measures a lot)."""

    def __init__(self, font: str) -> None:
        self.font = font
        self._cache: dict[str, float] = {}

    def char(self, ch: str) -> float:
        w = self._cache.get(ch)
        if w is None:
            w = pdfmetrics.stringWidth(ch, self.font, 1000) / 1000
            self._cache[ch] = w
        return w

    def width(self, text: str, fs: float) -> float:
        return sum(self.char(ch) for ch in text) * fs


Run = tuple[str, bool]  # text, bold


def rich(text: str) -> list[Run]:
    """``**bold**`` spans of a line as runs."""
    runs: list[Run] = []
    pos = 0
    for m in BOLD_RE.finditer(text):
        if m.start() > pos:
            runs.append((text[pos : m.start()], False))
        runs.append((m.group(1), True))
        pos = m.end()
    if pos < len(text):
        runs.append((text[pos:], False))
    return runs or [("", False)]


def wrap_runs(
    runs: Sequence[Run],
    width: float,
    fs: float,
    m: Metrics,
    indent: float = 0.0,
    hang: bool = True,
) -> list[list[Run]]:
    """Greedy line breaking: CJK anywhere, Latin/digit runs kept whole, closing marks hang."""
    tokens: list[Run] = []
    for text, bold in runs:
        tokens.extend((t, bold) for t in TOKEN_RE.findall(text))
    lines: list[list[Run]] = [[]]
    used = indent
    avail = max(width, fs)
    for tok, bold in tokens:
        tw = m.width(tok, fs)
        line = lines[-1]
        if tok.isspace() and not line:
            continue
        if used + tw <= avail + 0.01 or (hang and tok in NO_LINE_START and line):
            line.append((tok, bold))
            used += tw
            continue
        if tw > avail - (indent if len(lines) == 1 else 0) or tw > avail * 0.6:
            for ch in tok:  # too long to move as a whole: break inside
                cw = m.width(ch, fs)
                if used + cw > avail + 0.01 and lines[-1]:
                    lines.append([])
                    used = 0.0
                lines[-1].append((ch, bold))
                used += cw
            continue
        if tok.isspace():
            lines.append([])
            used = 0.0
            continue
        lines.append([(tok, bold)])
        used = tw
    out: list[list[Run]] = []
    for line in lines:
        merged: list[Run] = []
        for t, b in line:
            if merged and merged[-1][1] == b:
                merged[-1] = (merged[-1][0] + t, b)
            else:
                merged.append((t, b))
        if merged:
            merged[-1] = (merged[-1][0].rstrip(), merged[-1][1])
        out.append(merged)
    return out if any(out) else [[]]


def wrap_text(text: str, width: float, fs: float, m: Metrics) -> list[str]:
    """Plain-text wrapping for table cells."""
    if not text:
        return []
    lines = wrap_runs([(text, False)], width, fs, m, hang=False)  # never hang over a rule
    return ["".join(t for t, _ in line) for line in lines]


# --- table geometry -------------------------------------------------------------------------


@dataclass
class Span:
    """A header cell: rows r0..r1 and columns c0..c1 inclusive."""

    r0: int
    r1: int
    c0: int
    c1: int
    text: str


def header_spans(rows: Sequence[Sequence[str]]) -> tuple[list[Span], list[list[int | None]]]:
    """Merged header cells from TAB rows: empty fields right of a cell widen it when a lower
    header row has labels there (a parent over its children); empty fields below a cell make it
    taller. Returns the spans and, per grid position, the index of the span covering it."""
    nr = len(rows)
    nc = max((len(r) for r in rows), default=0)
    grid = [list(r) + [""] * (nc - len(r)) for r in rows]
    owner: list[list[int | None]] = [[None] * nc for _ in range(nr)]
    spans: list[Span] = []
    for r in range(nr):
        for c in range(nc):
            if not grid[r][c] or owner[r][c] is not None:
                continue
            c1 = c
            while (
                c1 + 1 < nc
                and not grid[r][c1 + 1]
                and owner[r][c1 + 1] is None
                and any(grid[rr][c1 + 1] for rr in range(r + 1, nr))
            ):
                c1 += 1
            r1 = r
            while r1 + 1 < nr and all(
                not grid[r1 + 1][cc] and owner[r1 + 1][cc] is None for cc in range(c, c1 + 1)
            ):
                r1 += 1
            idx = len(spans)
            spans.append(Span(r, r1, c, c1, grid[r][c]))
            for rr in range(r, r1 + 1):
                for cc in range(c, c1 + 1):
                    owner[rr][cc] = idx
    return spans, owner


@dataclass
class TableStyle:
    """Font size and paddings of one table, scaled together."""

    fs: float
    pad: float = 3.0

    @property
    def lead(self) -> float:
        return self.fs * 1.3

    @property
    def vpad(self) -> float:
        return self.fs * 0.45

    @property
    def min_row(self) -> float:
        return self.fs * 2.2


@dataclass
class ColumnPlan:
    style: TableStyle
    widths: list[float]
    numeric: list[bool]
    code: list[bool]


def plan_columns(
    header: Sequence[Sequence[str]],
    body: Sequence[Sequence[str]],
    avail: float,
    m: Metrics,
    sizes: Iterable[float],
) -> ColumnPlan | None:
    """Column widths filling ``avail``: amounts and codes get their natural width, text columns
    share the rest fairly (max-min); the first font size that fits wins."""
    nc = max([len(r) for r in (*header, *body)] or [1])
    body = [list(r) + [""] * (nc - len(r)) for r in body]
    numeric = numeric_columns(body) if body else [False] * nc
    code = [
        not numeric[c]
        and bool([r[c] for r in body if r[c]])
        and all(CODE_RE.match(r[c]) for r in body if r[c])
        for c in range(nc)
    ]
    spans, _ = header_spans(header)
    # single-column header labels preferably keep ~4 characters a line (dropped if too wide)
    label_of = {sp.c0: sp.text for sp in spans if sp.c0 == sp.c1}
    attempts = [(fs, roomy) for fs in sizes for roomy in (True, False)]
    for fs, roomy in attempts:
        st = TableStyle(fs)
        fixed: dict[int, float] = {}
        natural: dict[int, float] = {}
        min_w: dict[int, float] = {}
        for c in range(nc):
            cells = [r[c] for r in body if r[c]]
            widest = max((m.width(x, fs) for x in cells), default=0.0)
            head = 2 * fs  # a header label may wrap down to two characters a line
            if roomy and c in label_of:
                head = max(head, min(m.width(label_of[c], fs), 4 * fs))
            head += 2 * st.pad
            if numeric[c] or code[c]:
                fixed[c] = max(widest + 2 * st.pad, 3.5 * fs + 2 * st.pad, head)
            else:
                natural[c] = max(widest + 2 * st.pad, head)
                min_w[c] = max(4 * fs + 2 * st.pad, head)
        rest = avail - sum(fixed.values())
        if rest < sum(min_w.values()) - 0.01:
            continue
        comfortable = sum(max(min_w[c], min(natural[c], 8 * fs + 2 * st.pad)) for c in natural)
        if roomy and rest < comfortable:
            continue  # wide headers would squeeze the text columns: wrap the headers instead
        widths = [0.0] * nc
        for c, w in fixed.items():
            widths[c] = w
        # weighted max-min share of the rest among text columns: a column that needs less than
        # its share keeps its natural width, long-text columns (sqrt weight) get the most
        todo = sorted(natural, key=lambda c: natural[c])
        left = rest
        while todo:
            wsum = sum(math.sqrt(natural[c]) for c in todo)
            c = todo[0]
            if natural[c] <= left * math.sqrt(natural[c]) / wsum:
                widths[c] = natural[c]
                left -= natural[c]
                todo.pop(0)
                continue
            for c in todo:
                widths[c] = max(left * math.sqrt(natural[c]) / wsum, min_w[c])
            todo = []
        total = sum(widths)
        if total < avail:  # fill the line like the published tables do
            grow = avail - total
            text_cols = [c for c in natural]
            weights = [widths[c] for c in text_cols] or [1.0]
            if text_cols and all(widths[c] >= natural[c] - 0.01 for c in text_cols):
                text_cols = list(range(nc))
                weights = widths
            tw = sum(weights)
            for c, wt in zip(text_cols, weights, strict=True):
                widths[c] += grow * wt / tw
        return ColumnPlan(st, widths, numeric, code)
    return None


# --- the renderer ---------------------------------------------------------------------------


@dataclass
class RenderInfo:
    """What a render produced: page count, the font really used, table pages per title."""

    pages: int
    font: str
    table_pages: dict[str, int] = field(default_factory=dict)


class _Doc:
    """Page bookkeeping and drawing primitives on top of a reportlab canvas."""

    def __init__(self, out: Path, font: str, rules: str, title: str) -> None:
        self.c = Canvas(str(out), pagesize=A4, invariant=1, pageCompression=1)
        self.c.setTitle(title)
        self.c.setAuthor("")
        self.c.setSubject("部门预算")
        self.c.setCreator("render_budget_pdf.py (synthetic layout of a budget text)")
        self.c.setKeywords("")
        self.font = font
        self.m = Metrics(font)
        self.rules = rules
        self.page = 0
        self.open = False
        self.footer = True
        self.w, self.h = A4
        self.top = 0.0

    # pages
    def new_page(self, landscape: bool = False, footer: bool = True) -> None:
        self.end_page()
        self.w, self.h = (A4[1], A4[0]) if landscape else A4
        self.c.setPageSize((self.w, self.h))
        self.page += 1
        self.open = True
        self.footer = footer
        self.top = 50.0

    def end_page(self) -> None:
        if not self.open:
            return
        if self.footer:
            self.text_center(self.w / 2, self.h - 19.0, f"- {self.page} -", 9)
        self.c.showPage()
        self.open = False

    @property
    def margin(self) -> float:
        return 42.52 if self.w > self.h else 48.9

    @property
    def bottom(self) -> float:
        return self.h - 48.0

    # text
    def _draw(self, x: float, top: float, text: str, fs: float, bold: bool = False) -> None:
        """Draw ``text`` with its em box starting at ``top`` (top-down coordinates)."""
        if not text:
            return
        y = self.h - top - fs * 0.86
        c = self.c
        if bold:  # CJK fonts ship no bold face: fill + stroke thickens the glyphs
            c.saveState()
            c.setLineWidth(fs * 0.035)
            t = c.beginText(x, y)
            t.setFont(self.font, fs)
            t.setTextRenderMode(2)
            t.textOut(text)
            c.drawText(t)
            c.restoreState()
        else:
            c.setFont(self.font, fs)
            c.drawString(x, y, text)

    def text(self, x: float, top: float, text: str, fs: float, bold: bool = False) -> None:
        self._draw(x, top, text, fs, bold)

    def text_center(self, xc: float, top: float, text: str, fs: float, bold: bool = False) -> None:
        self._draw(xc - self.m.width(text, fs) / 2, top, text, fs, bold)

    def text_right(self, xr: float, top: float, text: str, fs: float, bold: bool = False) -> None:
        self._draw(xr - self.m.width(text, fs), top, text, fs, bold)

    def runs(self, x: float, top: float, runs: Sequence[Run], fs: float) -> None:
        for t, b in runs:
            self._draw(x, top, t, fs, b)
            x += self.m.width(t, fs)

    # rules
    def hline(self, x0: float, x1: float, top: float, lw: float = 0.5) -> None:
        self.c.setLineWidth(lw)
        self.c.line(x0, self.h - top, x1, self.h - top)

    def vline(self, x: float, t0: float, t1: float, lw: float = 0.5) -> None:
        self.c.setLineWidth(lw)
        self.c.line(x, self.h - t0, x, self.h - t1)


def _merge_intervals(iv: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(iv):
        if out and a <= out[-1][1] + 0.01:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


@dataclass
class _HeaderGeom:
    spans: list[Span]
    owner: list[list[int | None]]
    row_tops: list[float]  # relative, len = rows + 1
    lines: list[list[str]]  # wrapped text per span


class _TableWriter:
    """Draws one table (titled or inline) over as many pages as it needs."""

    def __init__(
        self,
        doc: _Doc,
        plan: ColumnPlan,
        header: list[list[str]],
        landscape: bool,
        page_head: Table | None,
    ) -> None:
        self.doc = doc
        self.plan = plan
        self.st = plan.style
        self.header = header
        self.landscape = landscape
        self.page_head = page_head
        self.x0 = 0.0
        self.xs: list[float] = []
        self.geom = self._header_geom(header)
        self.table_top = 0.0
        self.body: list[tuple[float, float]] = []
        self.pages = 0

    def _header_geom(self, header: list[list[str]]) -> _HeaderGeom:
        st, m, w = self.st, self.doc.m, self.plan.widths
        spans, owner = header_spans(header)
        nr = len(header)
        heights = [st.min_row] * nr
        lines: list[list[str]] = []
        for sp in spans:
            width = sum(w[sp.c0 : sp.c1 + 1]) - 2 * st.pad
            ls = wrap_text(sp.text, width, st.fs, m)
            lines.append(ls)
        for sp, ls in zip(spans, lines, strict=True):
            need = len(ls) * st.lead + 2 * st.vpad
            if sp.r0 == sp.r1:
                heights[sp.r0] = max(heights[sp.r0], need)
        for sp, ls in zip(spans, lines, strict=True):
            need = len(ls) * st.lead + 2 * st.vpad
            have = sum(heights[sp.r0 : sp.r1 + 1])
            if need > have:
                heights[sp.r1] += need - have
        tops = [0.0]
        for h in heights:
            tops.append(tops[-1] + h)
        return _HeaderGeom(spans, owner, tops, lines)

    @property
    def header_h(self) -> float:
        return self.geom.row_tops[-1]

    def _place(self) -> None:
        d = self.doc
        total = sum(self.plan.widths)
        self.x0 = d.margin + max(0.0, (d.w - 2 * d.margin - total) / 2)
        self.xs = [self.x0]
        for wd in self.plan.widths:
            self.xs.append(self.xs[-1] + wd)

    def start_page(self, first: bool, header: list[list[str]] | None = None) -> None:
        """Open a page: repeated title block (titled tables), then the header rows."""
        d = self.doc
        if self.page_head is not None:
            t = self.page_head
            d.new_page(self.landscape)
            if first and t.label:
                d.text(d.margin, d.top, t.label, 10.5)
                d.top += 17.0
            d.text_center(d.w / 2, d.top, t.title, 16, bold=True)
            d.top += 30.0
            if t.unit_name:
                d.text(d.margin, d.top, t.unit_name, 10)
            if t.unit:
                d.text_right(d.w - d.margin, d.top, t.unit, 10)
            d.top += 15.0
        elif not first:
            d.new_page(False)
        self._place()
        self.pages += 1
        if header is not None and [squash(x) for r in header for x in r] != [
            squash(x) for r in self.header for x in r
        ]:
            self.geom = self._header_geom(header)
        self.table_top = d.top
        self._draw_header()
        d.top += self.header_h
        self.body = []

    def _draw_header(self) -> None:
        d, st, g = self.doc, self.st, self.geom
        for sp, ls in zip(g.spans, g.lines, strict=True):
            top = self.table_top + g.row_tops[sp.r0]
            h = g.row_tops[sp.r1 + 1] - g.row_tops[sp.r0]
            xc = (self.xs[sp.c0] + self.xs[sp.c1 + 1]) / 2
            t0 = top + (h - len(ls) * st.lead) / 2 + (st.lead - st.fs) / 2
            for k, line in enumerate(ls):
                d.text_center(xc, t0 + k * st.lead, line, st.fs)

    def row_lines(self, row: Sequence[str]) -> list[list[str]]:
        st, m = self.st, self.doc.m
        out: list[list[str]] = []
        for c, cell in enumerate(row):
            if not cell:
                out.append([])
            elif self.plan.numeric[c] or self.plan.code[c]:
                out.append([cell])
            else:
                out.append(wrap_text(cell, self.plan.widths[c] - 2 * st.pad, st.fs, m))
        return out

    def row_height(self, cells: list[list[str]]) -> float:
        n = max((len(x) for x in cells), default=1)
        return max(self.st.min_row, n * self.st.lead + 2 * self.st.vpad)

    def draw_row(self, cells: list[list[str]]) -> None:
        d, st = self.doc, self.st
        h = self.row_height(cells)
        top = d.top
        for c, ls in enumerate(cells):
            t0 = top + (h - len(ls) * st.lead) / 2 + (st.lead - st.fs) / 2
            for k, line in enumerate(ls):
                tt = t0 + k * st.lead
                if self.plan.numeric[c]:
                    d.text_right(self.xs[c + 1] - st.pad, tt, line, st.fs)
                else:
                    d.text(self.xs[c] + st.pad, tt, line, st.fs)
        self.body.append((top, top + h))
        d.top = top + h

    def add_row(self, row: Sequence[str], continue_page: Callable[[], None]) -> None:
        """Place a row, splitting it over pages when it is too tall for what is left."""
        d, st = self.doc, self.st
        cells = self.row_lines(row)
        while True:
            h = self.row_height(cells)
            room = d.bottom - d.top
            if h <= room:
                self.draw_row(cells)
                return
            fit = int((room - 2 * st.vpad) // st.lead)
            tallest = max((len(x) for x in cells), default=1)
            page_empty = not self.body
            # split a tall row (or one taller than a whole page) rather than waste the page
            if tallest > fit and fit >= (1 if page_empty else 2) and (tallest > 3 or page_empty):
                self.draw_row([x[:fit] for x in cells])
                cells = [x[fit:] for x in cells]
            elif page_empty:  # not even one line fits under the header: overflow, never loop
                self.draw_row(cells)
                return
            self.finish_page()
            continue_page()

    def finish_page(self) -> None:
        """Draw this page's rules for the header and the body rows placed on it."""
        d = self.doc
        style = d.rules
        if style == "none":
            return
        g, xs = self.geom, self.xs
        top = self.table_top
        bottom = self.body[-1][1] if self.body else top + self.header_h
        hdr_bottom = top + self.header_h
        x0, x1 = xs[0], xs[-1]
        nr = len(g.row_tops) - 1
        nc = len(xs) - 1
        heavy = 1.0 if style == "booktabs" else 0.5
        d.hline(x0, x1, top, heavy)
        d.hline(x0, x1, bottom, heavy)
        if style in ("grid", "hrules"):
            d.hline(x0, x1, hdr_bottom, 0.5)
        else:
            d.hline(x0, x1, hdr_bottom, 0.6)
        # inner header boundaries
        for r in range(1, nr):
            iv: list[tuple[float, float]] = []
            for c in range(nc):
                above, below = g.owner[r - 1][c], g.owner[r][c]
                if style == "grid":
                    if above is None or above != below:
                        iv.append((xs[c], xs[c + 1]))
                elif above is not None and above != below and g.spans[above].c1 > g.spans[above].c0:
                    iv.append((xs[c], xs[c + 1]))  # rule under a parent cell only
            y = top + g.row_tops[r]
            for a0, b0 in _merge_intervals(iv):
                if style == "grid":
                    d.hline(a0, b0, y)
                else:
                    d.hline(a0 + 2, b0 - 2, y, 0.4)
        if style == "hrules":
            for _, b in self.body[:-1]:
                d.hline(x0, x1, b, 0.5)
        elif style == "grid":
            for _, b in self.body[:-1]:
                d.hline(x0, x1, b, 0.5)
            for k in range(nc + 1):
                iv = []
                for r in range(nr):
                    if 0 < k < nc:
                        left, right = g.owner[r][k - 1], g.owner[r][k]
                        if left is not None and left == right:
                            continue
                    iv.append((top + g.row_tops[r], top + g.row_tops[r + 1]))
                if self.body:
                    iv.append((hdr_bottom, bottom))
                for a0, b0 in _merge_intervals(iv):
                    d.vline(xs[k], a0, b0)


class Renderer:
    """Lays out parsed elements: prose pages portrait, tables per orientation/paginate mode."""

    def __init__(
        self,
        doc: _Doc,
        orientation: str,
        paginate: str,
    ) -> None:
        self.d = doc
        self.orientation = orientation
        self.paginate = paginate
        self.table_pages: dict[str, int] = {}
        self.in_flow = False  # a portrait prose page is open and can take more text

    # prose
    def ensure_flow(self) -> None:
        if not self.in_flow or not self.d.open:
            self.d.new_page(False)
            self.in_flow = True

    def need(self, h: float) -> None:
        self.ensure_flow()
        if self.d.top + h > self.d.bottom:
            self.d.new_page(False)

    def paragraph(
        self, text: str, fs: float, indent: float, lead: float, gap: float, bold: bool = False
    ) -> None:
        d = self.d
        width = d.w - 2 * d.margin
        runs = [(text, True)] if bold else rich(text)
        lines = wrap_runs(runs, width, fs, d.m, indent=indent)
        for k, line in enumerate(lines):
            self.need(lead)
            d.runs(d.margin + (indent if k == 0 else 0.0), d.top + (lead - fs) / 2, line, fs)
            d.top += lead
        d.top += gap

    def render(self, elements: list[Element]) -> None:
        d = self.d
        i = 0
        while i < len(elements):
            el = elements[i]
            nxt = elements[i + 1] if i + 1 < len(elements) else None
            if isinstance(el, PageBreak):
                self.in_flow = False
            elif isinstance(el, Table):
                self.table(el)  # leaves its last page open for the notes under it
            elif isinstance(el, InlineTable):
                self.inline_table(el)
            elif isinstance(el, Block):
                k = el.kind
                if k == "cover":
                    covers = [el.text]
                    while i + 1 < len(elements) and isinstance(elements[i + 1], Block):
                        b = elements[i + 1]
                        assert isinstance(b, Block)
                        if b.kind != "cover":
                            break
                        covers.append(b.text)
                        i += 1
                    self.cover(covers)
                elif k == "toc-title":
                    d.new_page(False)
                    self.in_flow = True
                    d.text_center(d.w / 2, d.top, el.text, 20, bold=True)
                    d.top += 50
                elif k == "toc-part":
                    self.need(30)
                    d.top += 4
                    d.text(d.margin, d.top, el.text, 14, bold=True)
                    d.top += 25.7
                elif k in ("toc-item", "item"):
                    self.paragraph(el.text, 12, 24, 20.4, 0)
                elif k == "part":
                    if isinstance(nxt, Table):
                        d.new_page(False)
                        self.in_flow = False
                        d.text_center(d.w / 2, d.h * 0.36, el.text, 22, bold=True)
                    else:
                        d.new_page(False)
                        self.in_flow = True
                        self.part_title(el.text)
                elif k == "section":
                    self.need(21 + 23)
                    d.top += 4
                    self.paragraph(el.text, 12, 24, 21, 2, bold=True)
                elif k == "note":
                    self.ensure_flow()
                    self.paragraph(el.text, 10, 0, 16, 4)
                else:
                    self.paragraph(el.text, 12, 24, 21, 2)
            i += 1
        d.end_page()

    def cover(self, lines: list[str]) -> None:
        d = self.d
        d.new_page(False, footer=False)
        self.in_flow = False
        top = 226.0
        for k, line in enumerate(lines):
            fs = 30.0 if k == 0 else (26.0 if k == 1 else 16.0)
            while d.m.width(line, fs) > d.w - 2 * d.margin and fs > 10:
                fs -= 1
            d.text_center(d.w / 2, top, line, fs, bold=True)
            top += fs * 2.5

    def part_title(self, text: str) -> None:
        d = self.d
        fs = 17.0
        while d.m.width(text, fs) > d.w - 2 * d.margin and fs > 10:
            fs -= 1
        d.text_center(d.w / 2, d.top, text, fs, bold=True)
        d.top += 44

    # tables
    def _plan(
        self, header: list[list[str]], body: list[list[str]], landscape: bool, sizes: list[float]
    ) -> ColumnPlan:
        w, h = (A4[1], A4[0]) if landscape else A4
        margin = 42.52 if landscape else 48.9
        plan = plan_columns(header, body, w - 2 * margin, self.d.m, sizes)
        if plan is None:  # absurdly wide: shrink until it fits
            plan = plan_columns(header, body, w - 2 * margin, self.d.m, [5.0, 4.0, 3.0, 2.0])
        assert plan is not None
        return plan

    def table(self, t: Table) -> None:
        ncols = len(t.chunks[0][0]) if t.chunks and t.chunks[0] else 1
        header = t.chunks[0][: t.header_n] if t.chunks else []
        body_all = merge_table_chunks(t)
        sizes = [9.0, 8.5, 8.0, 7.5, 7.0, 6.5, 6.0]
        if self.orientation == "landscape":
            landscape = True
        elif self.orientation == "portrait":
            landscape = False
        else:
            landscape = ncols >= LANDSCAPE_COLUMNS
            if not landscape:
                probe = plan_columns(header, body_all, A4[0] - 2 * 48.9, self.d.m, [9.0, 8.5, 8.0])
                landscape = probe is None or probe.style.fs < MIN_PORTRAIT_FS
        chunks: list[tuple[list[list[str]], list[list[str]]]]
        if self.paginate == "reflow":
            chunks = [(header, body_all)]
        else:
            chunks = [(ch[: t.header_n], ch[t.header_n :]) for ch in t.chunks]
        # one column plan for the whole table, so its pages line up
        plan = self._plan(header, [r for _, rows in chunks for r in rows], landscape, sizes)
        tw = _TableWriter(self.d, plan, header, landscape, t)
        first = True
        for hdr, rows in chunks:
            current_header = hdr or header
            tw.start_page(first, current_header)

            def cont(h: list[list[str]] = current_header) -> None:
                tw.start_page(False, h)

            first = False
            for row in rows:
                tw.add_row(row, cont)
            tw.finish_page()
        self.table_pages[squash(t.title)] = self.table_pages.get(squash(t.title), 0) + tw.pages
        self.in_flow = True  # notes printed under the table continue on its last page
        self.d.top += 6

    def inline_table(self, t: InlineTable) -> None:
        self.ensure_flow()
        d = self.d
        header = t.rows[: t.header_n]
        body = t.rows[t.header_n :]
        plan = self._plan(header, body, False, [10.5, 10.0, 9.5, 9.0, 8.5, 8.0, 7.5, 7.0])
        tw = _TableWriter(d, plan, header, False, None)
        if d.top + tw.header_h + plan.style.min_row * 2 > d.bottom:
            d.new_page(False)
        d.top += 4
        tw.start_page(True)

        def cont() -> None:
            d.new_page(False)
            tw.start_page(True)

        for row in body:
            tw.add_row(row, cont)
        tw.finish_page()
        d.top += 8
        self.in_flow = True


def render(
    text: str,
    out: str | Path,
    rules: str = "grid",
    orientation: str = "auto",
    font: str | Path | None = None,
    paginate: str = "source",
    title: str | None = None,
) -> RenderInfo:
    """Render budget ``text`` to ``out``; same input and options give a byte-identical PDF."""
    if rules not in RULES:
        raise ValueError(f"rules must be one of {RULES}, not {rules!r}")
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, not {orientation!r}")
    if paginate not in PAGINATIONS:
        raise ValueError(f"paginate must be one of {PAGINATIONS}, not {paginate!r}")
    font_name, font_path = register_font(font)
    elements = parse(text)
    if title is None:
        covers = [e.text for e in elements if isinstance(e, Block) and e.kind == "cover"]
        title = "".join(covers) if covers else ""
    out = Path(out)
    doc = _Doc(out, font_name, rules, title)
    r = Renderer(doc, orientation, paginate)
    r.render(elements)
    if doc.page == 0:  # an empty text still gives a valid one-page PDF
        doc.new_page()
        doc.end_page()
    doc.c.save()
    return RenderInfo(pages=doc.page, font=font_path, table_pages=r.table_pages)


def render_file(src: str | Path, out: str | Path, **options: str | Path | None) -> RenderInfo:
    """Render the text file ``src`` (UTF-8) to ``out``."""
    return render(Path(src).read_text(encoding="utf-8"), out, **options)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", type=Path, help="budget text (UTF-8)")
    ap.add_argument("output", type=Path, help="PDF to write")
    ap.add_argument("--rules", choices=RULES, default="grid")
    ap.add_argument("--orientation", choices=ORIENTATIONS, default="auto")
    ap.add_argument("--font", default=None, help=f"TTF/TTC CJK font (default {DEFAULT_FONT})")
    ap.add_argument("--paginate", choices=PAGINATIONS, default="source")
    a = ap.parse_args(argv)
    info = render_file(
        a.input,
        a.output,
        rules=a.rules,
        orientation=a.orientation,
        font=a.font,
        paginate=a.paginate,
    )
    print(f"{a.output}: {info.pages} pages, font {info.font}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
