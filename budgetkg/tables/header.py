"""Header: part each page of a table into header and body lines (repeated headers, column-number lines),
and turn header words into a path of labels per column."""

from __future__ import annotations

from collections.abc import Iterable

from budgetkg.layout import LayoutSettings
from budgetkg.mapping import TableKind, squash
from budgetkg.model import PageText, Rule, TextLine, Word
from budgetkg.tables.geometry import RulesAcross, _Column, _column_of, _rule_heights, _short
from budgetkg.tables.locate import _Found, _Segment
from budgetkg.tables.patterns import BRACKET_CODE, CODE, TOTAL_LABEL, is_amount, is_number_like


def _is_body_line(line: TextLine) -> bool:
    words = line.words
    first = squash(words[0].text)
    if any(is_amount(w.text) for w in words):
        return True
    return bool(BRACKET_CODE.match(first))


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


def _header_paths(
    columns: list[_Column],
    head: list[TextLine],
    rules: Iterable[Rule],
    kind: TableKind | None,
) -> list[tuple[str, ...]]:
    verticals = RulesAcross([r for r in rules if not r.horizontal])
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


def _cell_span(w: Word, columns: list[_Column], verticals: RulesAcross) -> list[int]:
    """Columns a header word's cell covers: up to the nearest rules that reach its line."""
    reach = [r.x0 for r in verticals.at(w.yc)]
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
