"""The build: inputs → documents → lines.csv, graph, validation, store, dumps.

A corpus build keeps every core busy and one bad file from hurting the others:

- documents are parsed in worker processes (budgetkg.pool), one document per worker at a time,
  so a file that crashes or hangs the PDF library is pinned on that file alone (its worker is
  replaced); with fewer documents than workers, a document's pages are read by several workers
  and put together here, and its SHACL shapes are shared out among several workers too;
- the parse of an unchanged PDF (same sha256, same reader code) comes from the previous build
  (`cache`);
- each document's graph is built as soon as it and the ones before it are parsed, and SHACL
  validation, which is per document, runs in worker processes too, while the main process
  loads the store and writes the dumps (`pipeline`, `tasks`);
- everything is written into a temporary sibling directory that is exchanged with the output
  directory in one atomic rename, so a reader of the output never sees a half-built build
  (`directory`).
"""

from budgetkg.build.cache import CACHE_VERSION, READER_INPUTS, reader_fingerprint
from budgetkg.build.directory import build_lock, exchange, remove_leftovers, swap
from budgetkg.build.failures import STAGES, failure_reason
from budgetkg.build.pipeline import (
    DEFAULT_BASE_URI,
    MIN_PART_PAGES,
    BuildOptions,
    BuildResult,
    build,
    collect_inputs,
)
from budgetkg.build.tasks import alternative_readings, assemble, validate_graphs, validation_pool
from budgetkg.pdf import sha256_of
from budgetkg.pool import InlinePool, Outcome, Task, WorkerPool

__all__ = [
    "CACHE_VERSION",
    "DEFAULT_BASE_URI",
    "MIN_PART_PAGES",
    "READER_INPUTS",
    "STAGES",
    "BuildOptions",
    "BuildResult",
    "InlinePool",
    "Outcome",
    "Task",
    "WorkerPool",
    "alternative_readings",
    "assemble",
    "build",
    "build_lock",
    "collect_inputs",
    "exchange",
    "failure_reason",
    "reader_fingerprint",
    "remove_leftovers",
    "sha256_of",
    "swap",
    "validate_graphs",
    "validation_pool",
]
