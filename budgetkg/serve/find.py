"""Finding things without SPARQL: search by name, and index pages of what a build holds.

A person looking for 热线 or 2010301 should get there in one step from any page (the search box
in the header) and be able to browse: ``/id/org/`` (departments, units, divisions), ``/id/
project/`` (every project with its amount, unit and year), ``/id/budget/`` and ``/def/code/``
(classification schemes, then the codes of one scheme with where they are used).

The search index is built once per build from ``queries/search-index.rq`` (a few thousand
labels for a department's budgets) and searched in the HTTP process: plain substring matching
on case-folded labels and notations, because Chinese names have no word boundaries a
tokenizer could rely on and every query term must simply occur.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from budgetkg.serve.markup import attr, esc, fmt_amount, layout, search_form, table, to_decimal
from budgetkg.serve.negotiation import prefers_html
from budgetkg.serve.site import Site
from budgetkg.serve.workers import PoolError

KIND_NAMES = {
    "department": "部门 Department",
    "unit": "单位 Unit",
    "division": "处室 Division",
    "organisation": "机构 Organisation",
    "project": "项目 Project",
    "budget": "预算 Budget",
    "table": "表 Table",
    "code": "科目 Code",
    "column": "列 Column",
}
MAX_HITS = 100
MAX_QUERY = 200


@dataclass(slots=True)
class Entry:
    """One findable resource: its kind (most specific), labels and notation."""

    iri: str
    kind: str
    rank: int
    labels: list[str] = field(default_factory=list)
    notation: str | None = None

    @property
    def label(self) -> str:
        zh = [x for x in self.labels if any("\u4e00" <= ch <= "\u9fff" for ch in x)]
        return (zh or self.labels or [self.iri])[0]

    def haystack(self) -> str:
        """Labels and notation, case-folded, once as printed and once without any spaces
        (PDF text puts spaces around digits: "广州 12345 政务服务" must match "12345政务")."""
        text = "\n".join([*self.labels, self.notation or ""]).casefold()
        return text + "\n" + "".join(text.split())


def _v(row: dict, key: str) -> str | None:
    t = row.get(key)
    return t[1] if t else None


async def entries(site: Site) -> list[Entry]:
    """The search index of the build (built on first use, then kept: the build is immutable)."""
    key = "find:entries"
    if key not in site.cache:
        rows = await site.cached_select("search-index")
        by_iri: dict[str, Entry] = {}
        for r in rows:
            iri = _v(r, "s") or ""
            rank = int(_v(r, "rank") or 99)
            e = by_iri.get(iri)
            if e is None or rank < e.rank:
                old = e
                e = by_iri[iri] = Entry(iri=iri, kind=_v(r, "kind") or "", rank=rank)
                if old is not None:
                    e.labels, e.notation = old.labels, old.notation
            label = _v(r, "label")
            if label and label not in e.labels:
                e.labels.append(label)
            if _v(r, "notation"):
                e.notation = _v(r, "notation")
        site.cache[key] = sorted(by_iri.values(), key=lambda e: (e.rank, e.label))
    return site.cache[key]


def search(index: list[Entry], text: str, limit: int = MAX_HITS) -> list[Entry]:
    """Entries whose labels or notation contain every whitespace-separated term of ``text``.

    Ordered by how well the best label matches (exact, then starts with the query, then
    contains it), then by kind (departments before codes) and label length.
    """
    terms = [t.casefold() for t in text.split() if t]
    if not terms:
        return []
    whole = " ".join(terms)
    scored: list[tuple[int, int, int, str, Entry]] = []
    for e in index:
        hay = e.haystack()
        if not all(t in hay for t in terms):
            continue
        names = [x.casefold() for x in [*e.labels, e.notation or ""] if x]
        if whole in names:
            score = 0
        elif any(n.startswith(whole) for n in names):
            score = 1
        else:
            score = 2
        scored.append((score, e.rank, len(e.label), e.label, e))
    scored.sort(key=lambda s: s[:4])
    return [s[4] for s in scored[:limit]]


@dataclass(frozen=True, slots=True)
class ProjectFacts:
    """What the project index knows about one project in one budget."""

    iri: str
    label: str
    unit: str | None
    unit_label: str | None
    budget: str | None
    year: str | None
    amount: Decimal | None
    currency: str
    target: str | None


async def projects(site: Site) -> list[ProjectFacts]:
    """Every project with amount (its largest printed figure), unit, year and budget."""
    rows = await site.cached_select("project-index")
    seen: dict[tuple[str, str], ProjectFacts] = {}
    for r in rows:
        iri = _v(r, "project") or ""
        key = (iri, _v(r, "b") or "")
        if key in seen:
            continue
        seen[key] = ProjectFacts(
            iri=iri,
            label=_v(r, "label") or iri.rsplit("/", 1)[-1],
            unit=_v(r, "unit"),
            unit_label=_v(r, "unitlabel"),
            budget=_v(r, "b"),
            year=_v(r, "year"),
            amount=to_decimal(_v(r, "total")) if _v(r, "total") else None,
            currency=_v(r, "currency") or "万元",
            target=_v(r, "target"),
        )
    return sorted(seen.values(), key=lambda p: (-(p.amount or Decimal(0)), p.label))


def _href(site: Site, iri: str) -> str:
    from budgetkg.serve.pages import href

    return href(site, iri)


def _a(site: Site, iri: str, label: str) -> str:
    return f'<a href="{attr(_href(site, iri))}">{esc(label)}</a>'


def _money(amount: Decimal | None, unit: str) -> str:
    if amount is None:
        return "—"
    return f'<span class="num">{esc(fmt_amount(amount))}</span> <span class="unit">{esc(unit)}</span>'


def _page(site: Site, title: str, body: str, crumbs: list[tuple[str, str | None]], query: str = "") -> Response:
    return HTMLResponse(
        layout(title, body, site_title=site.config.title, crumbs=crumbs, query=query),
        headers={"Vary": "Accept", "Cache-Control": "no-cache"},
    )


def _busy(site: Site, exc: PoolError) -> Response:
    from budgetkg.serve.pages import error_page

    return error_page(site, exc.status, "Busy", exc.message)


def _wants_json(request: Request) -> bool:
    fmt = request.query_params.get("format")
    if fmt:
        return fmt.lower() == "json"
    accept = request.headers.get("accept", "")
    return "json" in accept and not prefers_html(accept)


# --- /search ---------------------------------------------------------------------------------


async def search_page(request: Request) -> Response:
    """``/search?q=``: HTML for people, JSON for ``Accept: application/json`` (or format=json)."""
    site: Site = request.app.state.site
    text = (request.query_params.get("q") or "").strip()[:MAX_QUERY]
    try:
        index = await entries(site)
        facts = {p.iri: p for p in await projects(site)}
    except PoolError as exc:
        return _busy(site, exc)
    hits = search(index, text) if text else []
    if _wants_json(request):
        doc = {
            "query": text,
            "results": [
                {
                    "iri": e.iri,
                    "href": _href(site, e.iri),
                    "kind": e.kind,
                    "label": e.label,
                    "labels": e.labels,
                    **({"notation": e.notation} if e.notation else {}),
                    **(
                        {"amount": str(facts[e.iri].amount), "unit": facts[e.iri].currency}
                        if e.iri in facts and facts[e.iri].amount is not None
                        else {}
                    ),
                }
                for e in hits
            ],
        }
        body = json.dumps(doc, ensure_ascii=False, indent=1).encode()
        return Response(
            body, media_type="application/json; charset=utf-8", headers={"Vary": "Accept", "Cache-Control": "no-cache"}
        )
    parts = [f"<h1>搜索 Search</h1>{search_form(text, cls='search big')}"]
    if text and not hits:
        parts.append(
            f'<p class="hint">Nothing is called “{esc(text)}” in this build. Try a shorter word, a code '
            '(e.g. 2010301), or browse <a href="/id/org/">organisations</a>, <a href="/id/project/">projects</a>, '
            '<a href="/def/code/">codes</a>.</p>'
        )
    elif hits:
        more = " (first 100)" if len(hits) >= MAX_HITS else ""
        items = []
        for e in hits:
            extra = ""
            p = facts.get(e.iri)
            if p is not None:
                bits = [_money(p.amount, p.currency)] if p.amount is not None else []
                if p.unit_label:
                    bits.append(esc(p.unit_label))
                if p.year:
                    bits.append(f"{esc(p.year)} 年")
                extra = " · " + " · ".join(bits) if bits else ""
            name = f"{e.notation} {e.label}" if e.notation and e.notation not in e.label else e.label
            items.append(
                f'<li><span class="kind">{esc(KIND_NAMES.get(e.kind, e.kind))}</span> '
                f"{_a(site, e.iri, name)}{extra}</li>"
            )
        parts.append(f'<p>{len(hits)} result(s){more} for “{esc(text)}”.</p><ul class="hits">{"".join(items)}</ul>')
    return _page(site, f"搜索 {text}" if text else "搜索 Search", "".join(parts), [("搜索 Search", None)], text)


# --- index pages -----------------------------------------------------------------------------


async def org_index(request: Request) -> Response:
    """``/id/org/``: departments with their units and divisions, and the budgets they publish."""
    site: Site = request.app.state.site
    try:
        rows = await site.cached_select("org-index")
        index = {e.iri: e for e in await entries(site)}
    except PoolError as exc:
        return _busy(site, exc)
    orgs: dict[str, dict] = {}
    for r in rows:
        iri = _v(r, "org") or ""
        o = orgs.setdefault(iri, {"kind": _v(r, "kind"), "label": None, "parents": set(), "budgets": set()})
        if _v(r, "parent"):
            o["parents"].add(_v(r, "parent"))
        if _v(r, "b"):
            o["budgets"].add(_v(r, "b"))
        o["label"] = index[iri].label if iri in index else (_v(r, "label") or iri)
    children: dict[str, list[str]] = defaultdict(list)
    for iri, o in orgs.items():
        for p in o["parents"]:
            children[p].append(iri)
    tops = [i for i, o in orgs.items() if not (o["parents"] & orgs.keys())]
    body = ["<h1>单位 Organisations</h1>"]
    rank = {"department": 0, "unit": 1, "division": 2}

    def row(iri: str, depth: int) -> list[str]:
        o = orgs[iri]
        budgets = ", ".join(
            _a(site, b, index[b].label if b in index else b.rsplit("/", 3)[-2]) for b in sorted(o["budgets"])
        )
        name = _a(site, iri, o["label"])
        cells = [
            f'<span style="padding-left:{depth * 1.5:.1f}em">{name}</span>',
            esc(KIND_NAMES.get(o["kind"] or "", o["kind"] or "")),
            budgets or "—",
        ]
        out = [cells]
        for c in sorted(children.get(iri, []), key=lambda c: (rank.get(orgs[c]["kind"] or "", 9), orgs[c]["label"])):
            out += row(c, depth + 1)
        return out

    rows_html: list[list[str]] = []
    for iri in sorted(tops, key=lambda i: (rank.get(orgs[i]["kind"] or "", 9), orgs[i]["label"])):
        rows_html += row(iri, 0)
    body.append(table(["名称 Name", "类型 Kind", "预算 Budgets"], rows_html))
    return _page(site, "单位 Organisations", "".join(body), [("单位 Organisations", None)])


async def project_index(request: Request) -> Response:
    """``/id/project/``: every project with its amount, unit, year and budget, largest first."""
    site: Site = request.app.state.site
    try:
        facts = await projects(site)
        index = {e.iri: e for e in await entries(site)}
    except PoolError as exc:
        return _busy(site, exc)
    rows = []
    for p in facts:
        budget = _a(site, p.budget, index[p.budget].label if p.budget in index else p.budget) if p.budget else "—"
        rows.append(
            [
                _a(site, p.iri, p.label),
                f'<td class="num">{_money(p.amount, p.currency)}</td>',
                _a(site, p.unit, p.unit_label or p.unit) if p.unit else "—",
                esc(p.year or "—"),
                budget,
            ]
        )
    body = (
        f"<h1>项目 Projects</h1><p>{len(facts)} project(s) in this build; amount = the largest figure printed "
        "for the project (its total).</p>"
        + _table_raw(["项目 Project", "金额 Amount", "单位 Unit", "年度 Year", "预算 Budget"], rows)
    )
    return _page(site, "项目 Projects", body, [("项目 Projects", None)])


async def budget_index(request: Request) -> Response:
    """``/id/budget/``: every budget of the build, newest first, with the department."""
    site: Site = request.app.state.site
    try:
        rows = await site.cached_select("budgets")
    except PoolError as exc:
        return _busy(site, exc)
    seen: dict[str, list[str]] = {}
    for r in rows:
        b = _v(r, "b") or ""
        if b in seen:
            continue
        seen[b] = [
            _a(site, b, _v(r, "title") or b),
            esc(_v(r, "year") or "—"),
            _a(site, _v(r, "org") or "", _v(r, "orglabel") or "") if _v(r, "org") else "—",
        ]
    body = "<h1>预算 Budgets</h1>" + table(["预算 Budget", "年度 Year", "部门 Department"], list(seen.values()))
    return _page(site, "预算 Budgets", body, [("预算 Budgets", None)])


@dataclass(slots=True)
class CodeFacts:
    iri: str
    notation: str
    label: str
    scheme: str | None
    uses: int = 0
    by_org: dict[str, tuple[int, Decimal | None, str]] = field(default_factory=dict)


async def codes(site: Site) -> dict[str, CodeFacts]:
    """Classification codes under the build's base, with their use per organisation."""
    out: dict[str, CodeFacts] = {}
    for r in await site.cached_select("code-index"):
        iri = _v(r, "code") or ""
        scheme = _v(r, "scheme")
        if not scheme or not site.build.local_path(iri):
            continue  # columns and vocabulary concepts have notations too, but no code scheme
        c = out.setdefault(
            iri, CodeFacts(iri=iri, notation=_v(r, "notation") or "", label=_v(r, "label") or "", scheme=scheme)
        )
        uses = int(_v(r, "uses") or 0)
        c.uses += uses
        if _v(r, "org") and uses:
            c.by_org[_v(r, "org") or ""] = (uses, to_decimal(_v(r, "largest")), _v(r, "currency") or "万元")
    return out


async def code_index(request: Request) -> Response:
    """``/def/code/`` (schemes) and ``/def/code/<kind>/`` (the codes of one kind, by notation)."""
    site: Site = request.app.state.site
    kind = request.path_params.get("kind")
    try:
        facts = await codes(site)
        index = {e.iri: e for e in await entries(site)}
    except PoolError as exc:
        return _busy(site, exc)
    prefix = site.build.base_uri + "def/code/"
    kinds: dict[str, list[CodeFacts]] = defaultdict(list)
    for c in facts.values():
        rest = c.iri[len(prefix) :] if c.iri.startswith(prefix) else ""
        if "/" in rest:
            kinds[rest.split("/", 1)[0]].append(c)
    names = {"func": "支出功能分类 Functional classification", "econ": "支出经济分类 Economic classification"}
    if kind is None:
        rows = []
        for k in sorted(kinds):
            schemes = sorted({c.scheme for c in kinds[k] if c.scheme})
            rows.append(
                [
                    f'<a href="/def/code/{attr(quote(k))}/">{esc(names.get(k, k))}</a>',
                    f'<td class="num">{len(kinds[k])}</td>',
                    ", ".join(_a(site, s, index[s].label if s in index else s.rsplit("/", 1)[-1]) for s in schemes),
                ]
            )
        body = "<h1>科目 Classification codes</h1>" + _table_raw(
            ["分类 Classification", "编码数 Codes", "版本 Scheme"], rows
        )
        return _page(site, "科目 Codes", body, [("科目 Codes", None)])
    if kind not in kinds:
        from budgetkg.serve.pages import not_found_page

        return not_found_page(site, request.url.path)
    orgs = {o for c in kinds[kind] for o in c.by_org}
    org_names = {o: (index[o].label if o in index else o.rsplit("/", 1)[-1]) for o in orgs}
    order = sorted(orgs, key=lambda o: org_names[o])
    rows = []
    for c in sorted(kinds[kind], key=lambda c: c.notation):
        depth = {3: 0, 5: 1, 7: 2}.get(len(c.notation), 0)
        cells = [
            f'<span style="padding-left:{depth * 1.2:.1f}em">{_a(site, c.iri, c.notation)}</span>',
            esc(c.label),
        ]
        for o in order:
            use = c.by_org.get(o)
            cells.append(f'<td class="num">{_money(use[1], use[2]) if use else "—"}</td>')
        rows.append(cells)
    heads = ["编码 Code", "名称 Name", *[f"{esc(org_names[o])} (largest amount)" for o in order]]
    body = (
        f"<h1>{esc(names.get(kind, kind))}</h1><p>{len(kinds[kind])} code(s). For each department: the largest "
        "amount printed under the code (any table, any column); open a code for every figure.</p>"
        + _table_raw(heads, rows)
    )
    return _page(site, names.get(kind, kind), body, [("科目 Codes", "/def/code/"), (names.get(kind, kind), None)])


def _table_raw(headers: list[str], rows: list[list[str]]) -> str:
    """Like markup.table, but a cell that is already a ``<td …>`` element is kept as it is."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
