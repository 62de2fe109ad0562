"""Linked-data routes: dereferenceable IRIs, downloads, catalog and VoID.

A request path P names the IRI ``base_uri + P``; if that IRI is the subject of triples the
server answers with HTML or RDF by content negotiation (or a ``.ttl``/``.jsonld``/``.nt``/
``.rdf`` suffix), otherwise 404. Downloads are files of the build directory.
"""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from budgetkg.serve import describe, files, pages, templating
from budgetkg.serve.execute import Job
from budgetkg.serve.negotiation import (
    GRAPH_FORMATS,
    HTML,
    JSONLD,
    NTRIPLES,
    RDFXML,
    TURTLE,
    Format,
    by_name,
    negotiate,
)
from budgetkg.serve.site import PREFIXES, Site, page_query
from budgetkg.serve.sparql import error_response, origin_of
from budgetkg.serve.workers import PoolError

SUFFIXES: dict[str, Format] = {".ttl": TURTLE, ".jsonld": JSONLD, ".nt": NTRIPLES, ".rdf": RDFXML}
PAGE_FORMATS: tuple[Format, ...] = (HTML, *GRAPH_FORMATS)
CHILDREN_CSV = "/children.csv"


async def is_subject(site: Site, iri: str) -> bool:
    return bool(await site.select("is-subject", this=iri))


async def find_subject(site: Site, raw_path: str) -> str | None:
    for iri in site.build.iri_candidates(raw_path):
        if await is_subject(site, iri):
            return iri
    return None


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    text = raw.decode("latin-1") if raw else request.scope["path"]
    return text.split("?", 1)[0]


def _not_found(site: Site, request: Request, iri: str) -> Response:
    accept = request.headers.get("accept", "")
    if negotiate(accept, PAGE_FORMATS) is HTML and ("text/html" in accept or not accept):
        return pages.error_page(site, 404, "Not found", f"Nothing is known about <{iri}> in this build.")
    return error_response(404, f"Not found: nothing is known about <{iri}> in this build.")


async def resource(request: Request) -> Response:
    """Any other path: the description of the IRI it names."""
    site: Site = request.app.state.site
    raw_path = _raw_path(request)
    if raw_path in ("", "/"):
        return error_response(404, "Not found.")
    try:
        iri = await find_subject(site, raw_path)
        fmt: Format | None = None
        want_children = False
        if iri is None and raw_path.endswith(CHILDREN_CSV):
            iri = await find_subject(site, raw_path[: -len(CHILDREN_CSV)])
            want_children = iri is not None
        if iri is None:
            for suffix, suffix_fmt in SUFFIXES.items():
                if raw_path.endswith(suffix):
                    iri = await find_subject(site, raw_path[: -len(suffix)])
                    if iri is not None:
                        fmt = suffix_fmt
                    break
        if iri is None:
            return _not_found(site, request, site.build.iri_candidates(raw_path)[0])
        param = request.query_params.get("format")
        accept = request.headers.get("accept", "")
        if (param and param.lower() == "csv") or (not param and "text/csv" in accept and "text/html" not in accept):
            want_children = True
        if want_children:
            return await children_csv(request, site, iri)
        if fmt is None:
            if param:
                fmt = by_name(param, PAGE_FORMATS)
                if fmt is None:
                    return error_response(400, f"Unknown format {param!r}.")
            else:
                fmt = negotiate(request.headers.get("accept"), PAGE_FORMATS)
        if fmt is None:
            offered = ", ".join(f.media_type for f in PAGE_FORMATS)
            return error_response(406, f"No acceptable format. Available: {offered}.")
        if fmt is HTML:
            described = await pages.gather(site, iri)
            text = await pages.resource_page(site, described)
            return _with_etag(request, text.encode(), HTML.content_type, iri, site)
        return await rdf_description(request, site, iri, fmt)
    except PoolError as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return error_response(exc.status, exc.message, headers)


async def describe_route(request: Request) -> Response:
    """``/describe?iri=…``: what this build says about any IRI (vocabulary terms, IRIs outside
    the base), so that pages link only to this server and still reach every term they show."""
    site: Site = request.app.state.site
    iri = request.query_params.get("iri", "")
    if not iri or any(c in iri for c in '<>"{}|^`\\') or any(ord(c) <= 0x20 for c in iri):
        return error_response(400, "Give an IRI: /describe?iri=http://…")
    param = request.query_params.get("format")
    fmt = by_name(param, PAGE_FORMATS) if param else negotiate(request.headers.get("accept"), PAGE_FORMATS)
    if fmt is None:
        return error_response(406 if not param else 400, "No acceptable format.")
    try:
        if fmt is HTML:
            described = await pages.gather(site, iri)
            if not described.out and not described.incoming:
                if not await site.select("is-predicate", this=iri):
                    return pages.not_found_page(site, iri)
                return pages.property_page(site, iri)
            text = await pages.resource_page(site, described)
            return _with_etag(request, text.encode(), HTML.content_type, iri, site)
        return await rdf_description(request, site, iri, fmt)
    except PoolError as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return error_response(exc.status, exc.message, headers)


def _with_etag(request: Request, body: bytes, content_type: str, iri: str, site: Site) -> Response:
    etag = "W/" + files.etag_for_bytes(body)
    local = _quote(site.build.local_path(iri) or "", safe="/:@!$&'()*+,;=-._~%")
    headers = {
        "ETag": etag,
        "Vary": "Accept",
        "Cache-Control": "public, max-age=60",
        "Access-Control-Allow-Origin": "*",
    }
    if local:
        headers["Link"] = ", ".join(
            f'<{local}{s}>; rel="alternate"; type="{f.media_type}"' for s, f in SUFFIXES.items()
        )
    if files.not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, headers=headers, media_type=content_type)  # the server drops it for HEAD


async def rdf_description(request: Request, site: Site, iri: str, fmt: Format) -> Response:
    job = Job(
        query=page_query("resource-graph"),
        max_rows=max(site.config.max_rows, 50_000),
        graph_format=fmt.name,
        bindings={"this": iri},
        prefixes=PREFIXES,
        check=False,
        rewrite=site.rewrite(request),
    )
    outcome = await site.run(job)
    if outcome.status != 200:
        return error_response(outcome.status, outcome.message)
    return _with_etag(request, outcome.body, fmt.content_type, iri, site)


async def children_csv(request: Request, site: Site, iri: str) -> Response:
    """The node's children as CSV: child rows of an observation, rows of a table, sub-codes…"""
    out = io.StringIO()
    w = _RebasingWriter(csv.writer(out, lineterminator="\r\n"), site.rewrite(request))
    related = await site.select("obs-related", this=iri)
    kids = [r for r in related if pages.v(r, "rel") == "child"]
    if kids:
        w.writerow(["observation", "notation", "label", "amount", "unit"])
        for r in kids:
            w.writerow([pages.v(r, k) or "" for k in ("obs", "notation", "label", "amount", "unit")])
    elif budget_rows := await site.select("budget-rows", this=iri):
        keys = ("obs", "table", "rowIndex", "notation", "rowLabel", "col", "amount", "unit", "page", "isTotal")
        w.writerow(
            ["observation", "table", "row_index", "notation", "label", "column", "amount", "unit", "page", "is_total"]
        )
        first = {pages.v(r, "obs"): r for r in reversed(budget_rows)}  # one row per observation
        for r in budget_rows:
            if first.get(pages.v(r, "obs")) is r:
                w.writerow([pages.v(r, k) or "" for k in keys])
    else:
        rows = await site.select("table-rows", this=iri)
        if rows:
            w.writerow(["observation", "row_index", "notation", "label", "column", "amount", "unit", "is_total"])
            for r in rows:
                w.writerow(
                    [
                        pages.v(r, "obs") or "",
                        pages.v(r, "rowIndex") or "",
                        pages.v(r, "notation") or "",
                        pages.v(r, "label") or pages.v(r, "rowLabel") or "",
                        pages.v(r, "col") or "",
                        pages.v(r, "amount") or "",
                        pages.v(r, "unit") or "",
                        pages.v(r, "isTotal") or "",
                    ]
                )
        else:
            w.writerow(["child", "notation", "label_zh", "label_en"])
            for r in await site.select("children", this=iri):
                w.writerow([pages.v(r, k) or "" for k in ("child", "notation", "zh", "en")])
    body = ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: spreadsheets then read UTF-8
    name = iri.rstrip("/").rsplit("/", 1)[-1] or "children"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(name)}-children.csv",
            "Access-Control-Allow-Origin": "*",
        },
    )


class _RebasingWriter:
    """A CSV writer that shows IRIs under the stored base under the served one."""

    def __init__(self, writer: Any, rewrite: tuple[str, str] | None) -> None:
        self.writer = writer
        self.rewrite = rewrite

    def writerow(self, row: list[str]) -> None:
        if self.rewrite is not None:
            old, new = self.rewrite
            row = [new + c[len(old) :] if c.startswith(old) else c for c in row]
        self.writer.writerow(row)


def _quote(text: str, safe: str = "") -> str:
    """Percent-encode for HTTP headers, which carry only ASCII."""
    from urllib.parse import quote

    return quote(text, safe=safe)


# --- files ------------------------------------------------------------------------------


async def dump_file(request: Request) -> Response:
    site: Site = request.app.state.site
    path = files.safe_join(site.build.root / "dumps", request.path_params["path"])
    if path is None:
        return error_response(404, "No such dump. See /dumps/ for the list.")
    return await files.file_response(request, path)


async def dumps_index(request: Request) -> Response:
    site: Site = request.app.state.site
    root = site.build.root / "dumps"
    entries = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    files_shown = [(p.relative_to(root).as_posix(), f"{p.stat().st_size:,}", files.media_type_for(p)) for p in entries]
    return HTMLResponse(
        templating.render("downloads.html", title="Downloads", site_title=site.config.title, files=files_shown)
    )


async def catalog_ttl(request: Request) -> Response:
    site: Site = request.app.state.site
    path = site.build.root / "catalog.ttl"
    if not path.is_file():
        return error_response(404, "This build has no catalog.ttl.")
    rewrite = site.rewrite(request)
    if rewrite is not None:
        data = await asyncio.to_thread(path.read_bytes)
        return files.bytes_response(request, _rebase(data, rewrite), "text/turtle; charset=utf-8")
    return await files.file_response(request, path, "text/turtle; charset=utf-8")


def _rebase(data: bytes, rewrite: tuple[str, str]) -> bytes:
    """A catalog's IRIs under the stored base, shown under the served one (Site.rewrites_base)."""
    return data.replace(rewrite[0].encode(), rewrite[1].encode())


async def catalog_jsonld(request: Request) -> Response:
    site: Site = request.app.state.site
    own = site.build.root / "catalog.jsonld"
    rewrite = site.rewrite(request)
    if own.is_file():
        if rewrite is not None:
            data = await asyncio.to_thread(own.read_bytes)
            return files.bytes_response(request, _rebase(data, rewrite), "application/ld+json; charset=utf-8")
        return await files.file_response(request, own, "application/ld+json; charset=utf-8")
    ttl = site.build.root / "catalog.ttl"
    if not ttl.is_file():
        return error_response(404, "This build has no catalog.")
    st = ttl.stat()
    key = f"catalog.jsonld|{st.st_size}|{st.st_mtime_ns}"
    data = site.cache.get(key)
    if data is None:
        data = await asyncio.to_thread(_ttl_to_jsonld, ttl)
        site.cache[key] = data
    if rewrite is not None:
        data = _rebase(data, rewrite)
    return files.bytes_response(request, data, "application/ld+json; charset=utf-8")


async def _build_void(site: Site, request: Request) -> list[ox.Triple] | None:
    """The build's own VoID (its catalog.ttl describes the dataset with void:Dataset), so that
    the dataset has one description; None when the catalog has none (then one is generated)."""
    path = site.build.root / "catalog.ttl"
    if not path.is_file():
        return None
    data = await asyncio.to_thread(path.read_bytes)
    if b"rdfs.org/ns/void#" not in data:
        return None
    rewrite = site.rewrite(request)
    if rewrite is not None:
        data = _rebase(data, rewrite)
    quads = await asyncio.to_thread(ox.parse, data, format=ox.RdfFormat.TURTLE)
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
    void_dataset = ox.NamedNode(describe.VOID + "Dataset")
    if not any(t.predicate == describe.RDF_TYPE and t.object == void_dataset for t in triples):
        return None
    return triples


def _ttl_to_jsonld(path: Path) -> bytes:
    quads = ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
    return ox.serialize(triples, format=ox.RdfFormat.JSON_LD, prefixes=PREFIXES) or b""


async def build_file(request: Request) -> Response:
    """``/lines.csv`` and ``/validation/report.{ttl,html}`` from the build directory."""
    site: Site = request.app.state.site
    if request.url.path == "/lines.csv":
        path = files.safe_join(site.build.root, "lines.csv")
    else:
        name = request.path_params.get("name", "")
        path = files.safe_join(site.build.root / "validation", name)
    if path is None:
        return error_response(404, "Not found.")
    return await files.file_response(request, path)


async def source_pdf(request: Request) -> Response:
    site: Site = request.app.state.site
    name: str = request.path_params["name"]
    sha = name.removesuffix(".pdf")
    path = site.build.source_pdf(sha)
    if path is None:
        return error_response(404, "This source PDF is not kept in the build (sources/).")
    return await files.file_response(request, path, "application/pdf", download_name=f"{sha}.pdf")


async def void(request: Request) -> Response:
    site: Site = request.app.state.site
    param = request.query_params.get("format")
    accept = request.headers.get("accept")
    fmt = by_name(param, GRAPH_FORMATS) if param else negotiate(accept, GRAPH_FORMATS)
    if fmt is None and not param and negotiate(accept, PAGE_FORMATS) is HTML:
        fmt = TURTLE  # a browser: show the Turtle (as text) rather than a 406
    if fmt is None:
        return error_response(406, "VoID is available as Turtle, N-Triples, JSON-LD, RDF/XML.")
    try:
        triples = await _build_void(site, request)
        if triples is None:
            triples = await describe.void_description(site, origin_of(request))
    except PoolError as exc:
        return error_response(exc.status, exc.message)
    body = describe.serialize(triples, fmt)
    headers = {"Vary": "Accept", "Access-Control-Allow-Origin": "*"}
    media = fmt.content_type
    if fmt is TURTLE and not param and negotiate(accept, GRAPH_FORMATS) is None:
        media = "text/plain; charset=utf-8"
    return Response(body, media_type=media, headers=headers)
