"""Stage 2: find tables by their titles and header texts, and rebuild their grid.

A table is found by its title (or, for a continuation page, by following the table it
continues) and rebuilt from words and rules: columns come from vertical rules when the table
has them and from text alignment when it has none; rows from horizontal rules or, without
them, from lines that carry amounts, with wrapped text attached to the row it is centred on.
A row cut by a page break is re-joined to the row it belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from budgetkg.mapping import Mappings, TableKind, normalise_title, squash
from budgetkg.model import PageText, RawRow, RawTable, Rule, TextLine, Word

AMOUNT = re.compile(r"^[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
DASHES = {"-", "—", "－", "–", "/"}
CODE = re.compile(r"^\d{3}(?:\d{2}){0,2}$")
BRACKET_CODE = re.compile(r"^[\[【［](\d{3,7})[\]】］]")
FOOTER = re.compile(r"^(?:[-－—]\s*\d+\s*[-－—]|第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?|\d+)$")
META = re.compile(r"^(?:单位名称|部门名称|编制部门|编制单位|预算单位名称|单位)\s*[：:]")
CURRENCY = re.compile(r"单位\s*[：:]\s*(万元|元|千元|亿元)")
UNIT_NAME = re.compile(r"(?:单位名称|部门名称|编制部门|编制单位)\s*[：:]\s*(\S.*?)\s*(?:单位\s*[：:]|$)")
NOTE = re.compile(r"^注\s*[：:]")
LABEL_LINE = re.compile(r"^(?:部门公开)?表\s*\d+(?:[-－]\d+)?$|^公开\s*\d+\s*表$")
SECTION = re.compile(r"^第[一二三四五六七八九十]+部分")
TOTAL_LABEL = re.compile(r"^(?:合计|总计|本年收入合计|本年支出合计|收入总计|支出总计|小计)$")
GENERIC_TITLE = re.compile(r"表(?:[（(].{1,20}[)）])?$")


def is_amount(text: str) -> bool:
    return bool(AMOUNT.match(text.replace(" ", "")))


def is_number_like(text: str) -> bool:
    return is_amount(text) or text.strip() in DASHES


@dataclass
class _Segment:
    """The part of one page that belongs to one table."""

    page: PageText
    lines: list[TextLine]


@dataclass
class _Found:
    title: str
    kind: TableKind | None
    label: str | None
    segments: list[_Segment] = field(default_factory=list)
    currency_unit: str | None = None
    unit_name: str | None = None


def find_tables(pages: Sequence[PageText], mappings: Mappings) -> list[RawTable]:
    """Locate every table in reading order and rebuild it."""
    found = _locate(pages, mappings)
    tables: list[RawTable] = []
    for item in found:
        tables.append(_rebuild(item))
    return tables


def _title_kind(text: str, mappings: Mappings) -> TableKind | None:
    kind = mappings.kind_for_title(text)
    if kind is not None and kind.heading:
        return kind
    return kind


def _locate(pages: Sequence[PageText], mappings: Mappings) -> list[_Found]:
    found: list[_Found] = []
    current: _Found | None = None
    pending_label: str | None = None
    for page in pages:
        segment: _Segment | None = None
        for line in page.lines:
            text = line.text.strip()
            squashed = squash(text)
            if not squashed or (FOOTER.match(squashed) and line.top > page.height * 0.85):
                continue
            if LABEL_LINE.match(squashed):
                pending_label = squashed
                continue
            kind = _title_kind(text, mappings)
            kind_title = squashed if kind is None and _looks_like_title(line, page, squashed) else None
            if kind is not None or kind_title is not None:
                title = squashed
                if current is not None and normalise_title(current.title) == normalise_title(title):
                    segment = None  # repeated title: same table continues on this page
                    continue
                current = _Found(title=title, kind=kind, label=pending_label)
                pending_label = None
                preamble: list[TextLine] = []
                found.append(current)
                segment = None
                continue
            if current is None:
                continue
            if META.match(squashed) or CURRENCY.search(text):
                currency = CURRENCY.search(text)
                if currency and current.currency_unit is None:
                    current.currency_unit = currency.group(1)
                unit_name = UNIT_NAME.search(text)
                if unit_name and current.unit_name is None:
                    current.unit_name = squash(unit_name.group(1))
                if META.match(squashed) and not currency and "单位名称" not in squashed:
                    pass
                continue
            if NOTE.match(squashed) or SECTION.match(squashed):
                current = None
                segment = None
                continue
            if current.kind is not None and current.kind.heading and not current.segments:
                # a heading-introduced table starts at its header line, after the lead-in prose;
                # header cells wrapped above that line (inside the table's top rule) belong to it
                words = {squash(w.text) for w in line.words}
                if not all(w in words for w in current.kind.header_words):
                    preamble.append(line)
                    continue
                segment = _Segment(page, _header_above(line, preamble, page))
                current.segments.append(segment)
                for ln in segment.lines:
                    currency = CURRENCY.search(ln.text)
                    if currency:
                        current.currency_unit = currency.group(1)
                continue
            if segment is None or segment.page is not page:
                segment = _Segment(page, [])
                current.segments.append(segment)
            segment.lines.append(line)
    return [f for f in found if f.segments]


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


def _rebuild(found: _Found) -> RawTable:
    warnings: list[str] = []
    header_words: set[str] = set()
    columns: list[_Column] | None = None
    header_paths: list[tuple[str, ...]] = []
    rows: list[tuple[list[str], set[int]]] = []
    all_bodies = _bodies_by_width(found)
    for seg in found.segments:
        known = header_words | {label for path in header_paths for label in path}
        head, body = _split_header(seg.lines, known if header_words else set(), seg.page)
        if not header_words:
            header_words = {squash(w.text) for ln in head for w in ln.words}
        seg_columns = _columns(seg.page, head, body, columns, all_bodies.get(seg.page.width))
        if seg_columns is None:
            warnings.append(f"page {seg.page.number}: no columns could be found")
            continue
        if head or columns is None:
            paths = _header_paths(seg_columns, head, seg.page.rules, found.kind)
            if not header_paths:
                header_paths = paths
            elif len(paths) != len(header_paths):
                warnings.append(
                    f"page {seg.page.number}: {len(paths)} columns where the table has "
                    f"{len(header_paths)}; columns matched by position"
                )
        columns = seg_columns
        seg_rows = _rows(seg.page, body, columns)
        for i, (cells, amounts_present) in enumerate(seg_rows):
            cells = (cells + [""] * len(header_paths))[: max(len(header_paths), len(cells))]
            if i == 0 and rows and not amounts_present and not _has_row_identity(cells):
                _append_row(rows[-1][0], cells)
                rows[-1][1].add(seg.page.number)
                continue
            rows.append((cells, {seg.page.number}))
    raw_rows = tuple(RawRow(tuple(c.strip() for c in cells), tuple(sorted(pages))) for cells, pages in rows)
    pages = tuple(sorted({s.page.number for s in found.segments}))
    return RawTable(
        title=found.title,
        header=tuple(header_paths),
        rows=raw_rows,
        pages=pages,
        currency_unit=found.currency_unit,
        unit_name=found.unit_name,
        label=found.label,
        warnings=tuple(warnings),
    )


def _bodies_by_width(found: _Found) -> dict[float, list[TextLine]]:
    """Body lines of all pages of a table, by page width: an unruled table's columns are read
    from all its rows at once (a page with one short row says little about alignment)."""
    header_words: set[str] = set()
    out: dict[float, list[TextLine]] = {}
    for seg in found.segments:
        head, body = _split_header(seg.lines, header_words, seg.page)
        if not header_words:
            header_words = {squash(w.text) for ln in head for w in ln.words}
        out.setdefault(seg.page.width, []).extend(body)
    return out


def _split_header(
    lines: list[TextLine], header_words: set[str], page: PageText
) -> tuple[list[TextLine], list[TextLine]]:
    """Header = lines before the first body line; on later pages only lines that repeat the
    first page's header words (anything else is a row continued from the previous page).
    Where a rule separates header from body, lines below it are body (a wrapped first cell)."""
    first_body = next((i for i, ln in enumerate(lines) if _is_body_line(ln)), len(lines))
    if first_body < len(lines) and first_body > 0:
        body_top = lines[first_body].top
        head_top = lines[0].top
        cuts = [
            r.top for r in page.rules if r.horizontal and head_top < r.top < body_top and r.x1 - r.x0 > page.width * 0.3
        ]
        if cuts:
            cut = max(cuts)
            first_body = next(i for i, ln in enumerate(lines) if ln.bottom > cut or i == first_body)
    if not header_words:
        return lines[:first_body], lines[first_body:]
    joined = "".join(sorted(header_words, key=len, reverse=True))
    n = 0
    while n < first_body and all(squash(w.text) in header_words or squash(w.text) in joined for w in lines[n].words):
        n += 1
    return lines[:n], lines[n:]


def _has_row_identity(cells: list[str]) -> bool:
    """A continuation fragment has neither a code nor a total label of its own."""
    first = squash(cells[0]) if cells else ""
    return bool(CODE.match(first) or BRACKET_CODE.match(first) or TOTAL_LABEL.match(first))


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
    if _cjk_or_punct(a[-1]) and _cjk_or_punct(b[0]):
        return a + b
    return a + " " + b


def _cjk_or_punct(ch: str) -> bool:
    return ord(ch) > 0x2E80 or ch in ",.;:!?()[]、，。；：！？（）“”‘’《》"


# --- columns -------------------------------------------------------------------------------


def _verticals(page: PageText, top: float, bottom: float) -> list[Rule]:
    return [
        r for r in page.rules if not r.horizontal and r.bottom > top + 2 and r.top < bottom - 2 and r.bottom - r.top > 8
    ]


def _columns(
    page: PageText,
    head: list[TextLine],
    body: list[TextLine],
    previous: list[_Column] | None,
    table_body: list[TextLine] | None = None,
) -> list[_Column] | None:
    all_lines = head + body
    if not all_lines:
        return previous
    top = min(ln.top for ln in all_lines)
    bottom = max(ln.bottom for ln in all_lines)
    body_top = min((ln.top for ln in body), default=bottom)
    verticals = [r for r in _verticals(page, top, bottom) if r.bottom > body_top + 2]
    xs = _merge_positions(sorted(r.x0 for r in verticals), 2.0)
    if len(xs) >= 3:
        return [_Column(a, b) for a, b in zip(xs, xs[1:], strict=False)]
    if previous is not None and not head:
        return previous
    return _text_columns(head, table_body or body)


def _merge_positions(xs: list[float], tol: float) -> list[float]:
    out: list[float] = []
    for x in xs:
        if out and x - out[-1] <= tol:
            continue
        out.append(x)
    return out


def _has_words_below(w: Word, head: list[TextLine]) -> bool:
    """A merged (parent) header cell has the labels of its columns printed below it."""
    reach = max(30.0, w.x1 - w.x0)
    return any(
        o.top > w.bottom - 1 and w.x0 - reach <= o.xc <= w.x1 + reach for line in head for o in line.words if o is not w
    )


def _text_columns(head: list[TextLine], body: list[TextLine]) -> list[_Column] | None:
    """Columns of an unruled table: the vertical gutters that no body text crosses separate
    them. A header word over a gutter is a merged parent cell when labels stand below it;
    otherwise it labels the nearest unlabelled column, or a column printed all blank."""
    spans = _merge_overlapping(sorted([w.x0, w.x1] for line in body for w in line.words))
    labelled = [False] * len(spans)
    for line in head:
        for w in line.words:
            for i, sp in enumerate(spans):
                if w.x0 < sp[1] and w.x1 > sp[0]:
                    labelled[i] = True
    extra: list[list[float]] = []
    for line in head:
        for w in line.words:
            if any(w.x0 < sp[1] and w.x1 > sp[0] for sp in spans) or _has_words_below(w, head):
                continue
            free = [i for i in range(len(spans)) if not labelled[i]]
            near = min(free, key=lambda i: min(abs(spans[i][0] - w.x1), abs(w.x0 - spans[i][1])), default=None)
            if near is not None and min(abs(spans[near][0] - w.x1), abs(w.x0 - spans[near][1])) < 40:
                spans[near] = [min(spans[near][0], w.x0), max(spans[near][1], w.x1)]
                labelled[near] = True
            else:
                extra.append([w.x0, w.x1])
    spans = _merge_overlapping(sorted(spans + extra))
    if not spans:
        return None
    cols: list[_Column] = []
    for i, (x0, x1) in enumerate(spans):
        left = x0 - 2 if i == 0 else (spans[i - 1][1] + x0) / 2
        right = x1 + 2 if i == len(spans) - 1 else (x1 + spans[i + 1][0]) / 2
        cols.append(_Column(left, right, x0, x1))
    return cols


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
            span = _cell_span(w, columns, verticals, head)
            if len(span) > 1:
                spanning.setdefault((tuple(span), round(w.yc / 3)), []).append(w)
            elif span:
                columns[span[0]].fragments.append((w.top, w.x0, squash(w.text)))
    for (span, _), words in spanning.items():
        text = "".join(squash(w.text) for w in sorted(words, key=lambda w: w.x0))
        for i in span:
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


def _cell_span(w: Word, columns: list[_Column], verticals: list[Rule], head: list[TextLine] | None = None) -> list[int]:
    """Columns a header word's cell covers: up to the nearest rules that reach its line; in
    unruled tables, the columns whose text it overlaps (both sides of the gutter it sits over,
    when it is a merged parent cell)."""
    reach = [r.x0 for r in verticals if r.top <= w.yc <= r.bottom]
    if len(reach) >= 2:
        lefts = [x for x in reach if x <= w.x0 + 1]
        rights = [x for x in reach if x >= w.x1 - 1]
        if lefts and rights:
            left, right = max(lefts), min(rights)
            span = [i for i, c in enumerate(columns) if c.xc > left and c.xc < right]
            if span:
                return span
    if head is not None and columns and columns[0].ink0 is not None:
        over = [i for i, c in enumerate(columns) if w.x0 < (c.ink1 or 0) and w.x1 > (c.ink0 or 0)]
        if len(over) > 1:
            below = {
                _column_of(columns, o.xc)
                for line in head
                for o in line.words
                if o.top > w.bottom - 1 and w.x0 - 2 <= o.xc <= w.x1 + 2
            }
            if len(below & set(over)) > 1:
                return over  # a merged cell over the labels of several columns
            return [max(over, key=lambda i: min(w.x1, columns[i].ink1 or 0) - max(w.x0, columns[i].ink0 or 0))]
        if not over and _has_words_below(w, head):
            i = _column_of(columns, w.xc)
            if i is not None:
                c = columns[i]
                side = i + 1 if w.xc > ((c.ink0 or 0) + (c.ink1 or 0)) / 2 else i - 1
                if 0 <= side < len(columns):
                    return sorted({i, side})
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


def _horizontal_separators(page: PageText, body: list[TextLine], columns: list[_Column]) -> list[float]:
    if not body or not columns:
        return []
    width = columns[-1].x1 - columns[0].x0
    top = min(ln.top for ln in body) - 6
    bottom = max(ln.bottom for ln in body) + 6
    ys = sorted(r.top for r in page.rules if r.horizontal and top <= r.top <= bottom and (r.x1 - r.x0) >= width * 0.5)
    return _merge_positions(ys, 1.5)


def _rows(page: PageText, body: list[TextLine], columns: list[_Column]) -> list[tuple[list[str], bool]]:
    numeric = _numeric_columns(body, columns)
    seps = _horizontal_separators(page, body, columns)
    groups = _rows_by_rules(body, seps) if len(seps) >= 2 else []
    if not groups or any(_anchor_lines(g, columns, numeric) > 1 for g in groups):
        groups = _rows_by_text(body, columns, numeric)
    out: list[tuple[list[str], bool]] = []
    for group in groups:
        cells = _cells(group, columns)
        present = any(is_number_like(w.text) for w in group)
        if any(cells):
            out.append((cells, present))
    return out


def _numeric_columns(body: list[TextLine], columns: list[_Column]) -> set[int]:
    """Columns whose body words are (almost) all amounts."""
    counts: dict[int, list[int]] = {}
    for line in body:
        for w in line.words:
            i = _column_of(columns, w.xc)
            if i is not None:
                c = counts.setdefault(i, [0, 0])
                c[0 if is_number_like(w.text) else 1] += 1
    return {i for i, (num, other) in counts.items() if num and num >= 4 * other}


def _is_amount_word(w: Word, columns: list[_Column], numeric: set[int]) -> bool:
    return is_amount(w.text) and _column_of(columns, w.xc) in numeric


def _anchor_lines(words: list[Word], columns: list[_Column], numeric: set[int]) -> int:
    """How many distinct printed lines of a band carry amounts (more than one: not one row)."""
    tops = sorted({round(w.top) for w in words if _is_amount_word(w, columns, numeric)})
    merged = _merge_positions([float(t) for t in tops], 2.0)
    return len(merged)


def _rows_by_rules(body: list[TextLine], seps: list[float]) -> list[list[Word]]:
    bands: dict[int, list[Word]] = {}
    for line in body:
        for w in line.words:
            idx = sum(1 for y in seps if y <= w.yc)
            bands.setdefault(idx, []).append(w)
    return [bands[k] for k in sorted(bands)]


def _rows_by_text(body: list[TextLine], columns: list[_Column], numeric: set[int]) -> list[list[Word]]:
    """Unruled rows: a row is a line with amounts (or a code / total label); wrapped text in
    each column is attached to the row its block of lines is centred on."""
    anchors = [i for i, ln in enumerate(body) if _is_anchor(ln, columns, numeric)]
    if not anchors:
        return [list(ln.words) for ln in body]
    rows: dict[int, list[Word]] = {a: list(body[a].words) for a in anchors}
    anchor_y = {a: (body[a].top + body[a].bottom) / 2 for a in anchors}
    # per column: blocks of vertically adjacent fragments from non-anchor lines
    loose: dict[int, list[Word]] = {}
    for i, line in enumerate(body):
        if i in rows:
            continue
        for w in line.words:
            col = _column_of(columns, w.xc)
            loose.setdefault(col if col is not None else -1, []).append(w)
    for col, words in loose.items():
        anchor_words = [w for a in anchors for w in body[a].words if _column_of(columns, w.xc) == col]
        for block in _blocks(words + anchor_words):
            inside = [a for a in anchors if block[0].top - 1 <= anchor_y[a] <= block[-1].bottom + 1]
            centre = (block[0].top + block[-1].bottom) / 2
            pool = inside or anchors
            target = min(pool, key=lambda a: abs(anchor_y[a] - centre))
            rows[target].extend(w for w in block if w not in rows[target])
    return [rows[a] for a in anchors]


def _is_anchor(line: TextLine, columns: list[_Column], numeric: set[int]) -> bool:
    if any(_is_amount_word(w, columns, numeric) for w in line.words):
        return True
    first = squash(line.words[0].text)
    return bool(BRACKET_CODE.match(first) or CODE.match(first))


def _blocks(words: list[Word]) -> list[list[Word]]:
    words = sorted(words, key=lambda w: (w.top, w.x0))
    blocks: list[list[Word]] = []
    for w in words:
        if blocks:
            last = blocks[-1][-1]
            height = max(1.0, last.bottom - last.top)
            if w.top - last.bottom <= height * 0.8:
                blocks[-1].append(w)
                continue
        blocks.append([w])
    return blocks


def _cells(words: list[Word], columns: list[_Column]) -> list[str]:
    per_col: dict[int, list[Word]] = {}
    for w in words:
        i = _column_of(columns, w.xc)
        if i is not None:
            per_col.setdefault(i, []).append(w)
    cells = [""] * len(columns)
    for i, ws in per_col.items():
        ws.sort(key=lambda w: (w.top, w.x0))
        text = ""
        line_top: float | None = None
        for w in ws:
            if line_top is not None and abs(w.top - line_top) <= 2:
                text = text + " " + w.text
            else:
                text = join_text(text, w.text)
                line_top = w.top
        cells[i] = text
    return cells
