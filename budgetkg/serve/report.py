"""``/validation``: what the checks found, in a form a reader can work through.

A summary (severity × check), filters by severity, table and document (plain GET parameters,
so they work without JavaScript and can be bookmarked), each result with a link to the PDF
page it concerns, the rounding tolerance the build validated with, and — when the build has a
``reading.json`` (how each document was read) — the reading status beside it. The same rows
are CSV with ``?format=csv`` or ``Accept: text/csv``.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from budgetkg.serve.markup import attr, compact, esc, layout
from budgetkg.serve.site import Site
from budgetkg.serve.workers import PoolError

MAX_SHOWN = 1000
SEVERITIES = ("Violation", "Warning", "Info")


@dataclass(frozen=True, slots=True)
class Result:
    """One SHACL result with the document, table and page it concerns."""

    iri: str
    severity: str
    message: str
    focus: str
    focus_label: str | None
    value: tuple | None
    shape: str
    page: str | None
    table: str | None
    table_label: str | None
    budget: str | None
    budget_label: str | None
    sha: str | None
    unit: str | None


def _v(row: dict, key: str) -> str | None:
    t = row.get(key)
    return t[1] if t else None


async def results(site: Site) -> list[Result]:
    """Every result of the build's report, one per result IRI."""
    out: dict[str, Result] = {}
    for r in await site.cached_select("validation-rows"):
        iri = _v(r, "r") or ""
        if iri in out:
            continue
        out[iri] = Result(
            iri=iri,
            severity=(_v(r, "sev") or "").rsplit("#", 1)[-1] or "Violation",
            message=_v(r, "msg") or "",
            focus=_v(r, "focus") or "",
            focus_label=_v(r, "flabel"),
            value=r.get("value"),
            shape=_v(r, "shape") or "",
            page=_v(r, "page"),
            table=_v(r, "table"),
            table_label=_v(r, "tlabel"),
            budget=_v(r, "b"),
            budget_label=_v(r, "blabel"),
            sha=_v(r, "sha"),
            unit=_v(r, "unit"),
        )
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(
        out.values(),
        key=lambda x: (order.get(x.severity, 9), x.budget or "", int(x.page) if (x.page or "").isdigit() else 10**6),
    )


def reading_status(site: Site) -> Any:
    """``DIR/reading.json`` (written by the build: how each document was read), if present."""
    path = site.build.root / "reading.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _reading_html(data: Any) -> str:
    """A generic view of reading.json: a list of records as a table, a mapping as key/value."""
    if data is None:
        return ""
    records = data.get("documents", data) if isinstance(data, dict) else data
    if isinstance(records, dict):
        records = [{"document": k, **(v if isinstance(v, dict) else {"status": v})} for k, v in records.items()]
    if not isinstance(records, list) or not all(isinstance(x, dict) for x in records):
        return (
            f"<h2>读取状态 Reading status</h2><pre>{esc(json.dumps(data, ensure_ascii=False, indent=1)[:5000])}</pre>"
        )
    keys: list[str] = []
    for rec in records:
        for k, val in rec.items():
            if k not in keys and not isinstance(val, dict | list):
                keys.append(k)
    head = "".join(f"<th>{esc(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{esc(rec.get(k, ''))}</td>" for k in keys) + "</tr>" for rec in records)
    return (
        '<h2>读取状态 Reading status</h2><p class="hint">From the build\'s reading.json.</p>'
        f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def _wants_csv(request: Request) -> bool:
    fmt = request.query_params.get("format")
    if fmt:
        return fmt.lower() == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "text/html" not in accept


def _filtered(items: list[Result], params: dict[str, str]) -> list[Result]:
    sev, table, doc = params.get("severity"), params.get("table"), params.get("document")
    return [
        x
        for x in items
        if (not sev or x.severity == sev) and (not table or x.table == table) and (not doc or x.budget == doc)
    ]


async def validation_page(request: Request) -> Response:
    site: Site = request.app.state.site
    from budgetkg.serve.pages import error_page, figure_tolerance, link, render_term

    try:
        items = await results(site)
        per = await figure_tolerance(site)
    except PoolError as exc:
        return error_page(site, exc.status, "Busy", exc.message)
    params = {k: request.query_params.get(k, "") for k in ("severity", "table", "document")}
    shown = _filtered(items, params)
    if _wants_csv(request):
        return _csv(shown, site.rewrite(request))
    counts = Counter((x.severity, compact(x.shape)) for x in items)
    by_sev = Counter(x.severity for x in items)
    summary_rows = "".join(
        f'<tr><td><span class="sev-{attr(s)}">{esc(s)}</span></td><td>{esc(shape)}</td><td class="num">{n}</td></tr>'
        for (s, shape), n in sorted(
            counts.items(), key=lambda kv: (SEVERITIES.index(kv[0][0]) if kv[0][0] in SEVERITIES else 9, -kv[1])
        )
    )
    totals = " · ".join(f'<span class="sev-{attr(s)}">{by_sev[s]} {esc(s)}</span>' for s in SEVERITIES if by_sev[s])
    files = [
        f'<a href="/validation/{name}">{name}</a>'
        for name in ("report.ttl", "report.html")
        if (site.build.root / "validation" / name).is_file()
    ]
    tables = sorted({(x.table, x.table_label or x.table) for x in items if x.table}, key=lambda t: t[1] or "")
    docs = sorted({(x.budget, x.budget_label or x.budget) for x in items if x.budget}, key=lambda t: t[1] or "")

    def select(name: str, label: str, options: list[tuple[str, str]]) -> str:
        opts = '<option value="">all</option>' + "".join(
            f'<option value="{attr(val)}"{" selected" if params[name] == val else ""}>{esc(text)}</option>'
            for val, text in options
        )
        return f'<label>{esc(label)}<select name="{name}">{opts}</select></label>'

    form = (
        '<form class="filters" method="get" action="/validation">'
        + select("severity", "严重性 Severity", [(s, s) for s in SEVERITIES if by_sev[s]])
        + select("table", "表 Table", [(t or "", lab or "") for t, lab in tables])
        + select("document", "文件 Document", [(d or "", lab or "") for d, lab in docs])
        + '<button type="submit">筛选 Filter</button>'
        + f'<a href="/validation?{attr(urlencode({**params, "format": "csv"}))}">CSV</a></form>'
    )
    rows = []
    for x in shown[:MAX_SHOWN]:
        page = esc(x.page or "—")
        if x.page and x.sha and site.build.source_pdf(x.sha) is not None:
            page = f'<a href="/source/{attr(x.sha)}.pdf#page={attr(x.page)}">PDF p.{esc(x.page)}</a>'
        rows.append(
            "<tr>"
            f'<td><span class="sev-{attr(x.severity)}">{esc(x.severity)}</span></td>'
            f"<td>{esc(x.message)}</td>"
            f"<td>{link(site, x.focus, x.focus_label or None) if x.focus else ''}</td>"
            f"<td>{_value(site, x, render_term)}</td>"
            f"<td>{link(site, x.table, x.table_label) if x.table else '—'}</td>"
            f"<td>{page}</td>"
            f"<td>{esc(compact(x.shape))}</td></tr>"
        )
    more = (
        f'<p class="hint">Showing the first {MAX_SHOWN} of {len(shown)}; narrow the filters or download the CSV.</p>'
        if len(shown) > MAX_SHOWN
        else ""
    )
    body = (
        "<h1>校验结果 Validation results</h1>"
        + (f"<p>{len(items)} results: {totals}. " if items else "<p>No SHACL results: every check passed. ")
        + f"Rounding tolerance ±{esc(per)} per printed figure, as the build validated. {' · '.join(files)}</p>"
        + (
            '<h2>概要 Summary</h2><table class="data"><thead><tr><th>Severity</th><th>Check</th>'
            f'<th class="num">Results</th></tr></thead><tbody>{summary_rows}</tbody></table>'
            if items
            else ""
        )
        + _reading_html(reading_status(site))
        + (
            f"<h2>结果 Results ({len(shown)})</h2>{form}"
            '<table class="data validation"><thead><tr><th>Severity</th><th>Message</th><th>Focus</th>'
            "<th>Value</th><th>Table</th><th>Page</th><th>Check</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
            + more
            if items
            else ""
        )
    )
    return HTMLResponse(
        layout("Validation", body, site_title=site.config.title, crumbs=[("校验 Validation", None)]),
        headers={"Vary": "Accept", "Cache-Control": "no-cache"},
    )


def _value(site: Site, x: Result, render_term: Any) -> str:
    """The result's value: an amount with its unit, or a link named by the IRI's last segments."""
    if not x.value:
        return ""
    if x.value[0] == "uri":
        parts = [p for p in x.value[1].rstrip("/").split("/") if p]
        return render_term(site, x.value, "/".join(parts[-3:]))
    return render_term(site, x.value) + (" " + esc(x.unit) if x.unit else "")


def _csv(items: list[Result], rewrite: tuple[str, str] | None) -> Response:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["severity", "message", "focus", "value", "unit", "table", "document", "page", "check", "result"])

    def iri(value: str | None) -> str:
        if value and rewrite and value.startswith(rewrite[0]):
            return rewrite[1] + value[len(rewrite[0]) :]
        return value or ""

    for x in items:
        value = (iri(x.value[1]) if x.value[0] == "uri" else x.value[1]) if x.value else ""
        w.writerow(
            [
                x.severity,
                x.message,
                iri(x.focus),
                value,
                x.unit or "",
                iri(x.table),
                iri(x.budget),
                x.page or "",
                x.shape,
                iri(x.iri),
            ]
        )
    return Response(
        ("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=validation.csv", "Vary": "Accept"},
    )
