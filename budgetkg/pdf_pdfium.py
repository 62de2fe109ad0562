"""Stage 1, second page source: a page's characters and rules read with PDFium (pypdfium2).

pdfplumber (pdfminer) interprets every content stream in Python; PDFium does it in C++ (issue
16: a page's characters and edges in a quarter of pdfplumber's time, see benchmarks/run.py's
`engines`). This module returns them in pdfplumber's shape — character dicts (``text``,
``x0``/``x1``/``top``/``bottom`` with the top measured from the page top, ``matrix``,
``fontname``, ``size``, ``upright``) and edge dicts (the sides of lines, rectangles and curves)
— so that everything after it in `budgetkg.pdf` (words, splits at rules, turned pages, lines)
runs unchanged on either source, and the two give the same `lines.csv` (tests/test_engines.py:
the sample, its rendered styles and every shared real document). pdfplumber stays the
reference: where PDFium's own notion of a fact differs, the fact is rebuilt here the way
pdfminer makes it:

* `char_box` — a glyph box from the advance, the font's descent and size (pdfminer's box),
  not PDFium's tight outline box; the advance from PDFium's loose box (`turn_upright` makes
  that box usable for text that does not run left to right);
* `restore_spaces`, `lone_blanks` — the blanks PDFium's text page leaves out (a run of
  spaces kept as one, a blank drawn as an object of its own) put back, its made-up spaces and
  line breaks left out, and the characters in content-stream order (PDFium sorts a line's
  objects by position);
* `HYPHEN` — a line-end hyphen as printed, not PDFium's U+0002;
* `path_edges` — a path object split into subpaths and classed as line, rectangle or curve
  by pdfminer's rules, its edges made as pdfplumber makes them from each class;
* `page_turn` — a page with /Rotate read in its displayed frame, as pdfminer's interpreter
  does, so the page's width and height and every coordinate are those pdfplumber reports.

What remains different is position by a fraction of a point: PDFium keeps glyph widths as
whole font units and positions in single precision (up to 0.2 pt along a long line of the
real documents), and places glyphs after character spacing (Tc) differently from pdfminer (the
sample's justified prose: the last glyph of a line up to 10 pt apart; no table is set so).
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as raw

from budgetkg.model import InputError

PdfiumError = pdfium.PdfiumError
Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


@dataclass(frozen=True)
class RawPage:
    """What the reader needs from one page, in pdfplumber's conventions (see module docstring)."""

    width: float
    height: float
    chars: list[dict]
    edges: list[dict]


def count_pages(path: Path) -> int:
    """The number of pages of the PDF at `path`."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        return len(pdf)
    finally:
        pdf.close()


def open_pdf(path: Path) -> pdfium.PdfDocument:
    """The document, or InputError with pdfplumber's one-line reasons (encrypted, damaged)."""
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        reason = str(exc).lower()
        if "password" in reason or "security" in reason:
            raise InputError(str(path), "is encrypted (password protected); cannot read its text") from None
        raise InputError(str(path), "is damaged and cannot be parsed (PdfiumError)") from None


def read_raw_pages(pdf: pdfium.PdfDocument, numbers: list[int]) -> Iterator[RawPage]:
    """The pages numbered `numbers` (1-based) of an open document, in that order."""
    for number in numbers:
        page = pdf[number - 1]
        try:
            yield read_raw_page(page)
        finally:
            page.close()


def page_turn(page: pdfium.PdfPage) -> tuple[float, float, Matrix]:
    """(width, height, the matrix from PDF user space to the displayed page with y pointing up).

    pdfminer's interpreter starts each page with this matrix (/Rotate applied, the MediaBox
    origin moved to 0,0); PDFium reports positions in unrotated user space, so both its
    characters and its paths are carried into that frame here."""
    x0, y0, x1, y1 = page.get_mediabox()
    rotate = page.get_rotation() % 360
    if rotate == 90:
        return y1 - y0, x1 - x0, (0.0, -1.0, 1.0, 0.0, -y0, x1)
    if rotate == 180:
        return x1 - x0, y1 - y0, (-1.0, 0.0, 0.0, -1.0, x1, y1)
    if rotate == 270:
        return y1 - y0, x1 - x0, (0.0, 1.0, -1.0, 0.0, y1, -x0)
    return x1 - x0, y1 - y0, (1.0, 0.0, 0.0, 1.0, -x0, -y0)


def _mult(m: Matrix, n: Matrix) -> Matrix:
    """m then n (pdfminer's mult_matrix)."""
    a1, b1, c1, d1, e1, f1 = m
    a0, b0, c0, d0, e0, f0 = n
    return (
        a0 * a1 + c0 * b1,
        b0 * a1 + d0 * b1,
        a0 * c1 + c0 * d1,
        b0 * c1 + d0 * d1,
        a0 * e1 + c0 * f1 + e0,
        b0 * e1 + d0 * f1 + f0,
    )


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def read_raw_page(page: pdfium.PdfPage) -> RawPage:
    """One page's characters and edges (see the module docstring)."""
    width, height, turn = page_turn(page)
    if turn != IDENTITY:
        # Carry every object into the displayed frame before the text page is made: PDFium's
        # loose character box is horizontal in page space, so a character must lie upright
        # there for its advance to be known (11-js-swbgt's /Rotate 90 pages).
        for i in range(raw.FPDFPage_CountObjects(page.raw)):
            raw.FPDFPageObj_Transform(raw.FPDFPage_GetObject(page.raw, i), *turn)
        turn = IDENTITY
    lines: list[dict] = []
    rects: list[dict] = []
    curves: list[dict] = []
    texts: dict[int, _TextObject] = {}
    _walk(page.raw, IDENTITY, turn, height, lines, rects, curves, texts)
    _font_names.clear()
    _FONTS.clear()
    _FONT_SIZES.clear()
    _TURNED.clear()
    turned = turn_upright(texts)
    _TURNED.update(turned)
    textpage = page.get_textpage()
    try:
        chars = _chars(textpage.raw, height, texts, turned)
    finally:
        textpage.close()
    return RawPage(width, height, chars, lines + rects + curves)


# --- characters ---------------------------------------------------------------------------------

_font_names: dict[int, str] = {}
_FONTS: dict[int, _Font] = {}  # by text object rank, for the page being read
_FONT_SIZES: dict[tuple[int, float], _Font] = {}  # by font address and size, for the page being read
_TURNED: dict[int, tuple[Matrix, float]] = {}  # `turn_upright`'s turns back, for the page being read


def _font_name(font: raw.FPDF_FONT) -> str:
    """The font's PostScript name (with any subset prefix), as pdfminer's ``fontname``."""
    key = ctypes.cast(font, ctypes.c_void_p).value or 0
    name = _font_names.get(key)
    if name is None:
        size = raw.FPDFFont_GetBaseFontName(font, None, 0)
        buffer = ctypes.create_string_buffer(size)
        raw.FPDFFont_GetBaseFontName(font, buffer, size)
        name = buffer.value.decode("utf-8", "replace")
        _font_names[key] = name
    return name


def _address(obj: object) -> int:
    return ctypes.cast(obj, ctypes.c_void_p).value or 0


#: PDFium replaces a hyphen that ends a line (`FPDFText_IsHyphen`) by U+0002; pdfminer keeps the
#: printed character, in these documents a hyphen-minus (01-gz-zwfwsjglj p.28 ``GZIT2022-SM-W-C-``).
HYPHEN = "-"


@dataclass(slots=True)
class _Glyph:
    """One character as PDFium placed it: its text object's rank, origin and matrix (page space,
    unturned), advance in text space, font descent and size; `generated` for a space PDFium
    made up where a TJ offset moves the pen (kept only as a place where a space may be missing)."""

    rank: int
    text: str
    origin: tuple[float, float]
    m: Matrix
    adv: float
    descent: float
    size: float
    font: str
    generated: bool = False


def _chars(
    textpage: raw.FPDF_TEXTPAGE, height: float, texts: dict[int, _TextObject], turned: dict[int, tuple[Matrix, float]]
) -> list[dict]:
    """Every character of the page's text (PDFium's made-up spaces and line breaks left out:
    pdfminer makes none), in content-stream order, with the spaces PDFium's text page dropped
    put back (`restore_spaces`, `lone_blanks`), each with pdfminer's box (`char_box`)."""
    count = raw.FPDFText_CountChars(textpage)
    origin_x, origin_y = ctypes.c_double(), ctypes.c_double()
    loose = raw.FS_RECTF()
    glyphs: list[_Glyph] = []
    object_at, is_generated, unicode_at = _text_object_at, raw.FPDFText_IsGenerated, raw.FPDFText_GetUnicode
    origin_of, loose_box = raw.FPDFText_GetCharOrigin, raw.FPDFText_GetLooseCharBox
    # what each text object gives all its characters, looked up once per object
    objects: dict[int, tuple[_TextObject, Matrix | None, float, _Font]] = {}
    for i in range(count):
        address = object_at(textpage, i) or 0
        known = objects.get(address)
        if known is None:
            t = texts.get(address)
            if t is None:
                continue
            back, scale = turned.get(t.rank, (None, t.m[0]))
            known = objects[address] = (t, back, scale, t.font())
        t, back, scale, font = known
        generated = is_generated(textpage, i) == 1
        code = unicode_at(textpage, i)
        if generated and code != 32:
            continue
        origin_of(textpage, i, origin_x, origin_y)
        origin = (origin_x.value, origin_y.value)
        adv = 0.0
        if not generated:
            loose_box(textpage, i, loose)
            adv = (loose.right - loose.left) / scale if scale else 0.0
        if back is not None:
            origin = _apply(back, *origin)
        text = HYPHEN if code == 2 else chr(code) if code else ""
        glyphs.append(_Glyph(t.rank, text, origin, t.m, adv, font.descent, font.size, font.name, generated))
    glyphs.extend(lone_blanks(glyphs, texts))
    glyphs.sort(key=_rank)  # stable: PDFium keeps each object's characters in order
    return [_char_dict(g, height) for g in restore_spaces(glyphs, texts)]


def _rank(g: _Glyph) -> int:
    return g.rank


#: PDFium's FPDFText_GetTextObject returning the object's address (an int, a dictionary key)
#: rather than a ctypes pointer, which costs a cast per character.
_text_object_at = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)(
    ctypes.cast(raw.FPDFText_GetTextObject, ctypes.c_void_p).value
)
#: FPDFTextObj_GetFont returning the font's address in the same way (a key of `_FONT_SIZES`).
_font_of = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(
    ctypes.cast(raw.FPDFTextObj_GetFont, ctypes.c_void_p).value
)


@dataclass(frozen=True)
class _Font:
    """What a character's box needs of its text object's font: name, size, descent (text space)."""

    name: str
    size: float
    descent: float


#: The advance of a space, in ems, when the page shows none of its font: a Latin font's space
#: (Times New Roman's 250 units; 14-cs-xfj's blanks between a heading's parts).
SPACE_EM = 0.25


def lone_blanks(glyphs: list[_Glyph], texts: dict[int, _TextObject]) -> list[_Glyph]:
    """A space for each text object PDFium's text page left out for having no extent.

    PDFium does not read a text object whose box is empty; its box is made of its glyphs'
    outlines and the pen positions between them, so an empty box is one glyph with no outline:
    a blank drawn on its own (09-sh-pt-zfb and 14-cs-xfj draw each space as one object, 09's
    ``目  录`` has two). pdfminer keeps them, and the reader needs them: with blanks kept as
    characters they hold the parts of one label in one word. PDFium tells neither the blank's
    character nor its advance: it is taken to be a space, as wide as the font's space
    (`space_advance`), else as a space of the same font elsewhere on the page, else `SPACE_EM`."""
    seen = {g.rank for g in glyphs}
    ems: dict[str, float] = {}
    for g in glyphs:
        if g.text == " " and not g.generated and g.adv > 0 and g.size > 0:
            ems.setdefault(g.font, g.adv / g.size)
    out: list[_Glyph] = []
    for t in texts.values():
        corners = None if t.rank in seen else t.corners()
        if corners is None:
            continue
        if max(abs(x - corners[0][0]) + abs(y - corners[0][1]) for x, y in corners) >= _EMPTY:
            continue  # a duplicate PDFium dropped (drawn twice for a bold look): its glyphs are unknown
        font = t.font()
        adv = space_advance(t) or ems.get(font.name, SPACE_EM) * font.size
        out.append(_Glyph(t.rank, " ", (t.m[4], t.m[5]), t.m, adv, font.descent, font.size, font.name))
    return out


def space_advance(t: _TextObject) -> float:
    """The advance of a space in t's font and size (text space), measured by PDFium: the object's
    text set to two spaces spans exactly the first one (09-sh-pt-zfb's half-em blanks, 14-cs-xfj's
    quarter-em ones). Then set to one space, blank and unread again. 0 when the font has no space."""
    corners = t.corners() if _set_text(t.handle, "  ") else None
    if corners is None:
        return 0.0
    _set_text(t.handle, " ")
    a, b = t.m[0], t.m[1]
    scale = (a * a + b * b) ** 0.5 or 1.0
    along = [((x - t.m[4]) * a + (y - t.m[5]) * b) / scale for x, y in corners]
    return (max(along) - min(along)) / scale


def _set_text(handle: object, text: str) -> bool:
    encoded = ctypes.create_string_buffer(text.encode("utf-16-le") + b"\0\0")
    return bool(raw.FPDFText_SetText(handle, ctypes.cast(encoded, raw.FPDF_WIDESTRING)))


#: PDFium's own limit (`kSizeEpsilon`): a text object narrower than this is not read.
_EMPTY = 0.01


def _char_dict(g: _Glyph, height: float) -> dict:
    a, b, c, d = g.m[:4]
    e, f = g.origin
    if b == 0 and c == 0:  # `char_box` of text laid along the axes (most of every page), inline
        x0, x1 = _ordered(e, e + a * g.adv)
        y0, y1 = _ordered(f + d * g.descent, f + d * (g.descent + g.size))
    else:
        x0, y0, x1, y1 = char_box((a, b, c, d, e, f), g.adv, g.descent, g.size)
    return {
        "text": g.text,
        "fontname": g.font,
        "size": y1 - y0,
        "x0": x0,
        "x1": x1,
        "top": height - y1,
        "bottom": height - y0,
        "doctop": height - y1,
        "matrix": (a, b, c, d, e, f),
        "upright": a * d > 0 and b * c <= 0,
        "object_type": "char",
    }


def restore_spaces(glyphs: list[_Glyph], texts: dict[int, _TextObject]) -> list[_Glyph]:
    """The glyphs with the spaces PDFium's text page dropped put back, and its made-up spaces
    removed. Of a run of spaces PDFium keeps the first (`CloseTempLine`); pdfminer keeps every
    one, and the reader needs them: with blanks kept as characters, a run of spaces between two
    parts of one label holds them in one word (07-sz-tjj's ``目  录``, ``第一部分  部门概况``). Two
    places tell that spaces are missing, each in steps of a space's advance:

    * a space that ends its text object, short of the object's far edge (the box of a text
      object reaches the pen position of its last glyph, a blank included);
    * a space PDFium made up for a TJ offset, short of the next character of the same object
      (it stands where the next item starts: a space there was dropped as a second space);
    * a space after a printed character of its object, short of the object's next character
      by whole advances (08-sh-tjdsj's ``目  录``, 11-js-swbgt's ``合     计`` with a little
      character spacing between). Not a space that starts its object: a TJ offset after it
      looks the same (14-cs-xfj p.11's ``第二部分 2026``: one space, then a quarter-em offset)."""
    out: list[_Glyph] = []
    widths: dict[tuple[str, float], float] = {}
    for g in glyphs:
        if g.text == " " and not g.generated and g.adv > 0:
            widths.setdefault((g.font, g.size), g.adv)
    ranked = {t.rank: t for t in texts.values()}
    for k, g in enumerate(glyphs):
        nxt = glyphs[k + 1] if k + 1 < len(glyphs) else None
        if g.generated:
            adv = widths.get((g.font, g.size), 0.0)
            if nxt is not None and nxt.rank == g.rank and adv > 0:
                out.extend(_spaces(g, _along(g, nxt.origin) / _scale(g), adv, 0))
            continue
        out.append(g)
        prev = glyphs[k - 1] if k else None
        inside = prev is not None and prev.rank == g.rank and not prev.generated and prev.text.strip()
        if g.text == " " and g.adv > 0 and inside and nxt is not None and nxt.rank == g.rank:
            distance = _along(g, nxt.origin) / _scale(g)
            missing = round(distance / g.adv) - 1
            if missing > 0:
                out.extend(_spaces(g, distance * missing / (missing + 1), g.adv, 1))
        if g.text == " " and g.adv > 0 and (nxt is None or nxt.rank != g.rank) and g.rank in ranked:
            corners = ranked[g.rank].corners()
            if corners is None:
                continue
            reach = max(_along(g, c) for c in corners) / _scale(g)
            out.extend(_spaces(g, reach, g.adv, 1))
    return out


def _spaces(g: _Glyph, reach: float, adv: float, before: int) -> list[_Glyph]:
    """The spaces missing from g's place to `reach` further along its baseline (text space), in
    even steps: ``before`` is 1 when g is a space itself (the first stands one step on), 0 when
    g only marks where the first stood."""
    count = round(reach / adv) if reach > 0 else 0
    if not 0 < count < 400:
        return []
    step = reach / count
    return [_shifted(g, j * step, adv) for j in range(before, before + count)]


def _scale(g: _Glyph) -> float:
    """Page units per text-space unit along the glyph's baseline."""
    return (g.m[0] ** 2 + g.m[1] ** 2) ** 0.5 or 1.0


def _along(g: _Glyph, point: tuple[float, float]) -> float:
    """How far `point` lies from g's origin along g's baseline, in page units."""
    a, b = g.m[0], g.m[1]
    norm = (a * a + b * b) ** 0.5 or 1.0
    return ((point[0] - g.origin[0]) * a + (point[1] - g.origin[1]) * b) / norm


def _shifted(g: _Glyph, distance: float, adv: float) -> _Glyph:
    """A space `distance` text-space units along g's baseline from g's origin."""
    a, b = g.m[0], g.m[1]
    origin = (g.origin[0] + a * distance, g.origin[1] + b * distance)
    return _Glyph(g.rank, " ", origin, g.m, adv, g.descent, g.size, g.font)


def turn_upright(texts: dict[int, _TextObject]) -> dict[int, tuple[Matrix, float]]:
    """Turn every text object whose baseline does not run left to right about its origin until
    it does, before the text page is made; return for each (by rank) the matrix that turns its
    glyphs' origins back and its horizontal scale once turned.

    PDFium's loose character box — the only place it tells a glyph's advance — is the origin plus
    the advance times the matrix's ``a``: for text running down or up the page (a table printed
    sideways, a page turned by /Rotate over upright text: issue 11's rotated renderings) ``a`` is
    0 and the box has no width. Turned, the same glyphs have their advance, and the origins,
    turned back, are where they were; the matrix kept for each character is the original one."""
    out: dict[int, tuple[Matrix, float]] = {}
    for t in texts.values():
        a, b = t.m[0], t.m[1]
        if a > 0 and abs(b) <= 1e-9 * a:
            continue
        scale = (a * a + b * b) ** 0.5
        if scale == 0:
            continue
        cos, sin = a / scale, b / scale
        ox, oy = t.m[4], t.m[5]
        turn: Matrix = (cos, -sin, sin, cos, ox - (cos * ox + sin * oy), oy - (-sin * ox + cos * oy))
        local = _mult(_mult(t.space, turn), _inverse(t.space))  # the same turn in the object's own space
        raw.FPDFPageObj_Transform(t.handle, *local)
        out[t.rank] = (_inverse(turn), scale)
    return out


def _inverse(m: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    return (ia, ib, ic, id_, -(ia * e + ic * f), -(ib * e + id_ * f))


def _ordered(p: float, q: float) -> tuple[float, float]:
    """(min(p, q), max(p, q)), exactly as the builtins pick them (the first of equal values)."""
    return (q, p) if q < p else (p, q) if q > p else (p, p)


def char_box(m: Matrix, adv: float, descent: float, size: float) -> tuple[float, float, float, float]:
    """pdfminer's glyph box: (0, descent) to (advance, descent + size) in text space, carried
    by the character's matrix (origin included), as a bounding box."""
    a, b, c, d, e, f = m
    up = descent + size
    if b == 0 and c == 0:  # text laid along the axes: most of every page
        xs, ys = (e, e + a * adv), (f + d * descent, f + d * up)
        return min(xs), min(ys), max(xs), max(ys)
    corners = [_apply(m, x, y) for x, y in ((0, descent), (adv, descent), (0, up), (adv, up))]
    xs2 = [p[0] for p in corners]
    ys2 = [p[1] for p in corners]
    return min(xs2), min(ys2), max(xs2), max(ys2)


# --- rules --------------------------------------------------------------------------------------


def _walk(
    parent: object,
    space: Matrix,
    turn: Matrix,
    height: float,
    lines: list[dict],
    rects: list[dict],
    curves: list[dict],
    texts: dict[int, _TextObject],
    form: bool = False,
) -> None:
    """The edges of every painted path on the page (inside form XObjects too: `space` is the
    matrix of the form being walked), and in `texts` each text object in content-stream order."""
    count = raw.FPDFFormObj_CountObjects(parent) if form else raw.FPDFPage_CountObjects(parent)
    matrix = raw.FS_MATRIX()
    for i in range(count):
        obj = raw.FPDFFormObj_GetObject(parent, i) if form else raw.FPDFPage_GetObject(parent, i)
        kind = raw.FPDFPageObj_GetType(obj)
        if kind not in (raw.FPDF_PAGEOBJ_PATH, raw.FPDF_PAGEOBJ_FORM, raw.FPDF_PAGEOBJ_TEXT):
            continue
        raw.FPDFPageObj_GetMatrix(obj, matrix)
        m = _mult((matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f), space)
        if kind == raw.FPDF_PAGEOBJ_TEXT:
            texts[_address(obj)] = _TextObject(len(texts), obj, m, space)
        elif kind == raw.FPDF_PAGEOBJ_FORM:
            _walk(obj, m, turn, height, lines, rects, curves, texts, form=True)
        else:
            path_edges(obj, _mult(m, turn), height, lines, rects, curves)


@dataclass(frozen=True)
class _TextObject:
    """A text object: its rank in the content stream, handle and text matrix (page space)."""

    rank: int
    handle: object
    m: Matrix
    space: Matrix  # of the form XObject it stands in (identity on the page itself)

    def font(self) -> _Font:
        """The object's font (name, size, descent), read from PDFium once per object, and its
        name and descent once per font and size (a page has thousands of text objects in a
        few fonts: the sample's 9 461 objects use 5 fonts in 8 sizes)."""
        cached = _FONTS.get(self.rank)
        if cached is None:
            size = ctypes.c_float()
            raw.FPDFTextObj_GetFontSize(self.handle, size)
            key = (_font_of(self.handle) or 0, size.value)
            cached = _FONT_SIZES.get(key)
            if cached is None:
                descent = ctypes.c_float()
                font = raw.FPDFTextObj_GetFont(self.handle)
                down = descent.value if raw.FPDFFont_GetDescent(font, size.value, descent) else 0.0
                cached = _FONT_SIZES[key] = _Font(_font_name(font), size.value, down)
            _FONTS[self.rank] = cached
        return cached

    def corners(self) -> list[tuple[float, float]] | None:
        """The corners of PDFium's box of the object, in page space where it was drawn (turned
        back when `turn_upright` turned it; None when it has none)."""
        left, bottom, right, top = ctypes.c_float(), ctypes.c_float(), ctypes.c_float(), ctypes.c_float()
        if not raw.FPDFPageObj_GetBounds(self.handle, left, bottom, right, top):
            return None
        x0, y0, x1, y1 = left.value, bottom.value, right.value, top.value
        page = [_apply(self.space, x, y) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))]
        back = _TURNED.get(self.rank)
        return page if back is None else [_apply(back[0], x, y) for x, y in page]


_SUBPATH = re.compile(r"m[^m]+")


def path_edges(obj: object, m: Matrix, height: float, lines: list[dict], rects: list[dict], curves: list[dict]) -> None:
    """The edges of one painted path object, classed as pdfminer's `paint_path` classes them
    (a path with several subpaths is several objects; ``ml`` a line; a closed axis-parallel
    four-sided ``mlllh`` a rectangle; anything else a curve through the segments' end points)."""
    fill, stroke = ctypes.c_int(), ctypes.c_int()
    raw.FPDFPath_GetDrawMode(obj, fill, stroke)
    if not fill.value and not stroke.value:
        return
    ops: list[str] = []
    pts: list[tuple[float, float]] = []
    x, y = ctypes.c_float(), ctypes.c_float()
    n = raw.FPDFPath_CountSegments(obj)
    bezier = 0
    for k in range(n):
        seg = raw.FPDFPath_GetPathSegment(obj, k)
        kind = raw.FPDFPathSegment_GetType(seg)
        raw.FPDFPathSegment_GetPoint(seg, x, y)
        if kind == raw.FPDF_SEGMENT_BEZIERTO:
            bezier += 1
            if bezier % 3:
                continue  # control points: pdfminer keeps only a curve's end point
            ops.append("c")
        else:
            bezier = 0
            ops.append("m" if kind == raw.FPDF_SEGMENT_MOVETO else "l")
        pts.append(_apply(m, x.value, y.value))
        if raw.FPDFPathSegment_GetClose(seg):
            ops.append("h")
            pts.append(None)  # type: ignore[arg-type]  # the start of its subpath, filled in below
    shape = "".join(ops)
    for found in _SUBPATH.finditer(shape):
        sub = pts[found.start() : found.end()]
        start = sub[0]
        _classify(found.group(), [start if p is None else p for p in sub], height, lines, rects, curves)


def _classify(
    shape: str, pts: list[tuple[float, float]], height: float, lines: list[dict], rects: list[dict], curves: list[dict]
) -> None:
    if len(shape) > 3 and shape[-2:] == "lh" and pts[-2] == pts[0]:
        shape = shape[:-2] + "h"
        pts = pts[:-1]
    if shape in {"mlh", "ml"}:
        lines.append(_box_edge(pts[:2], height, "line"))
        return
    if shape in {"mlllh", "mllll"}:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3), _ = pts
        square = (x0 == x1 and y1 == y2 and x2 == x3 and y3 == y0) or (y0 == y1 and x1 == x2 and y2 == y3 and x3 == x0)
        if pts[0] == pts[4] and square:
            rects.extend(_rect_edges(pts[0], pts[2], height))
            return
    for p0, p1 in zip(pts, pts[1:], strict=False):
        curves.append(_box_edge([p0, p1], height, "curve_edge"))


def _box_edge(pair: list[tuple[float, float]], height: float, kind: str) -> dict:
    (ax, ay), (bx, by) = pair
    return {
        "object_type": kind,
        "x0": min(ax, bx),
        "x1": max(ax, bx),
        "top": height - max(ay, by),
        "bottom": height - min(ay, by),
    }


def _rect_edges(p: tuple[float, float], q: tuple[float, float], height: float) -> list[dict]:
    """pdfplumber's four sides of a rectangle: top, bottom, left, right."""
    x0, x1 = min(p[0], q[0]), max(p[0], q[0])
    top, bottom = height - max(p[1], q[1]), height - min(p[1], q[1])
    side = {"object_type": "rect_edge"}
    return [
        {**side, "x0": x0, "x1": x1, "top": top, "bottom": top},
        {**side, "x0": x0, "x1": x1, "top": bottom, "bottom": bottom},
        {**side, "x0": x0, "x1": x0, "top": top, "bottom": bottom},
        {**side, "x0": x1, "x1": x1, "top": top, "bottom": bottom},
    ]
