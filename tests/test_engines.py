"""The two page sources agree: PDFium (`budgetkg.pdf_pdfium`) reads every document into the same
`lines.csv` as pdfplumber, the reference (issue 16). Where they differ, the PDFium source is
what gets fixed, never this comparison."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from conftest import BASE, SAMPLE_PDF

from budgetkg.build import BuildOptions, build, reader_fingerprint
from budgetkg.lines import document_lines
from budgetkg.model import InputError
from budgetkg.pdf import ENGINES, read_pages
from budgetkg.pdf_pdfium import char_box, page_turn
from budgetkg.reader import read_document


@pytest.fixture(scope="session")
def sample_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample built once with each engine (one worker)."""
    outs = {}
    for engine in ENGINES:
        out = tmp_path_factory.mktemp(f"engine-{engine}") / "build"
        options = BuildOptions(out=out, base_uri=BASE, jobs=1, progress=False, engine=engine)
        result = build([SAMPLE_PDF], options, echo=lambda m: None)
        assert not result.failures
        outs[engine] = out
    return outs


def _dump_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def test_sample_lines_and_dumps_identical(sample_builds: dict[str, Path]) -> None:
    plumber, pdfium = sample_builds["pdfplumber"], sample_builds["pdfium"]
    assert (pdfium / "lines.csv").read_bytes() == (plumber / "lines.csv").read_bytes()
    dumps = sorted(p.relative_to(plumber) for p in (plumber / "dumps").rglob("*") if p.is_file())
    assert dumps, "the build wrote no dumps"
    for rel in dumps:
        assert _dump_text(pdfium / rel) == _dump_text(plumber / rel), f"{rel} differs between the engines"


def _differing_lines(path: Path) -> int:
    """Rows of lines.csv one engine writes and the other does not (a changed row counts once)."""
    rows = {engine: list(document_lines(read_document(path, engine=engine))) for engine in ENGINES}
    reference, other = rows["pdfplumber"], rows["pdfium"]
    if reference == other:
        return 0
    missing = [r for r in reference if r not in set(other)]
    extra = [r for r in other if r not in set(reference)]
    return max(len(missing), len(extra)) or 1  # same rows in another order still differ


def test_real_documents_read_identically(real_docs_dir: Path) -> None:
    """Every shared real document gives the same lines.csv rows with both engines."""
    counts = {path.name: _differing_lines(path) for path in sorted(real_docs_dir.glob("*.pdf"))}
    differing = {name: n for name, n in counts.items() if n}
    assert not differing, f"lines.csv rows differing between pdfplumber and pdfium: {differing}"


def test_rotated_page_read_upright(real_docs_dir: Path) -> None:
    """11-js-swbgt's pages carry /Rotate 90: both engines report them in the displayed frame."""
    path = real_docs_dir / "11-js-swbgt-2019.pdf"
    if not path.exists():
        pytest.skip(f"{path} not found")
    plumber, pdfium = read_pages(path, [2], engine="pdfplumber"), read_pages(path, [2], engine="pdfium")
    assert (pdfium[0].width, pdfium[0].height) == pytest.approx((plumber[0].width, plumber[0].height))
    assert [ln.text for ln in pdfium[0].lines] == [ln.text for ln in plumber[0].lines]


def _lines_of(path: Path, pages: list[int] | None = None) -> dict[str, list[list[str]]]:
    return {e: [[ln.text for ln in p.lines] for p in read_pages(path, pages, engine=e)] for e in ENGINES}


def test_turned_renderings_read_alike(real_docs_dir: Path, tmp_path: Path) -> None:
    """Pages turned by /Rotate over upright content (their text then runs down, up or upside
    down the displayed page, issue 11) read into the same lines with both engines."""
    import pypdfium2

    source = real_docs_dir / "02-gz-xfj-2026.pdf"
    if not source.exists():
        pytest.skip(f"{source} not found")
    for turn in (90, 180, 270):
        pdf = pypdfium2.PdfDocument(str(source))
        pdf[4].set_rotation(turn)
        target = tmp_path / f"turned-{turn}.pdf"
        pdf.save(str(target))
        pdf.close()
        lines = _lines_of(target, [5])
        assert lines["pdfium"] == lines["pdfplumber"], f"turned by {turn}°"


def test_sample_styles_read_alike(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The sample rendered in every visual style of test_styles reads into the same lines."""
    pytest.importorskip("reportlab")
    from conftest import SAMPLE_TXT, load_script

    rb = load_script("render_budget_pdf")
    if not (Path(rb.WQY_ZENHEI).exists() and Path(rb.AR_PL_UMING).exists()):
        pytest.skip("CJK fonts missing (apt-get install fonts-wqy-zenhei fonts-arphic-uming)")
    from test_styles import STYLES

    out = tmp_path_factory.mktemp("engine-styles")
    text = SAMPLE_TXT.read_text(encoding="utf-8")
    differing = []
    for name, options in STYLES.items():
        path = out / f"{name}.pdf"
        rb.render(text, path, **options)
        lines = _lines_of(path)
        if lines["pdfium"] != lines["pdfplumber"]:
            differing.append(name)
    assert not differing, f"styles read differently by the engines: {differing}"


def test_engine_is_part_of_the_reader_fingerprint() -> None:
    """A parse cached with one engine is never reused by a build with the other."""
    assert len({reader_fingerprint(engine) for engine in ENGINES}) == len(ENGINES)


def test_unknown_engine_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown PDF engine"):
        read_pages(SAMPLE_PDF, [1], engine="poppler")
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.4\n" + b"garbage " * 100)
    with pytest.raises(InputError, match="damaged"):
        read_pages(damaged, engine="pdfium")
    pytest.importorskip("reportlab")
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    locked = tmp_path / "locked.pdf"
    pdf = canvas.Canvas(str(locked), encrypt=pdfencrypt.StandardEncryption("secret", canPrint=0))
    pdf.drawString(100, 700, "hello")
    pdf.save()
    for engine in ENGINES:
        with pytest.raises(InputError, match="encrypted"):
            read_pages(locked, engine=engine)


def test_glyph_box_is_pdfminers() -> None:
    """A glyph's box runs from the font's descent to descent + size, one advance wide, carried by
    its matrix (upright, and turned a quarter as on a page printed sideways)."""
    assert char_box((1, 0, 0, 1, 10, 20), 5.0, -2.0, 10.0) == (10, 18, 15, 28)
    assert char_box((0, -1, 1, 0, 10, 20), 5.0, -2.0, 10.0) == (8, 15, 18, 20)


def test_page_turn_swaps_a_quarter_turned_page(real_docs_dir: Path) -> None:
    import pypdfium2 as pdfium

    path = real_docs_dir / "11-js-swbgt-2019.pdf"
    if not path.exists():
        pytest.skip(f"{path} not found")
    pdf = pdfium.PdfDocument(str(path))
    try:
        width, height, _ = page_turn(pdf[1])
    finally:
        pdf.close()
    assert (width, height) == (1191, 842)
