"""`budgetkg query`: SPARQL on a build's store, printed in the standard result formats."""

from __future__ import annotations

from pathlib import Path

from pyoxigraph import QueryBoolean, QueryResultsFormat, QuerySolutions, RdfFormat, Store

RESULT_FORMATS = {
    "json": QueryResultsFormat.JSON,
    "csv": QueryResultsFormat.CSV,
    "tsv": QueryResultsFormat.TSV,
    "xml": QueryResultsFormat.XML,
}
GRAPH_FORMATS = {"turtle": RdfFormat.TURTLE, "ntriples": RdfFormat.N_TRIPLES, "xml": RdfFormat.RDF_XML}


class QueryError(Exception):
    pass


def open_store(build_dir: Path) -> Store:
    path = build_dir / "store" if (build_dir / "store").is_dir() else build_dir
    try:
        return Store.read_only(str(path))
    except OSError as exc:
        raise QueryError(f"{build_dir}: not a budgetkg store ({exc})") from None


def run_query(build_dir: Path, sparql: str, fmt: str | None) -> bytes:
    """Query the union of all named graphs; SELECT/ASK → JSON by default, graphs → Turtle."""
    store = open_store(build_dir)
    try:
        result = store.query(sparql, use_default_graph_as_union=True)
    except SyntaxError as exc:
        raise QueryError(f"malformed query: {exc}") from None
    if isinstance(result, (QuerySolutions, QueryBoolean)):
        if fmt in (None, "json", "csv", "tsv", "xml"):
            return result.serialize(format=RESULT_FORMATS[fmt or "json"])
        raise QueryError(f"--format {fmt} is for CONSTRUCT/DESCRIBE; use json, csv, tsv or xml")
    if fmt in (None, "turtle", "ntriples", "xml"):
        return result.serialize(format=GRAPH_FORMATS[fmt or "turtle"])
    raise QueryError(f"--format {fmt} is for SELECT/ASK; use turtle, ntriples or xml")
