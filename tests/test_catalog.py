"""The catalog as a portal harvests it: the DCAT-AP 3.0.0 shapes report no violation, the
licence and publisher are stated, periods and media types are what DCAT-AP wants, and the
build says when the licence is missing or the base URI is the local default."""

from __future__ import annotations

import os
from pathlib import Path

import pyshacl
import pytest
import rdflib
from conftest import SAMPLE_PDF

from budgetkg.build import BuildOptions, build

ROOT = Path(__file__).resolve().parent.parent
DCAT_AP = Path(os.environ.get("BUDGETKG_DCAT_AP", ROOT.parent / "shared" / "dcat-ap"))
SHAPES = [DCAT_AP / "dcat-ap-3.0.0-shapes.ttl", DCAT_AP / "dcat-ap-3.0.0-range.ttl"]
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
PUBLIC = "https://budgets.example.org/"


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    if not all(p.exists() for p in SHAPES):
        pytest.skip(f"the DCAT-AP 3.0.0 shapes are not at {DCAT_AP} (set $BUDGETKG_DCAT_AP)")
    g = rdflib.Graph()
    for path in SHAPES:
        g.parse(path)
    return g


@pytest.fixture(scope="module")
def licensed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("licensed") / "build"
    said: list[str] = []
    options = BuildOptions(out=out, base_uri=PUBLIC, jobs=1, progress=False, validate=False, license=LICENSE)
    build([SAMPLE_PDF], options, echo=said.append)
    return out, said


def _violations(catalog: Path, shapes: rdflib.Graph) -> list[str]:
    conforms, results, _ = pyshacl.validate(rdflib.Graph().parse(catalog), shacl_graph=shapes)
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    return sorted(
        f"{results.value(r, sh.focusNode)} {results.value(r, sh.resultPath)}: {results.value(r, sh.resultMessage)}"
        for r in results.subjects(rdflib.RDF.type, sh.ValidationResult)
        if results.value(r, sh.resultSeverity) == sh.Violation
    )


def test_sample_catalog_has_no_dcat_ap_violation(sample_build: Path, shapes: rdflib.Graph) -> None:
    assert _violations(sample_build / "catalog.ttl", shapes) == []


def test_licensed_catalog_has_no_dcat_ap_violation(licensed: tuple[Path, list[str]], shapes: rdflib.Graph) -> None:
    assert _violations(licensed[0] / "catalog.ttl", shapes) == []


def _catalog(build_dir: Path) -> rdflib.Graph:
    return rdflib.Graph().parse(build_dir / "catalog.ttl")


def test_licence_publisher_period_media_types(licensed: tuple[Path, list[str]]) -> None:
    g = _catalog(licensed[0])
    q = f"""PREFIX dcat: <http://www.w3.org/ns/dcat#> PREFIX dct: <http://purl.org/dc/terms/>
    PREFIX foaf: <http://xmlns.com/foaf/0.1/>
    SELECT ?what ?v WHERE {{
      {{ ?c a dcat:Catalog ; dct:license ?v BIND ("catalog licence" AS ?what) }}
      UNION {{ ?c a dcat:Catalog ; dct:publisher/foaf:name ?v BIND ("publisher" AS ?what) }}
      UNION {{ <{PUBLIC}lines.csv> dcat:mediaType ?v BIND ("csv" AS ?what) }}
      UNION {{ <{PUBLIC}lines.csv> dct:license ?v BIND ("distribution licence" AS ?what) }}
      UNION {{ ?d dct:identifier ?v ; dct:temporal [ a dct:PeriodOfTime ; dcat:startDate ?s ]
              FILTER (STR(?s) = "2023-01-01") BIND ("identifier" AS ?what) }}
    }}"""
    found = {(str(r.what), str(r.v)) for r in g.query(q)}
    assert ("catalog licence", LICENSE) in found and ("distribution licence", LICENSE) in found
    assert ("publisher", "广州市政务服务数据管理局") in found
    assert ("csv", "http://www.iana.org/assignments/media-types/text/csv") in found
    assert {v for w, v in found if w == "identifier"} >= {"gz-zwfwsjglj-2023-budget", "budgetkg"}


def test_build_warns_about_a_missing_licence_and_the_local_base(sample_build: Path, tmp_path: Path) -> None:
    said: list[str] = []
    build([SAMPLE_PDF], BuildOptions(out=tmp_path / "b", jobs=1, progress=False, validate=False), echo=said.append)
    assert any("no --license" in m for m in said) and any("local default" in m for m in said)
    catalog = _catalog(tmp_path / "b")
    assert not list(catalog.triples((None, rdflib.URIRef("http://purl.org/dc/terms/license"), None)))


def test_no_warning_when_both_are_given(licensed: tuple[Path, list[str]]) -> None:
    assert not [m for m in licensed[1] if "--license" in m or "local default" in m]


def test_a_licence_that_is_not_an_iri_is_refused_before_anything_is_read() -> None:
    from budgetkg.export import CatalogInfo

    with pytest.raises(ValueError, match="--license: 'CC BY 4.0' is not an IRI"):
        CatalogInfo(license="CC BY 4.0")
