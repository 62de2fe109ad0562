"""Stage 7: deterministic dumps and the DCAT/VoID catalog a portal can harvest.

Same input, byte-identical files: triples are sorted before serialising, blank nodes are never
minted, gzip headers carry no timestamp, and the catalog states no build time.
"""

from __future__ import annotations

import gzip
import hashlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, Triple, serialize

from budgetkg.graph import DCT, PREFIXES, RDF, RDFS, XSD, Dataset, GraphBuilder
from budgetkg.model import Document

if TYPE_CHECKING:
    from budgetkg.validation import ValidationReport

DCAT = "http://www.w3.org/ns/dcat#"
VOID = "http://rdfs.org/ns/void#"
SPDX = "http://spdx.org/rdf/terms#"
FOAF = "http://xmlns.com/foaf/0.1/"
IANA = "http://www.iana.org/assignments/media-types/"

MEDIA = {
    ".ttl": "text/turtle",
    ".nt.gz": "application/n-triples",
    ".nq.gz": "application/n-quads",
    ".jsonld": "application/ld+json",
}


def sorted_unique(triples: Iterable[Triple]) -> list[Triple]:
    keyed = {str(t): t for t in triples}
    return [keyed[k] for k in sorted(keyed)]


def _turtle(triples: list[Triple], path: Path) -> None:
    path.write_bytes(serialize(triples, format=RdfFormat.TURTLE, prefixes=PREFIXES))


def _gzip_lines(lines: list[str], path: Path) -> None:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
        fh.write(data)


def write_exports(
    datasets: list[Dataset],
    report: ValidationReport | None,
    out: Path,
    builder: GraphBuilder,
    documents: list[Document],
) -> None:
    dumps = out / "dumps"
    (dumps / "documents").mkdir(parents=True)
    all_triples: list[Triple] = []
    quads: list[str] = []
    per_document: list[tuple[Dataset, Path, int]] = []
    for ds in datasets:
        triples = sorted_unique(ds.triples)
        if ds.document is None:
            path = dumps / "reference.ttl"
        else:
            path = dumps / "documents" / f"{builder.doc_id(ds.document)}.ttl"
            per_document.append((ds, path, len(triples)))
        _turtle(triples, path)
        all_triples.extend(triples)
        graph = NamedNode(ds.graph)
        quads.extend(str(Quad(t.subject, t.predicate, t.object, graph)) + " ." for t in triples)
    if report is not None:
        graph = NamedNode(report.graph)
        quads.extend(str(Quad(t.subject, t.predicate, t.object, graph)) + " ." for t in report.triples)
    merged = sorted_unique(all_triples)
    _turtle(merged, dumps / "budgetkg.ttl")
    _gzip_lines([str(t) + " ." for t in merged], dumps / "budgetkg.nt.gz")
    _gzip_lines(sorted(set(quads)), dumps / "budgetkg.nq.gz")
    (dumps / "budgetkg.jsonld").write_bytes(serialize(merged, format=RdfFormat.JSON_LD, prefixes=PREFIXES))
    catalog = _catalog(out, builder, merged, per_document, documents)
    _turtle(sorted_unique(catalog), out / "catalog.ttl")
    (out / "catalog.jsonld").write_bytes(serialize(sorted_unique(catalog), format=RdfFormat.JSON_LD, prefixes=PREFIXES))


def _phase_en(doc: Document) -> str:
    return "final accounts" if doc.phase == "final" else "budget"


def _file_facts(path: Path) -> tuple[int, str]:
    data = path.read_bytes()
    return len(data), hashlib.sha256(data).hexdigest()


def _media(path: Path) -> str:
    for suffix, media in MEDIA.items():
        if path.name.endswith(suffix):
            return media
    return "application/octet-stream"


def _catalog(
    out: Path,
    builder: GraphBuilder,
    merged: list[Triple],
    per_document: list[tuple[Dataset, Path, int]],
    documents: list[Document],
) -> list[Triple]:
    base = builder.base
    a = NamedNode(RDF + "type")
    t: list[Triple] = []

    def add(s: str, p: str, o: NamedNode | Literal) -> None:
        t.append(Triple(NamedNode(s), NamedNode(p), o))

    def distribution(dataset: str, path: Path, title: str) -> None:
        rel = path.relative_to(out).as_posix()
        iri = base + rel
        size, sha = _file_facts(path)
        media = _media(path)
        add(dataset, DCAT + "distribution", NamedNode(iri))
        add(iri, RDF + "type", NamedNode(DCAT + "Distribution"))
        add(iri, DCT + "title", Literal(title, language="en"))
        add(iri, DCAT + "downloadURL", NamedNode(iri))
        add(iri, DCAT + "accessURL", NamedNode(iri))
        add(iri, DCAT + "mediaType", NamedNode(IANA + media))
        add(iri, DCT + "format", NamedNode(IANA + media))
        add(iri, DCAT + "byteSize", Literal(str(size), datatype=NamedNode(XSD + "nonNegativeInteger")))
        if path.name.endswith(".gz"):
            add(iri, DCAT + "compressFormat", NamedNode(IANA + "application/gzip"))
        checksum = iri + "#sha256"
        add(iri, SPDX + "checksum", NamedNode(checksum))
        add(checksum, RDF + "type", NamedNode(SPDX + "Checksum"))
        add(checksum, SPDX + "algorithm", NamedNode(SPDX + "checksumAlgorithm_sha256"))
        add(checksum, SPDX + "checksumValue", Literal(sha, datatype=NamedNode(XSD + "hexBinary")))
        if dataset == main:
            add(main, VOID + "dataDump", NamedNode(iri))

    catalog = base + "catalog"
    main = base + "dataset/budgetkg"
    service = base + "sparql"
    add(catalog, RDF + "type", NamedNode(DCAT + "Catalog"))
    add(catalog, DCT + "title", Literal("budgetkg 部门预算知识图谱", language="zh"))
    add(catalog, DCT + "title", Literal("budgetkg department budgets knowledge graph", language="en"))
    add(
        catalog,
        DCT + "description",
        Literal(
            "Chinese government department budgets and final accounts read from their published PDFs, "
            "as RDF Data Cube observations with provenance.",
            language="en",
        ),
    )
    add(catalog, DCAT + "dataset", NamedNode(main))
    add(catalog, DCAT + "service", NamedNode(service))
    add(service, RDF + "type", NamedNode(DCAT + "DataService"))
    add(service, DCT + "title", Literal("budgetkg SPARQL endpoint", language="en"))
    add(service, DCAT + "endpointURL", NamedNode(service))
    add(service, DCAT + "servesDataset", NamedNode(main))
    add(main, RDF + "type", NamedNode(DCAT + "Dataset"))
    add(main, RDF + "type", NamedNode(VOID + "Dataset"))
    add(main, DCT + "title", Literal("部门预算知识图谱（全部）", language="zh"))
    add(main, DCT + "title", Literal("Department budgets knowledge graph (all documents)", language="en"))
    add(main, DCT + "description", Literal("Every budget table amount as a qb:Observation.", language="en"))
    add(main, DCAT + "keyword", Literal("部门预算", language="zh"))
    add(main, DCAT + "keyword", Literal("budget", language="en"))
    add(main, VOID + "sparqlEndpoint", NamedNode(service))
    add(main, VOID + "uriSpace", Literal(base + "id/"))
    add(main, VOID + "triples", Literal(str(len(merged)), datatype=NamedNode(XSD + "integer")))
    subjects = {str(x.subject) for x in merged}
    add(main, VOID + "distinctSubjects", Literal(str(len(subjects)), datatype=NamedNode(XSD + "integer")))
    classes = Counter(str(x.object) for x in merged if str(x.predicate) == f"<{RDF}type>")
    props = Counter(str(x.predicate) for x in merged)
    for cls, n in sorted(classes.items()):
        part = f"{main}/class/{hashlib.sha1(cls.encode()).hexdigest()[:12]}"
        add(main, VOID + "classPartition", NamedNode(part))
        add(part, VOID + "class", NamedNode(cls.strip("<>")))
        add(part, VOID + "entities", Literal(str(n), datatype=NamedNode(XSD + "integer")))
    for prop, n in sorted(props.items()):
        part = f"{main}/property/{hashlib.sha1(prop.encode()).hexdigest()[:12]}"
        add(main, VOID + "propertyPartition", NamedNode(part))
        add(part, VOID + "property", NamedNode(prop.strip("<>")))
        add(part, VOID + "triples", Literal(str(n), datatype=NamedNode(XSD + "integer")))
    for path, title in [
        (out / "dumps" / "budgetkg.ttl", "All documents, Turtle"),
        (out / "dumps" / "budgetkg.nt.gz", "All documents, N-Triples (gzip)"),
        (out / "dumps" / "budgetkg.nq.gz", "All documents with named graphs, N-Quads (gzip)"),
        (out / "dumps" / "budgetkg.jsonld", "All documents, JSON-LD"),
        (out / "dumps" / "reference.ttl", "Ontology and code lists, Turtle"),
        (out / "lines.csv", "Every printed amount, CSV"),
    ]:
        distribution(main, path, title)
    by_doc = {builder.doc_id(d): d for d in documents}
    for ds, path, n in per_document:
        doc = ds.document
        assert doc is not None
        iri = builder.budget_iri(doc)
        add(catalog, DCAT + "dataset", NamedNode(iri))
        add(main, VOID + "subset", NamedNode(iri))
        add(iri, RDF + "type", NamedNode(DCAT + "Dataset"))
        add(iri, RDF + "type", NamedNode(VOID + "Dataset"))
        add(iri, DCT + "title", Literal(f"{doc.department}{doc.year}年部门{doc.kind}", language="zh"))
        add(
            iri,
            DCT + "title",
            Literal(f"{doc.year} {_phase_en(doc)} of {builder.org_key(doc.department)}", language="en"),
        )
        add(iri, DCT + "publisher", NamedNode(builder.org_iri(doc.department)))
        add(builder.org_iri(doc.department), RDF + "type", NamedNode(FOAF + "Agent"))
        add(builder.org_iri(doc.department), RDFS + "label", Literal(doc.department, language="zh"))
        add(iri, DCT + "temporal", Literal(str(doc.year), datatype=NamedNode(XSD + "gYear")))
        add(iri, DCT + "source", NamedNode(builder.source_iri(doc)))
        add(iri, VOID + "triples", Literal(str(n), datatype=NamedNode(XSD + "integer")))
        add(iri, VOID + "sparqlEndpoint", NamedNode(service))
        distribution(iri, path, f"{by_doc[builder.doc_id(doc)].source.name}, Turtle")
    _ = a
    return t
