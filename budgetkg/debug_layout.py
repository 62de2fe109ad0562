"""`budgetkg debug-layout PDF --page N`: draw what the reader saw on one page, and say why.

The next layout is diagnosed by looking, not by printing: the page is rendered (pypdfium2, as
pdfplumber's ``page.to_image()`` does) and the geometry of every table on it is drawn over it:

- drawn rules (red), every word as built from its characters (thin grey box);
- each table's header lines (yellow band) and lines dropped as column numbers (grey band);
- column bounds (blue) with their number, and for columns read from text alignment the body
  ink of each column (green band: the gutters are the white between);
- each row's extent (orange box across the table).

The text report lists, per table on the page, the header path of every column, the rows as
read and the trace of the geometry's decisions (columns from rules or gutters, header depth,
column-number lines dropped, rows joined across the page break). CJK labels are printed in the
report, not drawn (PIL's bundled font has no CJK glyphs): the image carries column numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from budgetkg.layout import LayoutSettings, load_layout
from budgetkg.mapping import load_mappings
from budgetkg.model import InputError, PageText, RawTable
from budgetkg.pdf import read_pages
from budgetkg.tables import SegmentGeometry, find_tables_with_geometry

SCALE = 2.0  # pixels per point of the PNG
RULE, WORD, COLUMN, INK, ROW, HEADER, DROPPED = (
    (220, 30, 30, 255),
    (150, 150, 150, 255),
    (30, 80, 230, 255),
    (60, 200, 90, 50),
    (245, 140, 20, 255),
    (255, 220, 0, 60),
    (120, 120, 120, 90),
)


@dataclass(frozen=True)
class PageLayout:
    """One page as the reader saw it: the page, the tables with geometry on it."""

    page: PageText
    tables: tuple[tuple[RawTable, SegmentGeometry], ...]


def page_layout(path: Path, number: int, settings: LayoutSettings | None = None) -> PageLayout:
    """Read the whole document (a table may start pages earlier) and keep page `number`."""
    pages = read_pages(path)
    if not 1 <= number <= len(pages):
        raise InputError(str(path), f"debug-layout: no page {number} (the document has {len(pages)})")
    page = pages[number - 1]
    tables = tuple(
        (table, seg)
        for table, geometry in find_tables_with_geometry(pages, load_mappings(), settings or load_layout())
        for seg in geometry
        if seg.page == number
    )
    return PageLayout(page, tables)


def report(layout: PageLayout) -> str:
    """The text half of debug-layout: per table, columns with header paths, rows, trace."""
    page = layout.page
    out = [
        f"page {page.number}: {page.width:.0f} x {page.height:.0f} pt, turned {page.rotation}°, "
        f"{sum(len(ln.words) for ln in page.lines)} words in {len(page.lines)} lines, {len(page.rules)} rules; "
        f"{len(layout.tables)} table(s)"
    ]
    for table, seg in layout.tables:
        out.append(f"\ntable {table.title!r} (pages {', '.join(map(str, table.pages))}; unit {table.currency_unit})")
        for i, ((x0, x1, _, _), path) in enumerate(zip(seg.columns, _padded(seg.paths, len(seg.columns)), strict=True)):
            out.append(f"  column {i}: x {x0:.1f}–{x1:.1f}  {' / '.join(path) or '(no header)'}")
        if table.column_numbers:
            out.append(f"  column numbers: {' '.join(table.column_numbers)}")
        rows = [r for r in table.rows if page.number in r.pages]
        out.append(f"  {len(rows)} row(s) on this page:")
        for r in rows:
            marks = "".join(("b" if b else "") for b in r.bold[:1])
            out.append(f"    {marks:1} {' | '.join(c.strip() for c in r.cells)}")
        out.append("  trace:")
        out.extend(f"    {t}" for t in table.trace if t.startswith(f"page {page.number}:"))
        out.extend(f"  warning: {w}" for w in table.warnings)
    return "\n".join(out)


def _padded(paths: tuple[tuple[str, ...], ...], n: int) -> list[tuple[str, ...]]:
    return (list(paths) + [()] * n)[:n]


def draw(path: Path, layout: PageLayout, out: Path, scale: float = SCALE) -> Path:
    """The picture half: the page rendered and turned like the reader turned it, geometry on top."""
    import pypdfium2
    from PIL import Image, ImageDraw

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        image = pdf[layout.page.number - 1].render(scale=scale).to_pil().convert("RGBA")
    finally:
        pdf.close()
    if layout.page.rotation:
        image = image.rotate(layout.page.rotation, expand=True)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)

    def box(x0: float, top: float, x1: float, bottom: float) -> tuple[float, float, float, float]:
        return (x0 * scale, top * scale, max(x0, x1) * scale, max(top, bottom) * scale)

    for r in layout.page.rules:
        pen.line(box(r.x0, r.top, r.x1, r.bottom)[:2] + box(r.x1, r.bottom, r.x1, r.bottom)[:2], fill=RULE, width=2)
    for line in layout.page.lines:
        for w in line.words:
            pen.rectangle(box(w.x0, w.top, w.x1, w.bottom), outline=WORD, width=1)
    for _, seg in layout.tables:
        if not seg.columns:
            continue
        left, right = seg.columns[0][0], seg.columns[-1][1]
        top = min((ln.top for ln in seg.lines), default=0.0)
        bottom = max((ln.bottom for ln in seg.lines), default=0.0)
        if seg.header:
            pen.rectangle(
                box(left, min(ln.top for ln in seg.header), right, max(ln.bottom for ln in seg.header)), fill=HEADER
            )
        for ln in seg.dropped:
            pen.rectangle(box(left, ln.top, right, ln.bottom), fill=DROPPED)
        for i, (x0, x1, ink0, ink1) in enumerate(seg.columns):
            if ink0 is not None and ink1 is not None:
                pen.rectangle(box(ink0, top, ink1, bottom), fill=INK)
            pen.line(box(x0, top, x0, bottom)[:2] + box(x0, bottom, x0, bottom)[:2], fill=COLUMN, width=2)
            pen.text(((x0 + x1) / 2 * scale - 4, max(0.0, top * scale - 14)), str(i), fill=COLUMN)
        pen.line(box(right, top, right, bottom)[:2] + box(right, bottom, right, bottom)[:2], fill=COLUMN, width=2)
        for row_top, row_bottom in seg.rows:
            pen.rectangle(box(left + 1, row_top - 0.5, right - 1, row_bottom + 0.5), outline=ROW, width=1)
    Image.alpha_composite(image, overlay).convert("RGB").save(out)
    return out
