"""The validation's fast path (SHACL-SPARQL shapes evaluated by Oxigraph directly, each rounding
check once) against plain pyshacl with the rounding twins written out as shapes, the reference
(as pdfplumber is for the pdfium engine, tests/test_engines.py): the same findings, finding for
finding — severities, messages, focus nodes, values, source shapes, rows and pages — on the
sample, on the sample with one injected error per constraint, and on the real documents."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest
import rdflib
from conftest import BASE, RealBuild
from pyoxigraph import NamedNode, Store
from rdflib.namespace import SH
from test_validation import CASES, _change

from budgetkg.graph import GraphBuilder
from budgetkg.manifest import Manifest
from budgetkg.mapping import squash
from budgetkg.model import Document
from budgetkg.validation import (
    DEFAULT_TOLERANCE,
    ROUNDING_SUFFIX,
    compile_shapes,
    compiled_part,
    document_store,
    shapes_graph,
    validate_loaded,
    validate_reference,
    validate_with,
)


def _store(doc: Document) -> Store:
    builder = GraphBuilder(BASE)
    reference, *documents = builder.build([doc])
    assert reference.document is None and len(documents) == 1
    return document_store(documents[0].triples, reference.triples, DEFAULT_TOLERANCE)


def _assert_same(fast: list, reference: list) -> None:
    assert reference, "the reference found nothing: nothing was compared"
    only_fast, only_reference = Counter(fast) - Counter(reference), Counter(reference) - Counter(fast)
    assert not only_fast and not only_reference, (sorted(map(repr, only_fast)), sorted(map(repr, only_reference)))


def test_every_sparql_shape_is_evaluated_by_oxigraph() -> None:
    """All SHACL-SPARQL shapes of shapes/*.ttl (a new file there too) take the fast path; only the
    SHACL-core ones go to pyshacl. A shape that falls back still validates right, only slowly."""
    shapes = shapes_graph()
    sparql = {str(s) for s in shapes.subjects(SH.sparql, None)}
    compiled = compiled_part()
    assert {c.shape.removesuffix(ROUNDING_SUFFIX) for c in compiled.checks} == sparql
    assert compiled.core is not None
    core = {str(s) for s in compiled.core.subjects(rdflib.RDF.type, SH.NodeShape)}
    assert core and not core & sparql
    rounding = {c.shape for c in compiled.checks if c.rounding}
    assert "https://w3id.org/budgetkg/shapes#RowTotalEqualsParts" in rounding  # one evaluation, no twin


def test_the_sample_is_found_as_pyshacl_finds_it(sample_document) -> None:
    store = _store(sample_document)
    fast = validate_loaded(store, "sample.pdf", "sha")
    _assert_same(fast, validate_reference(store, "sample.pdf", "sha"))
    assert {f.severity for f in fast} == {"Violation", "Warning"}  # both kinds of rounding result compared


@pytest.mark.parametrize("shape", sorted(CASES))
def test_an_injected_error_is_found_as_pyshacl_finds_it(shape: str, sample_document) -> None:
    doc = sample_document
    for table_no, label, values, _row in CASES[shape]:
        key = squash(label)
        doc = _change(doc, table_no, key if not key.startswith("[") else key.split("]", 1)[1], values)
    store = _store(doc)
    fast = validate_loaded(store, "sample.pdf")
    _assert_same(fast, validate_reference(store, "sample.pdf"))
    assert any(f.shape.endswith("#" + shape) for f in fast)


def test_a_lost_total_row_is_found_as_pyshacl_finds_it(sample_document) -> None:
    tables = tuple(
        dataclasses.replace(t, rows=tuple(r for r in t.rows if r.kind.value != "total")) if t.number == 6 else t
        for t in sample_document.tables
    )
    store = _store(dataclasses.replace(sample_document, tables=tables))
    _assert_same(validate_loaded(store, "sample.pdf"), validate_reference(store, "sample.pdf"))


def test_the_real_documents_are_found_as_pyshacl_finds_them(real_build: RealBuild) -> None:
    manifest = Manifest.read(real_build.out)
    store = Store.read_only(str(real_build.out / "store"))
    ref = [q.triple for q in store.quads_for_pattern(None, None, None, NamedNode(manifest.reference_graph))]
    compared = 0
    for doc in manifest.documents:
        triples = [q.triple for q in store.quads_for_pattern(None, None, None, NamedNode(doc.graph))]
        one = document_store(triples, ref, DEFAULT_TOLERANCE)
        fast, reference = validate_loaded(one, doc.file, doc.sha256), validate_reference(one, doc.file, doc.sha256)
        assert Counter(fast) == Counter(reference), doc.file
        compared += len(reference)
    assert compared > 50


#: Shapes of other targets than one budget: every observation (many focus nodes: one evaluation
#: for all of them, joined), and every table with a grouped query (its projection cannot take
#: ?diffAbs ?limit: evaluated as the check and its twin).
MANY_FOCUS_SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix qb: <http://purl.org/linked-data/cube#> .
@prefix bks: <https://w3id.org/budgetkg/shapes#> .
@prefix t: <https://example.org/test-shapes#> .

t:prefixes sh:declare [ sh:prefix "bk" ; sh:namespace "https://w3id.org/budgetkg/def#"^^xsd:anyURI ] .

t:WholeAmounts a sh:NodeShape ;
    bks:roundingTier true ;
    sh:targetClass qb:Observation ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes t:prefixes ;
        sh:message "{?label}: {?found} has a fraction of {?diff}" ;
        sh:select '''
        SELECT $this ?label ?found ?diff WHERE {
          { SELECT $this (MAX(?l) AS ?label) WHERE { $this bk:rowLabel ?l } GROUP BY $this }
          $this bk:amount ?found .
          ?settings bk:roundingTolerance ?tol .
          BIND (?found - FLOOR(?found) AS ?diff)
          BIND (ABS(?diff) AS ?diffAbs)
          BIND (?tol * 100 AS ?limit)
          FILTER (?diffAbs > ?limit)
        }''' ] .

t:TableFractions a sh:NodeShape ;
    bks:roundingTier true ;
    sh:targetSubjectsOf <https://w3id.org/budgetkg/def#tableNumber> ;
    sh:severity sh:Info ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes t:prefixes ;
        sh:message "fractions add up to {?sum}" ;
        sh:select '''
        SELECT $this (SUM(?diffAbs) AS ?sum) WHERE {
          ?obs bk:table $this ; bk:amount ?a .
          ?settings bk:roundingTolerance ?tol .
          BIND (?a - FLOOR(?a) AS ?diffAbs)
          BIND (?tol * 100 AS ?limit)
          FILTER (?diffAbs > ?limit)
        } GROUP BY $this''' ] .
"""


def test_shapes_of_many_focus_nodes_are_found_as_pyshacl_finds_them(sample_document) -> None:
    shapes = rdflib.Graph().parse(data=MANY_FOCUS_SHAPES, format="turtle")
    compiled = compile_shapes(shapes)
    assert compiled.core is None
    by_shape = {c.shape.rsplit("#", 1)[-1]: c for c in compiled.checks}
    assert set(by_shape) == {"WholeAmounts", "TableFractions", "TableFractions" + ROUNDING_SUFFIX}
    assert by_shape["WholeAmounts"].rounding and by_shape["WholeAmounts"].whole_graph
    store = _store(sample_document)
    fast = validate_with(store, compiled, "sample.pdf")
    _assert_same(fast, validate_reference(store, "sample.pdf", shapes=shapes))
    assert Counter(f.severity for f in fast).keys() == {"Violation", "Warning", "Info"}
    assert len({f.focus for f in fast}) > 100


def test_a_new_shape_file_is_read(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """shapes/*.ttl is read as a whole: a file added there (e.g. shapes/ocr.ttl) is validated."""
    import budgetkg.validation as validation

    for path in validation.SHAPES_DIR.glob("*.ttl"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "zz-extra.ttl").write_text(MANY_FOCUS_SHAPES, encoding="utf-8")
    monkeypatch.setattr(validation, "SHAPES_DIR", tmp_path)
    for cached in (validation.shapes_graph, validation._part_graph, validation.compiled_part):
        cached.cache_clear()
    try:
        assert any(c.shape.endswith("#WholeAmounts") for c in validation.compiled_part().checks)
    finally:
        monkeypatch.undo()
        for cached in (validation.shapes_graph, validation._part_graph, validation.compiled_part):
            cached.cache_clear()
