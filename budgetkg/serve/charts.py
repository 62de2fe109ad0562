"""Charts: the geometry of the inline SVG (treemap, bars), computed here and drawn by the
``chart`` macro of ``templates/_macros.html`` — the no-JavaScript and print fallback — and the
data islands from which static/charts.js draws the same charts with ECharts when installed.

The treemap uses the squarified layout (Bruls, Huizing, van Wijk 2000): rows of rectangles
whose aspect ratios stay close to 1, so small budget lines stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from budgetkg.serve.markup import fmt_amount
from budgetkg.serve.views import BarsSvg, Chart, SvgBar, SvgBox, SvgText, TreemapSvg

PALETTE = (
    "#1f6fb2", "#c4452b", "#2e8b57", "#8e44ad", "#d4841b", "#17857d",
    "#b03a78", "#5a6b2f", "#3d5a98", "#9c5b2e", "#4f7f9e", "#7a4e9c",
)  # fmt: skip


@dataclass(slots=True)
class Node:
    """A chart item: label, value, link, and children (for the second treemap level)."""

    label: str
    value: Decimal
    href: str | None = None
    children: list[Node] = field(default_factory=list)


Rect = tuple[float, float, float, float]


def _worst(row: list[float], side: float) -> float:
    s = sum(row)
    if s <= 0 or side <= 0:
        return float("inf")
    return max(max(side * side * r / (s * s), (s * s) / (side * side * r)) for r in row if r > 0)


def squarify(values: list[float], rect: Rect) -> list[Rect]:
    """Rectangles for positive values (in the given order) filling ``rect``."""
    x, y, w, h = rect
    total = sum(values)
    if total <= 0 or w <= 0 or h <= 0:
        return [(x, y, 0.0, 0.0) for _ in values]
    scale = w * h / total
    areas = [v * scale for v in values]
    out: list[Rect] = []
    i = 0
    while i < len(areas):
        side = min(w, h)
        row = [areas[i]]
        j = i + 1
        while j < len(areas) and _worst(row + [areas[j]], side) <= _worst(row, side):
            row.append(areas[j])
            j += 1
        s = sum(row)
        if w >= h:  # lay the row out as a column on the left
            cw = s / h if h else 0
            cy = y
            for a in row:
                ch = a / cw if cw else 0
                out.append((x, cy, cw, ch))
                cy += ch
            x, w = x + cw, w - cw
        else:  # lay the row out along the top
            rh = s / w if w else 0
            cx = x
            for a in row:
                cwid = a / rh if rh else 0
                out.append((cx, y, cwid, rh))
                cx += cwid
            y, h = y + rh, h - rh
        i = j
    return out


def _lighten(hex_color: str, amount: float) -> str:
    r, g, b = (int(hex_color[k : k + 2], 16) for k in (1, 3, 5))
    r, g, b = (int(c + (255 - c) * amount) for c in (r, g, b))
    return f"#{r:02x}{g:02x}{b:02x}"


def _label(x: float, y: float, w: float, h: float, lines: list[str]) -> tuple[SvgText, ...]:
    """The lines of text that fit in a box (none in a box too small to read)."""
    if w < 46 or h < 16:
        return ()
    max_chars = max(1, int(w / 7.5))
    out = []
    for k, line in enumerate(lines):
        if 14 * (k + 1) + 2 > h:
            break
        text = line if len(line) <= max_chars else line[: max_chars - 1] + "…"
        out.append(SvgText(x + 4, y + 13 + 14 * k, text))
    return tuple(out)


def treemap(nodes: list[Node], unit: str, *, width: int = 960, height: int = 420) -> TreemapSvg | None:
    """Two-level treemap (e.g. 类 containing 款), drawn as SVG by ``templates/_macros.html``."""
    items = sorted((n for n in nodes if n.value > 0), key=lambda n: n.value, reverse=True)
    if not items:
        return None
    total = sum(n.value for n in items)
    rects = squarify([float(n.value) for n in items], (0, 0, width, height))
    boxes: list[SvgBox] = []
    for k, (node, (x, y, w, h)) in enumerate(zip(items, rects, strict=True)):
        color = PALETTE[k % len(PALETTE)]
        share = float(node.value / total * 100) if total else 0.0
        title = f"{node.label}: {fmt_amount(node.value)} {unit} ({share:.1f}%)"
        kids = sorted((c for c in node.children if c.value > 0), key=lambda c: c.value, reverse=True)
        header = 18 if h > 60 and w > 60 else 0
        if kids and header:
            head = _label(x, y, w, 18, [f"{node.label} {share:.0f}%"])
            boxes.append(SvgBox(x, y, w, h, color, 2, title, head, node.href))
            inner = (x + 3, y + header, w - 6, h - header - 3)
            for i, (kid, (kx, ky, kw, kh)) in enumerate(
                zip(kids, squarify([float(c.value) for c in kids], inner), strict=True)
            ):
                ktitle = f"{kid.label}: {fmt_amount(kid.value)} {unit}"
                shade = _lighten(color, 0.22 + 0.12 * (i % 3))
                labels = _label(kx, ky, kw, kh, [kid.label, fmt_amount(kid.value)])
                boxes.append(SvgBox(kx, ky, kw, kh, shade, 1, ktitle, labels, kid.href))
        else:
            labels = _label(x, y, w, h, [node.label, fmt_amount(node.value), f"{share:.1f}%"])
            boxes.append(SvgBox(x, y, w, h, color, 2, title, labels, node.href))
    return TreemapSvg(width, height, tuple(boxes))


def bars(nodes: list[Node], unit: str, *, width: int = 960) -> BarsSvg | None:
    """Horizontal bar chart (e.g. largest projects), drawn as SVG by ``templates/_macros.html``."""
    items = [n for n in nodes if n.value > 0]
    if not items:
        return None
    top = max(n.value for n in items)
    label_w, row_h = 360, 24
    height = row_h * len(items) + 8
    out = []
    for k, n in enumerate(items):
        y = 4 + k * row_h
        bw = float(n.value / top) * (width - label_w - 120) if top else 0
        name = n.label if len(n.label) <= 26 else n.label[:25] + "…"
        out.append(
            SvgBar(
                y=y,
                length=bw,
                name=name,
                title=f"{n.label}: {fmt_amount(n.value)} {unit}",
                amount=fmt_amount(n.value),
                fill=PALETTE[k % len(PALETTE)],
                href=n.href,
            )
        )
    return BarsSvg(width, height, label_w, row_h - 8, tuple(out))


# --- interactive charts (Apache ECharts, installed by scripts/install_ui.sh) ------------------
#
# The SVG above stays in the page as the no-JavaScript (and print) fallback; when ECharts is
# installed, static/charts.js draws the same data interactively in its place (treemap with
# drill-down from 类 to 款 to 项, tooltips, a legend for grouped bars) from a JSON island.


def node_data(node: Node) -> dict:
    """A Node as ECharts series data (value as a float: display only, the page prints Decimals)."""
    out: dict = {"name": node.label, "value": float(node.value), "text": fmt_amount(node.value)}
    if node.href:
        out["href"] = node.href
    if node.children:
        out["children"] = [node_data(c) for c in node.children]
    return out


def interactive(
    kind: str, unit: str, fallback: TreemapSvg | BarsSvg | None, data: object, *, cls: str = "chart"
) -> Chart:
    """A chart container (``chart`` macro): the JSON for charts.js, and the SVG fallback inside it."""
    return Chart(kind=kind, unit=unit, data=data, fallback=fallback, css_class=cls)
