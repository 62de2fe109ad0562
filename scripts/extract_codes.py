"""Code lists from evidence: the (code, name) pairs printed in budget documents, per year, with
the file's sha256 and the page — and how they compare with ontology/codelists/*.csv.

    python scripts/extract_codes.py PDF_OR_DIR... [--evidence ontology/codelists/evidence.csv]
        [--update] [--jobs N]

Every document is read with budgetkg's own reader (only codes printed in a code column or in
brackets count: names resolved through the list are not evidence). The evidence file gets one
row per (classification, year, code, printed name, document) with the first page it is printed
on; it is merged with the rows already there, so documents can be added run by run. The report
lists, per year, the codes missing from the lists and the printed names that differ from the
list's name (a misprint, an older or newer edition: both names are kept, never overwritten).
``--update`` then adds the missing codes to the lists (name as printed, ``years`` the years
printed, ``source`` the evidence) and fills the ``source`` column of every row that has
evidence with the same name: ``sha256:<first 16 hex>#p<page>`` of the earliest such document.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from budgetkg.codelists import code_list, parent_code, printed_name  # noqa: E402
from budgetkg.mapping import squash  # noqa: E402

CODELISTS = ROOT / "ontology" / "codelists"
FILES = {"functional": "functional.csv", "economic": "economic.csv"}
#: what a code of each list looks like (its first digit, its lengths): other codes printed in a
#: coded column (政府预算支出经济分类 5xx, a 收入 code) belong to another classification
SHAPE = {"functional": ("2", (3, 5, 7)), "economic": ("3", (3, 5))}


def fits(scheme: str, code: str) -> bool:
    first, lengths = SHAPE[scheme]
    return code.startswith(first) and len(code) in lengths
EVIDENCE_HEADER = ("scheme", "year", "notation", "printed_name", "file", "sha256", "page")
LIST_HEADER = ("notation", "label_zh", "label_en", "parent", "years", "source", "names")


def read_pairs(path: str) -> list[tuple[str, ...]]:
    """(scheme, year, code, printed name, file, sha256, page) for every printed code of one PDF."""
    from budgetkg.reader import read_document

    doc = read_document(Path(path))
    out: dict[tuple[str, ...], int] = {}
    for table in doc.tables:
        if table.code_scheme not in FILES:
            continue
        for row in table.rows:
            if not row.code or not row.code.isdigit():
                continue
            key = (table.code_scheme, str(doc.year), row.code, printed_name(row), doc.source.name, doc.source.sha256)
            out[key] = min(out.get(key, row.pages[0]), row.pages[0])
    return [(*k, str(page)) for k, page in sorted(out.items())]


def source_ref(sha256: str, page: str) -> str:
    return f"sha256:{sha256[:16]}#p{page}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="*", type=Path, help="PDFs or folders (none: report on the evidence file)")
    ap.add_argument("--evidence", type=Path, default=CODELISTS / "evidence.csv")
    ap.add_argument("--update", action="store_true", help="add missing codes and fill the source column")
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args(argv)
    pdfs = sorted(str(p) for i in args.inputs for p in ([i] if i.is_file() else i.rglob("*.pdf")))
    rows: set[tuple[str, ...]] = set()
    if args.evidence.exists():
        with args.evidence.open(encoding="utf-8") as fh:
            rows.update(tuple(r[h] for h in EVIDENCE_HEADER) for r in csv.DictReader(fh))
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for path, pairs in zip(pdfs, pool.map(read_pairs, pdfs), strict=True):
            print(f"{Path(path).name}: {len(pairs)} printed codes", file=sys.stderr)
            rows.update(pairs)
    ordered = sorted(rows, key=lambda r: (r[0], int(r[1]), r[2], r[3], r[4]))
    with args.evidence.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(EVIDENCE_HEADER)
        w.writerows(ordered)
    report(ordered)
    if args.update:
        update_lists(ordered)
    return 0


def report(rows: list[tuple[str, ...]]) -> None:
    for scheme in FILES:
        lst = code_list(scheme)
        missing: dict[str, set[str]] = defaultdict(set)
        differ: list[str] = []
        agree = 0
        for s, year, code, name, file, _sha, page in rows:
            if s != scheme:
                continue
            entry = lst.get(code)
            if entry is None and not fits(scheme, code):
                missing[f"{code} (not a {scheme} code)"].add(year)
            elif entry is None:
                missing[code].add(year)
            elif squash(entry.name_in(int(year))) != name:  # the year's edition name (``names`` column)
                differ.append(f"  {year} {code}: printed {name} ({file} p.{page}), list {entry.name_in(int(year))}")
            else:
                agree += 1
        print(
            f"{scheme}: {agree} printed (year, code, name) agree with the list, {len(differ)} differ, "
            f"{len(missing)} codes missing"
        )
        for line in differ:
            print(line)
        for code, years in sorted(missing.items()):
            print(f"  missing {code} ({' '.join(sorted(years))})")


def update_lists(rows: list[tuple[str, ...]]) -> None:
    for scheme, name in FILES.items():
        path = CODELISTS / name
        with path.open(encoding="utf-8") as fh:
            table = {r["notation"]: {h: r.get(h, "") or "" for h in LIST_HEADER} for r in csv.DictReader(fh)}
        evidence = [r for r in rows if r[0] == scheme]
        by_code: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for r in evidence:
            by_code[r[2]].append(r)
        for code, found in sorted(by_code.items()):
            if code in table or not fits(scheme, code):
                continue
            years = sorted({r[1] for r in found})
            names = sorted({r[3] for r in found}, key=lambda n: (-sum(r[3] == n for r in found), n))
            first = min(found, key=lambda r: (int(r[1]), r[4]))
            parent = parent_code(code) or ""
            table[code] = {
                "notation": code,
                "label_zh": names[0],
                "label_en": "",
                "parent": parent,
                "years": " ".join(years),
                "source": source_ref(first[5], first[6]),
            }
        for code, row in table.items():
            same = [r for r in by_code.get(code, []) if r[3] == squash(row["label_zh"])]
            if same:
                first = min(same, key=lambda r: (int(r[1]), r[4]))
                refs = {source_ref(first[5], first[6])}
                old = [s for s in row["source"].split() if not s.startswith("sha256:")]
                row["source"] = " ".join(sorted(refs) + old)
                printed_years = {r[1] for r in by_code[code]}
                row["years"] = " ".join(sorted(set(row["years"].split()) | printed_years))
        # a code whose parent is neither printed nor listed keeps the parent column; the test
        # suite lists those (tests/test_ontology.py)
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=LIST_HEADER, lineterminator="\n")
            w.writeheader()
            for code in sorted(table):
                w.writerow(table[code])
        print(f"{path.relative_to(ROOT)}: {len(table)} codes", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
