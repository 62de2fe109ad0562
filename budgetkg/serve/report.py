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
from starlette.responses import Response

from budgetkg.serve import templating
from budgetkg.serve.markup import compact, fmt_amount
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


def _reading_view(data: Any) -> dict[str, Any] | None:
    """reading.json for the template: a list of records as a table, anything else as text."""
    if data is None:
        return None
    records = data.get("documents", data) if isinstance(data, dict) else data
    if isinstance(records, dict):
        records = [{"document": k, **(v if isinstance(v, dict) else {"status": v})} for k, v in records.items()]
    if not isinstance(records, list) or not all(isinstance(x, dict) for x in records):
        return {"columns": [], "records": [], "text": json.dumps(data, ensure_ascii=False, indent=1)[:5000]}
    keys: list[str] = []
    for rec in records:
        for k, val in rec.items():
            if k not in keys and not isinstance(val, dict | list):
                keys.append(k)
    return {"columns": keys, "records": records, "text": ""}


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
    from budgetkg.serve.pages import error_page, figure_tolerance, href

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
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    summary = [
        {"severity": sev, "check": check, "count": n}
        for (sev, check), n in sorted(counts.items(), key=lambda kv: (rank.get(kv[0][0], 9), -kv[1]))
    ]
    tables = sorted({(x.table, x.table_label or x.table) for x in items if x.table}, key=lambda t: t[1] or "")
    docs = sorted({(x.budget, x.budget_label or x.budget) for x in items if x.budget}, key=lambda t: t[1] or "")
    filters = [
        {"name": "severity", "label": "严重性 Severity", "options": [(s, s) for s in SEVERITIES if by_sev[s]]},
        {"name": "table", "label": "表 Table", "options": tables},
        {"name": "document", "label": "文件 Document", "options": docs},
    ]
    for f in filters:
        f["selected"] = params[f["name"]]
    rows = []
    for x in shown[:MAX_SHOWN]:
        value_href = value_text = None
        if x.value:
            if x.value[0] == "uri":
                value_href = href(site, x.value[1])
                value_text = "/".join([p for p in x.value[1].rstrip("/").split("/") if p][-3:])
            else:
                value_text = fmt_amount(x.value[1]) if x.unit else x.value[1]
        rows.append(
            {
                "severity": x.severity,
                "message": x.message,
                "focus_href": href(site, x.focus) if x.focus else None,
                "focus_label": x.focus_label or compact(x.focus),
                "value_href": value_href,
                "value_text": value_text or "",
                "unit": x.unit if x.value and x.value[0] != "uri" else None,
                "table_href": href(site, x.table) if x.table else None,
                "table_label": x.table_label or x.table,
                "page": x.page,
                "pdf_href": f"/source/{x.sha}.pdf#page={x.page}"
                if x.page and x.sha and site.build.source_pdf(x.sha) is not None
                else None,
                "check": compact(x.shape),
            }
        )
    return templating.page(
        "validation.html",
        title="Validation",
        site_title=site.config.title,
        crumbs=[("校验 Validation", None)],
        total=len(items),
        severities=[{"name": s, "count": by_sev[s]} for s in SEVERITIES if by_sev[s]],
        tolerance=per,
        files=[n for n in ("report.ttl", "report.html") if (site.build.root / "validation" / n).is_file()],
        summary=summary,
        reading=_reading_view(reading_status(site)),
        filters=filters,
        csv_href="/validation?" + urlencode({**params, "format": "csv"}),
        shown=rows if len(shown) <= MAX_SHOWN else rows + [None] * (len(shown) - MAX_SHOWN),
        max_shown=MAX_SHOWN,
    )


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
