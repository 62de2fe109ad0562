"""Compare OCR engines and settings on a synthetic scan against the text layer (docs/ocr.md).

    python scripts/compare_ocr.py tests/fixtures/gz-zwfwsjglj-2023-budget.pdf /tmp/scan.pdf \
        --pages 1,3,9,16,17,21 --try engine=tesseract,dpi=300 --try engine=rapidocr,dpi=150

`--pages` names the pages of the original the scan was made of (scripts/make_scans.py), in
order. For each `--try` the scan is read by the same reader as a text layer, and the amounts of
each table are compared row by row and column by column with the text-layer reading of the
original; row labels likewise. Prints one line per try: amounts right, labels right, seconds per
OCR'd page, findings of the digit guard.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from budgetkg.model import Document, Row
from budgetkg.ocr import OcrOptions, load_ocr_settings
from budgetkg.reader import read_document


@dataclasses.dataclass
class Comparison:
    amounts: int = 0
    amounts_right: int = 0
    labels: int = 0
    labels_right: int = 0
    misses: list[tuple[str, int, str, str, str | None]] = dataclasses.field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.amounts_right / self.amounts if self.amounts else 0.0


def compare(ocr: Document, truth: Document) -> Comparison:
    """Amounts (and row labels) of the truth's tables read by OCR in the same row and column.
    A table is matched by its kind. Rows are aligned first (difflib, on their labels without
    spaces, then within a run of differing labels on their figures), so that one row lost or
    split by the OCR costs that row's amounts, not those of every row after it; an aligned row
    is compared column by column. A miss is (table title, row index, label, truth, read)."""
    by_kind = {t.kind: t for t in truth.tables}
    out = Comparison()
    for table in ocr.tables:
        if table.kind not in by_kind:
            continue
        rows = by_kind[table.kind].rows
        for i, row, other in _aligned(rows, table.rows):
            out.labels += 1
            out.labels_right += other is not None and other.label == row.label
            for j, amount in enumerate(row.amounts):
                out.amounts += 1
                read = other.amounts[j].printed if other is not None and j < len(other.amounts) else None
                if read is not None and _plain(read) == _plain(amount.printed):
                    out.amounts_right += 1
                else:
                    out.misses.append((table.title, i, row.label, amount.printed, read))
    return out


def _plain(figure: str) -> str:
    return figure.replace(",", "")


def _aligned(truth: Sequence[Row], read: Sequence[Row]) -> list[tuple[int, Row, Row | None]]:
    """(index, truth row, the OCR row aligned with it or None), for every truth row."""

    def label(r: Row) -> str:
        return "".join(r.label.split())

    def figures(r: Row) -> tuple[str, ...]:
        return tuple(_plain(a.printed) for a in r.amounts)

    pairs: dict[int, Row] = {}
    outer = difflib.SequenceMatcher(None, [label(r) for r in truth], [label(r) for r in read], autojunk=False)
    for tag, a0, a1, b0, b1 in outer.get_opcodes():
        if tag == "equal":
            pairs.update({a0 + k: read[b0 + k] for k in range(a1 - a0)})
        elif tag == "replace":
            inner = difflib.SequenceMatcher(
                None, [figures(r) for r in truth[a0:a1]], [figures(r) for r in read[b0:b1]], autojunk=False
            )
            for tag2, c0, c1, d0, d1 in inner.get_opcodes():
                if tag2 in ("equal", "replace"):  # a replaced run: paired in order, the rest lost
                    pairs.update({a0 + c0 + k: read[b0 + d0 + k] for k in range(min(c1 - c0, d1 - d0))})
    return [(i, row, pairs.get(i)) for i, row in enumerate(truth)]


def _settings(spec: str):
    settings = load_ocr_settings()
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        kind = type(getattr(settings, key))
        settings = dataclasses.replace(settings, **{key: kind(value)})
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("original", type=Path)
    parser.add_argument("scan", type=Path)
    parser.add_argument("--pages", required=True, help="pages of the original in the scan, e.g. 1,3,9,16-17")
    parser.add_argument("--try", dest="tries", action="append", default=[], help="settings, e.g. engine=rapidocr")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args(argv)
    from budgetkg.pdf import read_pages
    from budgetkg.pdf import source_file as make_source
    from budgetkg.reader import document_from_pages

    numbers = [int(n) for part in args.pages.split(",") for n in _span(part)]
    original = read_pages(args.original, numbers)
    pages = [dataclasses.replace(p, number=i + 1) for i, p in enumerate(original)]
    truth = document_from_pages(make_source(args.original, pages), pages)
    for spec in args.tries or [""]:
        settings = _settings(spec)
        with tempfile.TemporaryDirectory() as tmp:
            options = OcrOptions(mode="always", cache_dir=Path(tmp), progress=False, settings=settings)
            started = time.perf_counter()
            document = read_document(args.scan, ocr=options)
            seconds = (time.perf_counter() - started) / len(numbers)
        result = compare(document, truth)
        findings = [w for w in document.warnings if w.startswith("ocr ")]
        print(
            f"{spec or 'mappings/ocr.toml'}: amounts {result.amounts_right}/{result.amounts} "
            f"({100 * result.accuracy:.1f} %), labels {result.labels_right}/{result.labels}, "
            f"{seconds:.1f} s/page, {len(findings)} findings"
        )
        if args.show_misses:
            for miss in result.misses:
                print("  miss", *miss)
            for finding in findings:
                print("  finding", finding)
    return 0


def _span(part: str) -> range:
    first, _, last = part.partition("-")
    return range(int(first), int(last or first) + 1)


if __name__ == "__main__":
    sys.exit(main())
