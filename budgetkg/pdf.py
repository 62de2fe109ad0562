"""Stage 1: read a PDF's text layer and rules with pdfplumber (or PDFium, `budgetkg.pdf_pdfium`).

Everything later works on words with coordinates and on the ruled lines, never on page
numbers or positions learned from one sample, so one reader serves grid, horizontally ruled
and unruled tables alike.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from budgetkg.layout import LayoutSettings, load_layout
from budgetkg.model import TEXT_LAYER, InputError, PageText, Rule, SourceFile, TextLine, Word

# pdfminer logs every recoverable syntax oddity; a reader of real documents must not spam.
# (pdfplumber and pdfminer are imported only where the pdfplumber engine runs: PDFium's pages
# need neither, and the import costs a worker a tenth of a second.)
logging.getLogger("pdfminer").setLevel(logging.ERROR)

#: The page sources: pdfplumber (the reference) and PDFium (`budgetkg.pdf_pdfium`, issue 16).
#: Both hand `page_text` characters and edges in pdfplumber's shape; the rest of this module is
#: shared. PDFium is the default since tests/test_engines.py found the same lines.csv and dumps
#: with both on the sample, its rendered styles and every shared real document.
ENGINES = ("pdfplumber", "pdfium")
DEFAULT_ENGINE = "pdfium"

if TYPE_CHECKING:
    import pdfplumber

    from budgetkg.ocr import OcrOptions

QUOTES = re.compile(r"^[“”‘’\"'「」『』]+$")
YEAR_END = re.compile(r"(?:^|\D)(?:19|20)\d{2}$")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_pdf(
    path: Path, engine: str = DEFAULT_ENGINE, ocr: OcrOptions | None = None
) -> tuple[SourceFile, list[PageText]]:
    """Open one PDF and return its pages, or raise InputError with a one-line reason."""
    pages = read_pages(path, engine=engine, ocr=ocr)
    return source_file(path, pages), pages


def count_pages(path: Path, engine: str = DEFAULT_ENGINE) -> int:
    """The number of pages from the page tree, without reading any page (to share a document's
    pages out over several processes). Raises whatever the engine raises on a bad file."""
    if engine == "pdfium":
        from budgetkg import pdf_pdfium

        return pdf_pdfium.count_pages(path)
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return len(pdf.pages)


def read_pages(
    path: Path, numbers: Sequence[int] | None = None, engine: str = DEFAULT_ENGINE, ocr: OcrOptions | None = None
) -> list[PageText]:
    """The pages numbered `numbers` (1-based, all when None) in that order, or InputError with a
    one-line reason. Page numbers stay those of the whole document when only some are read.
    With `ocr`, pages that are images without a usable text layer are read by OCR instead
    (budgetkg/ocr.py)."""
    pages = _read_text_pages(path, numbers, engine)
    if ocr is None or ocr.mode == "never":
        return pages
    from budgetkg.ocr import apply_ocr

    return apply_ocr(path, pages, ocr)


def _read_text_pages(path: Path, numbers: Sequence[int] | None, engine: str) -> list[PageText]:
    if engine not in ENGINES:
        raise ValueError(f"unknown PDF engine {engine!r} (known: {', '.join(ENGINES)})")
    name = str(path)
    try:
        with path.open("rb") as fh:
            magic = fh.read(1024)
    except OSError as exc:
        raise InputError(name, f"cannot be read ({exc.strerror})") from None
    if b"%PDF-" not in magic:
        raise InputError(name, "is not a PDF file (no %PDF- header)")
    if engine == "pdfium":
        return _read_pdfium(path, numbers)
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psparser import PSException

    try:
        with pdfplumber.open(path) as pdf:
            wanted = range(1, len(pdf.pages) + 1) if numbers is None else numbers
            return [_read_page(pdf.pages[n - 1], n) for n in wanted]
    except (PDFPasswordIncorrect, PDFEncryptionError):
        raise InputError(name, "is encrypted (password protected); cannot read its text") from None
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError, AssertionError) as exc:
        raise InputError(name, f"is damaged and cannot be parsed ({type(exc).__name__})") from None
    except Exception as exc:  # pdfplumber wraps pdfminer's many ad-hoc error types
        if _is_encryption_error(exc):
            raise InputError(name, "is encrypted (password protected); cannot read its text") from None
        raise InputError(name, f"is damaged and cannot be parsed ({_root(exc)})") from None


def source_file(path: Path, pages: list[PageText], sha256: str | None = None) -> SourceFile:
    """The checks that need all pages (read at once or in parts), then the file's identity."""
    name = str(path)
    if not pages:
        raise InputError(name, "has no pages")
    if not any(p.lines for p in pages):
        if any(p.extracted_by != TEXT_LAYER for p in pages):
            raise InputError(name, "has no text layer, and OCR found no text on any page")
        raise InputError(name, "has no text layer (a scanned document? --ocr auto reads pages that are images)")
    return SourceFile(path=name, name=path.name, sha256=sha256 or sha256_of(path), page_count=len(pages))


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:
        e = todo.pop()
        if isinstance(e, BaseException) and e not in chain:
            chain.append(e)
            todo.extend([e.__cause__, e.__context__, *e.args])
    return chain


def _is_encryption_error(exc: BaseException) -> bool:
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    return any(
        isinstance(e, PDFPasswordIncorrect | PDFEncryptionError)
        or "password" in str(e).lower()
        or "encrypt" in str(e).lower()
        for e in _causes(exc)
    )


def _root(exc: BaseException) -> str:
    deepest = _causes(exc)[-1]
    return type(deepest).__name__


def _read_pdfium(path: Path, numbers: Sequence[int] | None) -> list[PageText]:
    from budgetkg import pdf_pdfium

    pdf = pdf_pdfium.open_pdf(path)
    try:
        wanted = list(range(1, len(pdf) + 1) if numbers is None else numbers)
        pages = pdf_pdfium.read_raw_pages(pdf, wanted)
        return [
            page_text(n, p.width, p.height, p.chars, p.edges, lambda p=p: _upright_text(p.chars, p.width, p.height))
            for n, p in zip(wanted, pages, strict=True)
        ]
    except pdf_pdfium.PdfiumError as exc:  # a page PDFium cannot load
        raise InputError(str(path), f"is damaged and cannot be parsed ({type(exc).__name__})") from None
    finally:
        pdf.close()


def _upright_text(chars: list[dict], width: float, height: float) -> str:
    """pdfplumber's `Page.extract_text` (its default, not the layout mode) of a page from any
    source's characters: its words (tolerance 3, blanks part words), in lines of words whose
    tops chain within 3 pt, one space between words and a line break between lines."""
    lines: list[str] = []
    for _, line in itertools.groupby(_clustered_in_order(list(word_chars(chars, 3, 3, False)), 3), key=itemgetter(0)):
        text: list[str] = []
        length = 0
        for _, word in line:
            if length:
                text.append(" ")
                length += 1
            letters = "".join(LIGATURES.get(c["text"], c["text"]) for c in word)
            text.append(letters)
            length += len(letters)
        lines.append("".join(text))
    return "\n".join(lines)


def _clustered_in_order(words: list[list[dict]], tolerance: float) -> Iterator[tuple[int, list[dict]]]:
    """(line number, word) in the words' own order, a line being the words whose tops (the
    highest of their characters') fall in one cluster (`_clusters`)."""
    tops = [min(c["top"] for c in w) for w in words]
    cluster = _clusters(tops, tolerance)
    return ((cluster[top], w) for top, w in zip(tops, words, strict=True))


#: pdfplumber's ligature expansions (a word's text spells ﬁ as fi).
LIGATURES = {"ﬀ": "ff", "ﬃ": "ffi", "ﬄ": "ffl", "ﬁ": "fi", "ﬂ": "fl", "ﬆ": "st", "ﬅ": "st"}


def _clusters(values: Sequence[float], tolerance: float) -> dict[float, int]:
    """Each distinct value → the number of its cluster: sorted, a value joins the cluster of the
    one before it when at most `tolerance` above it (pdfplumber's cluster_list)."""
    ordered = sorted(set(values))
    out: dict[float, int] = {}
    group = 0
    for i, v in enumerate(ordered):
        if i and (tolerance == 0 or v > ordered[i - 1] + tolerance):
            group += 1
        out[v] = group
    return out


def word_chars(
    chars: Sequence[dict], x_tolerance: float, y_tolerance: float, keep_blanks: bool
) -> Iterator[list[dict]]:
    """The characters of each word, as pdfplumber's WordExtractor (0.11, default directions,
    no text flow) groups them, so that both page sources and the reference agree to the
    character: runs of upright and of turned characters; lines by their tops (turned: their
    x0) clustered within the tolerance; along a line by x0 (turned: top, bottom); a character
    starts a new word when it lies before the previous one, more than the tolerance after its
    end, or off its line; a blank ends a word unless `keep_blanks`; a character without text
    is a word of its own. Pure Python either way, but without pdfplumber's word dictionaries."""
    for upright, run in itertools.groupby(chars, key=itemgetter("upright")):
        group = list(run)
        if upright:
            line_key, tolerance, order = itemgetter("top"), y_tolerance, itemgetter("x0")
            start, end, across, across_tolerance, along_tolerance = "x0", "x1", "top", y_tolerance, x_tolerance
        else:
            line_key, tolerance, order = itemgetter("x0"), x_tolerance, itemgetter("top", "bottom")
            start, end, across, across_tolerance, along_tolerance = "top", "bottom", "x0", x_tolerance, y_tolerance
        cluster = _clusters([line_key(c) for c in group], tolerance)
        lines: dict[int, list[dict]] = {}  # each line's characters in their order on the page
        for c in group:
            lines.setdefault(cluster[line_key(c)], []).append(c)
        for number in sorted(lines):
            word: list[dict] = []
            for c in sorted(lines[number], key=order):
                text = c["text"]
                if not keep_blanks and text.isspace():
                    if word:
                        yield word
                    word = []
                elif not text:
                    if word:
                        yield word
                    yield [c]
                    word = []
                elif word and (
                    c[start] < (prev := word[-1])[start]
                    or c[start] > prev[end] + along_tolerance
                    or abs(c[across] - prev[across]) > across_tolerance
                ):
                    yield word
                    word = [c]
                else:
                    word.append(c)
            if word:
                yield word


def _read_page(page: pdfplumber.page.Page, number: int, settings: LayoutSettings | None = None) -> PageText:
    width, height = float(page.width), float(page.height)
    return page_text(number, width, height, page.chars, page.edges, page.extract_text, settings)


def page_text(
    number: int,
    width: float,
    height: float,
    page_chars: list[dict],
    page_edges: list[dict],
    upright_text: Callable[[], str | None],
    settings: LayoutSettings | None = None,
) -> PageText:
    """One page read from its source's characters and edges (pdfplumber's dicts, whichever
    engine made them): turned upright, words, splits at rules, lines. `upright_text` gives the
    page's plain text when it needs no turn."""
    settings = settings or load_layout()
    turn = text_rotation(page_chars)
    chars = [_turn_char(c, turn, width, height) for c in page_chars] if turn else list(page_chars)
    edges = [_turn_box(e, turn, width, height) for e in page_edges] if turn else list(page_edges)
    if turn in (90, 270):
        width, height = height, width
    rules = [r for r in (_rule(e, settings) for e in edges) if r is not None]
    verticals = Verticals.of([r for r in rules if not r.horizontal] if settings.split_at_rules else [])
    words: list[Word] = []
    for word in word_chars(chars, settings.x_tolerance, settings.y_tolerance, True):
        if _text(word).strip():
            words.extend(_split_word(word, verticals, settings))
    words = _join_years(words, settings)
    plain = (upright_text() or "") if not turn else _plain_text(chars, settings)
    return PageText(
        number=number,
        width=width,
        height=height,
        lines=tuple(group_lines(words)),
        rules=tuple(rules),
        plain_text=plain,
        rotation=turn,
    )


def text_rotation(chars: Sequence[dict]) -> int:
    """How far (degrees, clockwise) to turn the page so that most of its text reads left to
    right: 0, 90, 180 or 270, from the direction of each character's text matrix. A page with
    /Rotate, a landscape table printed sideways on a portrait page and a page turned by a tool
    (issue 11: a traceback on rotated renderings) are then all read like an upright page."""
    votes = {0: 0, 90: 0, 180: 0, 270: 0}
    for c in chars:
        if not c["text"].strip():
            continue
        a, b = c["matrix"][0], c["matrix"][1]
        if abs(a) >= abs(b):
            votes[0 if a > 0 else 180] += 1
        else:  # PDF y points up: b < 0 runs down the page, which a quarter turn back makes upright
            votes[90 if b < 0 else 270] += 1
    best = max(votes, key=lambda k: (votes[k], k == 0))
    return best if votes[best] > votes[0] else 0


def _turn_xy(x0: float, top: float, x1: float, bottom: float, turn: int, w: float, h: float):
    """A box (top-left origin) of a page w × h in the frame of that page turned back by `turn`."""
    if turn == 90:  # text runs downwards: turn the page a quarter counter-clockwise
        return top, w - x1, bottom, w - x0
    if turn == 180:
        return w - x1, h - bottom, w - x0, h - top
    if turn == 270:  # text runs upwards
        return h - bottom, x0, h - top, x1
    return x0, top, x1, bottom


def _turn_box(obj: dict, turn: int, w: float, h: float) -> dict:
    box = (float(obj["x0"]), float(obj["top"]), float(obj["x1"]), float(obj["bottom"]))
    x0, top, x1, bottom = _turn_xy(*box, turn, w, h)
    return {**obj, "x0": x0, "x1": x1, "top": top, "bottom": bottom, "doctop": top}


def _turn_char(char: dict, turn: int, w: float, h: float) -> dict:
    out = _turn_box(char, turn, w, h)
    out["upright"] = True
    return out


def _text(chars: list[dict]) -> str:
    """A word's text as pdfplumber spells it (ligatures expanded)."""
    return "".join(LIGATURES.get(c["text"], c["text"] or "") for c in chars)


def _plain_text(chars: list[dict], settings: LayoutSettings) -> str:
    """The page's text in reading order for a turned page (pdfplumber's extract_text reads the
    page as it lies)."""
    words = [
        Word(
            _text(w).strip(),
            min(c["x0"] for c in w),
            max(c["x1"] for c in w),
            min(c["top"] for c in w),
            max(c["bottom"] for c in w),
        )
        for w in word_chars(chars, settings.x_tolerance, settings.y_tolerance, True)
    ]
    return "\n".join(line.text for line in group_lines([w for w in words if w.text]))


BOLD_FONT = re.compile(r"bold|black|heavy|demi|semibold|hei|黑", re.IGNORECASE)
SPLIT_AMOUNT = re.compile(r"^[-−]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+)")
LABEL_START = re.compile(r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+[、.．](?!\d))")
#: The characters LABEL_START can begin with, besides digits (\d: str.isdecimal).
LABEL_FIRST = frozenset("一二三四五六七八九十（(")


@dataclass(frozen=True)
class Verticals:
    """A page's vertical rules in order of x, to find those between two x by bisection (a ruled
    grid page has hundreds; 06-gz-wjw)."""

    rules: tuple[Rule, ...]
    xs: tuple[float, ...]

    @classmethod
    def of(cls, rules: Sequence[Rule]) -> Verticals:
        ordered = sorted(rules, key=lambda r: r.x0)
        return cls(tuple(ordered), tuple(r.x0 for r in ordered))

    def between(self, lo: float, hi: float) -> tuple[Rule, ...]:
        """The rules with lo < x0 < hi."""
        return self.rules[bisect_right(self.xs, lo) : bisect_left(self.xs, hi)]


def _split_word(chars: list[dict], verticals: Verticals, settings: LayoutSettings) -> list[Word]:
    """One pdfplumber word as one or more words, from its characters: split where a vertical
    rule runs between two characters (a cell border) and where a printed amount runs straight
    into a numbered label (12-cn-gjxfj p.5: `16,474.82一、一般公共服务支出`, an amount right-aligned
    against the border and the next cell's label left-aligned against it; 01-gz-zwfwsjglj p.21:
    the 其他资金 `0.00` against the 绩效目标 text). A rule never parts a piece of one character or
    one that starts with punctuation (a link box drawn round the `7` of `7、…` in 14-cs-xfj's
    contents).

    Only the rules that can stand between two of the word's characters are asked
    (`_rules_across`), and the text of the word is joined once: the characters before a
    place and the eight after it are slices of it (`_amount_ends`), looked at only where the
    next character can begin a label (`LABEL_FIRST`, a digit)."""
    n = len(chars)
    if n < 2:
        return [w for w in (_word(chars, settings),) if w is not None]
    across = _rules_across(chars, verticals, settings)
    texts = [c["text"] for c in chars]
    text = "".join(texts)
    offsets = [0]
    for t in texts:
        offsets.append(offsets[-1] + len(t))
    starts = [0]  # where each part begins
    for i in range(1, n):
        at_rule = across and _rule_between(chars[i - 1], chars[i], across, settings)
        if at_rule and _splittable(chars[starts[-1] : i], chars[i:]):
            starts.append(i)
        elif settings.split_amount_label:
            first = text[offsets[i] : offsets[i] + 1]
            if (first in LABEL_FIRST or first.isdecimal()) and _amount_ends(
                text[offsets[starts[-1]] : offsets[i]], text[offsets[i] : offsets[min(i + 8, n)]]
            ):
                starts.append(i)
    ends = [*starts[1:], n]
    return [w for a, b in zip(starts, ends, strict=True) if (w := _word(chars[a:b], settings)) is not None]


def _rules_across(chars: list[dict], verticals: Verticals, settings: LayoutSettings) -> list[Rule]:
    """The vertical rules `_rule_between` can find between some two of these characters: those
    whose x lies between the leftmost and rightmost place it tests and that reach across the
    characters' vertical centres (the others cannot pass its test for any pair)."""
    if not verticals.rules:
        return []
    lo = min(c["x0"] + (c["x1"] - c["x0"]) / 2 for c in chars[:-1])
    hi = max(c["x0"] for c in chars[1:]) + 0.5
    centres = [(c["top"] + c["bottom"]) / 2 for c in chars[1:]]
    y_lo, y_hi = min(centres), max(centres)
    reach = settings.rule_reach
    return [r for r in verticals.between(lo, hi) if r.top <= y_hi - reach and r.bottom >= y_lo + reach]


def _splittable(before: list[dict], after: list[dict]) -> bool:
    ink_before = [c for c in before if c["text"].strip()]
    ink_after = [c for c in after if c["text"].strip()]
    return len(ink_before) >= 2 and len(ink_after) >= 2 and ink_after[0]["text"] not in PUNCTUATION


PUNCTUATION = set("、，。：；！？）)]】》”’,.;:%")


def _rule_between(prev: dict, cur: dict, verticals: Sequence[Rule], settings: LayoutSettings) -> bool:
    """A vertical rule stands between the middle of ``prev`` and the start of ``cur``."""
    yc = (float(cur["top"]) + float(cur["bottom"])) / 2
    left, right = float(prev["x0"]) + (float(prev["x1"]) - float(prev["x0"])) / 2, float(cur["x0"]) + 0.5
    return any(
        left < r.x0 < right and r.top <= yc - settings.rule_reach and r.bottom >= yc + settings.rule_reach
        for r in verticals
    )


def _amount_ends(current: str, rest: str) -> bool:
    """The text so far (`current`, of the word's part being built) is a printed amount and the
    text after it (`rest`, its next eight characters) starts a numbered label."""
    if not current:
        return False
    if not LABEL_START.match(rest):
        return False
    head = current.strip()
    match = SPLIT_AMOUNT.match(head)
    return match is not None and match.end() == len(head)


def _word(chars: list[dict], settings: LayoutSettings) -> Word | None:
    """A word at the place of its ink: leading blanks (an indented name) are not part of it,
    so indentation shows as position whether printed with spaces or by placement."""
    text = "".join(c["text"] for c in chars).strip()
    ink = [c for c in chars if c["text"].strip()]
    if not text or not ink:
        return None
    bold = sum(1 for c in ink if _is_bold_font(str(c.get("fontname", ""))))
    return Word(
        text,
        float(min(c["x0"] for c in ink)),
        float(max(c["x1"] for c in ink)),
        float(min(c["top"] for c in chars)),
        float(max(c["bottom"] for c in chars)),
        bold=bold >= settings.bold_share * len(ink),
    )


@cache
def _is_bold_font(fontname: str) -> bool:
    """The font (name without its subset prefix) is a bold face by `BOLD_FONT`; a page names a
    handful of fonts for thousands of characters, so each is judged once."""
    return BOLD_FONT.search(fontname.split("+")[-1]) is not None


def _join_years(words: list[Word], settings: LayoutSettings) -> list[Word]:
    """``2026`` ``年预算数`` printed with a little extra spacing is one label, not an amount
    followed by text: a year joins the 年 right after it."""
    out: list[Word] = []
    for w in words:
        prev = out[-1] if out else None
        if (
            prev is not None
            and YEAR_END.search(prev.text)
            and w.text.startswith("年")
            and abs(prev.top - w.top) < 1.5
            and 0 <= w.x0 - prev.x1 < settings.year_join_gap
        ):
            out[-1] = Word(
                prev.text + w.text, prev.x0, w.x1, min(prev.top, w.top), max(prev.bottom, w.bottom), prev.bold
            )
            continue
        out.append(w)
    return out


def _rule(edge: dict, settings: LayoutSettings) -> Rule | None:
    x0, x1 = float(edge["x0"]), float(edge["x1"])
    top, bottom = float(edge["top"]), float(edge["bottom"])
    if max(x1 - x0, bottom - top) < settings.min_rule_length:  # dots and tiny marks are not rules
        return None
    return Rule(x0, x1, top, bottom)


def group_lines(words: list[Word]) -> list[TextLine]:
    """Group words into printed lines by their vertical centre. Quotation marks set apart in
    a slightly shifted run (财政拨款“三公”经费 printed as 财政拨款 三公 经费 plus “ ”) go back into
    the line they stand in."""
    quotes = [w for w in words if QUOTES.match(w.text)]
    words = [w for w in words if not QUOTES.match(w.text)]
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.yc, w.x0)):
        height = word.bottom - word.top
        if lines:
            last = lines[-1]
            ref = sum(w.yc for w in last) / len(last)
            if abs(word.yc - ref) <= max(1.5, 0.3 * height):
                last.append(word)
                continue
        lines.append([word])
    for q in quotes:
        home = [ln for ln in lines if min(w.top for w in ln) - 1 <= q.yc <= max(w.bottom for w in ln) + 1]
        if home:
            min(home, key=lambda ln: abs(sum(w.yc for w in ln) / len(ln) - q.yc)).append(q)
        else:
            lines.append([q])
    lines.sort(key=lambda ln: sum(w.yc for w in ln) / len(ln))
    return [TextLine(tuple(sorted(line, key=lambda w: w.x0))) for line in lines]
