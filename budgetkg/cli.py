"""The `budgetkg` command: build, validate, query, serve, publish."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from budgetkg.build import DEFAULT_BASE_URI, BuildOptions, build, failure_reason
from budgetkg.pdf import DEFAULT_ENGINE, ENGINES


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="budgetkg")
def main() -> None:
    """Turn budget PDFs (部门预算/部门决算) into a validated linked-data knowledge graph."""


def usable_cpus() -> int:
    """CPUs this process may run on (a container's or taskset's limit, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@main.command("build")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    default=Path("build"),
    show_default=True,
    type=click.Path(path_type=Path),
    help="Output directory (replaced in one step when the build is complete).",
)
@click.option("--base-uri", default=DEFAULT_BASE_URI, show_default=True, help="Base of every IRI the graph mints.")
@click.option(
    "--jobs",
    "-j",
    default=usable_cpus,
    show_default="the number of usable CPUs",
    type=click.IntRange(1, 64),
    help="Worker processes for parsing and validation.",
)
@click.option(
    "--tolerance", default=None, help="Rounding tolerance per printed figure, in the printed unit (default 0.005)."
)
@click.option("--no-validate", is_flag=True, help="Skip SHACL validation.")
@click.option(
    "--ocr",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="OCR pages without usable text (auto), every page (always) or none (never).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default=DEFAULT_ENGINE,
    show_default=True,
    help="What reads the PDFs' pages: PDFium (faster) or pdfplumber (the reference; same lines.csv).",
)
@click.option(
    "--license",
    "license_iri",
    default=None,
    help="IRI of the data's licence, stated in the catalog (e.g. https://creativecommons.org/licenses/by/4.0/).",
)
@click.option("--publisher", default=None, help="Name of the catalog's publisher (default: the department read).")
def build_command(
    inputs: tuple[Path, ...],
    out: Path,
    base_uri: str,
    jobs: int,
    tolerance: str | None,
    no_validate: bool,
    ocr: str,
    quiet: bool,
    license_iri: str | None,
    publisher: str | None,
    engine: str,
) -> None:
    """Read PDF files and folders of PDFs; write lines.csv, the graph, dumps, catalog, report."""
    options = BuildOptions(
        out=out,
        base_uri=base_uri,
        jobs=jobs,
        progress=not quiet,
        validate=not no_validate,
        tolerance=tolerance,
        license=license_iri,
        publisher=publisher,
        engine=engine,
        ocr=ocr,
    )
    try:
        result = build(list(inputs), options, echo=lambda m: click.echo(m, err=True))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # a stage of the whole build (store, export): one line, never a traceback
        click.echo(f"failed: {out}: {failure_reason(exc, 'export')}", err=True)
        sys.exit(1)
    click.echo(
        f"built {len(result.documents)} document(s) ({result.reused} unchanged, reused) into {out}: "
        f"{result.lines} amounts, {result.triples} triples; {len(result.failures)} failed",
        err=True,
    )
    if result.failures:
        for failure in result.failures:
            click.echo(f"failed: {failure.path}: {failure.reason}", err=True)
        sys.exit(1)


@main.command("validate")
@click.argument("build_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--fail-on", type=click.Choice(["violation", "warning", "never"]), default="violation", show_default=True)
@click.option("--tolerance", default=None, help="Rounding tolerance per printed figure (default 0.005).")
def validate_command(build_dir: Path, fail_on: str, tolerance: str | None) -> None:
    """Re-validate a build; exit 1 when findings reach --fail-on (for a portal's CI)."""
    from budgetkg.validation import revalidate

    if not (build_dir / "build.json").exists():
        raise click.ClickException(f"{build_dir} is not a budgetkg build (no build.json)")
    try:
        report = revalidate(build_dir, tolerance)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary_text())
    counts = report.counts()
    if fail_on == "violation" and counts["Violation"]:
        sys.exit(1)
    if fail_on == "warning" and (counts["Violation"] or counts["Warning"]):
        sys.exit(1)


@main.command("debug-layout")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--page", "-p", "page", required=True, type=click.IntRange(1), help="Page number (1-based).")
@click.option("--out", "out", default=None, type=click.Path(path_type=Path), help="PNG to write [<pdf>-p<N>.png].")
@click.option(
    "--strategy",
    type=click.Choice(["auto", "rules", "gutters"]),
    default=None,
    help="Column strategy for this reading (default: mappings/layout.toml's columns.strategy).",
)
def debug_layout_command(pdf: Path, page: int, out: Path | None, strategy: str | None) -> None:
    """Draw what the reader saw on one page (rules, words, columns, gutters, header, rows) to a PNG
    and print the columns' header paths, the rows and the trace of the geometry's decisions."""
    import dataclasses

    from budgetkg.debug_layout import draw, page_layout, report
    from budgetkg.layout import load_layout
    from budgetkg.model import InputError

    settings = load_layout()
    if strategy is not None:
        settings = dataclasses.replace(settings, column_strategy=strategy)
    try:
        layout = page_layout(pdf, page, settings)
    except (InputError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report(layout))
    target = draw(pdf, layout, out or Path(f"{pdf.stem}-p{page}.png"))
    click.echo(f"drawn: {target}", err=True)


@main.command("query")
@click.option(
    "--store",
    "build_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A build directory (or its store/ folder).",
)
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "tsv", "xml", "turtle", "ntriples"]), default=None)
@click.argument("sparql")
def query_command(build_dir: Path, fmt: str | None, sparql: str) -> None:
    """Run a SPARQL query (text, or @file.rq) on a build's store and print standard results."""
    from budgetkg.query import QueryError, run_query

    if sparql.startswith("@"):
        sparql = Path(sparql[1:]).read_text(encoding="utf-8")
    try:
        data = run_query(build_dir, sparql, fmt)
    except QueryError as exc:
        raise click.ClickException(str(exc)) from None
    sys.stdout.buffer.write(data)


@main.command("serve")
@click.argument("build_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds a query may run.",
)
@click.option("--max-rows", default=10000, show_default=True, type=click.IntRange(1), help="Result-size cap.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Query worker processes.")
@click.option(
    "--queue-timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds a request may wait for a worker.",
)
@click.option(
    "--max-bytes", default=16 * 1024 * 1024, show_default=True, type=click.IntRange(1), help="Answer-size cap."
)
@click.option(
    "--base-uri",
    default=None,
    help="Public base URI of the data (default: the build's; a loopback base is served at the serving origin).",
)
@click.option("--allowed-host", multiple=True, help="Host header (host:port) that absolute links may use; repeatable.")
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log one line per request.")
@click.option(
    "--answer-cache-mb",
    default=64,
    show_default=True,
    type=click.IntRange(0),
    help="Megabytes of endpoint answers kept for identical queries until the next build (0: off).",
)
def serve_command(
    build_dir: Path,
    host: str,
    port: int,
    timeout: float,
    max_rows: int,
    workers: int,
    queue_timeout: float,
    max_bytes: int,
    base_uri: str | None,
    allowed_host: tuple[str, ...],
    access_log: bool,
    answer_cache_mb: int,
) -> None:
    """Serve a build read-only: SPARQL endpoint, resource pages, dumps and catalog."""
    from budgetkg.serve.app import ServeConfig, run

    config = ServeConfig(
        timeout=timeout,
        max_rows=max_rows,
        workers=workers,
        queue_timeout=queue_timeout,
        max_bytes=max_bytes,
        base_uri=base_uri,
        allowed_hosts=allowed_host,
        access_log=access_log,
        answer_cache_mb=answer_cache_mb,
    )
    run(build_dir, host, port, config)


@main.command("publish")
@click.argument("build_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--to", "target", type=click.Choice(["virtuoso"]), required=True)
@click.option("--isql-port", default=1111, show_default=True, type=int)
@click.option("--http-port", default=8890, show_default=True, type=int)
@click.option("--user", default="dba", show_default=True)
@click.option("--password", default="dba", show_default=True, envvar="BUDGETKG_VIRTUOSO_PASSWORD")
def publish_command(build_dir: Path, target: str, isql_port: int, http_port: int, user: str, password: str) -> None:
    """Load a build's dumps into a scalable SPARQL engine (one named graph per document)."""
    from budgetkg.publish import VirtuosoConfig, publish_to_virtuoso

    config = VirtuosoConfig(isql_port=isql_port, http_port=http_port, user=user, password=password)
    report = publish_to_virtuoso(build_dir, config)
    click.echo(str(report))
    if not report.ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
