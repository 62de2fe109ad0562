"""Rows: from horizontal rules or from the lines that carry amounts, wrapped text attached to the row it is
centred on; cells, indentation, bold; rows cut by a page break re-joined."""

from __future__ import annotations

from dataclasses import dataclass, field

from budgetkg.layout import LayoutSettings
from budgetkg.mapping import squash
from budgetkg.model import PageText, TextLine, Word
from budgetkg.tables.geometry import RulesAcross, _Column, _column_of, _merge_positions, _rule_heights, join_text
from budgetkg.tables.header import _cell_span
from budgetkg.tables.patterns import BRACKET_CODE, CODE, ITEM_NUMBER, TOTAL_LABEL, is_amount, is_number_like


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


def _merged_body_cells(page: PageText, body: list[TextLine], columns: list[_Column]) -> dict[int, int]:
    """Words of ruled body cells merged over several columns, and the column each belongs to.

    11-js-swbgt p.5 prints 合计 centred in one cell over the code and the name columns (the rule
    between them starts below it): by its centre it falls on the code column, and the reader
    took it for a header label of the codes. Such a word goes to the column of its cell whose
    body words are most often text (not amounts, not codes): where a row's label belongs."""
    verticals = RulesAcross([r for r in page.rules if not r.horizontal])
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
