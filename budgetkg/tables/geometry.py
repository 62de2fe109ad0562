"""Shared geometry of the tables stage: columns, positions, rules, joining wrapped text."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from budgetkg.model import PageText, Rule


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


def _merge_overlapping(spans: list[list[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for s in spans:
        if out and s[0] < out[-1][1] + 0.5:
            out[-1][1] = max(out[-1][1], s[1])
        else:
            out.append(list(s))
    return out


def _merge_positions(xs: list[float], tol: float) -> list[float]:
    out: list[float] = []
    for x in xs:
        if out and x - out[-1] <= tol:
            continue
        out.append(x)
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


class RulesAcross:
    """Vertical rules by the heights they span, to find those crossing a height without testing
    every rule of the page (a ruled grid page has hundreds of cell sides: 06-gz-wjw). Each rule
    is filed under every band of `BAND` points it reaches into, and a height looked up in its
    band; a rule reaching over more than `MAX_BANDS` bands (or off any finite page) is tested
    at every height."""

    BAND = 16.0
    MAX_BANDS = 256

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.bands: dict[int, list[Rule]] = {}
        self.everywhere: list[Rule] = []
        for r in rules:
            if not (math.isfinite(r.top) and math.isfinite(r.bottom)) or r.bottom - r.top > self.BAND * self.MAX_BANDS:
                self.everywhere.append(r)
                continue
            for band in range(int(r.top // self.BAND), int(r.bottom // self.BAND) + 1):
                self.bands.setdefault(band, []).append(r)

    def at(self, y: float) -> list[Rule]:
        """The rules with top <= y <= bottom."""
        near = self.bands.get(int(y // self.BAND), ()) if math.isfinite(y) else ()  # no finite rule holds ±inf
        return [r for r in (*near, *self.everywhere) if r.top <= y <= r.bottom]


def _verticals(page: PageText, top: float, bottom: float, min_height: float) -> list[Rule]:
    return [
        r
        for r in page.rules
        if not r.horizontal and r.bottom > top + 2 and r.top < bottom - 2 and r.bottom - r.top > min_height
    ]


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


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
