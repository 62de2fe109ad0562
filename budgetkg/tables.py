"""Stage 2: find tables by their titles and header texts, and rebuild their grid.

A table is found by its title (or, for a continuation page, by following the table it
continues) and rebuilt from words and rules: columns come from vertical rules when the table
has them and from text alignment when it has none (the gutters no body text crosses; header
labels as cells, a label centred over a run of columns being their merged parent); rows from
horizontal rules or, without them, from lines that carry amounts, with wrapped text attached
to the row it is centred on. A row cut by a page break is re-joined to the row it belongs to.
Indented names keep their indentation as leading spaces of the cell (a hierarchy without codes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from budgetkg.layout import LayoutSettings, load_layout
from budgetkg.mapping import Mappings, TableKind, normalise_title, squash
from budgetkg.model import PageText, RawRow, RawTable, Rule, TextLine, Word, WordBox

AMOUNT = re.compile(r"^[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
DASHES = {"-", "—", "－", "–", "/"}
CODE = re.compile(r"^\d{3}(?:\d{2}){0,2}$")
BRACKET_CODE = re.compile(r"^[\[【［](\d{3,7})[\]】］]")
FOOTER = re.compile(r"^(?:[-－—]\s*\d+\s*[-－—]|第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?|\d+)$")
META = re.compile(r"^(?:单位名称|部门名称|编制部门|编制单位|预算单位名称|单位)\s*[：:]")
CURRENCY = re.compile(r"单位\s*[：:]\s*(万元|元|千元|亿元)")
HEADER_CURRENCY = re.compile(r"[（(](?:单位[：:])?(万元|元|千元|亿元)[)）]")
# a line's own 单位：万元 (not a header cell such as 预算数（单位：万元）)
CURRENCY_WORD = re.compile(r"^(?:金额|货币)?单位[：:](?:万元|元|千元|亿元)$")
UNIT_NAME = re.compile(r"(?:单位名称|部门名称|编制部门|编制单位)\s*[：:]\s*(\S.*?)\s*(?:单位\s*[：:]|$)")
NOTE = re.compile(r"^(?:备\s*)?注\s*[：:]")
LABEL_LINE = re.compile(r"^(?:部门公开)?表\s*\d+(?:[-－]\d+)?$|^公开\s*\d+\s*表$")
SECTION = re.compile(r"^第[一二三四五六七八九十]+部分")
TOTAL_LABEL = re.compile(r"^(?:.{0,10}(?:合计|总计)|小计)$")
ITEM_NUMBER = re.compile(r"^(?:[一二三四五六七八九十]+、|[(（][一二三四五六七八九十\d]+[)）]|\d+[.．、](?!\d))")
GENERIC_TITLE = re.compile(r"表(?:[（(].{1,20}[)）])?$")


def is_amount(text: str) -> bool:
    return bool(AMOUNT.match(text.replace(" ", "")))


def is_number_like(text: str) -> bool:
    return is_amount(text) or text.strip() in DASHES


@dataclass
class _Segment:
    """The part of one page that belongs to one table, and what the geometry made of it (for
    debug-layout): column bounds, header paths, row boxes, lines dropped as column numbers."""

    page: PageText
    lines: list[TextLine]
    columns: list[tuple[float, float, float | None, float | None]] = field(default_factory=list)
    head: list[TextLine] = field(default_factory=list)
    paths: list[tuple[str, ...]] = field(default_factory=list)
    rows: list[tuple[float, float]] = field(default_factory=list)
    dropped: list[TextLine] = field(default_factory=list)


@dataclass
class _Found:
    title: str
    kind: TableKind | None
    label: str | None
    segments: list[_Segment] = field(default_factory=list)
    currency_unit: str | None = None
    unit_name: str | None = None
    trace: list[str] = field(default_factory=list)
    column_numbers: tuple[str, ...] = ()


def find_tables(
    pages: Sequence[PageText], mappings: Mappings, settings: LayoutSettings | None = None
) -> list[RawTable]:
    """Locate every table in reading order and rebuild it, with the geometry settings of
    mappings/layout.toml unless others are given (another column strategy, say)."""
    return [table for table, _ in find_tables_with_geometry(pages, mappings, settings)]


@dataclass(frozen=True)
class SegmentGeometry:
    """What the geometry made of one page of a table (drawn by debug-layout): the lines read,
    the header lines, the column bounds and body ink extents (x0, x1, ink0, ink1), the header
    path of each column, the rows' vertical extents, and lines dropped as column numbers."""

    page: int
    lines: tuple[TextLine, ...]
    header: tuple[TextLine, ...]
    columns: tuple[tuple[float, float, float | None, float | None], ...]
    paths: tuple[tuple[str, ...], ...]
    rows: tuple[tuple[float, float], ...]
    dropped: tuple[TextLine, ...]


def find_tables_with_geometry(
    pages: Sequence[PageText], mappings: Mappings, settings: LayoutSettings | None = None
) -> list[tuple[RawTable, tuple[SegmentGeometry, ...]]]:
    """find_tables, each table with the geometry of its pages (for debug-layout)."""
    settings = settings or load_layout()
    found = _locate(pages, mappings, settings)
    out: list[tuple[RawTable, tuple[SegmentGeometry, ...]]] = []
    for item in found:
        table = _rebuild(item, settings)
        if _is_prose(table, settings.page_prose_length):
            continue
        if table.rows or table.currency_unit or table.unit_name:  # else a title in the contents
            geometry = tuple(
                SegmentGeometry(
                    seg.page.number,
                    tuple(seg.lines),
                    tuple(seg.head),
                    tuple(seg.columns),
                    tuple(seg.paths),
                    tuple(seg.rows),
                    tuple(seg.dropped),
                )
                for seg in item.segments
            )
            out.append((table, geometry))
    return out


def running_lines(
    pages: Sequence[PageText], settings: LayoutSettings, table_pages: set[int]
) -> set[tuple[str, int]]:
    """Running heads and feet: a line in the top or bottom margin (page.margin of the height)
    printed the same at the same height on at least page.running_share of the pages (and on
    page.running_min_pages), one of them a page without a table. 13-suz-sjj heads every page
    with 苏州市审计局 2026年度部门预算公开: read as a table's continuation it was joined into
    the last row of the page before. (A table's header repeated on each of its pages is in the
    top margin too, but never on a page of prose: 06-gz-wjw.)"""
    counts: dict[tuple[str, int], set[int]] = {}
    for page in pages:
        for line in page.lines:
            if line.top < page.height * settings.page_margin or line.bottom > page.height * (1 - settings.page_margin):
                counts.setdefault(_running_key(line), set()).add(page.number)
    least = max(settings.page_running_min_pages, settings.page_running_share * len(pages))
    return {key for key, seen in counts.items() if len(seen) >= least and seen - table_pages}


def _running_key(line: TextLine) -> tuple[str, int]:
    return squash(line.text), round(line.top / 4)


def _locate(pages: Sequence[PageText], mappings: Mappings, settings: LayoutSettings) -> list[_Found]:
    """The tables in reading order, read once more without the running heads and feet if the
    first reading shows any (which pages hold tables decides what is running: see running_lines)."""
    found = _locate_once(pages, mappings, set())
    running = running_lines(pages, settings, {s.page.number for f in found for s in f.segments})
    if not running:
        return found
    found = _locate_once(pages, mappings, running)
    if found:
        found[0].trace.append(f"running heads/feet skipped on every page: {sorted(t for t, _ in running)}")
    return found


def _locate_once(pages: Sequence[PageText], mappings: Mappings, running: set[tuple[str, int]]) -> list[_Found]:
    found: list[_Found] = []
    current: _Found | None = None
    pending_label: str | None = None
    preamble: list[TextLine] = []  # lead-in lines of a table introduced by a heading
    for page in pages:
        segment: _Segment | None = None
        for line in page.lines:
            text = line.text.strip()
            squashed = squash(text)
            if not squashed or (FOOTER.match(squashed) and line.top > page.height * 0.85):
                continue
            if running and _running_key(line) in running:
                continue
            if LABEL_LINE.match(squashed):
                pending_label = squashed
                continue
            if SECTION.match(squashed):
                # a part heading (第二部分 …) is no table title, unless it introduces a table
                # (第七部分 重点项目预算绩效情况说明)
                rest = SECTION.sub("", squashed)
                heading = mappings.kind_for_title(rest)
                current = _Found(rest, heading, None) if heading is not None and heading.heading else None
                if current is not None:
                    found.append(current)
                    preamble = []
                segment = None
                continue
            kind = mappings.kind_for_title(text)
            kind_title = squashed if kind is None and _looks_like_title(line, page, squashed) else None
            if kind is not None or kind_title is not None:
                title = squashed
                if current is not None and normalise_title(current.title) == normalise_title(title):
                    segment = None  # repeated title: same table continues on this page
                    continue
                current = _Found(title=title, kind=kind, label=pending_label)
                pending_label = None
                preamble = []
                found.append(current)
                segment = None
                continue
            if current is None:
                continue
            if META.match(squashed) or any(CURRENCY_WORD.match(squash(w.text)) for w in line.words):
                currency = CURRENCY.search(text)
                if currency and current.currency_unit is None:
                    current.currency_unit = currency.group(1)
                unit_name = UNIT_NAME.search(text)
                if unit_name and current.unit_name is None:
                    current.unit_name = squash(unit_name.group(1))
                continue
            if NOTE.match(squashed) or SECTION.match(squashed):
                current = None
                segment = None
                continue
            if current.kind is not None and current.kind.heading and not current.segments:
                # a heading-introduced table starts at its header line, after the lead-in prose;
                # header cells wrapped above that line (inside the table's top rule) belong to it
                if not _has_header_words(line, current.kind.header_words):
                    preamble.append(line)
                    continue
                segment = _Segment(page, _header_above(line, preamble, page))
                current.segments.append(segment)
                for ln in segment.lines:
                    currency = CURRENCY.search(ln.text)
                    if currency:
                        current.currency_unit = currency.group(1)
                continue
            if segment is None and current.segments and _is_heading(line, page):
                current = None  # the page opens with a heading of the running text: the table ended
                continue
            if segment is None or segment.page is not page:
                segment = _Segment(page, [])
                current.segments.append(segment)
            segment.lines.append(line)
    return [f for f in found if f.segments]


def _has_header_words(line: TextLine, wanted: tuple[str, ...]) -> bool:
    """The header line of a table introduced by a heading: each wanted label is (part of) a
    word of its own on the line (项目 in 一级项目名称), not all of one sentence of prose."""
    words = [squash(w.text) for w in line.words]
    used: set[int] = set()
    for label in wanted:
        i = next((i for i, w in enumerate(words) if i not in used and label in w and len(w) <= len(label) + 8), None)
        if i is None:
            return False
        used.add(i)
    return True


def _is_heading(line: TextLine, page: PageText) -> bool:
    """A heading of the running text: a short centred line in a larger type than the body
    text of the page (a table continuing on a new page starts with its header or rows)."""
    sizes = sorted(w.bottom - w.top for ln in page.lines for w in ln.words)
    if not sizes or len(line.text) > 40 or len(line.words) > 2:
        return False
    body = sizes[len(sizes) // 2]
    height = max(w.bottom - w.top for w in line.words)
    centre = (line.x0 + max(w.x1 for w in line.words)) / 2
    return height > body * 1.3 and abs(centre - page.width / 2) < page.width * 0.1


def _header_above(line: TextLine, preamble: list[TextLine], page: PageText) -> list[TextLine]:
    """Lines between the table's top rule (or a small gap) and its main header line."""
    rules_above = [r.top for r in page.rules if r.horizontal and r.top <= line.top and line.top - r.top < 40]
    limit = max(rules_above) if rules_above else line.top - (line.bottom - line.top) * 1.5
    above = [ln for ln in preamble if ln in page.lines and ln.top >= limit - 1]
    return above + [line]


def _looks_like_title(line: TextLine, page: PageText, squashed: str) -> bool:
    """An unknown table: a short centred line ending in 表 (e.g. 政府采购预算表)."""
    if len(squashed) > 40 or not GENERIC_TITLE.search(squashed):
        return False
    centre = (line.x0 + max(w.x1 for w in line.words)) / 2
    return abs(centre - page.width / 2) < page.width * 0.15 and len(line.words) <= 3


# --- grid reconstruction -----------------------------------------------------------------


@dataclass
class _Column:
    x0: float
    x1: float
    ink0: float | None = None  # extent of the body text (unruled tables only)
    ink1: float | None = None
    width: float = 0.0  # page width the columns were read on (unruled tables only)
    parents: list[tuple[float, str]] = field(default_factory=list)
    fragments: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def xc(self) -> float:
        return (self.x0 + self.x1) / 2


def _is_body_line(line: TextLine) -> bool:
    words = line.words
    first = squash(words[0].text)
    if any(is_amount(w.text) for w in words):
        return True
    return bool(BRACKET_CODE.match(first))


def _rebuild(found: _Found, settings: LayoutSettings) -> RawTable:
    """One table's header paths and rows from its page segments (header repeated or not)."""
    warnings: list[str] = []
    first_head: list[TextLine] | None = None
    first_width = 0.0
    columns: list[_Column] | None = None
    header_paths: list[tuple[str, ...]] = []
    rows: list[tuple[list[str], set[int]]] = []
    starts: list[list[tuple[float, float, float] | None]] = []
    bolds: list[list[bool]] = []
    trace = found.trace
    for seg in found.segments:
        seg.lines = _drop_column_numbers(seg, found, settings)
    all_bodies = _bodies_by_width(found, settings)
    for seg in found.segments:
        number = seg.page.number
        head, body = _split_header(seg.lines, first_head, seg.page, first_width, settings)
        if first_head is None:
            first_head, first_width = head, seg.page.width
        trace.append(
            f"page {number}: header {len(head)} line(s) {_short(' / '.join(ln.text for ln in head))}; "
            f"body {len(body)} line(s)"
        )
        strategy = settings.column_strategy
        ruled = _ruled_columns(seg.page, head, body, settings) if strategy != "gutters" else None
        paths: list[tuple[str, ...]] | None = None
        if ruled is not None:
            seg_columns: list[_Column] | None = ruled
            ruled = _drop_empty_edges(ruled, head + body, trace, number)
            seg_columns = ruled
            paths = _header_paths(ruled, head, seg.page.rules, found.kind)
            trace.append(f"page {number}: {len(ruled)} columns from vertical rules (strategy {strategy})")
        elif strategy == "rules":
            seg_columns = None
            trace.append(f"page {number}: no vertical rules cross the body and strategy is 'rules'")
        elif columns is not None and not head and columns[0].ink0 is not None and columns[0].width == seg.page.width:
            seg_columns = columns  # a page without a repeated header continues the same columns
            trace.append(f"page {number}: no header repeated; the previous page's {len(columns)} columns continue")
        else:
            layout = _text_layout(head, all_bodies.get(seg.page.width, body), seg.page)
            seg_columns, paths = layout if layout is not None else (None, None)
            if seg_columns is not None:
                for col in seg_columns:
                    col.width = seg.page.width
                if found.kind is not None and found.kind.groups and paths is not None:
                    paths = _apply_groups(paths, found.kind.groups)
                trace.append(
                    f"page {number}: {len(seg_columns)} columns from the gutters of the text "
                    f"(strategy {strategy}; fewer than 3 vertical rules cross the body)"
                )
        if seg_columns is None:
            warnings.append(f"page {seg.page.number}: no columns could be found")
            continue
        seg.columns = [(c.x0, c.x1, c.ink0, c.ink1) for c in seg_columns]
        seg.head = list(head)
        if paths is not None and (head or columns is None):
            if not header_paths:
                header_paths = paths
            elif len(paths) != len(header_paths):
                warnings.append(
                    f"page {seg.page.number}: {len(paths)} columns where the table has "
                    f"{len(header_paths)}; columns matched by position"
                )
        columns = seg_columns
        seg_rows = _rows(seg.page, body, columns, settings, ruled=ruled is not None)
        seg.rows = [r.box for r in seg_rows if r.box is not None]
        for i, row in enumerate(seg_rows):
            cells = (row.cells + [""] * len(header_paths))[: max(len(header_paths), len(row.cells))]
            if i == 0 and rows and not row.present and _continues(rows[-1][0], cells):
                _append_row(rows[-1][0], cells)
                rows[-1][1].add(seg.page.number)
                trace.append(f"page {number}: first row continues the last row of the page before")
                continue
            rows.append((cells, {seg.page.number}))
            starts.append([(seg.page.width, *s) if s else None for s in row.starts])
            bolds.append(row.bold)
        seg.paths = list(paths) if paths is not None else list(header_paths)
    if rows and header_paths:
        _lift_labels(rows[0][0], [r[0] for r in rows[1:]], header_paths)
    indents = _indent(rows, starts, settings.row_indent_step)
    raw_rows = tuple(
        RawRow(
            tuple(c.rstrip() for c in cells),
            tuple(sorted(pages)),
            indents=tuple((ind + [0] * len(cells))[: len(cells)]),
            bold=tuple((b + [False] * len(cells))[: len(cells)]),
        )
        for (cells, pages), ind, b in zip(rows, indents, bolds, strict=True)
    )
    pages = tuple(sorted({s.page.number for s in found.segments}))
    currency = found.currency_unit
    if currency is None and first_head:  # 预算数（万元） in a header cell
        currency = next((m.group(1) for ln in first_head if (m := HEADER_CURRENCY.search(squash(ln.text)))), None)
    return RawTable(
        title=found.title,
        header=tuple(header_paths),
        rows=raw_rows,
        pages=pages,
        currency_unit=currency,
        unit_name=found.unit_name,
        label=found.label,
        warnings=tuple(warnings),
        column_numbers=found.column_numbers,
        trace=tuple(trace),
    )


def _is_prose(table: RawTable, length: int) -> bool:
    """Running text under a heading that looks like a title (15-hz-qxj: 四、2026年杭州市气象局预算
    公开表 heads eleven pages of prose): no cell is an amount, and a cell or header label is a
    paragraph (page.prose_length characters or more)."""
    texts = [c for r in table.rows for c in r.cells] + ["".join(p) for p in table.header]
    return not any(is_amount(c) for c in texts) and any(len(t) >= length for t in texts)


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def column_number_line(line: TextLine, settings: LayoutSettings) -> tuple[str, ...] | None:
    """The tokens of a line printing the columns' numbers (`** 1 2 3 …`, `栏次 1 2 …`), else None.

    Many templates number the columns in a line under the header (14-cs-xfj, 15-hz-qxj): read
    as data it is a row whose amounts are 1, 2, 3 (“top-level rows add up to 1”). A line is one
    when every word is an integer or a marker of mappings/layout.toml (rows.column_number_markers),
    and the integers, at least rows.column_number_min of them, count up by one from at most
    rows.column_number_start."""
    tokens = [t for w in line.words for t in w.text.split()]
    markers = set(settings.row_column_number_markers)
    numbers: list[int] = []
    for t in tokens:
        if t.isdigit():
            numbers.append(int(t))
        elif t not in markers:
            return None
    if len(numbers) < settings.row_column_number_min or numbers[0] > settings.row_column_number_start:
        return None
    if any(b != a + 1 for a, b in zip(numbers, numbers[1:], strict=False)):
        return None
    return tuple(tokens)


def _drop_column_numbers(seg: _Segment, found: _Found, settings: LayoutSettings) -> list[TextLine]:
    """A segment's lines without its column-number line(s): never header, never data."""
    kept: list[TextLine] = []
    for line in seg.lines:
        tokens = column_number_line(line, settings)
        if tokens is None:
            kept.append(line)
            continue
        found.trace.append(f"page {seg.page.number}: column-number line {_short(line.text)} dropped (not data)")
        seg.dropped.append(line)
        if not found.column_numbers:
            found.column_numbers = tokens
    return kept


def _indent(
    rows: list[tuple[list[str], set[int]]],
    starts: list[list[tuple[float, float, float] | None]],
    step: float,
) -> list[list[int]]:
    """Indented names (a hierarchy shown by indentation, not codes) keep their indentation as
    leading spaces, one per ``step`` em (rows.indent_step) beyond the column's least indented
    text cell; the levels are returned too, for RawRow.indents."""
    least: dict[tuple[float, int], float] = {}
    for (cells, _), row in zip(rows, starts, strict=True):
        for i, start in enumerate(row):
            if start is not None and i < len(cells) and cells[i] and not is_number_like(cells[i]):
                key = (start[0], i)
                least[key] = min(least.get(key, start[1]), start[1])
    levels: list[list[int]] = []
    for (cells, _), row in zip(rows, starts, strict=True):
        levels.append([0] * len(cells))
        for i, start in enumerate(row):
            if start is None or i >= len(cells) or (start[0], i) not in least or is_number_like(cells[i]):
                continue
            steps = round((start[1] - least[(start[0], i)]) / max(1.0, start[2] * step))
            if steps > 0:
                cells[i] = " " * steps + cells[i]
                levels[-1][i] = steps
    return levels


def _lift_labels(first: list[str], rest: list[list[str]], header: list[tuple[str, ...]]) -> None:
    """Header labels printed in the first body row (类/款/项 beside the 合计 row in one grid
    row): text in a column that otherwise holds only codes or amounts is its header's leaf."""
    for i, text in enumerate(first[: len(header)]):
        if not text or is_number_like(text) or CODE.match(squash(text)):
            continue
        others = [r[i] for r in rest if i < len(r) and r[i]]
        if others and all(CODE.match(squash(o)) or is_number_like(o) for o in others):
            header[i] = header[i] + (squash(text),)
            first[i] = ""


def _bodies_by_width(found: _Found, settings: LayoutSettings) -> dict[float, list[TextLine]]:
    """Body lines of all pages of a table, by page width: an unruled table's columns are read
    from all its rows at once (a page with one short row says little about alignment)."""
    first_head: list[TextLine] | None = None
    first_width = 0.0
    out: dict[float, list[TextLine]] = {}
    for seg in found.segments:
        head, body = _split_header(seg.lines, first_head, seg.page, first_width, settings)
        if first_head is None:
            first_head, first_width = head, seg.page.width
        out.setdefault(seg.page.width, []).extend(body)
    return out


def _split_header(
    lines: list[TextLine],
    first_head: list[TextLine] | None,
    page: PageText,
    first_width: float,
    settings: LayoutSettings,
) -> tuple[list[TextLine], list[TextLine]]:
    """Header = lines before the first body line; on later pages only lines that repeat the
    first page's header (same words, and at the same places when the page is as wide): a
    row continued from the previous page may well start with a word such as 项目.
    Where a rule separates header from body, lines below it are body (a wrapped first cell)."""
    first_body = next((i for i, ln in enumerate(lines) if _is_body_line(ln)), len(lines))
    if first_body == len(lines):
        first_body = _blank_total_line(lines, page, settings)
    if first_body < len(lines) and first_body > 0:
        body_top = lines[first_body].top
        head_top = lines[0].top
        share = page.width * settings.row_header_rule_share
        heights = _rule_heights(page, head_top, body_top, share, settings.row_rule_merge)
        cuts = [y for y in heights if head_top < y < body_top]
        if cuts:
            cut = max(cuts)
            first_body = next(i for i, ln in enumerate(lines) if ln.bottom > cut or i == first_body)
        else:
            first_body = _wrapped_above(lines, first_body)
    if first_head is None:
        return lines[:first_body], lines[first_body:]
    if abs(page.width - first_width) >= 1:  # another orientation: compare texts only
        texts = {squash(w.text) for ln in first_head for w in ln.words}
        line_texts = {squash(ln.text) for ln in first_head}
        n = 0
        while n < first_body and (
            all(squash(w.text) in texts for w in lines[n].words)
            and (len(lines[n].words) > 1 or squash(lines[n].text) in line_texts)
        ):
            n += 1
        return lines[:n], lines[n:]
    return _repeated_header(lines, first_body, first_head, settings.row_rewrapped_header_share)


def _repeated_header(
    lines: list[TextLine], first_body: int, first_head: list[TextLine], rewrapped_share: float
) -> tuple[list[TextLine], list[TextLine]]:
    """A header repeated on a page as wide as the first: a line printed exactly as a line of
    the first page's header fixes where it stands; lines from there down to the header's
    depth whose words repeat its words (a label may wrap differently) are header too."""
    if not first_head:
        return [], lines
    known = [(squash(w.text), w.x0, w.x1, ln.top) for ln in first_head for w in ln.words]
    chars = set("".join(squash(ln.text) for ln in first_head))
    depth = max(ln.bottom for ln in first_head) - min(ln.top for ln in first_head)

    def exact(w: Word) -> float | None:
        text = squash(w.text)
        return next((top for t, x0, _, top in known if t == text and abs(x0 - w.x0) <= 3), None)

    def loose(w: Word) -> bool:
        text = squash(w.text)
        return set(text) <= chars and any(w.x0 < x1 and w.x1 > x0 for _, x0, x1, _ in known)

    offset: float | None = None
    for ln in lines[:first_body]:
        tops = [exact(w) for w in ln.words]
        if tops and tops[0] is not None and all(t is not None for t in tops):
            offset = ln.top - tops[0]
            break
    if offset is None:
        return _rewrapped_header(lines, first_body, chars, rewrapped_share)
    head_top = min(ln.top for ln in first_head) + offset
    n = 0
    while (
        n < first_body
        and lines[n].top <= head_top + depth + 2
        and all(exact(w) is not None or loose(w) for w in lines[n].words)
    ):
        n += 1
    return lines[:n], lines[n:]


def _rewrapped_header(
    lines: list[TextLine], first_body: int, chars: set[str], share: float
) -> tuple[list[TextLine], list[TextLine]]:
    """A header repeated with its labels wrapped otherwise (06-gz-wjw p.113: the columns are
    as wide but 支出项目类别（资金使用单位） breaks at another character, so no line repeats a
    line of the first page): the lines above the first body line are header when every one of
    their characters is one of the first header's and together they print most of them
    (rows.rewrapped_header_share) — a row continued from the page before, such as 项目…, prints few."""
    above = lines[:first_body]
    printed = "".join(squash(ln.text) for ln in above)
    if not above or not set(printed) <= chars or len(set(printed)) < share * len(chars):
        return [], lines
    return above, lines[first_body:]


def _blank_total_line(lines: list[TextLine], page: PageText, settings: LayoutSettings) -> int:
    """A table printed empty (本单位无此项预算) still has its 合计 row, all cells blank: a line
    holding only a total label, parted from the lines above by a rule across the table."""
    for i, line in enumerate(lines[1:], start=1):
        if len(line.words) == 1 and TOTAL_LABEL.match(squash(line.text)):
            share = page.width * settings.row_header_rule_share
            rules = _rule_heights(page, lines[i - 1].bottom - 1, line.top + 1, share, settings.row_rule_merge)
            if rules:
                return i
    return len(lines)


def _wrapped_above(lines: list[TextLine], first_body: int) -> int:
    """Unruled tables: lines just above the first body line that are wrapped text of the first
    row (left-aligned with a body word right under them, at line spacing rather than across a
    row gap) belong to the body, not to the header."""
    below = [w for ln in lines[first_body : first_body + 12] for w in ln.words]
    while first_body > 1:
        line = lines[first_body - 1]
        chained = [
            w
            for w in line.words
            for o in below
            if abs(o.x0 - w.x0) <= 2 and -1 <= o.top - w.bottom <= (w.bottom - w.top) * 0.6
        ]
        if not chained:
            break
        first_body -= 1
        below.extend(line.words)
    return first_body


def _continues(previous: list[str], cells: list[str]) -> bool:
    """Whether a page's first row without amounts is the rest of the last row of the page
    before (a cell cut by the page break): not when it has a code or a total label of its own or
    starts with an item number, nor when the row before is a total (nothing of it wraps on)."""
    texts = [squash(c) for c in cells if c.strip()]
    if any(CODE.match(t) or BRACKET_CODE.match(t) or TOTAL_LABEL.match(t) for t in texts):
        return False
    if texts and len(texts[0]) <= 30 and ITEM_NUMBER.match(texts[0]):
        return False  # a short numbered label (十四、…) starts a row; long wrapped text may not
    return not any(TOTAL_LABEL.match(squash(c)) for c in previous if c.strip())


def _append_row(target: list[str], extra: list[str]) -> None:
    for i, text in enumerate(extra):
        if not text:
            continue
        if i >= len(target):
            target.extend([""] * (i + 1 - len(target)))
        target[i] = join_text(target[i], text)


def join_text(a: str, b: str) -> str:
    """Join wrapped text: Chinese runs join directly, Latin words and numbers with a space."""
    if not a:
        return b
    if not b:
        return a
    if _cjk_or_punct(a[-1]) and _cjk_or_punct(b[0]) or a[-1] in "-—/":
        return a + b
    return a + " " + b


def _cjk_or_punct(ch: str) -> bool:
    return ord(ch) > 0x2E80 or ch in ",.;:!?()[]、，。；：！？（）“”‘’《》"


# --- columns -------------------------------------------------------------------------------


def _verticals(page: PageText, top: float, bottom: float, min_height: float) -> list[Rule]:
    return [
        r
        for r in page.rules
        if not r.horizontal and r.bottom > top + 2 and r.top < bottom - 2 and r.bottom - r.top > min_height
    ]


def _ruled_columns(
    page: PageText, head: list[TextLine], body: list[TextLine], settings: LayoutSettings
) -> list[_Column] | None:
    """Columns between the vertical rules that cross the table body, if it has them."""
    all_lines = head + body
    if not all_lines:
        return None
    top = min(ln.top for ln in all_lines)
    bottom = max(ln.bottom for ln in all_lines)
    body_top = min((ln.top for ln in body), default=bottom)
    verticals = [r for r in _verticals(page, top, bottom, settings.column_min_rule_height) if r.bottom > body_top + 2]
    xs = _merge_positions(sorted(r.x0 for r in verticals), settings.column_rule_merge)
    if len(xs) >= 3:
        return [_Column(a, b) for a, b in zip(xs, xs[1:], strict=False)]
    return None


def _merge_positions(xs: list[float], tol: float) -> list[float]:
    out: list[float] = []
    for x in xs:
        if out and x - out[-1] <= tol:
            continue
        out.append(x)
    return out


# --- unruled tables: columns and header from text alignment ---------------------------------


@dataclass
class _Cell(WordBox):
    """A header cell of an unruled table: one label, possibly wrapped over several lines."""

    words: list[Word]

    @property
    def text(self) -> str:
        return "".join(squash(w.text) for w in sorted(self.words, key=lambda w: (round(w.top), w.x0)))


def _header_cells(head: list[TextLine]) -> list[_Cell]:
    """Group header words into cells: a word continues the cell above it when it sits right
    under it (line spacing, not a row gap), aligned with it and no wider, and nothing else on
    its line stands under that cell (several labels under one word make it a parent)."""
    cells: list[_Cell] = []
    for line in sorted(head, key=lambda ln: ln.top):
        for w in line.words:
            height = w.bottom - w.top
            best: _Cell | None = None
            for c in cells:
                last = [x for x in c.words if x.bottom >= c.bottom - 1.5]
                lx0, lx1 = min(x.x0 for x in last), max(x.x1 for x in last)
                gap = w.top - c.bottom
                if not -1 <= gap <= height * 0.6 or w.x0 < lx0 - 3 or w.x1 > lx1 + 3:
                    continue
                aligned = abs(w.xc - (lx0 + lx1) / 2) <= 3 or abs(w.x0 - lx0) <= 2 or abs(w.x1 - lx1) <= 2
                siblings = [o for o in line.words if o is not w and o.x0 < lx1 and o.x1 > lx0]
                if aligned and not siblings:
                    best = c
                    break
            if best is None:
                cells.append(_Cell([w]))
            else:
                best.words.append(w)
    return cells


def _extent_bounds(
    extents: list[tuple[float, float]], centres: list[float | None], left: float, right: float
) -> list[tuple[float, float]]:
    """Column bounds from the ink of each column: a label centred over its column places the
    column's right edge (2 × centre − left edge) when that falls in the gutter; otherwise the
    gutter's middle."""
    bounds: list[tuple[float, float]] = []
    x0 = left
    for i, (_, b) in enumerate(extents):
        if i == len(extents) - 1:
            bounds.append((x0, max(right, b)))
            break
        nxt = extents[i + 1][0]
        x1 = (b + nxt) / 2
        centre = centres[i]
        if centre is not None and b - 0.5 <= 2 * centre - x0 <= nxt + 0.5:
            x1 = 2 * centre - x0
        bounds.append((x0, x1))
        x0 = x1
    return bounds


def _stack_extent(stack: list[_Cell]) -> tuple[float, float]:
    return min(c.x0 for c in stack), max(c.x1 for c in stack)


def _text_layout(
    head: list[TextLine], body: list[TextLine], page: PageText
) -> tuple[list[_Column], list[tuple[str, ...]]] | None:
    """Columns and header paths of a table without vertical rules.

    Body text never crosses the gutters between columns. Header labels are cells; a cell with
    labels below it, centred over a run of columns (or with a short rule under it spanning
    them), is a merged parent cell. Every other cell labels the column whose ink it stands
    over; a further label beside a labelled column's ink is a column printed all blank."""
    spans = _merge_overlapping(sorted([w.x0, w.x1] for line in body for w in line.words))
    cells = _header_cells(head)
    if not spans and not cells:
        return None
    left = min([s[0] for s in spans] + [c.x0 for c in cells]) - 2
    right = max([s[1] for s in spans] + [c.x1 for c in cells]) + 2
    full = [r for r in page.rules if r.horizontal and r.x1 - r.x0 >= (right - left) * 0.8]
    if full:
        left, right = min(left, min(r.x0 for r in full)), max(right, max(r.x1 for r in full))
    rules = [r for r in page.rules if r.horizontal]
    ink = [(s[0], s[1]) for s in spans]
    prelim = [
        _Column(b0, b1, i0, i1)
        for (b0, b1), (i0, i1) in zip(_extent_bounds(ink, [None] * len(ink), left, right), ink, strict=True)
    ]
    parents = {id(c) for c in cells if prelim and _parent_run(c, cells, prelim, rules, right - left)}
    stacks: list[list[_Cell]] = []
    for c in sorted((c for c in cells if id(c) not in parents), key=lambda c: c.x0):
        for st in stacks:
            if any(c.x0 < o.x1 + 1 and c.x1 > o.x0 - 1 for o in st):
                st.append(c)
                break
        else:
            stacks.append([c])
    per_col: dict[int, list[list[_Cell]]] = {}
    loose: list[list[_Cell]] = []
    for st in stacks:
        x0, x1 = _stack_extent(st)
        i = _column_of(prelim, (x0 + x1) / 2) if prelim else None
        if i is None:
            loose.append(st)
        else:
            per_col.setdefault(i, []).append(st)
    entries: list[tuple[float, float, float | None, float | None, list[_Cell]]] = []
    for i, (i0, i1) in enumerate(ink):
        own = per_col.get(i, [])
        keep: list[_Cell] = []
        if own:
            scores = [_ink_score(_stack_extent(st), i0, i1) for st in own]
            keep = own[scores.index(max(scores))]
            loose.extend(st for st in own if st is not keep)
        entries.append((min([i0] + [c.x0 for c in keep]), max([i1] + [c.x1 for c in keep]), i0, i1, keep))
    for st in loose:
        entries.append((*_stack_extent(st), None, None, st))
    entries.sort(key=lambda e: (e[0] + e[1]) / 2)
    centres = [sum(_stack_extent(e[4])) / 2 if e[4] else None for e in entries]
    bounds = _extent_bounds([(e[0], e[1]) for e in entries], centres, left, right)
    columns = [
        _Column(b0, b1, e[2] if e[2] is not None else e[0], e[3] if e[3] is not None else e[1])
        for (b0, b1), e in zip(bounds, entries, strict=True)
    ]
    labels: list[list[_Cell]] = [list(e[4]) for e in entries]
    tops: list[list[tuple[float, str]]] = [[] for _ in columns]
    for c in cells:
        if id(c) not in parents:
            continue
        run = _parent_run(c, cells, columns, rules, right - left)
        if run:
            for i in run:
                tops[i].append((c.top, c.text))
        else:
            i = _column_of(columns, c.xc)
            if i is not None:
                labels[i].append(c)
    paths: list[tuple[str, ...]] = []
    for i in range(len(columns)):
        leaf = "".join(c.text for c in sorted(labels[i], key=lambda c: (round(c.top), c.x0)))
        paths.append(tuple(t for _, t in sorted(tops[i])) + ((leaf,) if leaf else ()))
    return columns, paths


def _ink_score(extent: tuple[float, float], i0: float, i1: float) -> tuple[float, float]:
    """How well a label stack stands over a column's ink: overlap, else (negative) distance."""
    x0, x1 = extent
    overlap = min(x1, i1) - max(x0, i0)
    return (max(overlap, 0.0), -max(i0 - x1, x0 - i1, 0.0))


def _parent_run(p: _Cell, cells: list[_Cell], columns: list[_Column], rules: list[Rule], width: float) -> list[int]:
    """The columns a merged header cell spans: those under a short rule right below it, else
    the run of columns with labels below it that it is centred over (empty: not a parent)."""
    below = [d for d in cells if d is not p and d.top >= p.bottom - 1]
    if not below:
        return []
    limit = min(d.top for d in below)
    for r in rules:
        if p.bottom - 1 <= r.top <= limit + 1 and r.x0 - 1 <= p.xc <= r.x1 + 1 and r.x1 - r.x0 < width * 0.9:
            covered = [i for i, c in enumerate(columns) if r.x0 - 1 <= c.xc <= r.x1 + 1]
            if len(covered) >= 2:
                return covered
    home = _column_of(columns, p.xc)
    if home is None:
        return []
    first: dict[int | None, float] = {}  # per column: height of the first label under the cell
    for d in sorted(below, key=lambda d: d.top):
        first.setdefault(_column_of(columns, d.xc), (d.top + d.bottom) / 2)
    blocked = {_column_of(columns, e.xc) for e in cells if e is not p and e.top < p.bottom - 1 and e.bottom > p.top + 1}
    # the labels right under a merged cell start its next header row (or lower); a neighbour's
    # label standing higher is a tall cell beside the merged one, centred over all header rows
    reach = first.get(home, 0.0) - (p.bottom - p.top) / 2

    def usable(i: int) -> bool:
        return i in first and i not in blocked and first[i] >= reach

    best: tuple[float, int, int] | None = None
    a = home
    while a >= 0 and usable(a):
        b = home
        while b < len(columns) and usable(b):
            if b > a:
                span = columns[b].x1 - columns[a].x0
                err = abs(p.xc - (columns[a].x0 + columns[b].x1) / 2)
                if err <= max(4.0, 0.12 * span) and (best is None or err < best[0] - 1):
                    best = (err, a, b)
            b += 1
        a -= 1
    return list(range(best[1], best[2] + 1)) if best else []


def _merge_overlapping(spans: list[list[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for s in spans:
        if out and s[0] < out[-1][1] + 0.5:
            out[-1][1] = max(out[-1][1], s[1])
        else:
            out.append(list(s))
    return out


def _column_of(columns: Sequence[_Column], x: float) -> int | None:
    for i, c in enumerate(columns):
        if c.x0 - 1 <= x <= c.x1 + 1:
            return i
    if columns and x < columns[0].x0:
        return 0
    if columns and x > columns[-1].x1:
        return len(columns) - 1
    return None


# --- header --------------------------------------------------------------------------------


def _header_paths(
    columns: list[_Column],
    head: list[TextLine],
    rules: Iterable[Rule],
    kind: TableKind | None,
) -> list[tuple[str, ...]]:
    verticals = [r for r in rules if not r.horizontal]
    for col in columns:
        col.parents.clear()
        col.fragments.clear()
    spanning: dict[tuple[tuple[int, ...], int], list[Word]] = {}
    for line in head:
        for w in line.words:
            span = _cell_span(w, columns, verticals)
            if len(span) > 1:
                spanning.setdefault((tuple(span), round(w.yc / 3)), []).append(w)
            elif span:
                columns[span[0]].fragments.append((w.top, w.x0, squash(w.text)))
    for (covered, _), words in spanning.items():
        text = "".join(squash(w.text) for w in sorted(words, key=lambda w: w.x0))
        for i in covered:
            columns[i].parents.append((min(w.top for w in words), text))
    paths: list[tuple[str, ...]] = []
    for col in columns:
        merged_parents = [t for _, t in sorted(col.parents)]
        leaf = "".join(t for _, _, t in sorted(col.fragments, key=lambda f: (round(f[0]), f[1])))
        path = tuple(merged_parents) + ((leaf,) if leaf else ())
        paths.append(path)
    if kind is not None and kind.groups:
        paths = _apply_groups(paths, kind.groups)
    return paths


def _cell_span(w: Word, columns: list[_Column], verticals: list[Rule]) -> list[int]:
    """Columns a header word's cell covers: up to the nearest rules that reach its line."""
    reach = [r.x0 for r in verticals if r.top <= w.yc <= r.bottom]
    if len(reach) >= 2:
        lefts = [x for x in reach if x <= w.x0 + 1]
        rights = [x for x in reach if x >= w.x1 - 1]
        if lefts and rights:
            left, right = max(lefts), min(rights)
            span = [i for i, c in enumerate(columns) if c.xc > left and c.xc < right]
            if span:
                return span
    i = _column_of(columns, w.xc)
    return [] if i is None else [i]


def _apply_groups(paths: list[tuple[str, ...]], groups: dict[str, tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Unruled headers: restore merged group cells that text alignment cannot show."""
    out = list(paths)
    seen_groups: set[str] = set()
    for i, path in enumerate(out):
        if len(path) != 1:
            if len(path) > 1:
                seen_groups.add(path[0])
            continue
        leaf = path[0]
        for group, children in groups.items():
            if leaf.startswith(group) and leaf[len(group) :] in children:
                out[i] = (group, leaf[len(group) :])
                seen_groups.add(group)
                break
            if leaf.endswith(group) and leaf[: -len(group)] in children:
                out[i] = (group, leaf[: -len(group)])
                seen_groups.add(group)
                break
    header_text = "".join("".join(p) for p in paths)
    for group, children in groups.items():
        if group not in seen_groups and group not in header_text:
            continue
        run = [i for i, p in enumerate(out) if len(p) == 1 and p[0] in children]
        for i in run:
            out[i] = (group, out[i][0])
    return out


# --- rows ----------------------------------------------------------------------------------


def _rule_heights(page: PageText, top: float, bottom: float, width: float, merge: float) -> list[float]:
    """Heights of horizontal rules between top and bottom that span at least ``width``; a
    rule drawn as one segment per cell (cell borders) counts by its segments together."""
    rules = sorted((r for r in page.rules if r.horizontal and top <= r.top <= bottom), key=lambda r: r.top)
    ys: list[float] = []
    i = 0
    while i < len(rules):
        j = i
        while j + 1 < len(rules) and rules[j + 1].top - rules[i].top <= 1.0:
            j += 1
        covered = _merge_overlapping(sorted([r.x0, r.x1] for r in rules[i : j + 1]))
        if sum(b - a for a, b in covered) >= width:
            ys.append(rules[i].top)
        i = j + 1
    return _merge_positions(ys, merge)


def _horizontal_separators(
    page: PageText, body: list[TextLine], columns: list[_Column], settings: LayoutSettings
) -> list[float]:
    """Heights of the horizontal rules across the body (at least half the table wide)."""
    if not body or not columns:
        return []
    width = columns[-1].x1 - columns[0].x0
    top = min(ln.top for ln in body) - 6
    bottom = max(ln.bottom for ln in body) + 6
    return _rule_heights(page, top, bottom, width * settings.row_body_rule_share, settings.row_rule_merge)


@dataclass
class _RowText:
    """One row as laid out: cell texts, whether it prints amounts, and where each cell's first
    word starts (x, type height) to tell indented names."""

    cells: list[str]
    present: bool
    starts: list[tuple[float, float] | None]
    bold: list[bool] = field(default_factory=list)  # per cell: most of its words in a bold face
    box: tuple[float, float] | None = None  # top and bottom of the row's words (debug-layout)


def _rows(
    page: PageText, body: list[TextLine], columns: list[_Column], settings: LayoutSettings, ruled: bool = False
) -> list[_RowText]:
    numeric = _numeric_columns(body, columns, settings.column_numeric_ratio)
    place = _merged_body_cells(page, body, columns) if ruled else {}
    seps = _horizontal_separators(page, body, columns, settings)
    top = min((ln.bottom for ln in body), default=0.0)
    bottom = max((ln.top for ln in body), default=0.0)
    inner = [y for y in seps if top < y < bottom]  # rules only around the body do not part rows
    groups = _rows_by_rules(body, seps) if len(seps) >= 2 and inner else []
    if not groups or any(_anchor_lines(g, columns, numeric) > 1 for g in groups):
        groups = _rows_by_text(body, columns, numeric, settings.row_wrap_gap)
    out: list[_RowText] = []
    for group in groups:
        cells, starts = _cells(group, columns, place)
        present = any(is_number_like(w.text) and _column_of(columns, w.xc) in numeric for w in group)
        if any(cells):
            box = (min(w.top for w in group), max(w.bottom for w in group)) if group else None
            out.append(_RowText(cells, present, starts, _bold_cells(group, columns), box))
    return out


def _drop_empty_edges(columns: list[_Column], lines: list[TextLine], trace: list[str], page: int) -> list[_Column]:
    """Ruled columns without the empty ones at either edge: a frame drawn round the whole page
    (11-js-swbgt, 14-cs-xfj) adds its sides to the table's rules, and the strip between the frame
    and the table is a column no word stands in, header or body."""
    centres = [w.xc for ln in lines for w in ln.words]

    def empty(c: _Column) -> bool:
        return not any(c.x0 <= x <= c.x1 for x in centres)

    first, last = 0, len(columns)
    while last - first > 1 and empty(columns[first]):
        first += 1
    while last - first > 1 and empty(columns[last - 1]):
        last -= 1
    if (first, last) != (0, len(columns)):
        dropped = first + len(columns) - last
        trace.append(f"page {page}: {dropped} empty column(s) at the edges dropped (a frame's sides)")
    return columns[first:last]


def _merged_body_cells(page: PageText, body: list[TextLine], columns: list[_Column]) -> dict[int, int]:
    """Words of ruled body cells merged over several columns, and the column each belongs to.

    11-js-swbgt p.5 prints 合计 centred in one cell over the code and the name columns (the rule
    between them starts below it): by its centre it falls on the code column, and the reader
    took it for a header label of the codes. Such a word goes to the column of its cell whose
    body words are most often text (not amounts, not codes): where a row's label belongs."""
    verticals = [r for r in page.rules if not r.horizontal]
    text_count = [0] * len(columns)
    merged: list[tuple[Word, list[int]]] = []
    for line in body:
        for w in line.words:
            span = _cell_span(w, columns, verticals)
            if len(span) > 1:
                merged.append((w, span))
            elif span and not is_number_like(w.text):
                text_count[span[0]] += 1
    return {id(w): max(span, key=lambda i: (text_count[i], -i)) for w, span in merged}


def _bold_cells(words: list[Word], columns: list[_Column]) -> list[bool]:
    """Per column: whether most of the row's words in it are bold (evidence for the reader of
    total and unit rows: 13-suz-sjj sets 本年收入合计 and 收入总计 in FangSong,Bold, items in FangSong;
    06-gz-wjw, all SimSun, tells its unit rows by indentation only)."""
    counts = [[0, 0] for _ in columns]
    for w in words:
        i = _column_of(columns, w.xc)
        if i is not None:
            counts[i][0 if w.bold else 1] += 1
    return [bold > regular for bold, regular in counts]


def _numeric_columns(body: list[TextLine], columns: list[_Column], ratio: float) -> set[int]:
    """Columns whose body words are (almost) all amounts."""
    counts: dict[int, list[int]] = {}
    for line in body:
        for w in line.words:
            i = _column_of(columns, w.xc)
            if i is not None:
                c = counts.setdefault(i, [0, 0])
                c[0 if is_number_like(w.text) else 1] += 1
    return {i for i, (num, other) in counts.items() if num and num >= ratio * other}


def _is_amount_word(w: Word, columns: list[_Column], numeric: set[int]) -> bool:
    return is_amount(w.text) and _column_of(columns, w.xc) in numeric


def _anchor_lines(words: list[Word], columns: list[_Column], numeric: set[int]) -> int:
    """How many printed lines of one column of a band carry amounts (more than one: the band
    holds several rows; amounts of different columns may sit at different heights)."""
    tops: dict[int | None, set[int]] = {}
    for w in words:
        if _is_amount_word(w, columns, numeric):
            tops.setdefault(_column_of(columns, w.xc), set()).add(round(w.top))
    return max((len(_merge_positions(sorted(map(float, t)), 2.0)) for t in tops.values()), default=0)


def _rows_by_rules(body: list[TextLine], seps: list[float]) -> list[list[Word]]:
    bands: dict[int, list[Word]] = {}
    for line in body:
        for w in line.words:
            idx = sum(1 for y in seps if y <= w.yc)
            bands.setdefault(idx, []).append(w)
    return [bands[k] for k in sorted(bands)]


def _rows_by_text(
    body: list[TextLine], columns: list[_Column], numeric: set[int], wrap_gap: float
) -> list[list[Word]]:
    """Unruled rows: a row is a line with amounts (or a code / total label); wrapped text in
    each column is attached to the row its block of lines is centred on. Blocks above the first
    such line that no row is centred on continue the last row of the previous page: they come
    first, as a row without amounts."""
    anchors = [i for i, ln in enumerate(body) if _is_anchor(ln, columns, numeric)]
    if not anchors:
        return [[w for ln in body for w in ln.words]] if body else []
    rows: dict[int, list[Word]] = {a: list(body[a].words) for a in anchors}
    anchor_y = {a: (body[a].top + body[a].bottom) / 2 for a in anchors}
    first_top = body[anchors[0]].top
    lead: list[Word] = []
    # per column: blocks of vertically adjacent fragments from non-anchor lines
    loose: dict[int, list[Word]] = {}
    for i, line in enumerate(body):
        if i in rows:
            continue
        for w in line.words:
            col = _column_of(columns, w.xc)
            loose.setdefault(col if col is not None else -1, []).append(w)

    def inside(block: list[Word]) -> list[int]:
        top, bottom = min(w.top for w in block), max(w.bottom for w in block)
        return [a for a in anchors if top - 1 <= anchor_y[a] <= bottom + 1]

    for col, words in loose.items():
        anchor_words = [w for a in anchors for w in body[a].words if _column_of(columns, w.xc) == col]
        for block in _blocks(words + anchor_words, wrap_gap):
            parts = [block] if len(inside(block)) < 2 else _split_at_anchor_lines(block, anchor_y)
            for part in parts:
                top, bottom = min(w.top for w in part), max(w.bottom for w in part)
                within = inside(part)
                if not within and bottom < first_top:
                    lead.extend(part)
                    continue
                centre = (top + bottom) / 2
                target = min(within or anchors, key=lambda a: abs(anchor_y[a] - centre))
                rows[target].extend(w for w in part if w not in rows[target])
    return ([lead] if lead else []) + [rows[a] for a in anchors]


def _split_at_anchor_lines(block: list[Word], anchor_y: dict[int, float]) -> list[list[Word]]:
    """A block running over several rows (rows as tight as wrapped lines): words on a row's
    amount line stay there; the lines between them form their own parts."""
    parts: list[list[Word]] = []
    current: list[Word] = []
    for w in sorted(block, key=lambda w: (w.top, w.x0)):
        if any(abs(w.yc - y) <= 2 for y in anchor_y.values()):
            if current:
                parts.append(current)
                current = []
            parts.append([w])
        else:
            current.append(w)
    if current:
        parts.append(current)
    return parts


def _is_anchor(line: TextLine, columns: list[_Column], numeric: set[int]) -> bool:
    if any(_is_amount_word(w, columns, numeric) for w in line.words):
        return True
    first = squash(line.words[0].text)
    return bool(BRACKET_CODE.match(first) or CODE.match(first))


def _blocks(words: list[Word], wrap_gap: float) -> list[list[Word]]:
    words = sorted(words, key=lambda w: (w.top, w.x0))
    blocks: list[list[Word]] = []
    for w in words:
        if blocks:
            last = blocks[-1][-1]
            height = max(1.0, last.bottom - last.top)
            if w.top - last.bottom <= height * wrap_gap:
                blocks[-1].append(w)
                continue
        blocks.append([w])
    return blocks


def _cells(
    words: list[Word], columns: list[_Column], place: dict[int, int] | None = None
) -> tuple[list[str], list[tuple[float, float] | None]]:
    per_col: dict[int, list[Word]] = {}
    for w in words:
        i = place[id(w)] if place and id(w) in place else _column_of(columns, w.xc)
        if i is not None:
            per_col.setdefault(i, []).append(w)
    cells = [""] * len(columns)
    starts: list[tuple[float, float] | None] = [None] * len(columns)
    for i, ws in per_col.items():
        ws.sort(key=lambda w: (w.top, w.x0))
        # a word of a merged cell is centred over it: its place says nothing of indentation
        starts[i] = None if place and id(ws[0]) in place else (ws[0].x0, ws[0].bottom - ws[0].top)
        text = ""
        line_top: float | None = None
        for w in ws:
            if line_top is not None and abs(w.top - line_top) <= 2:
                text = join_text(text, w.text)  # letter-spaced CJK joins up, other words keep a space
            else:
                text = join_text(text, w.text)
                line_top = w.top
        cells[i] = text
    return cells, starts
