"""Stage 7: deterministic dumps and the DCAT/VoID catalog a portal can harvest.

Same input, byte-identical files: triples are sorted before serialising, blank nodes are never
minted, gzip headers carry no timestamp, and the catalog states no build time.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

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

PROV = "http://www.w3.org/ns/prov#"

MEDIA = {
    ".ttl": "text/turtle",
    ".nt.gz": "application/n-triples",
    ".nq.gz": "application/n-quads",
    ".jsonld": "application/ld+json",
    ".csv": "text/csv",
}


@dataclass(frozen=True)
class CatalogInfo:
    """What the catalog says about who publishes the data and under which licence: not in the
    PDFs, so given on the command line (``build --license IRI --publisher NAME``)."""

    license: str | None = None  # IRI of the licence document, e.g. https://creativecommons.org/licenses/by/4.0/
    publisher: str | None = None  # name of the catalog's publisher; default: the departments read

    def __post_init__(self) -> None:
        if self.license is not None:
            try:
                NamedNode(self.license)
            except ValueError:
                raise ValueError(f"--license: {self.license!r} is not an IRI (e.g. a licence's URL)") from None

    def warnings(self, base: str) -> list[str]:
        """What a portal would miss, said at build time (one line each)."""
        from budgetkg.build import DEFAULT_BASE_URI  # the local default: fine here, wrong in a catalog

        out = []
        if not self.license:
            out.append("warning: no --license given: the catalog and its distributions state no licence")
        if base.rstrip("/") == DEFAULT_BASE_URI.rstrip("/"):
            out.append(
                f"warning: --base-uri is the local default {DEFAULT_BASE_URI}: every IRI and download URL "
                "of the catalog points to this machine; give the public base for a published build"
            )
        return out


def sorted_unique(triples: Iterable[Triple]) -> list[Triple]:
    keyed = {str(t): t for t in triples}
    return [keyed[k] for k in sorted(keyed)]


def _turtle(triples: list[Triple], path: Path) -> None:
    serialize(triples, str(path), format=RdfFormat.TURTLE, prefixes=PREFIXES)


def _write_gzip(lines: Iterable[str], raw: BinaryIO, chunk: int = 20000) -> int:
    """One statement per line as one gzip member without a timestamp, written in chunks, so
    millions of lines never sit in memory as one string. Level 6: a quarter faster than 9 for
    2 % more bytes. Returns the number of lines."""
    count = 0
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as fh:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) >= chunk:
                fh.write((" .\n".join(batch) + " .\n").encode("utf-8"))
                count += len(batch)
                batch.clear()
        if batch:
            fh.write((" .\n".join(batch) + " .\n").encode("utf-8"))
            count += len(batch)
    return count


def _gzip_lines(lines: Iterable[str], path: Path) -> int:
    with path.open("wb") as raw:
        return _write_gzip(lines, raw)


def _unique(lines: Iterable[str]) -> Iterator[str]:
    previous = None
    for line in lines:
        if line != previous:
            yield line
            previous = line


@dataclass
class SortedGraph:
    """One named graph, deduplicated and in N-Triples order (the order of every dump).

    ``keys`` are the N-Triples statements without the final `` .``; computing them once per
    triple serves the sort, the merged dumps, the N-Quads dump and the VoID statistics.
    """

    graph: str
    document: Document | None
    keys: list[str]
    triples: list[Triple]
    dump: Path

    def quad_lines(self) -> Iterator[str]:
        """N-Quads statements (without `` .``), still in sorted order: N-Triples escapes every
        character below the space, so appending `` <graph>`` keeps the keys' order."""
        suffix = f" <{self.graph}>"
        return (key + suffix for key in self.keys)


@dataclass
class VoidStatistics:
    """The counts VoID publishes, taken while the merged graph is at hand (then it is freed)."""

    triples: int
    subjects: int
    classes: Counter[str]  # class (as N-Triples) → instances
    properties: Counter[str]  # property (as N-Triples) → triples


class Exporter:
    """Writes the dumps and the catalog of a build, stage by stage.

    A corpus build adds the graphs and writes the whole-graph dumps while validation runs in
    other processes; only the validation report's part of the N-Quads dump and the catalog
    wait for the report. Whole-corpus files are merged from the per-graph sorted runs and
    streamed, never sorted or held whole.
    """

    def __init__(self, out: Path, builder: GraphBuilder, info: CatalogInfo | None = None) -> None:
        self.out = out
        self.builder = builder
        self.info = info or CatalogInfo()
        self.dumps = out / "dumps"
        (self.dumps / "documents").mkdir(parents=True, exist_ok=True)
        self.graphs: list[SortedGraph] = []
        self.void: VoidStatistics | None = None
        self._facts: dict[Path, tuple[int, str]] = {}
        self._quads: tuple[Path, Path, int] | None = None  # N-Quads dump before/after the report

    def add(self, ds: Dataset) -> SortedGraph:
        """Sort one named graph and write its Turtle file."""
        keyed = {str(t): t for t in ds.triples}
        keys = sorted(keyed)
        triples = [keyed[k] for k in keys]
        if ds.document is None:
            path = self.dumps / "reference.ttl"
        else:
            path = self.dumps / "documents" / f"{self.builder.doc_id(ds.document)}.ttl"
        _turtle(triples, path)
        graph = SortedGraph(ds.graph, ds.document, keys, triples, path)
        self.graphs.append(graph)
        return graph

    def write_nquads(self, path: Path) -> None:
        """Every named graph added so far as N-Quads (graph by graph), for the store's bulk loader."""
        with path.open("wb") as fh:
            for g in self.graphs:
                fh.write("".join(line + " .\n" for line in g.quad_lines()).encode("utf-8"))

    def write_graph_dumps(self) -> None:
        """The whole graph (all named graphs merged, no graph names) as Turtle, N-Triples and
        JSON-LD; the VoID statistics; the N-Quads dump but for the validation report."""
        merged: dict[str, Triple] = {}
        for g in self.graphs:
            for key, triple in zip(g.keys, g.triples, strict=True):
                merged.setdefault(key, triple)
        keys = sorted(merged)  # sorted runs, one per graph: Timsort merges them
        triples = [merged[k] for k in keys]
        del merged
        _turtle(triples, self.dumps / "budgetkg.ttl")
        _gzip_lines(keys, self.dumps / "budgetkg.nt.gz")
        serialize(triples, str(self.dumps / "budgetkg.jsonld"), format=RdfFormat.JSON_LD, prefixes=PREFIXES)
        del triples
        self.void = _void_statistics(keys)
        del keys
        self._write_quads_around_report()
        for path in self._known_files():
            self._facts[path] = _file_facts(path)

    def _write_quads_around_report(self) -> None:
        """The N-Quads dump is sorted, and the report's statements (subjects under the
        validation graph's IRI) form one contiguous block in it: everything before and after
        that block is compressed now, as two gzip members; the report's member goes between
        them once validation is done (a gzip file may hold several members)."""
        prefix = f"<{self.builder.validation_graph}/"
        lines = _unique(heapq.merge(*(g.quad_lines() for g in self.graphs)))
        before, after = self.dumps / ".nq-before.gz", self.dumps / ".nq-after.gz"
        pending: list[str] = []

        def head() -> Iterator[str]:
            for line in lines:
                if line >= prefix:
                    pending.append(line)
                    return
                yield line

        def tail() -> Iterator[str]:
            yield from pending
            yield from lines

        count = _gzip_lines(head(), before)
        if pending and pending[0].startswith(prefix):
            raise ValueError(f"a document graph has statements about {prefix}…, which the report owns")
        count += _gzip_lines(tail(), after)
        self._quads = (before, after, count)

    def write_dataset_dump(self, report: ValidationReport | None) -> int:
        """The whole dataset with its named graphs (and the validation report) as N-Quads;
        returns the number of quads."""
        if self._quads is None:
            self._write_quads_around_report()
        assert self._quads is not None
        before, after, count = self._quads
        report_lines: list[str] = []
        if report is not None:
            graph = NamedNode(report.graph)
            report_lines = sorted({str(Quad(t.subject, t.predicate, t.object, graph)) for t in report.triples})
        with (self.dumps / "budgetkg.nq.gz").open("wb") as fh:
            with before.open("rb") as part:
                shutil.copyfileobj(part, fh)
            if report_lines:
                count += _write_gzip(report_lines, fh)
            with after.open("rb") as part:
                shutil.copyfileobj(part, fh)
        before.unlink()
        after.unlink()
        return count

    def write_catalog(self, documents: list[Document]) -> None:
        """DCAT catalog and VoID description; needs every file it describes to be written."""
        if self.void is None:
            self.write_graph_dumps()
        assert self.void is not None
        per_document = [(g, g.dump, len(g.keys)) for g in self.graphs if g.document is not None]
        facts = dict(self._facts)
        for path in (self.dumps / "budgetkg.nq.gz", self.out / "lines.csv"):
            facts[path] = _file_facts(path)  # written after the others
        catalog = sorted_unique(_catalog(self.out, self.builder, self.void, per_document, documents, facts, self.info))
        _turtle(catalog, self.out / "catalog.ttl")
        serialize(catalog, str(self.out / "catalog.jsonld"), format=RdfFormat.JSON_LD, prefixes=PREFIXES)

    def _known_files(self) -> list[Path]:
        fixed = [self.dumps / name for name in ("budgetkg.ttl", "budgetkg.nt.gz", "budgetkg.jsonld", "reference.ttl")]
        return fixed + [g.dump for g in self.graphs if g.document is not None]


def _void_statistics(merged: list[str]) -> VoidStatistics:
    """Counts for VoID from N-Triples statements: the subject and the predicate are IRIs
    (never with spaces), so they end at the first and second space."""
    subjects: set[str] = set()
    classes: Counter[str] = Counter()
    properties: Counter[str] = Counter()
    rdf_type = f"<{RDF}type>"
    for key in merged:
        i = key.find(" ")
        j = key.find(" ", i + 1)
        subjects.add(key[:i])
        p = key[i + 1 : j]
        properties[p] += 1
        if p == rdf_type:
            classes[key[j + 1 :]] += 1
    return VoidStatistics(len(merged), len(subjects), classes, properties)


def write_exports(
    datasets: list[Dataset],
    report: ValidationReport | None,
    out: Path,
    builder: GraphBuilder,
    documents: list[Document],
    info: CatalogInfo | None = None,
) -> None:
    """All dumps and the catalog in one call (the build uses Exporter's stages directly)."""
    exporter = Exporter(out, builder, info)
    for ds in datasets:
        exporter.add(ds)
    exporter.write_graph_dumps()
    exporter.write_dataset_dump(report)
    exporter.write_catalog(documents)


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
    void: VoidStatistics,
    per_document: list[tuple[SortedGraph, Path, int]],
    documents: list[Document],
    facts: dict[Path, tuple[int, str]],
    info: CatalogInfo | None = None,
) -> list[Triple]:
    """The DCAT catalog (DCAT-AP 3.0.0: the shapes in the test suite report no violation) and
    the one VoID description of the dumps. No blank nodes: periods, checksums and agents get IRIs."""
    info = info or CatalogInfo()
    base = builder.base
    t: list[Triple] = []

    def add(s: str, p: str, o: NamedNode | Literal) -> None:
        t.append(Triple(NamedNode(s), NamedNode(p), o))

    def integer(n: int) -> Literal:
        return Literal(str(n), datatype=NamedNode(XSD + "integer"))

    def media_type(media: str) -> NamedNode:
        add(IANA + media, RDF + "type", NamedNode(DCT + "MediaType"))
        add(IANA + media, RDF + "type", NamedNode(DCT + "MediaTypeOrExtent"))
        return NamedNode(IANA + media)

    def distribution(dataset: str, path: Path, title: str, description: str) -> None:
        rel = path.relative_to(out).as_posix()
        iri = base + rel
        size, sha = facts[path] if path in facts else _file_facts(path)
        media = _media(path)
        add(dataset, DCAT + "distribution", NamedNode(iri))
        add(iri, RDF + "type", NamedNode(DCAT + "Distribution"))
        add(iri, DCT + "title", Literal(title, language="en"))
        add(iri, DCT + "description", Literal(description, language="en"))
        add(iri, DCAT + "downloadURL", NamedNode(iri))
        add(iri, DCAT + "accessURL", NamedNode(iri))
        add(iri, DCAT + "mediaType", media_type(media))
        add(iri, DCT + "format", media_type(media))
        # DCAT-AP 3.0.0 (range shapes): dcat:byteSize is an xsd:decimal
        add(iri, DCAT + "byteSize", Literal(str(size), datatype=NamedNode(XSD + "decimal")))
        if path.name.endswith(".gz"):
            add(iri, DCAT + "compressFormat", media_type("application/gzip"))
        if info.license:
            add(iri, DCT + "license", NamedNode(info.license))
        checksum = iri + "#sha256"
        add(iri, SPDX + "checksum", NamedNode(checksum))
        add(checksum, RDF + "type", NamedNode(SPDX + "Checksum"))
        add(checksum, SPDX + "algorithm", NamedNode(SPDX + "checksumAlgorithm_sha256"))
        add(checksum, SPDX + "checksumValue", Literal(sha, datatype=NamedNode(XSD + "hexBinary")))
        if dataset == main:
            add(main, VOID + "dataDump", NamedNode(iri))

    def agent(iri: str, name: str, lang: str | None) -> NamedNode:
        add(iri, RDF + "type", NamedNode(FOAF + "Agent"))
        add(iri, FOAF + "name", Literal(name, language=lang) if lang else Literal(name))
        return NamedNode(iri)

    catalog = base + "catalog"
    main = base + "dataset/budgetkg"
    service = base + "sparql"
    departments = sorted({d.department for d in documents})
    if info.publisher:
        publisher = agent(base + "catalog/publisher", info.publisher, None)
    elif len(departments) == 1:
        publisher = agent(builder.org_iri(departments[0]), departments[0], "zh")
    else:
        publisher = agent(base + "catalog/publisher", f"budgetkg ({base})", None)
    years = sorted({d.year for d in documents})
    if info.license:
        add(info.license, RDF + "type", NamedNode(DCT + "LicenseDocument"))
        add(catalog, DCT + "license", NamedNode(info.license))
    add(catalog, RDF + "type", NamedNode(DCAT + "Catalog"))
    add(catalog, DCT + "title", Literal("budgetkg 部门预算知识图谱", language="zh"))
    add(catalog, DCT + "title", Literal("budgetkg department budgets knowledge graph", language="en"))
    add(catalog, DCT + "identifier", Literal(catalog))
    add(catalog, DCT + "publisher", publisher)
    add(catalog, FOAF + "homepage", NamedNode(base))
    add(base, RDF + "type", NamedNode(FOAF + "Document"))
    add(
        catalog,
        DCT + "description",
        Literal(
            "Chinese government department budgets and final accounts read from their published PDFs, "
            "as RDF Data Cube observations with provenance.",
            language="en",
        ),
    )
    add(
        catalog,
        DCT + "description",
        Literal(
            "从公开的部门预算、决算 PDF 读取的预算表金额，以 RDF 数据立方体观测值发布，附来源页码。", language="zh"
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
    add(main, DCT + "identifier", Literal("budgetkg"))
    add(main, DCT + "title", Literal("部门预算知识图谱（全部）", language="zh"))
    add(main, DCT + "title", Literal("Department budgets knowledge graph (all documents)", language="en"))
    add(
        main,
        DCT + "description",
        Literal(
            "Every amount of every budget table read as a qb:Observation; printed aggregates are marked "
            "(bk:isAggregate) and linked to their parts (bk:partOf), with the page each amount was read from.",
            language="en",
        ),
    )
    add(main, DCT + "description", Literal("所有文件中每个预算表金额的观测值（含汇总标记与来源页码）。", language="zh"))
    add(main, DCT + "publisher", publisher)
    if years:
        period = f"{main}/period"
        add(main, DCT + "temporal", NamedNode(period))
        add(period, RDF + "type", NamedNode(DCT + "PeriodOfTime"))
        add(period, DCAT + "startDate", Literal(f"{years[0]}-01-01", datatype=NamedNode(XSD + "date")))
        add(period, DCAT + "endDate", Literal(f"{years[-1]}-12-31", datatype=NamedNode(XSD + "date")))
    add(main, DCAT + "keyword", Literal("部门预算", language="zh"))
    add(main, DCAT + "keyword", Literal("budget", language="en"))
    add(main, VOID + "sparqlEndpoint", NamedNode(service))
    add(main, VOID + "uriSpace", Literal(base + "id/"))
    add(main, VOID + "triples", integer(void.triples))
    add(main, VOID + "distinctSubjects", integer(void.subjects))
    classes, props = void.classes, void.properties
    for cls, n in sorted(classes.items()):
        part = f"{main}/class/{hashlib.sha1(cls.encode()).hexdigest()[:12]}"
        add(main, VOID + "classPartition", NamedNode(part))
        add(part, VOID + "class", NamedNode(cls.strip("<>")))
        add(part, VOID + "entities", integer(n))
    for prop, n in sorted(props.items()):
        part = f"{main}/property/{hashlib.sha1(prop.encode()).hexdigest()[:12]}"
        add(main, VOID + "propertyPartition", NamedNode(part))
        add(part, VOID + "property", NamedNode(prop.strip("<>")))
        add(part, VOID + "triples", integer(n))
    for path, title, description in [
        (out / "dumps" / "budgetkg.ttl", "All documents, Turtle", "The whole graph (all named graphs merged)."),
        (
            out / "dumps" / "budgetkg.nt.gz",
            "All documents, N-Triples (gzip)",
            "The whole graph, one sorted triple a line.",
        ),
        (
            out / "dumps" / "budgetkg.nq.gz",
            "All documents with named graphs, N-Quads (gzip)",
            "The whole dataset with one named graph per document, the reference data and the validation report.",
        ),
        (out / "dumps" / "budgetkg.jsonld", "All documents, JSON-LD", "The whole graph as JSON-LD."),
        (out / "dumps" / "reference.ttl", "Ontology and code lists, Turtle", "The ontology and the code lists used."),
        (
            out / "lines.csv",
            "Every printed amount, CSV",
            "One row per printed amount: document, table, page, unit, code, item, column, amount, currency unit.",
        ),
    ]:
        distribution(main, path, title, description)
    by_doc = {builder.doc_id(d): d for d in documents}
    for ds, path, n in per_document:
        doc = ds.document
        assert doc is not None
        iri = builder.budget_iri(doc)
        doc_id = builder.doc_id(doc)
        name_zh = f"{doc.department}{doc.year}年部门{doc.kind}"
        add(catalog, DCAT + "dataset", NamedNode(iri))
        add(main, VOID + "subset", NamedNode(iri))
        add(iri, RDF + "type", NamedNode(DCAT + "Dataset"))
        add(iri, RDF + "type", NamedNode(VOID + "Dataset"))
        add(iri, DCT + "identifier", Literal(doc_id))
        add(iri, DCT + "title", Literal(name_zh, language="zh"))
        en = f"{doc.year} {_phase_en(doc)} of {builder.org_key(doc.department)}"
        add(iri, DCT + "title", Literal(en, language="en"))
        add(
            iri,
            DCT + "description",
            Literal(f"{name_zh}：{len(doc.tables)} 张表的全部金额，读自 {doc.source.name}。", language="zh"),
        )
        add(
            iri,
            DCT + "description",
            Literal(
                f"Every amount of the {len(doc.tables)} tables of the {en}, read from {doc.source.name}.",
                language="en",
            ),
        )
        add(iri, DCT + "publisher", agent(builder.org_iri(doc.department), doc.department, "zh"))
        add(builder.org_iri(doc.department), RDFS + "label", Literal(doc.department, language="zh"))
        period = f"{iri}/period"
        add(iri, DCT + "temporal", NamedNode(period))
        add(period, RDF + "type", NamedNode(DCT + "PeriodOfTime"))
        add(period, DCAT + "startDate", Literal(f"{doc.year}-01-01", datatype=NamedNode(XSD + "date")))
        add(period, DCAT + "endDate", Literal(f"{doc.year}-12-31", datatype=NamedNode(XSD + "date")))
        add(iri, PROV + "wasDerivedFrom", NamedNode(builder.source_iri(doc)))
        add(iri, VOID + "triples", integer(n))
        add(iri, VOID + "sparqlEndpoint", NamedNode(service))
        distribution(
            iri, path, f"{by_doc[doc_id].source.name}, Turtle", f"The named graph of {doc.source.name}, Turtle."
        )
    return t
