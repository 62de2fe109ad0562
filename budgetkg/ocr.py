"""Stage 1 for scanned pages: OCR as a page source (issue 15).

A page without a usable text layer is rendered to an image (pypdfium2), turned straight
(deskewed by its projection profile), its rules found in the image and erased, and the rest
read by an OCR engine. The result is the same ``PageText`` as the text layer gives — words with
boxes in PDF points, rules — so the same reader (tables.py, reader.py) runs on it; each word
also carries the engine's confidence, and the page the engine that read it (``extracted_by``).

The engine's answer for a page is cached under the build's cache directory, keyed by the
digest of the page image and of the OCR settings, so a rebuild never OCRs a page again.
Settings are in mappings/ocr.toml; the engine comparison is in docs/ocr.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from budgetkg.layout import typed_setting
from budgetkg.mapping import MAPPINGS_DIR
from budgetkg.model import TEXT_LAYER, InputError, PageText, Rule, Table, Word

OCR_FILE = MAPPINGS_DIR / "ocr.toml"
MODES = ("auto", "always", "never")


@dataclass(frozen=True, slots=True)
class OcrSettings:
    """One field per key of mappings/ocr.toml (see there for why each value)."""

    engine: str
    languages: str
    psm: int
    dpi: int
    min_text_chars: int
    min_image_share: float
    ink_threshold: int
    min_rule_length: float
    max_skew: float
    skew_step: float
    join_gap: tuple[tuple[str, float], ...]  # per engine (a TOML inline table)
    figure_gap: float
    low_confidence: float
    label_columns: int
    confusable: tuple[str, ...]


@cache
def load_ocr_settings(path: Path = OCR_FILE) -> OcrSettings:
    """mappings/ocr.toml, every key known and present, or ValueError with one line."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read ({exc})") from None
    fields = {f.name: f for f in dataclasses.fields(OcrSettings)}
    unknown = sorted(set(data) - set(fields))
    missing = sorted(set(fields) - set(data))
    if unknown or missing:
        raise ValueError(f"{path}: unknown setting(s) {unknown}, missing setting(s) {missing}")
    values = {name: typed_setting(fields[name].type, value, f"{path}: {name}") for name, value in data.items()}
    return OcrSettings(**values)  # type: ignore[arg-type]


# --- engines -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OcrWord:
    """A word as the engine read it, in pixels of the page image, confidence 0–100."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    confidence: float


class TesseractEngine:
    """Tesseract through its command line (Debian tesseract-ocr, tesseract-ocr-chi-sim): TSV
    words with boxes and confidences. One thread per call (OMP_THREAD_LIMIT=1): build workers
    already use every core."""

    def __init__(self, settings: OcrSettings) -> None:
        if shutil.which("tesseract") is None:
            raise RuntimeError("tesseract not found (apt-get install tesseract-ocr tesseract-ocr-chi-sim)")
        self.settings = settings
        out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=True)
        first = (out.stdout or out.stderr).splitlines()[0].strip()
        self.name = f"{first} ({settings.languages}, psm {settings.psm})"

    def recognise(self, png: bytes) -> list[OcrWord]:
        command = ["tesseract", "stdin", "stdout", "-l", self.settings.languages, "--psm", str(self.settings.psm)]
        command += ["-c", "preserve_interword_spaces=1", "tsv"]
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        out = subprocess.run(command, input=png, capture_output=True, check=True, env=env).stdout.decode("utf-8")
        words = []
        for line in out.splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) < 12 or parts[0] != "5" or not parts[11].strip():
                continue
            left, top, width, height = (float(p) for p in parts[6:10])
            words.append(OcrWord(parts[11].strip(), left, left + width, top, top + height, float(parts[10])))
        return words


class RapidOcrEngine:
    """PP-OCRv4 through rapidocr-onnxruntime (PyPI; its models ship inside the wheel): one
    box per text run, confidence 0–1 scaled to 0–100."""

    def __init__(self, settings: OcrSettings) -> None:
        from importlib.metadata import version

        from rapidocr_onnxruntime import RapidOCR

        self.engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
        self.name = f"rapidocr-onnxruntime {version('rapidocr-onnxruntime')} (PP-OCRv4)"

    def recognise(self, png: bytes) -> list[OcrWord]:
        result, _ = self.engine(png)
        words = []
        for box, text, confidence in result or []:
            xs, ys = [p[0] for p in box], [p[1] for p in box]
            words.append(OcrWord(text.strip(), min(xs), max(xs), min(ys), max(ys), 100.0 * float(confidence)))
        return [w for w in words if w.text]


ENGINES: dict[str, Callable[[OcrSettings], TesseractEngine | RapidOcrEngine]] = {
    "tesseract": TesseractEngine,
    "rapidocr": RapidOcrEngine,
}


@cache
def engine_for(settings: OcrSettings) -> TesseractEngine | RapidOcrEngine:
    if settings.engine not in ENGINES:
        raise ValueError(f"{OCR_FILE}: engine {settings.engine!r} is not one of {', '.join(ENGINES)}")
    return ENGINES[settings.engine](settings)


# --- the page image ------------------------------------------------------------------------------


def render(path: Path, number: int, dpi: int):
    """Page `number` (1-based) of `path` as a greyscale PIL image at `dpi`, upright (/Rotate applied)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return pdf[number - 1].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    finally:
        pdf.close()


def skew_angle(image, settings: OcrSettings) -> float:
    """The rotation (degrees) that makes the page's text lines and rules horizontal: the angle
    whose row profile of ink is sharpest (the classic projection-profile method), searched on a
    quarter-size copy. The synthetic scans of scripts/make_scans.py are skewed ±0.6°, enough to
    spill a 150-dpi rule over 20 pixel rows and to merge the rows of a table."""
    import numpy as np
    from PIL import Image

    small = image.reduce(4)
    best, best_score = 0.0, -1.0
    steps = int(round(settings.max_skew / settings.skew_step))
    for i in range(-steps, steps + 1):
        angle = i * settings.skew_step
        turned = small.rotate(angle, resample=Image.Resampling.NEAREST, fillcolor=255)
        ink = (np.asarray(turned) < settings.ink_threshold).sum(axis=1).astype(np.float64)
        score = float(np.square(np.diff(ink)).sum())
        if score > best_score + 1e-9:
            best, best_score = angle, score
    return best


def find_rules(ink, min_length: int) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
    """Horizontal and vertical rules (x0, x1, top, bottom in pixels) of a boolean ink array:
    runs of ink at least `min_length` long, neighbouring rows (columns) of overlapping runs
    merged into one rule, as a drawn line of some thickness is."""
    import numpy as np

    def runs(mask) -> list[tuple[int, int, int]]:  # (line index, start, end) of long runs
        out = []
        padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
        padded[:, 1:-1] = mask
        diff = np.diff(padded, axis=1)
        for y, x in zip(*np.nonzero(diff == 1), strict=True):
            end = x + int(np.argmax(diff[y, x:] == -1))
            if end - x >= min_length:
                out.append((int(y), int(x), int(end)))
        return out

    def merge(found: list[tuple[int, int, int]]) -> list[tuple[int, int, int, int]]:
        rules: list[list[int]] = []  # [start, end, first line, last line]
        for y, a, b in sorted(found):
            for r in rules:
                if r[3] >= y - 1 and a < r[1] and b > r[0]:
                    r[0], r[1], r[3] = min(r[0], a), max(r[1], b), y
                    break
            else:
                rules.append([a, b, y, y])
        return [(a, b, t, u + 1) for a, b, t, u in rules]

    horizontal = merge(runs(ink))
    vertical = [(t, u, a, b) for a, b, t, u in merge(runs(ink.T))]
    return horizontal, vertical


# --- OCR of one page -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OcrPage:
    """What the engine and the image gave for one page, in pixels at `dpi` (what the cache keeps)."""

    engine: str
    dpi: int
    width: int
    height: int
    skew: float
    words: tuple[OcrWord, ...]
    rules: tuple[tuple[int, int, int, int], ...]
    seconds: float


class OcrCache:
    """OCR results by page-image digest: read from `read_dirs` (the previous build's cache) and
    the write directory, written to `write_dir` (the new build's cache), so the entries of the
    pages still in use move on with each build."""

    def __init__(self, write_dir: Path | None, read_dirs: Sequence[Path] = ()) -> None:
        self.write_dir = write_dir
        self.read_dirs = [d for d in (write_dir, *read_dirs) if d is not None]

    def get(self, key: str) -> OcrPage | None:
        for folder in self.read_dirs:
            path = folder / f"{key}.json"
            if path.is_file():
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                    page = OcrPage(
                        **{
                            **data,
                            "words": tuple(OcrWord(**w) for w in data["words"]),
                            "rules": tuple(tuple(r) for r in data["rules"]),
                        }
                    )
                except (ValueError, TypeError, KeyError):
                    continue  # a damaged entry is OCR'd again
                self.put(key, page)
                return page
        return None

    def put(self, key: str, page: OcrPage) -> None:
        if self.write_dir is None:
            return
        self.write_dir.mkdir(parents=True, exist_ok=True)
        target = self.write_dir / f"{key}.json"
        if target.exists():
            return
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(page), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, target)


#: The settings that change what the engine and the rule finder give (the cache key); the
#: others only change how page_text reads that answer, so changing them reuses the cache.
ENGINE_SETTINGS = ("engine", "languages", "psm", "dpi", "ink_threshold", "min_rule_length", "max_skew", "skew_step")


def _engine_settings(settings: OcrSettings) -> str:
    return repr([getattr(settings, name) for name in ENGINE_SETTINGS])


def ocr_image(image, settings: OcrSettings, cache: OcrCache | None = None) -> OcrPage:
    """Deskew, find and erase rules, OCR (or take the cached answer for this very image)."""
    import numpy as np
    from PIL import Image

    raw = io.BytesIO()
    image.save(raw, format="PNG")
    key = hashlib.sha256(raw.getvalue() + _engine_settings(settings).encode()).hexdigest()
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit
    started = time.perf_counter()
    engine = engine_for(settings)
    angle = skew_angle(image, settings)
    straight = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255) if angle else image
    pixels = np.asarray(straight).copy()
    ink = pixels < settings.ink_threshold
    horizontal, vertical = find_rules(ink, int(settings.min_rule_length * settings.dpi / 72))
    for x0, x1, top, bottom in (*horizontal, *vertical):  # erased with a pixel's margin of antialiasing
        pixels[max(0, top - 1) : bottom + 1, max(0, x0 - 1) : x1 + 1] = 255
    png = io.BytesIO()
    Image.fromarray(pixels).save(png, format="PNG")
    words = engine.recognise(png.getvalue())
    page = OcrPage(
        engine=engine.name,
        dpi=settings.dpi,
        width=image.width,
        height=image.height,
        skew=angle,
        words=tuple(words),
        rules=tuple((*horizontal, *vertical)),
        seconds=round(time.perf_counter() - started, 3),
    )
    if cache is not None:
        cache.put(key, page)
    return page


NUMERIC = re.compile(r"^[-−]?[\d,.，。]+%?$")
SPLIT_FIGURE = re.compile(r"^[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)\.\d+$")


def page_text(page: OcrPage, number: int, settings: OcrSettings) -> PageText:
    """The OCR'd page as the text layer's PageText: words in points (joined where the engine
    parted one label character by character), rules in points, the engine named."""
    from budgetkg.pdf import group_lines

    scale = 72 / page.dpi
    rules = tuple(Rule(x0 * scale, x1 * scale, top * scale, bottom * scale) for x0, x1, top, bottom in page.rules)
    verticals = [r for r in rules if not r.horizontal]
    words = [
        Word(_normalise(w.text), w.x0 * scale, w.x1 * scale, w.top * scale, w.bottom * scale, confidence=w.confidence)
        for w in page.words
    ]
    glued = [w for line in group_lines(words) for w in _glue_figure_pieces(line.words, verticals, settings)]
    words = [part for w in glued for part in _split_at_rules(w, verticals)]
    lines = group_lines([w for w in words if w.text])
    joined = [_join_line(line.words, verticals, settings) for line in lines]
    final = group_lines([w for line in joined for w in line])
    return PageText(
        number=number,
        width=page.width * scale,
        height=page.height * scale,
        lines=tuple(final),
        rules=rules,
        plain_text="\n".join(line.text for line in final),
        extracted_by=page.engine,
    )


def _advance(ch: str) -> float:
    """Width of a character in ems, roughly: CJK and full-width forms one, the rest a half."""
    return 1.0 if ord(ch) >= 0x2E80 else 0.5


def _glue_figure_pieces(words: Sequence[Word], verticals: Sequence[Rule], settings: OcrSettings) -> list[Word]:
    """Touching or overlapping pieces of figures in one line (sorted by x0) as one word, to be
    parted again at the rules by `_split_at_rules`: rapidocr's detector boxes a row of
    right-aligned figures with its cuts a character off the rules (the sample's scan, p.33:
    `15412.9` + `415412.94` + `15412.94` for three cells of 15412.94) or reads the overlap of
    two boxes twice (p.26: `2922.2` + `.25` for 2922.25). Glued only where the result is one
    figure, or a rule crosses the union: two figures of an unruled table stay apart. Where
    the boxes overlap and the first ends with what the second starts with, that is read once."""
    out: list[Word] = []
    for w in words:
        prev = out[-1] if out else None
        if prev is not None and NUMERIC.match(prev.text) and NUMERIC.match(w.text):
            height = max(w.bottom - w.top, prev.bottom - prev.top)
            gap = w.x0 - prev.x1
            if gap <= settings.figure_gap * height:
                text = prev.text + w.text
                if gap < 0 and not SPLIT_FIGURE.match(text):
                    once = (
                        prev.text + w.text[k:]
                        for k in range(min(len(prev.text), len(w.text)) - 1, 0, -1)
                        if prev.text.endswith(w.text[:k])
                    )
                    text = next((t for t in once if SPLIT_FIGURE.match(t)), text)
                crossed = any(prev.x0 + 2 < r.x0 < w.x1 - 2 and r.top <= w.yc <= r.bottom for r in verticals)
                if SPLIT_FIGURE.match(text) or crossed:
                    out[-1] = Word(
                        text,
                        prev.x0,
                        max(prev.x1, w.x1),
                        min(prev.top, w.top),
                        max(prev.bottom, w.bottom),
                        confidence=_lower(prev.confidence, w.confidence),
                    )
                    continue
        out.append(w)
    return out


def _lower(a: float | None, b: float | None) -> float | None:
    """The lower of two confidences, either of which may be unknown."""
    known = [c for c in (a, b) if c is not None]
    return min(known) if known else None


def _split_at_rules(word: Word, verticals: Sequence[Rule]) -> list[Word]:
    """A word crossed by a vertical rule (found in the image, then erased) as one word per
    cell, parted at the character whose estimated position is nearest the rule, each part
    ending at the rule. rapidocr's detector boxes a figure right-aligned against a border
    together with the label just after it (`91,016,775.35一、一般公共服务支出`, 09-sh-pt-zfb-2025's
    收支总表; `1000造`, the sample's p.64), as pdfplumber joins their characters in a text
    layer (pdf._split_word). A figure is parted only where a figure ends (`_figure_boundary`);
    where the nearest character boundary is the word's own edge, or a figure has no boundary
    there, the box overhangs the rule by a pixel or two of margin (the sample's scan, p.46:
    `0.00` boxed 1 pt past its cell's border, p.15: `支出总计` 2.5 pt before its own) and is
    trimmed to the side of the rule that holds most of it."""
    cuts = sorted(
        (r for r in verticals if word.x0 < r.x0 < word.x1 and r.top <= word.yc <= r.bottom), key=lambda r: r.x0
    )
    if not cuts:
        return [word]
    total = sum(_advance(ch) for ch in word.text) or 1.0
    scale = (word.x1 - word.x0) / total
    edges, pos = [], word.x0
    for ch in word.text:
        edges.append(pos)
        pos += _advance(ch) * scale
    edges.append(word.x1)
    figure = bool(NUMERIC.match(word.text))
    parts = [[0, len(word.text), word.x0, word.x1]]  # character span and box of each part
    for rule in cuts:
        part = parts[-1]
        start = part[0]
        nearest = min(range(start, len(word.text) + 1), key=lambda i: abs(edges[i] - rule.x0))
        boundary = _figure_boundary(word.text, start, nearest) if start < nearest else None
        index = boundary if boundary is not None else nearest
        if figure and boundary is None:  # a figure is never parted inside: its box overhangs the rule
            index = start if rule.x0 - part[2] < word.x1 - rule.x0 else len(word.text)
        if index <= start:
            part[2] = max(part[2], rule.x1)  # the box starts a little before its cell
        elif index >= len(word.text):
            part[3] = min(part[3], rule.x0)  # the box ends a little after its cell
            break
        else:
            part[1], part[3] = index, rule.x0
            parts.append([index, len(word.text), rule.x1, word.x1])
    out = []
    for a, b, left, right in parts:
        text = word.text[a:b].strip()
        if text and right > left:
            out.append(dataclasses.replace(word, text=text, x0=left, x1=right))
    return out


WHOLE_FIGURE = re.compile(r"^[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)$")
RIGHT_FIGURE = re.compile(r"^[-−]?[\d,]*\d\.(\d+)")


def _figure_boundary(text: str, start: int, index: int) -> int | None:
    """The cut near `index` (within 3 characters) that ends a figure where the rest starts
    another figure with as many decimals (or a run of them), or a label: the estimate from the
    rule's position is a character or two off where the next cell pads its right-aligned
    figure (09-sh-pt-zfb-2025 p.9: `82,096,797.4282,096,797.42` parted as `82,096,797.428` +
    `2,096,797.42`; the sample's scan p.33, three cells of `15412.94` in one run). None where
    no such cut is near."""
    candidates = []
    for i in range(max(start + 1, index - 3), min(len(text), index + 4)):
        left, right = text[start:i], text[i:]
        if WHOLE_FIGURE.match(left) and right[:1] > "\u2e80":  # a whole figure before a label: `1000造`
            candidates.append(i)
        if not SPLIT_FIGURE.match(left):
            continue
        decimals = len(left) - left.index(".") - 1
        figures = re.match(rf"(?:[-−]?\d[\d,]*?\.\d{{{decimals}}})+(?![\d.,])", right)
        if RIGHT_FIGURE.match(right) is None:
            if not right[:1].isdigit() and right[:1] not in ",.":
                candidates.append(i)
        elif figures is not None:
            candidates.append(i)
    return min(candidates, key=lambda i: abs(i - index)) if candidates else None


#: A classification code in brackets before its name, `[30103]奖金` (the sample's economic
#: tables, pp.18-25), with a bracket dropped or misread: `[30103奖金`, `[30209}物业管理费`.
BRACKETED_CODE = re.compile(r"^\[?(\d{3,})[\]】}|](?=\D)|^[\[【](\d{3,})[\]】}|]?(?=[^\d\]】}|,.])")


def _normalise(text: str) -> str:
    """Full-width digits and the ideographic full stop inside a figure (。 for .) as printed
    in ASCII, the way the text layer has them; a bracketed code with both its brackets."""
    text = text.translate(str.maketrans("０１２３４５６７８９，．", "0123456789,."))
    text = BRACKETED_CODE.sub(lambda m: f"[{m.group(1) or m.group(2)}]", text)
    if NUMERIC.match(text):
        text = text.replace("。", ".").replace("，", ",")
    return _paired_quotes(text)


def _paired_quotes(text: str) -> str:
    """Curly quotes of one word alternate opening and closing: an engine cannot tell “ from ”
    (rapidocr read the sample's 行政经费及“三公”经费预算表 as 及“三公“经费, which then matches no
    table kind of mappings/tables)."""
    out, count = [], {"“": 0, "‘": 0}
    for ch in text:
        kind = "“" if ch in "“”" else "‘" if ch in "‘’" else None
        if kind is None:
            out.append(ch)
            continue
        out.append(kind if count[kind] % 2 == 0 else {"“": "”", "‘": "’"}[kind])
        count[kind] += 1
    return "".join(out)


def _join_line(words: Sequence[Word], verticals: Sequence[Rule], settings: OcrSettings) -> list[Word]:
    """Neighbouring words of one line closer than the engine's `join_gap` of their height, with no rule
    between them and neither a figure, are one word (a label read character by character; a
    code is never joined to the label beside it). Two pieces of one figure touching or
    overlapping (within `figure_gap` of their height) are one figure: rapidocr's detector parts
    `0.00` as `0.` + `00` in the unruled tables of 01-gz-zwfwsjglj-2026."""
    out: list[Word] = []
    for w in words:
        prev = out[-1] if out else None
        if prev is not None:
            gap = w.x0 - prev.x1
            height = max(w.bottom - w.top, prev.bottom - prev.top)
            ruled = any(prev.x1 - 1 <= r.x0 <= w.x0 + 1 and r.top <= w.yc <= r.bottom for r in verticals)
            figures = NUMERIC.match(prev.text) or NUMERIC.match(w.text)
            split_figure = gap <= settings.figure_gap * height and SPLIT_FIGURE.match(prev.text + w.text)
            joins = gap < dict(settings.join_gap).get(settings.engine, 0.0) * height
            if split_figure or (joins and not ruled and not figures):
                confidence = (
                    min(c for c in (prev.confidence, w.confidence) if c is not None)
                    if (prev.confidence is not None or w.confidence is not None)
                    else None
                )
                out[-1] = Word(
                    prev.text + w.text,
                    prev.x0,
                    w.x1,
                    min(prev.top, w.top),
                    max(prev.bottom, w.bottom),
                    confidence=confidence,
                )
                continue
        out.append(w)
    return out


# --- the hook: which pages, and the progress --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OcrOptions:
    """How a build OCRs: `mode` auto (pages without usable text), always, or never; where the
    cache lives; where progress goes (one line per OCR'd page: OCR is slow)."""

    mode: str = "auto"
    cache_dir: Path | None = None
    previous_cache_dirs: tuple[Path, ...] = ()
    progress: bool = True
    settings: OcrSettings | None = None  # None: mappings/ocr.toml (another engine for a comparison)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"--ocr must be one of {', '.join(MODES)}, not {self.mode!r}")


def needs_ocr(page: PageText, mode: str, settings: OcrSettings, image_share: Callable[[], float]) -> bool:
    """Whether the page is read by OCR: always, never, or (auto) when its text layer has fewer
    than `min_text_chars` characters of ink and images cover at least `min_image_share` of it —
    an image-only scan, or one with a stray page number; not a cover with a short title nor a
    blank page (02-gz-xfj-2026's cover has 15 characters, 10-sh-pt-czj-2024-js p.14 none).
    `image_share` is asked only for pages with little text, so text pages cost a count."""
    if mode == "never":
        return False
    if mode == "always":
        return True
    if sum(len(w.text) for line in page.lines for w in line.words) >= settings.min_text_chars:
        return False
    return image_share() >= settings.min_image_share


def image_share(path: Path, number: int) -> float:
    """The share of page `number`'s area its images cover (0–1; overlaps counted twice, capped),
    by PDFium: a scanned page is one image the size of the page."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = pdfium.PdfDocument(str(path))
    try:
        page = pdf[number - 1]
        width, height = page.get_size()
        covered = 0.0
        for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
            left, bottom, right, top = obj.get_bounds()
            w = min(right, width) - max(left, 0.0)
            h = min(top, height) - max(bottom, 0.0)
            covered += max(w, 0.0) * max(h, 0.0)
        return min(1.0, covered / (width * height)) if width * height > 0 else 0.0
    finally:
        pdf.close()


def apply_ocr(path: Path, pages: list[PageText], options: OcrOptions) -> list[PageText]:
    """`pages` with those that need it read by OCR instead (the hook of pdf.read_pages)."""
    if options.mode == "never":
        return pages
    settings = options.settings or load_ocr_settings()
    todo = [
        i
        for i, p in enumerate(pages)
        if needs_ocr(p, options.mode, settings, lambda p=p: image_share(path, p.number))  # type: ignore[misc]
    ]
    if not todo:
        return pages
    cache = OcrCache(options.cache_dir, options.previous_cache_dirs)
    out = list(pages)
    for i in todo:
        number = pages[i].number
        try:
            page = ocr_image(render(path, number, settings.dpi), settings, cache)
        except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
            detail = (
                exc.stderr.decode(errors="replace").strip().splitlines()[-1:]
                if isinstance(exc, subprocess.CalledProcessError) and exc.stderr
                else [str(exc)]
            )
            raise InputError(str(path), f"ocr: page {number}: {' '.join(detail)}") from None
        if options.progress:
            print(f"ocr: {path.name} page {number}: {len(page.words)} words, {page.seconds:.1f} s", file=sys.stderr)
        out[i] = page_text(page, number, settings)
    return out


# --- provenance and the arithmetic guard (item 3) ------------------------------------------------


def _figure(text: str) -> str:
    return text.replace(",", "").replace(" ", "")


def attach_provenance(tables: Sequence[Table], pages: Sequence[PageText]) -> list[Table]:
    """Each amount of an OCR'd page with its engine (``extracted_by``) and confidence: the
    lowest confidence of the page's words printed as that figure (the reader keeps the printed
    text, not the word, so a figure printed twice on a page gets the lower of the two)."""
    by_page = {p.number: p for p in pages if p.extracted_by != TEXT_LAYER}
    if not by_page:
        return list(tables)
    figures: dict[int, dict[str, float]] = {}
    for number, page in by_page.items():
        seen: dict[str, float] = {}
        for line in page.lines:
            for w in line.words:
                if w.confidence is not None:
                    key = _figure(w.text)
                    seen[key] = min(seen.get(key, 100.0), w.confidence)
        figures[number] = seen
    out = []
    for table in tables:
        rows = []
        for row in table.rows:
            ocr_pages = [n for n in row.pages if n in by_page]
            if not ocr_pages:
                rows.append(row)
                continue
            engine = by_page[ocr_pages[0]].extracted_by
            amounts = []
            for a in row.amounts:
                found = [figures[n][_figure(a.printed)] for n in ocr_pages if _figure(a.printed) in figures[n]]
                confidence = min(found) if found else (None if a.blank else 0.0)
                amounts.append(dataclasses.replace(a, extracted_by=engine, confidence=confidence))
            rows.append(dataclasses.replace(row, amounts=tuple(amounts)))
        out.append(dataclasses.replace(table, rows=tuple(rows)))
    return out


def _boxes(pages: Sequence[PageText], numbers: Sequence[int], printed: str) -> list[tuple[int, Word]]:
    return [
        (p.number, w)
        for p in pages
        if p.number in numbers
        for line in p.lines
        for w in line.words
        if _figure(w.text) == _figure(printed)
    ]


def _candidates(printed: str, confusable: Sequence[str]) -> list[str]:
    """Every figure that differs from `printed` by one confusable digit."""
    swaps: dict[str, set[str]] = {}
    for pair in confusable:
        a, b = pair[0], pair[1]
        swaps.setdefault(a, set()).add(b)
        swaps.setdefault(b, set()).add(a)
    out = []
    for i, ch in enumerate(printed):
        for other in sorted(swaps.get(ch, ())):
            out.append(printed[:i] + other + printed[i + 1 :])
    return out


def _value(text: str) -> Decimal | None:
    try:
        return Decimal(_figure(text))
    except (InvalidOperation, ValueError):
        return None


def digit_guard(tables: Sequence[Table], pages: Sequence[PageText], tolerance: Decimal) -> list[str]:
    """Findings for OCR'd figures the arithmetic does not confirm (issue 15, item 3).

    Two checks need no mapping: in a row, the first amount column (合计) is the sum of the
    amount columns after it that make it up; in a column, a classification row is the sum of the
    rows whose codes extend its code by one level. Where such a check fails on an OCR'd page and
    swapping one confusable digit of one figure in it would make it balance, that figure, its
    page and box, its confidence and the candidate are reported; the printed figure is kept.
    A failing check without such a candidate is reported too, and so is a row with fewer amounts
    than the table's widest row (a figure lost, which a zero would let balance), so that no
    miss passes silently."""
    settings = load_ocr_settings()
    ocr_pages = {p.number for p in pages if p.extracted_by != TEXT_LAYER}
    findings: list[str] = []
    for table in tables:
        width = max((len(r.amounts) for r in table.rows), default=0)
        two_sided = any(r.side is not None for r in table.rows)  # its columns are the sides: 1 amount a row
        if set(table.pages) & ocr_pages and not two_sided and len(table.columns) - width > settings.label_columns:
            findings.append(
                f"ocr check: {table.title} page {table.pages[0]}: the header has {len(table.columns)} columns but rows "
                f"read at most {width} amounts (a column lost?)"
            )
        for row in table.rows:
            if set(row.pages) & ocr_pages and len(row.amounts) < width:
                findings.append(
                    f"ocr check: {table.title} page {row.pages[0]} row {row.label!r}: {len(row.amounts)} of the "
                    f"table's {width} amount columns read"
                )
            if not set(row.pages) & ocr_pages or len(row.amounts) < 3:
                continue
            total, parts = row.amounts[0], row.amounts[1:]
            values = [_value(a.printed) if not a.blank else Decimal(0) for a in row.amounts]
            if any(v is None for v in values):
                continue
            slack = tolerance * len(parts)
            if abs(values[0] - sum(values[1:])) <= slack:  # type: ignore[operator,arg-type]
                continue
            if not any(abs(values[0] - sum(values[1 : k + 1])) <= slack for k in range(1, len(values) - 1)):  # type: ignore[operator,arg-type]
                findings.append(_finding(table, row, [total, *parts], values, slack, pages, settings))
        findings.extend(_column_findings(table, pages, ocr_pages, tolerance, settings))
        findings.extend(_decimal_findings(table, ocr_pages))
    return [f for f in findings if f]


def _decimal_findings(table: Table, ocr_pages: set[int]) -> list[str]:
    """OCR'd figures with more decimals than the table's other figures print: a digit read
    twice or a stray one (the sample's scan: 2505.65 read as 2505.665 on p.26, 0.00 as 0.0012
    on p.40), which the tolerance of a sum check can hide."""
    places = [_decimals(a.printed) for r in table.rows for a in r.amounts if not a.blank]
    if not places:
        return []
    usual = max(set(places), key=places.count)
    out = []
    for row in table.rows:
        if not set(row.pages) & ocr_pages:
            continue
        for a in row.amounts:
            if not a.blank and _decimals(a.printed) > usual:
                out.append(
                    f"ocr check: {table.title} page {row.pages[0]} row {row.label!r} {' / '.join(a.measure)}: "
                    f"{a.printed} has {_decimals(a.printed)} decimals where the table prints {usual} "
                    "(a digit read twice?)"
                )
    return out


def _decimals(printed: str) -> int:
    return len(printed) - printed.index(".") - 1 if "." in printed else 0


def _finding(table, row, amounts, values, slack, pages, settings) -> str:
    """One row's failing sum: every single-digit candidate that balances it (lowest confidence
    first: a total and a part may each explain it), or the plain failure."""
    target_sum = values[0] - sum(values[1:])
    found = []
    for i, a in enumerate(amounts):
        for candidate in _candidates(_figure(a.printed), settings.confusable):
            new = _value(candidate)
            if new is None:
                continue
            delta = new - values[i]
            if abs(target_sum - delta if i > 0 else target_sum + delta) <= slack:
                found.append((a.confidence if a.confidence is not None else 100.0, i, a, candidate))
    if found:
        return " | ".join(_describe(table, row, a, c, pages) for _, _, a, c in sorted(found, key=lambda f: f[:2]))
    return (
        f"ocr check: {table.title} page {row.pages[0]} row {row.label!r}: {amounts[0].printed} is not the sum of "
        f"the row's other amounts; no single confusable digit explains it"
    )


def _describe(table, row, amount, candidate: str, pages: Sequence[PageText]) -> str:
    boxes = _boxes(pages, row.pages, amount.printed)
    where = "; ".join(f"page {n} box ({w.x0:.0f},{w.top:.0f},{w.x1:.0f},{w.bottom:.0f})" for n, w in boxes[:2])
    confidence = f"{amount.confidence:.0f}" if getattr(amount, "confidence", None) is not None else "?"
    return (
        f"ocr digit: {table.title} row {row.label!r} {' / '.join(amount.measure)}: printed {amount.printed} "
        f"(confidence {confidence}) would balance as {candidate} [{where or 'page ' + str(row.pages[0])}]"
    )


def _column_findings(table, pages, ocr_pages, tolerance, settings) -> list[str]:
    """Classification rows against the sum of their children, column by column."""
    coded = [r for r in table.rows if r.code and set(r.pages) & ocr_pages]
    out = []
    for parent in coded:
        children = [
            r
            for r in coded
            if r.code.startswith(parent.code) and len(r.code) == len(parent.code) + 2  # type: ignore[union-attr]
        ]
        if not children:
            continue
        for col, amount in enumerate(parent.amounts):
            cells = [c.amounts[col] for c in children if len(c.amounts) > col]
            values = [_value(a.printed) if not a.blank else Decimal(0) for a in (amount, *cells)]
            if any(v is None for v in values):
                continue
            slack = tolerance * len(cells)
            if abs(values[0] - sum(values[1:])) <= slack:  # type: ignore[operator,arg-type]
                continue
            rows = [parent, *children]
            found = ""
            for i, a in enumerate((amount, *cells)):
                for candidate in _candidates(_figure(a.printed), settings.confusable):
                    new = _value(candidate)
                    if new is None:
                        continue
                    trial = list(values)
                    trial[i] = new
                    if abs(trial[0] - sum(trial[1:])) <= slack:  # type: ignore[operator,arg-type]
                        found = _describe(table, rows[i], a, candidate, pages)
                        break
                if found:
                    break
            out.append(
                found
                or f"ocr check: {table.title} code {parent.code} {' / '.join(amount.measure)}: {amount.printed} is not "
                f"the sum of its {len(cells)} sub-codes; no single confusable digit explains it"
            )
    return out
