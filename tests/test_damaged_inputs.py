"""No traceback on any input (issue 11, item 5): damaged and re-arranged real documents.

The variants are made here, into tmp_path, from a real document (never committed): truncated,
bytes flipped (many: the file no longer opens; a few: its content is garbled), pages shuffled,
dropped, rotated, two budgets concatenated, an empty file and a file that is no PDF. Each is
built on its own (two variants of one budget in one build would only be refused as the same
budget) and must either build or fail with one line naming the file and the stage —
`failed: FILE: stage: reason` — and a build of all of them through the command line must print
no traceback and exit 1, the other documents built.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BASE, REPO

from budgetkg.build import STAGES, BuildOptions, build

SOURCE = "02-gz-xfj-2026.pdf"  # 25 pages, one unit: cheap to build many times
OTHER = "04-gz-qxj-2026.pdf"  # the second budget of the concatenated file
STAGE_NAMES = set(STAGES.values())
FAILED_LINE = re.compile(r"^failed: (?P<file>.+?): (?P<stage>[a-z]+): (?P<reason>.+)$")

#: variant → the stages it may fail in (None: it may also build)
VARIANTS: dict[str, set[str] | None] = {
    "truncated": {"pdf"},
    "flipped": {"pdf"},
    "flipped-lightly": None,  # the file opens; some content streams are garbled
    "empty": {"pdf"},
    "not-a-pdf": {"pdf"},
    "shuffled": None,
    "dropped": None,
    "rotated-90": None,
    "rotated-180": None,
    "concatenated": None,
}


def _copy_pages(source: Path, order: list[int], target: Path, rotation: int = 0, more: Path | None = None) -> None:
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 (a pdfplumber dependency) makes the variants")
    src = pdfium.PdfDocument(source)
    new = pdfium.PdfDocument.new()
    new.import_pages(src, order)
    if more is not None:
        new.import_pages(pdfium.PdfDocument(more))
    if rotation:
        for i in range(len(new)):
            new[i].set_rotation(rotation)
    new.save(target)


@pytest.fixture(scope="module")
def variants(real_docs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    source, other = real_docs_dir / SOURCE, real_docs_dir / OTHER
    if not source.is_file() or not other.is_file():
        pytest.skip(f"{SOURCE} and {OTHER} are needed in {real_docs_dir}")
    folder = tmp_path_factory.mktemp("damaged")
    rng = random.Random(11)
    data = source.read_bytes()
    paths = {name: folder / f"{name}.pdf" for name in VARIANTS}
    paths["truncated"].write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    for i in rng.sample(range(1024, len(data)), len(data) // 50):
        flipped[i] ^= 0xFF
    paths["flipped"].write_bytes(bytes(flipped))
    lightly = bytearray(data)
    for i in random.Random(2).sample(range(len(data) // 10, len(data) * 9 // 10), 40):
        lightly[i] ^= 0xFF
    paths["flipped-lightly"].write_bytes(bytes(lightly))
    paths["empty"].write_bytes(b"")
    paths["not-a-pdf"].write_bytes("这不是 PDF 文件\n".encode())
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 (a pdfplumber dependency) makes the variants")
    count = len(pdfium.PdfDocument(source))
    order = list(range(count))
    rng.shuffle(order)
    _copy_pages(source, order, paths["shuffled"])
    _copy_pages(source, [i for i in range(count) if i % 3 != 1], paths["dropped"])
    _copy_pages(source, list(range(count)), paths["rotated-90"], rotation=90)
    _copy_pages(source, list(range(count)), paths["rotated-180"], rotation=180)
    _copy_pages(source, list(range(count)), paths["concatenated"], more=other)
    return paths


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_builds_or_fails_with_its_stage(variants: dict[str, Path], tmp_path: Path, name: str) -> None:
    echoed: list[str] = []
    out = tmp_path / "build"
    result = build([variants[name]], BuildOptions(out=out, base_uri=BASE, jobs=1, progress=False), echo=echoed.append)
    assert len(result.documents) + len(result.failures) == 1
    if result.failures:
        reason = result.failures[0].reason
        stage = reason.split(":", 1)[0]
        assert stage in STAGE_NAMES, reason
        allowed = VARIANTS[name]
        assert allowed is None or stage in allowed, reason
        assert "\n" not in reason and "Traceback" not in reason
        assert json.loads((out / "build.json").read_text(encoding="utf-8"))["failures"][0]["reason"] == reason
    else:
        assert VARIANTS[name] is None, f"{name} should not build"
        reading = json.loads((out / "reading.json").read_text(encoding="utf-8"))
        assert [d["file"] for d in reading["documents"]] == [f"{name}.pdf"]
        assert any(m.startswith(f"reading: {name}.pdf: ") for m in echoed)


def test_command_line_build_of_all_variants_prints_no_traceback(variants: dict[str, Path], tmp_path: Path) -> None:
    """All variants in one build through the command line: some are built, every other input
    has its one `failed: FILE: stage: reason` line (variants of one budget are refused as the
    same budget), no traceback, exit code 1."""
    folder = variants["concatenated"].parent
    args = [sys.executable, "-m", "budgetkg.cli", "build", str(folder), "--out", str(tmp_path / "out"), "-q", "-j", "2"]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("failed: ")]
    failed = [FAILED_LINE.match(line) for line in lines]
    assert failed and all(m is not None for m in failed), lines
    assert {m["stage"] for m in failed if m} <= STAGE_NAMES, lines
    manifest = json.loads((tmp_path / "out" / "build.json").read_text(encoding="utf-8"))
    built = {Path(d["file"]).name for d in manifest["documents"]}
    assert built, "the readable variants are built"
    assert built | {Path(f["file"]).name for f in manifest["failures"]} == {p.name for p in variants.values()}
    assert sum(1 for line in proc.stderr.splitlines() if line.startswith("reading: ")) == len(built)
