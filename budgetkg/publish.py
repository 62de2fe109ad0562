"""Publish a build directory to OpenLink Virtuoso and check that it answers like the build.

One named graph per document (plus the reference and validation graphs), replaced only when
its dump changed, so that republishing a corpus after one new PDF touches one graph.

Loading method: Virtuoso's bulk loader (``ld_add`` + ``rdf_loader_run()`` + ``checkpoint``,
driven through ``isql-vt``), not the Graph Store Protocol. Why:

* it is Virtuoso's documented fast path (parallel, no HTTP body limits, no per-request
  transaction log growth) and the only one that scales to the corpus sizes that make us move
  off the embedded store in the first place;
* it reports success or a parse error per file in ``DB.DBA.load_list``;
* it needs no SPARQL-UPDATE grants or digest auth for the HTTP side, which can then stay
  read-only.

Its cost: the server must be able to read the files (they are staged into a directory in
its ``DirsAllowed``), i.e. publish runs on the Virtuoso host or shares a filesystem with it.

What was published is kept in a table in Virtuoso itself (``DB.DBA.BUDGETKG_PUBLISHED``),
not in the build directory: the state describes the target server, and a build directory is
replaced wholesale by every build (``os.replace``), which would lose a file kept inside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import os
import re
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, cast

import pyoxigraph as ox

from budgetkg.pdf import sha256_of
from budgetkg.virtuoso import (
    DEFAULT_RESULT_CAP,
    SparqlClient,
    VirtuosoConfig,
    VirtuosoError,
    decode_b64,
    run_isql,
    sql_b64,
    sql_row,
    sql_text,
)

__all__ = [
    "AMOUNT_BY_ORGANISATION_QUERY",
    "Difference",
    "GraphAction",
    "GraphSource",
    "PublishReport",
    "VirtuosoConfig",
    "compare_with_embedded",
    "publish_to_virtuoso",
    "read_build",
]

BK = "https://w3id.org/budgetkg/def#"
STATE_TABLE = "DB.DBA.BUDGETKG_PUBLISHED"
_XSD = "http://www.w3.org/2001/XMLSchema#"


# --- the build manifest ---------------------------------------------------------------------


@dataclass(frozen=True)
class GraphSource:
    """One dump file of the build and the named graph it becomes."""

    graph: str
    doc_id: str
    path: Path
    kind: str  # "document", "reference" or "validation"


def read_build(build_dir: Path) -> tuple[str, list[GraphSource]]:
    """Base URI and graph sources of ``build_dir/build.json`` (documents, reference, validation)."""
    from budgetkg.manifest import Manifest

    manifest = Manifest.read(build_dir)
    base = manifest.base_uri
    sources: list[GraphSource] = []
    for doc in manifest.documents:
        sources.append(
            GraphSource(graph=doc.graph, doc_id=doc.doc_id, path=_resolve(build_dir, doc.dump), kind="document")
        )
    sources.append(
        GraphSource(
            graph=manifest.reference_graph,
            doc_id="reference",
            path=_resolve(build_dir, manifest.reference_dump),
            kind="reference",
        )
    )
    validation = _resolve(build_dir, manifest.validation_dump)
    if validation.exists():
        sources.append(
            GraphSource(graph=manifest.validation_graph, doc_id="validation", path=validation, kind="validation")
        )
    seen = Counter(s.graph for s in sources)
    dupes = [g for g, n in seen.items() if n > 1]
    if dupes:
        raise ValueError(f"{build_dir / 'build.json'}: graph used twice: {', '.join(dupes)}")
    return base, sources


def _resolve(build_dir: Path, name: str | os.PathLike[str]) -> Path:
    p = Path(name)
    return p if p.is_absolute() else build_dir / p


# --- the report -----------------------------------------------------------------------------


@dataclass
class GraphAction:
    """What publishing did to one named graph.

    ``action``: ``loaded`` (new graph), ``replaced`` (dump changed), ``unchanged`` (skipped),
    ``dropped`` (document left the build), ``failed`` (see ``error``; a failed reload leaves
    the graph empty and unrecorded so that the next publish retries it; a dump that cannot be
    read leaves the previously published graph untouched).
    """

    graph: str
    doc_id: str
    action: str
    triples: int = 0
    file: str = ""
    error: str | None = None


@dataclass
class PublishReport:
    """Outcome of :func:`publish_to_virtuoso`, one :class:`GraphAction` per graph."""

    endpoint: str
    base_uri: str
    actions: list[GraphAction] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def errors(self) -> list[GraphAction]:
        return [a for a in self.actions if a.action == "failed"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, action: str) -> int:
        return sum(1 for a in self.actions if a.action == action)

    def by_graph(self) -> dict[str, GraphAction]:
        return {a.graph: a for a in self.actions}

    def summary(self) -> str:
        """One line for the CLI, then one line per failed file."""
        parts = [
            f"{self.count(k)} {k}"
            for k in ("loaded", "replaced", "unchanged", "dropped", "failed")
            if self.count(k)
        ]
        head = f"virtuoso {self.endpoint}: {', '.join(parts) or 'nothing to do'} "
        head += f"({self.seconds:.1f} s)"
        return "\n".join([head, *(f"  {a.file or a.graph}: {a.error}" for a in self.errors)])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return self.summary()


# --- publishing -----------------------------------------------------------------------------


@dataclass
class _Published:
    doc_id: str
    sha256: str
    triples: int
    present: int  # triples in the graph right now


def publish_to_virtuoso(
    build_dir: Path, config: VirtuosoConfig, *, force: bool = False
) -> PublishReport:
    """Load each graph of the build into Virtuoso, replacing only those whose dump changed.

    A graph is skipped when the sha256 of its dump file equals the one recorded at the last
    publish and Virtuoso still holds the recorded number of triples; the dump's hash (not
    the PDF's) is used because mapping or ontology changes alter a graph without touching
    its PDF. Graphs recorded for this base URI that are no longer in the build are dropped.
    Each file is parsed locally first: a broken dump never replaces a good graph, and the
    triple count after loading must equal the parsed one.
    """
    started = time.monotonic()
    build_dir = build_dir.resolve()
    base, sources = read_build(build_dir)
    report = PublishReport(endpoint=config.sparql_endpoint, base_uri=base)
    load_dir = (config.load_dir or _server_load_dir(config)).resolve()
    load_dir.mkdir(parents=True, exist_ok=True)

    with _lock(load_dir / ".budgetkg-publish.lock"):
        _ensure_state_table(config)
        state = _read_state(config, base)

        to_load: list[tuple[GraphSource, str, int]] = []  # source, sha256, expected triples
        for src in sources:
            try:
                expected = _count_triples(src.path)
                sha = sha256_of(src.path)
            except (OSError, SyntaxError, ValueError) as exc:
                report.actions.append(
                    GraphAction(src.graph, src.doc_id, "failed", file=str(src.path), error=str(exc))
                )
                continue
            old = state.get(src.graph)
            if (
                not force
                and old is not None
                and old.sha256 == sha
                and old.triples == old.present == expected
            ):
                report.actions.append(
                    GraphAction(src.graph, src.doc_id, "unchanged", expected, str(src.path))
                )
            else:
                to_load.append((src, sha, expected))

        in_build = {s.graph for s in sources}
        to_drop = sorted(g for g in state if g not in in_build)

        if to_load or to_drop:
            _load_and_drop(config, load_dir, base, to_load, to_drop, state, report)

    order = {s.graph: i for i, s in enumerate(sources)}
    report.actions.sort(key=lambda a: (order.get(a.graph, len(order)), a.graph))
    report.seconds = time.monotonic() - started
    return report


def _load_and_drop(
    config: VirtuosoConfig,
    load_dir: Path,
    base: str,
    to_load: Sequence[tuple[GraphSource, str, int]],
    to_drop: Sequence[str],
    state: dict[str, _Published],
    report: PublishReport,
) -> None:
    """Clear, bulk-load, verify and record; dropped graphs are cleared and forgotten."""
    stage = load_dir / f"budgetkg-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    stage.mkdir(mode=0o755)
    try:
        staged: list[Path] = []
        for i, (src, _, _) in enumerate(to_load):
            staged.append(_stage(src.path, stage / f"{i:05d}{_suffix(src.path)}"))

        # 1. clear every graph about to be (re)loaded or dropped, queue the files
        script = ["log_enable(3,1);"]
        for g in [*to_drop, *(src.graph for src, _, _ in to_load)]:
            script.append(_clear_sql(g))
        for g in to_drop:
            script.append(_forget_sql(base, g))
        for (src, _, _), path in zip(to_load, staged, strict=True):
            script.append(f"ld_add({sql_text(str(path))}, {sql_text(src.graph)});")
        run_isql(config, "\n".join(script) + "\n")

        # 2. load (in parallel sessions if asked), then make it durable
        outcome = _load_with_retries(
            config, [(src.graph, p) for (src, _, _), p in zip(to_load, staged, strict=True)]
        )
        run_isql(config, "checkpoint;\n")

        # 3. per-file outcome from load_list, triple counts per graph
        counts = _graph_counts(config, [src.graph for src, _, _ in to_load])

        script = ["log_enable(3,1);"]
        for (src, sha, expected), path in zip(to_load, staged, strict=True):
            state_, error = outcome.get(str(path), (None, "not found in DB.DBA.load_list"))
            present = counts.get(src.graph, 0)
            if error is None and state_ == 0:
                error = f"the server did not read it: is {load_dir} in DirsAllowed and readable?"
            elif error is None and state_ != 2:
                error = f"ll_state {state_} after rdf_loader_run()"
            if error is None and present != expected:
                error = f"Virtuoso holds {present} triples, the file has {expected}"
            if error is None:
                action = "replaced" if src.graph in state else "loaded"
                report.actions.append(
                    GraphAction(src.graph, src.doc_id, action, present, str(src.path))
                )
                script.append(
                    f"insert replacing {STATE_TABLE} "
                    "(BASE_URI, GRAPH_IRI, DOC_ID, SHA256, TRIPLES, PUBLISHED_AT) values ("
                    f"{sql_text(base)}, {sql_text(src.graph)}, {sql_text(src.doc_id)}, "
                    f"'{sha}', {present}, now());"
                )
            else:
                report.actions.append(
                    GraphAction(src.graph, src.doc_id, "failed", 0, str(src.path), error)
                )
                script.append(_clear_sql(src.graph))
                script.append(_forget_sql(base, src.graph))
        for g in to_drop:
            report.actions.append(GraphAction(g, state[g].doc_id, "dropped"))
        prefix = sql_text(str(stage) + "/%")
        script.append(f"delete from DB.DBA.load_list where ll_file like {prefix};")
        script.append("checkpoint;")
        run_isql(config, "\n".join(script) + "\n")
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _server_load_dir(config: VirtuosoConfig) -> Path:
    """A directory from the server's own DirsAllowed that this process can write to.

    Only meaningful when the server runs on this machine (the bulk loader reads files from
    its own filesystem); relative entries and system directories are skipped.
    """
    rows = run_isql(
        config,
        "select "
        + sql_row(sql_b64("cfg_item_value(virtuoso_ini_path(), 'Parameters', 'DirsAllowed')"))
        + ";\n",
    )
    allowed = decode_b64(rows[0][0]) if rows else ""
    for entry in (e.strip() for e in allowed.split(",")):
        p = Path(entry)
        if (
            p.is_absolute()
            and not entry.startswith("/usr/")
            and p.is_dir()
            and os.access(p, os.W_OK)
        ):
            return p
    raise ValueError(
        f"no writable absolute directory in the server's DirsAllowed ({allowed or 'empty'}): "
        "add one to [Parameters] DirsAllowed and pass it as VirtuosoConfig.load_dir"
    )


def _load_with_retries(
    config: VirtuosoConfig, files: Sequence[tuple[str, Path]], rounds: int = 3
) -> dict[str, tuple[int, str | None]]:
    """Run the loader until every file is done or failed; return load_list's verdict per file.

    When one file of a batch fails, Virtuoso's loader rolls back the batch's bookkeeping and
    the other files of that batch stay at ll_state 1 with no error (seen with 7.2.5): those
    graphs are cleared and their files queued again.
    """
    outcome: dict[str, tuple[int, str | None]] = {}
    queued = list(files)
    for attempt in range(rounds):
        if not queued:
            break
        _run_loaders(config)
        outcome = _load_list(config, [p for _, p in files])
        stuck = [(g, p) for g, p in queued if _stuck(outcome.get(str(p)))]
        if not stuck or attempt == rounds - 1:
            break
        script = ["log_enable(3,1);"]
        for g, p in stuck:
            script.append(_clear_sql(g))
            script.append(
                "update DB.DBA.load_list set ll_state = 0, ll_error = null "
                f"where ll_file = {sql_text(str(p))};"
            )
        run_isql(config, "\n".join(script) + "\n")
        queued = stuck
    return outcome


def _stuck(verdict: tuple[int, str | None] | None) -> bool:
    """Claimed by a loader but neither done nor failed: its outcome is unknown."""
    return verdict is not None and verdict[0] != 2 and verdict[1] is None


def _run_loaders(config: VirtuosoConfig) -> None:
    """``rdf_loader_run()`` in ``config.loaders`` isql sessions at once (one shared queue)."""
    n = max(1, config.loaders)
    if n == 1:
        run_isql(config, "rdf_loader_run();\n")
        return
    with ThreadPoolExecutor(max_workers=n) as pool:
        for fut in [pool.submit(run_isql, config, "rdf_loader_run();\n") for _ in range(n)]:
            fut.result()


def _clear_sql(graph: str) -> str:
    # Plain SQL on the quad table: no IRI has to be spliced into SPARQL text, and with
    # log_enable(3,1) a large graph is deleted row by row instead of in one huge transaction.
    return f"delete from DB.DBA.RDF_QUAD where G = iri_to_id({sql_text(graph)}, 0);"


def _forget_sql(base: str, graph: str) -> str:
    return (
        f"delete from {STATE_TABLE} where BASE_URI = {sql_text(base)} "
        f"and GRAPH_IRI = {sql_text(graph)};"
    )


def _ensure_state_table(config: VirtuosoConfig) -> None:
    rows = run_isql(
        config,
        f"select {sql_row('count(*)')} from DB.DBA.SYS_KEYS where KEY_TABLE = '{STATE_TABLE}';\n",
    )
    if rows and rows[0][0] != "0":
        return
    run_isql(
        config,
        f"create table {STATE_TABLE} (\n"
        "  BASE_URI varchar not null,\n"
        "  GRAPH_IRI varchar not null,\n"
        "  DOC_ID varchar,\n"
        "  SHA256 varchar,\n"
        "  TRIPLES integer,\n"
        "  PUBLISHED_AT datetime,\n"
        "  primary key (BASE_URI, GRAPH_IRI));\n",
    )


def _read_state(config: VirtuosoConfig, base: str) -> dict[str, _Published]:
    present = "(select count(*) from DB.DBA.RDF_QUAD where G = iri_to_id(GRAPH_IRI, 0))"
    select = sql_row(sql_b64("GRAPH_IRI"), sql_b64("DOC_ID"), "SHA256", "TRIPLES", present)
    rows = run_isql(
        config, f"select {select} from {STATE_TABLE} where BASE_URI = {sql_text(base)};\n"
    )
    return {
        decode_b64(r[0]): _Published(decode_b64(r[1]), r[2], int(r[3] or 0), int(r[4] or 0))
        for r in rows
    }


def _load_list(config: VirtuosoConfig, staged: Sequence[Path]) -> dict[str, tuple[int, str | None]]:
    """ll_state and ll_error (None when empty) per staged file."""
    if not staged:
        return {}
    files = ", ".join(sql_text(str(p)) for p in staged)
    err = sql_b64("subseq(coalesce(ll_error, ''), 0, 1500)")
    rows = run_isql(
        config,
        f"select {sql_row(sql_b64('ll_file'), 'll_state', err)} "
        f"from DB.DBA.load_list where ll_file in ({files});\n",
    )
    return {decode_b64(r[0]): (int(r[1]), decode_b64(r[2]) or None) for r in rows}


def _graph_counts(config: VirtuosoConfig, graphs: Sequence[str]) -> dict[str, int]:
    if not graphs:
        return {}
    script = [
        f"select {sql_row(str(i), 'count(*)')} from DB.DBA.RDF_QUAD "
        f"where G = iri_to_id({sql_text(g)}, 0);"
        for i, g in enumerate(graphs)
    ]
    rows = run_isql(config, "\n".join(script) + "\n")
    return {graphs[int(r[0])]: int(r[1]) for r in rows}


def _suffix(path: Path) -> str:
    """Keep the suffix: the bulk loader picks its parser from it (.ttl, .nt, .nq, + .gz)."""
    name = path.name.lower()
    for s in (".ttl.gz", ".nt.gz", ".ttl", ".nt"):
        if name.endswith(s):
            return s
    raise ValueError(f"{path}: only .ttl and .nt dumps (optionally .gz) can be published")


def _stage(src: Path, dst: Path) -> Path:
    """Hard-link (or copy) a dump where the server may read it; later builds can't change it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
    os.chmod(dst, 0o644)
    return dst


def _count_triples(path: Path) -> int:
    """Distinct triples in a dump, parsed by pyoxigraph (also rejects a broken file early)."""
    fmt = ox.RdfFormat.N_TRIPLES if ".nt" in path.suffixes else ox.RdfFormat.TURTLE
    _suffix(path)
    store = ox.Store()
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as f:
        store.load(input=cast(IO[bytes], f), format=fmt)
    return len(store)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """One publish at a time per load dir (i.e. per server)."""
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --- equivalence with the embedded store ----------------------------------------------------

AMOUNT_BY_ORGANISATION_QUERY = f"""
PREFIX bk: <{BK}>
SELECT ?g ?org (SUM(?amount) AS ?total) (COUNT(?amount) AS ?n)
WHERE {{ GRAPH ?g {{ ?x bk:amount ?amount OPTIONAL {{ ?x bk:organisation ?org }} }} }}
GROUP BY ?g ?org
"""
"""Σ bk:amount per graph and bk:organisation (unattached amounts under an unbound ?org)."""

TRIPLES_PER_GRAPH_QUERY = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"


@dataclass(frozen=True)
class Difference:
    """One way in which Virtuoso answers differently from the embedded store."""

    kind: str  # "query", "graph", "amount", "resource" or "error"
    key: str  # query file, graph IRI, (graph, organisation) or subject IRI
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.key}: {self.detail}"


Norm = tuple[Any, ...]


def compare_with_embedded(
    build_dir: Path,
    virtuoso_endpoint: str | SparqlClient,
    *,
    queries_dir: Path | None = None,
    sample_per_graph: int = 3,
    result_cap: int = DEFAULT_RESULT_CAP,
) -> list[Difference]:
    """Run the same questions against ``DIR/store`` and Virtuoso; return what differs.

    Compared: every ``*.rq`` in ``queries_dir`` (default: the repository's ``queries/``),
    triples per graph, Σ bk:amount per graph and organisation, and the outgoing triples of a
    few subjects per graph (CONSTRUCT, not DESCRIBE, whose extent is engine-defined). Rows
    are compared as multisets after normalising the two engines' spelling of the same
    value: decimals and integers as ``Decimal`` (``42.60`` = ``42.6``), doubles as floats,
    booleans (Virtuoso says ``1``), language tags lower-cased, ``xsd:string`` = plain,
    blank nodes as one placeholder. ORDER BY is not checked, only the rows.

    Virtuoso sees the build's graphs as its dataset (protocol ``default-graph-uri`` and
    ``named-graph-uri``) unless a query names its own with FROM, so that its system graphs
    do not leak into union-default-graph answers.
    """
    build_dir = build_dir.resolve()
    base, sources = read_build(build_dir)
    graphs = [s.graph for s in sources]
    if isinstance(virtuoso_endpoint, SparqlClient):
        client = replace(virtuoso_endpoint, default_graphs=graphs, named_graphs=graphs)
    else:
        client = SparqlClient(
            virtuoso_endpoint, result_cap=result_cap, default_graphs=graphs, named_graphs=graphs
        )
    store = ox.Store.read_only(str(build_dir / "store"))
    diffs: list[Difference] = []

    if queries_dir is None:
        from budgetkg.resources import data_dir

        queries_dir = data_dir("queries")
    for rq in sorted(queries_dir.glob("*.rq")) if queries_dir.is_dir() else []:
        diffs += _compare_query(store, client, rq.name, rq.read_text(encoding="utf-8"))

    diffs += _compare_graph_sizes(store, client, base, set(graphs))
    diffs += _compare_amounts(store, client, set(graphs))
    for graph, subject in _sample_subjects(store, graphs, sample_per_graph):
        q = f"CONSTRUCT {{ <{subject}> ?p ?o }} WHERE {{ GRAPH <{graph}> {{ <{subject}> ?p ?o }} }}"
        try:
            mine = {_norm_triple(t) for t in store.query(q)}  # type: ignore[union-attr]
            theirs = {_norm_triple(t) for t in client.construct(q, dataset=False)}
        except (VirtuosoError, SyntaxError, OSError) as exc:
            diffs.append(Difference("error", subject, str(exc)))
            continue
        if mine != theirs:
            diffs.append(Difference("resource", subject, _delta(mine, theirs, "triples")))
    return diffs


def _compare_query(
    store: ox.Store, client: SparqlClient, name: str, query: str
) -> list[Difference]:
    try:
        result = store.query(query, use_default_graph_as_union=True)
    except (SyntaxError, OSError, ValueError) as exc:
        return [Difference("error", name, f"embedded store: {exc}")]
    dataset = not re.search(r"\bFROM\b", _strip_comments(query), re.IGNORECASE)
    try:
        if isinstance(result, ox.QueryBoolean):
            theirs_b = client.ask(query, dataset=dataset)
            if bool(result) != theirs_b:
                return [
                    Difference("query", name, f"ASK: embedded {bool(result)}, virtuoso {theirs_b}")
                ]
            return []
        if isinstance(result, ox.QuerySolutions):
            variables = [v.value for v in result.variables]
            mine_rows = Counter(tuple(_norm(sol[v]) for v in variables) for sol in result)
            sel = client.select(query, dataset=dataset)
            if set(sel.variables) != set(variables):
                return [
                    Difference("query", name, f"variables {variables} vs virtuoso {sel.variables}")
                ]
            theirs_rows = Counter(tuple(_norm(row.get(v)) for v in variables) for row in sel.rows)
            if mine_rows != theirs_rows:
                return [Difference("query", name, _delta_counter(mine_rows, theirs_rows, "rows"))]
            return []
        mine_t = {_norm_triple(t) for t in result}
        theirs = client.construct(query, dataset=dataset)
        if re.search(r"\bDESCRIBE\b", _strip_comments(query), re.IGNORECASE):
            # DESCRIBE's extent is up to the engine: compare what both say about the
            # subjects the embedded store chose to describe.
            subjects = {t[0] for t in mine_t}
            theirs_t = {n for n in map(_norm_triple, theirs) if n[0] in subjects}
        else:
            theirs_t = {_norm_triple(t) for t in theirs}
        if mine_t != theirs_t:
            return [Difference("query", name, _delta(mine_t, theirs_t, "triples"))]
        return []
    except VirtuosoError as exc:
        return [Difference("error", name, f"virtuoso: {exc}")]


def _compare_graph_sizes(
    store: ox.Store, client: SparqlClient, base: str, graphs: set[str]
) -> list[Difference]:
    mine = {
        sol["g"].value: int(sol["n"].value)
        for sol in store.query(TRIPLES_PER_GRAPH_QUERY)  # type: ignore[union-attr]
    }
    try:
        sel = client.select(TRIPLES_PER_GRAPH_QUERY, dataset=False)
    except VirtuosoError as exc:
        return [Difference("error", "triples per graph", str(exc))]
    theirs = {r["g"].value: int(r["n"].value) for r in sel.rows if "g" in r and "n" in r}
    ours = graphs | set(mine) | {g for g in theirs if g.startswith(f"{base}graph/")}
    diffs = []
    for g in sorted(ours):
        a, b = mine.get(g, 0), theirs.get(g, 0)
        if a != b:
            diffs.append(Difference("graph", g, f"{a} triples embedded, {b} in virtuoso"))
    return diffs


def _compare_amounts(store: ox.Store, client: SparqlClient, graphs: set[str]) -> list[Difference]:
    def key(row: dict[str, Any]) -> tuple[str, str]:
        org = row.get("org")
        return row["g"].value, org.value if org is not None else ""

    mine: dict[tuple[str, str], tuple[Norm | None, Norm | None]] = {}
    for sol in store.query(AMOUNT_BY_ORGANISATION_QUERY):  # type: ignore[union-attr]
        row = {v: sol[v] for v in ("g", "org", "total", "n")}
        if row["g"] is not None and row["g"].value in graphs:
            mine[key(row)] = (_norm(row["total"]), _norm(row["n"]))
    try:
        sel = client.select(AMOUNT_BY_ORGANISATION_QUERY, dataset=False)
    except VirtuosoError as exc:
        return [Difference("error", "amount sums", str(exc))]
    theirs = {
        key(r): (_norm(r.get("total")), _norm(r.get("n")))
        for r in sel.rows
        if "g" in r and r["g"].value in graphs
    }
    diffs = []
    for k in sorted(set(mine) | set(theirs)):
        if mine.get(k) != theirs.get(k):
            diffs.append(
                Difference(
                    "amount",
                    f"{k[0]} {k[1] or '(no organisation)'}",
                    f"Σ, n embedded {_show(mine.get(k))}, virtuoso {_show(theirs.get(k))}",
                )
            )
    return diffs


def _sample_subjects(store: ox.Store, graphs: Iterable[str], k: int) -> list[tuple[str, str]]:
    """``k`` IRI subjects per graph, evenly spaced in IRI order (deterministic, spread out)."""
    picked: list[tuple[str, str]] = []
    for g in graphs:
        subjects = sorted(
            {
                q.subject.value
                for q in store.quads_for_pattern(None, None, None, ox.NamedNode(g))
                if isinstance(q.subject, ox.NamedNode)
            }
        )
        if not subjects or k <= 0:
            continue
        step = max(1, len(subjects) // k)
        picked += [(g, s) for s in subjects[::step][:k]]
    return picked


# --- normalisation --------------------------------------------------------------------------

_NUMERIC = {
    _XSD + t
    for t in [
        "decimal",
        "integer",
        "int",
        "long",
        "short",
        "byte",
        "nonNegativeInteger",
        "positiveInteger",
        "negativeInteger",
        "nonPositiveInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    ]
}
_FLOATING = {_XSD + "double", _XSD + "float"}


def _norm(term: object) -> Norm | None:
    """One comparable spelling of an RDF term across Oxigraph and Virtuoso."""
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return ("iri", term.value)
    if isinstance(term, ox.BlankNode):
        return ("bnode",)
    if isinstance(term, ox.Literal):
        if term.language:
            return ("lang", term.value, term.language.lower())
        dt = term.datatype.value
        value = term.value
        if dt in _NUMERIC:
            try:
                return ("num", Decimal(value))
            except InvalidOperation:
                return ("lit", value, dt)
        if dt in _FLOATING:
            try:
                return ("dbl", float(value))
            except ValueError:
                return ("lit", value, dt)
        if dt == _XSD + "boolean":
            return ("bool", value.strip() in ("true", "1"))
        if dt == _XSD + "dateTime":
            try:
                return ("dateTime", datetime.fromisoformat(value))
            except ValueError:
                return ("lit", value, dt)
        if dt == _XSD + "string":
            return ("str", value)
        return ("lit", value, dt)
    return ("other", str(term))


def _norm_triple(t: ox.Triple) -> Norm:
    return (_norm(t.subject), _norm(t.predicate), _norm(t.object))


def _strip_comments(query: str) -> str:
    return re.sub(r"(?m)#[^\n<>]*$", "", query)


def _show(v: object) -> str:
    if v is None:
        return "—"
    if isinstance(v, tuple):
        return "(" + ", ".join(_show(x) for x in v) + ")"
    return str(v)


def _delta(mine: set[Norm], theirs: set[Norm], what: str, limit: int = 5) -> str:
    only_mine = sorted(mine - theirs, key=repr)
    only_theirs = sorted(theirs - mine, key=repr)
    return (
        f"{len(mine)} {what} embedded, {len(theirs)} in virtuoso; "
        f"only embedded: {only_mine[:limit]}; only virtuoso: {only_theirs[:limit]}"
    )


def _delta_counter(mine: Counter[Norm], theirs: Counter[Norm], what: str, limit: int = 5) -> str:
    only_mine = sorted((mine - theirs).elements(), key=repr)
    only_theirs = sorted((theirs - mine).elements(), key=repr)
    return (
        f"{sum(mine.values())} {what} embedded, {sum(theirs.values())} in virtuoso; "
        f"only embedded: {only_mine[:limit]}; only virtuoso: {only_theirs[:limit]}"
    )
