"""The query page: YASGUI served from local files, or a plain form when it is not installed.

YASGUI is configured for this endpoint only (no endpoint catalogue, endpoint-specific
``persistenceId``) and without the term autocompleters that call an external vocabulary
service, so the page works offline. Without the vendor files a plain form runs the query on
the server and shows the rows as an HTML table, and says how to install the editor. The markup
of both is ``templates/query.html``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from budgetkg.serve import guard, nesting, templating
from budgetkg.serve.execute import Job
from budgetkg.serve.markup import compact, safe_href
from budgetkg.serve.site import Site, page_query
from budgetkg.serve.views import Cell, Link, TermView
from budgetkg.serve.workers import PoolError

DEFAULT_QUERY = page_query("editor-default")  # when no example queries are found


def _origin(request: Request) -> str:
    site: Site = request.app.state.site
    return site.origin(request)


async def query_page(request: Request, site: Site, query: str | None = None) -> Response:
    """``/query`` (and ``/sparql`` for browsers)."""
    try:
        parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), errors="strict")
    except UnicodeDecodeError:
        return PlainTextResponse(
            "The URL query string has a percent-escape that is not UTF-8.\n",
            status_code=400,
            headers={"Cache-Control": "no-store"},
        )
    params = request.query_params
    if query is None:
        query = params.get("query")
    example = params.get("example")
    if query is None and example:
        query = next((e.query for e in site.examples if e.name == example), None)
    headers = {"Vary": "Accept", "Cache-Control": "no-cache"}
    if site.has_vendor_ui and params.get("ui") != "plain":
        return HTMLResponse(_yasgui_page(request, site, query), headers=headers)
    body = await _plain_page(request, site, query, run=params.get("run") is not None)
    return HTMLResponse(body, headers=headers)


def _yasgui_page(request: Request, site: Site, query: str | None) -> str:
    config = {
        # Relative: query.js resolves it against the page's own address, so the editor talks to
        # the server that served it, whatever Host the request carried.
        "endpoint": "/sparql",
        "query": query,
        "defaultQuery": site.examples[0].query if site.examples else DEFAULT_QUERY,
        "examples": [{"title": e.title, "query": e.query} for e in site.examples],
    }
    return templating.render(
        "query.html",
        title="SPARQL",
        site_title=site.config.title,
        yasgui=True,
        endpoint=_origin(request) + "/sparql",
        timeout=f"{site.config.timeout:g}",
        max_rows=site.config.max_rows,
        examples=site.examples,
        config=config,
    )


async def _plain_page(request: Request, site: Site, query: str | None, run: bool) -> str:
    text = query if query is not None else (site.examples[0].query if site.examples else DEFAULT_QUERY)
    return templating.render(
        "query.html",
        title="SPARQL",
        site_title=site.config.title,
        yasgui=False,
        install_hint=not site.has_vendor_ui,
        examples=site.examples,
        text=text,
        results=await _run_for_page(site, query) if run and query else None,
    )


@dataclass(frozen=True, slots=True)
class PageResults:
    """What the plain form shows under the query: an error, a boolean, or rows of terms."""

    error: str | None = None
    boolean: bool | None = None
    header: tuple[str, ...] = ()
    rows: tuple[tuple[Cell, ...], ...] = ()


async def _run_for_page(site: Site, query: str) -> PageResults:
    deep = nesting.too_deep(query)
    if deep:
        return PageResults(error=deep)
    try:
        guard.refuse_early(query)
    except guard.Refused as exc:
        return PageResults(error=exc.message)
    job = Job(query=query, max_rows=site.config.max_rows, max_bytes=site.config.max_bytes, native=True)
    try:
        outcome = await site.run(job)
    except PoolError as exc:
        return PageResults(error=exc.message)
    if outcome.status != 200:
        return PageResults(error=f"{outcome.status}: {outcome.message}")
    if outcome.kind == "ask":
        return PageResults(boolean=bool(outcome.data))
    if outcome.kind == "graph":
        header: list[str] = ["subject", "predicate", "object"]
        rows = [(_cell(site, s), _cell(site, p), _cell(site, o)) for s, p, o in outcome.data]
    else:
        header = list(outcome.data["vars"])
        rows = [tuple(_cell(site, r.get(v)) for v in header) for r in outcome.data["rows"]]
    return PageResults(header=tuple(header), rows=tuple(rows))


def _cell(site: Site, term: tuple | None) -> Cell:
    """A result term: IRIs as links only to http(s) or this server (never ``javascript:``)."""
    if term is None:
        return ""
    kind, value = term[0], term[1]
    if kind == "uri":
        target = safe_href(site.build.local_path(value) or value)
        if target is None:
            return Link(text=value, href=None)
        return Link(text=compact(value), href=target)
    if kind == "bnode":
        return f"_:{value}"
    return TermView(text=value, lang=term[3] or None)
