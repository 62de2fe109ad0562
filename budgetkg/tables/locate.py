"""Locate: find each table by its title (or the table it continues) and the page lines that belong to it,
without running heads and feet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from budgetkg.layout import LayoutSettings
from budgetkg.mapping import Mappings, TableKind, normalise_title, squash
from budgetkg.model import PageText, TextLine
from budgetkg.tables.patterns import (
    CURRENCY,
    CURRENCY_WORD,
    FOOTER,
    GENERIC_TITLE,
    LABEL_LINE,
    META,
    NOTE,
    SECTION,
    UNIT_NAME,
)


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
