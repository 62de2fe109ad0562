"""Stage 1: read a PDF's text layer and rules with pdfplumber.

Everything later works on words with coordinates and on the ruled lines, never on page
numbers or positions learned from one sample, so one reader serves grid, horizontally ruled
and unruled tables alike.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFSyntaxError
from pdfminer.psparser import PSException

from budgetkg.model import InputError, PageText, Rule, SourceFile, TextLine, Word

# pdfminer logs every recoverable syntax oddity; a reader of real documents must not spam.
logging.getLogger("pdfminer").setLevel(logging.ERROR)

#: Characters closer than this (pt) belong to one word. CJK text has no gaps at all; numbers in
#: neighbouring columns are always further apart than this.
X_TOLERANCE = 2.0
QUOTES = re.compile(r"^[“”‘’\"'「」『』]+$")
YEAR_END = re.compile(r"(?:^|\D)(?:19|20)\d{2}$")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_pdf(path: Path) -> tuple[SourceFile, list[PageText]]:
    """Open one PDF and return its pages, or raise InputError with a one-line reason."""
    pages = read_pages(path)
    return source_file(path, pages), pages


def count_pages(path: Path) -> int:
    """The number of pages from the page tree, without reading any page (to share a document's
    pages out over several processes). Raises whatever pdfminer raises on a bad file."""
    with pdfplumber.open(path) as pdf:
        return len(pdf.pages)


def read_pages(path: Path, numbers: Sequence[int] | None = None) -> list[PageText]:
    """The pages numbered `numbers` (1-based, all when None) in that order, or InputError with a
    one-line reason. Page numbers stay those of the whole document when only some are read."""
    name = str(path)
    try:
        with path.open("rb") as fh:
            magic = fh.read(1024)
    except OSError as exc:
        raise InputError(name, f"cannot be read ({exc.strerror})") from None
    if b"%PDF-" not in magic:
        raise InputError(name, "is not a PDF file (no %PDF- header)")
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
        raise InputError(name, "has no text layer (a scanned document?); OCR it first")
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
    return any(
        isinstance(e, PDFPasswordIncorrect | PDFEncryptionError)
        or "password" in str(e).lower()
        or "encrypt" in str(e).lower()
        for e in _causes(exc)
    )


def _root(exc: BaseException) -> str:
    deepest = _causes(exc)[-1]
    return type(deepest).__name__


def _read_page(page: pdfplumber.page.Page, number: int) -> PageText:
    raw = page.extract_words(x_tolerance=X_TOLERANCE, y_tolerance=2, keep_blank_chars=True, return_chars=True)
    words = [_word(w) for w in raw if w["text"].strip()]
    words = _join_years(words)
    rules = [_rule(e) for e in page.edges]
    return PageText(
        number=number,
        width=float(page.width),
        height=float(page.height),
        lines=tuple(group_lines(words)),
        rules=tuple(r for r in rules if r is not None),
        plain_text=page.extract_text() or "",
    )


def _word(raw: dict) -> Word:
    """A word at the place of its ink: leading blanks (an indented name) are not part of it,
    so indentation shows as position whether printed with spaces or by placement."""
    ink = [c for c in raw.get("chars", ()) if c["text"].strip()]
    x0 = float(min(c["x0"] for c in ink)) if ink else float(raw["x0"])
    x1 = float(max(c["x1"] for c in ink)) if ink else float(raw["x1"])
    return Word(raw["text"].strip(), x0, x1, float(raw["top"]), float(raw["bottom"]))


def _join_years(words: list[Word]) -> list[Word]:
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
            and 0 <= w.x0 - prev.x1 < 4
        ):
            out[-1] = Word(prev.text + w.text, prev.x0, w.x1, min(prev.top, w.top), max(prev.bottom, w.bottom))
            continue
        out.append(w)
    return out


def _rule(edge: dict) -> Rule | None:
    x0, x1 = float(edge["x0"]), float(edge["x1"])
    top, bottom = float(edge["top"]), float(edge["bottom"])
    if max(x1 - x0, bottom - top) < 3:  # dots and tiny marks are not rules
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
