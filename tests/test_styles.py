"""The reader on the sample rendered in other visual styles: every amount, every project target.

The same published text laid out with full grids, horizontal rules only, booktabs rules or no
rules at all, portrait or landscape, in two CJK fonts (different glyph widths move every
gutter), must read back exactly as the truth parsed from the text. Nothing in the reader knows
these styles: columns come from rules or text gutters, rows from rules or amount lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SAMPLE_TXT, load_script
from test_reader import assert_matches_truth

from budgetkg.reader import read_document

pytest.importorskip("reportlab")




rb = load_script("render_budget_pdf")
WQY, UMING = rb.WQY_ZENHEI, rb.AR_PL_UMING
if not (Path(WQY).exists() and Path(UMING).exists()):
    pytest.skip("CJK fonts missing (apt-get install fonts-wqy-zenhei fonts-arphic-uming)", allow_module_level=True)

#: A representative set: every ruling style, every orientation and both fonts appear; each
#: unruled style in both fonts and in landscape, where the gutters are widest.
STYLES: dict[str, dict[str, str]] = {
    "grid-portrait-uming": {"rules": "grid", "orientation": "portrait", "font": UMING},
    "hrules-auto-wqy": {"rules": "hrules", "orientation": "auto", "font": WQY},
    "hrules-landscape-uming": {"rules": "hrules", "orientation": "landscape", "font": UMING},
    "booktabs-auto-uming": {"rules": "booktabs", "orientation": "auto", "font": UMING},
    "booktabs-landscape-wqy": {"rules": "booktabs", "orientation": "landscape", "font": WQY},
    "none-auto-wqy": {"rules": "none", "orientation": "auto", "font": WQY},
    "none-portrait-uming": {"rules": "none", "orientation": "portrait", "font": UMING},
    "none-landscape-wqy": {"rules": "none", "orientation": "landscape", "font": WQY},
    "none-reflow-uming": {"rules": "none", "orientation": "auto", "font": UMING, "paginate": "reflow"},
}


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("styles")
    text = SAMPLE_TXT.read_text(encoding="utf-8")
    paths = {}
    for name, options in STYLES.items():
        path = out / f"{name}.pdf"
        rb.render(text, path, **options)
        paths[name] = path
    return paths


@pytest.mark.parametrize("style", list(STYLES))
def test_every_amount_and_project_in_style(rendered: dict[str, Path], style: str) -> None:
    doc = read_document(rendered[style])
    assert (doc.department, doc.year, doc.kind) == ("广州市政务服务数据管理局", 2023, "预算")
    assert [t.number for t in doc.tables] == list(range(1, 14))
    assert_matches_truth(doc)
