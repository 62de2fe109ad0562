"""Columns: from the vertical rules that cross the body, or (unruled tables) from the gutters no body
text crosses, with header labels as cells and merged parent cells found by their centring."""

from __future__ import annotations

from dataclasses import dataclass

from budgetkg.layout import LayoutSettings
from budgetkg.mapping import squash
from budgetkg.model import PageText, Rule, TextLine, Word, WordBox
from budgetkg.tables.geometry import _Column, _column_of, _merge_overlapping, _merge_positions, _verticals


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
