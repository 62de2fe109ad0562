"""Machine-readable self-descriptions: SPARQL service description and the VoID document.

Both are generated per request for the origin of :meth:`Site.origin` (the public base URI, or
the address the server answers on — never an arbitrary Host header), so ``sd:endpoint`` and
the dump links are absolute URLs that work wherever the server runs.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox

from budgetkg.serve.execute import used_prefixes
from budgetkg.serve.negotiation import Format
from budgetkg.serve.site import PREFIXES, Site

SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS = "http://www.w3.org/ns/formats/"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
VOID = "http://rdfs.org/ns/void#"
DCT = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
XSD = "http://www.w3.org/2001/XMLSchema#"

OX_FORMATS = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "rdfxml": ox.RdfFormat.RDF_XML,
}


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _int(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=_n(XSD + "integer"))


def serialize(triples: list[ox.Triple], fmt: Format) -> bytes:
    """Serialise triples in one of the graph formats (prefixes where the syntax has them)."""
    target = OX_FORMATS[fmt.name]
    if target == ox.RdfFormat.N_TRIPLES:
        return ox.serialize(triples, format=target) or b""
    prefixes = used_prefixes(triples, PREFIXES | {"sd": SD})
    return ox.serialize(triples, format=target, prefixes=prefixes) or b""


def _served(site: Site, origin: str, iri: str) -> str:
    """An IRI under the build's base as this request's client sees it (Site.rewrites_base)."""
    base = site.build.base_uri
    if site.rewrites_base and iri.startswith(base):
        return origin + "/" + iri[len(base) :]
    return iri


async def graph_sizes(site: Site) -> dict[str, int]:
    """Triples per named graph (cached: the build does not change under a running server)."""
    rows = await site.cached_select("graph-sizes")
    return {r["g"][1]: int(r["n"][1]) for r in rows if "g" in r and "n" in r}


def dump_files(site: Site) -> list[Path]:
    """Top-level dump files (whole dataset), sorted."""
    d = site.build.root / "dumps"
    return sorted(p for p in d.iterdir() if p.is_file()) if d.is_dir() else []


def document_dumps(site: Site) -> dict[str, Path]:
    """Per-document dump files keyed by file stem (= doc-id)."""
    d = site.build.root / "dumps" / "documents"
    return {p.stem: p for p in sorted(d.glob("*.ttl"))} if d.is_dir() else {}


async def service_description(site: Site, origin: str) -> list[ox.Triple]:
    """SPARQL 1.1 Service Description of this endpoint."""
    ep = _n(origin + "/sparql")
    ds = _n(origin + "/sparql#dataset")
    dg = _n(origin + "/sparql#default-graph")
    t: list[ox.Triple] = [
        ox.Triple(ep, RDF_TYPE, _n(SD + "Service")),
        ox.Triple(ep, _n(SD + "endpoint"), ep),
        ox.Triple(ep, _n(SD + "supportedLanguage"), _n(SD + "SPARQL11Query")),
        ox.Triple(ep, _n(SD + "feature"), _n(SD + "UnionDefaultGraph")),
        ox.Triple(
            ep,
            _n(SD + "defaultEntailmentRegime"),
            _n("http://www.w3.org/ns/entailment/Simple"),
        ),
        ox.Triple(ep, _n(SD + "defaultDataset"), ds),
        ox.Triple(ep, _n(DCT + "title"), ox.Literal(f"{site.config.title} SPARQL endpoint")),
        ox.Triple(
            ep,
            _n(RDFS + "comment"),
            ox.Literal(
                "Read-only SPARQL 1.1 query endpoint. SPARQL Update, LOAD and SERVICE are "
                f"refused. Queries are stopped after {site.config.timeout:g} s (503); answers "
                f"are limited to {site.config.max_rows} rows or triples (413) — download "
                "the dumps for more.",
                language="en",
            ),
        ),
        ox.Triple(ep, _n(RDFS + "seeAlso"), _n(origin + "/.well-known/void")),
        ox.Triple(ep, _n(RDFS + "seeAlso"), _n(origin + "/catalog.ttl")),
    ]
    for name in (
        "SPARQL_Results_JSON",
        "SPARQL_Results_XML",
        "SPARQL_Results_CSV",
        "SPARQL_Results_TSV",
        "Turtle",
        "N-Triples",
        "JSON-LD",
        "RDF_XML",
    ):
        t.append(ox.Triple(ep, _n(SD + "resultFormat"), _n(FORMATS + name)))
    sizes = await graph_sizes(site)
    t += [
        ox.Triple(ds, RDF_TYPE, _n(SD + "Dataset")),
        ox.Triple(ds, _n(SD + "defaultGraph"), dg),
        ox.Triple(ds, _n(RDFS + "seeAlso"), _n(origin + "/.well-known/void")),
        ox.Triple(dg, RDF_TYPE, _n(SD + "Graph")),
        ox.Triple(
            dg,
            _n(RDFS + "comment"),
            ox.Literal("The default graph is the union of all named graphs.", language="en"),
        ),
        ox.Triple(dg, _n(VOID + "triples"), _int(sum(sizes.values()))),
    ]
    for g, n in sorted(sizes.items()):
        ng = ox.BlankNode()
        gr = ox.BlankNode()
        t += [
            ox.Triple(ds, _n(SD + "namedGraph"), ng),
            ox.Triple(ng, RDF_TYPE, _n(SD + "NamedGraph")),
            ox.Triple(ng, _n(SD + "name"), _n(_served(site, origin, g))),
            ox.Triple(ng, _n(SD + "graph"), gr),
            ox.Triple(gr, RDF_TYPE, _n(SD + "Graph")),
            ox.Triple(gr, _n(VOID + "triples"), _int(n)),
        ]
    return t


async def void_description(site: Site, origin: str) -> list[ox.Triple]:
    """VoID description pointing at the endpoint, the dumps and the DCAT catalog."""
    ds = _n(origin + "/.well-known/void#dataset")
    sizes = await graph_sizes(site)
    t: list[ox.Triple] = [
        ox.Triple(ds, RDF_TYPE, _n(VOID + "Dataset")),
        ox.Triple(ds, RDF_TYPE, _n(DCAT + "Dataset")),
        ox.Triple(ds, _n(DCT + "title"), ox.Literal(site.config.title, language="en")),
        ox.Triple(ds, _n(VOID + "sparqlEndpoint"), _n(origin + "/sparql")),
        ox.Triple(ds, _n(VOID + "uriSpace"), ox.Literal(origin + "/" if site.rewrites_base else site.build.base_uri)),
        ox.Triple(ds, _n(VOID + "triples"), _int(sum(sizes.values()))),
        ox.Triple(ds, _n(RDFS + "seeAlso"), _n(origin + "/catalog.ttl")),
        ox.Triple(ds, _n(RDFS + "seeAlso"), _n(origin + "/catalog.jsonld")),
    ]
    if (site.build.root / "catalog.ttl").is_file():
        t.append(ox.Triple(ds, _n(VOID + "rootResource"), _n(origin + "/")))
    for p in dump_files(site):
        t.append(ox.Triple(ds, _n(VOID + "dataDump"), _n(f"{origin}/dumps/{p.name}")))
    docs = document_dumps(site)
    for doc in site.build.documents:
        doc_id = str(doc.get("doc_id") or doc.get("doc-id") or doc.get("id") or "")
        graph = doc.get("graph") or doc.get("graph_iri")
        if not doc_id:
            continue
        sub = _n(f"{origin}/.well-known/void#{doc_id}")
        t += [
            ox.Triple(ds, _n(VOID + "subset"), sub),
            ox.Triple(sub, RDF_TYPE, _n(VOID + "Dataset")),
            ox.Triple(sub, _n(DCT + "identifier"), ox.Literal(doc_id)),
        ]
        if doc_id in docs:
            t.append(ox.Triple(sub, _n(VOID + "dataDump"), _n(f"{origin}/dumps/documents/{doc_id}.ttl")))
        if graph:
            t.append(ox.Triple(sub, _n(SD + "name"), _n(_served(site, origin, str(graph)))))
            if str(graph) in sizes:
                t.append(ox.Triple(sub, _n(VOID + "triples"), _int(sizes[str(graph)])))
    return t
