"""Stage 6a: load the graph into an on-disk pyoxigraph store (one named graph per document)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pyoxigraph import NamedNode, Quad, Store

from budgetkg.graph import Dataset

if TYPE_CHECKING:
    from budgetkg.validation import ValidationReport


def quads(datasets: list[Dataset], report: ValidationReport | None) -> Iterator[Quad]:
    for ds in datasets:
        graph = NamedNode(ds.graph)
        for t in ds.triples:
            yield Quad(t.subject, t.predicate, t.object, graph)
    if report is not None:
        graph = NamedNode(report.graph)
        for t in report.triples:
            yield Quad(t.subject, t.predicate, t.object, graph)


def write_store(datasets: list[Dataset], report: ValidationReport | None, path: Path) -> int:
    """Create the store at `path` (a fresh directory); returns the number of quads."""
    store = Store(str(path))
    store.bulk_extend(quads(datasets, report))
    store.flush()
    count = len(store)
    del store
    return count


def open_read_only(path: Path) -> Store:
    return Store.read_only(str(path))
