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
from starlette.responses import Response

from budgetkg.serve import templating
from budgetkg.serve.markup import to_decimal
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


def _label(index: dict[str, Entry], iri: str) -> str:
    e = index.get(iri)
    return e.label if e else iri.rstrip("/").rsplit("/", 1)[-1]


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
    shown = []
    for e in hits:
        p = facts.get(e.iri)
        shown.append(
            {
                "kind": KIND_NAMES.get(e.kind, e.kind),
                "href": _href(site, e.iri),
                "name": f"{e.notation} {e.label}" if e.notation and e.notation not in e.label else e.label,
                "amount": p.amount if p else None,
                "unit": p.currency if p else "",
                "owner": p.unit_label if p else None,
                "year": p.year if p else None,
            }
        )
    return templating.page(
        "search.html",
        title=f"搜索 {text}" if text else "搜索 Search",
        site_title=site.config.title,
        crumbs=[("搜索 Search", None)],
        query=text,
        hits=shown,
        max_hits=MAX_HITS,
    )


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
        o = orgs.setdefault(iri, {"kind": _v(r, "kind") or "", "parents": set(), "budgets": set()})
        if _v(r, "parent"):
            o["parents"].add(_v(r, "parent"))
        if _v(r, "b"):
            o["budgets"].add(_v(r, "b"))
        o["label"] = index[iri].label if iri in index else (_v(r, "label") or iri)
    children: dict[str, list[str]] = defaultdict(list)
    for iri, o in orgs.items():
        for p in o["parents"]:
            children[p].append(iri)
    rank = {"department": 0, "unit": 1, "division": 2}

    def order(iris: list[str]) -> list[str]:
        return sorted(iris, key=lambda i: (rank.get(orgs[i]["kind"], 9), orgs[i]["label"]))

    shown: list[dict] = []

    def walk(iri: str, depth: int, seen: frozenset[str]) -> None:
        o = orgs[iri]
        shown.append(
            {
                "href": _href(site, iri),
                "label": o["label"],
                "kind": KIND_NAMES.get(o["kind"], o["kind"]),
                "depth": depth,
                "budgets": [{"href": _href(site, b), "label": _label(index, b)} for b in sorted(o["budgets"])],
            }
        )
        for c in order(children.get(iri, [])):
            if c not in seen:
                walk(c, depth + 1, seen | {c})

    for iri in order([i for i, o in orgs.items() if not (o["parents"] & orgs.keys())]):
        walk(iri, 0, frozenset({iri}))
    return templating.page(
        "orgs.html",
        title="单位 Organisations",
        site_title=site.config.title,
        crumbs=[("单位 Organisations", None)],
        orgs=shown,
    )


async def project_index(request: Request) -> Response:
    """``/id/project/``: every project with its amount, unit, year and budget, largest first."""
    site: Site = request.app.state.site
    try:
        facts = await projects(site)
        index = {e.iri: e for e in await entries(site)}
    except PoolError as exc:
        return _busy(site, exc)
    shown = [
        {
            "href": _href(site, p.iri),
            "label": p.label,
            "amount": p.amount,
            "currency": p.currency,
            "unit_href": _href(site, p.unit) if p.unit else None,
            "unit_label": p.unit_label or (p.unit or ""),
            "year": p.year,
            "budget_href": _href(site, p.budget) if p.budget else None,
            "budget_label": _label(index, p.budget) if p.budget else None,
        }
        for p in facts
    ]
    return templating.page(
        "projects.html",
        title="项目 Projects",
        site_title=site.config.title,
        crumbs=[("项目 Projects", None)],
        projects=shown,
    )


async def budget_index(request: Request) -> Response:
    """``/id/budget/``: every budget of the build, newest first, with the department."""
    site: Site = request.app.state.site
    try:
        rows = await site.cached_select("budgets")
    except PoolError as exc:
        return _busy(site, exc)
    from budgetkg.serve.pages import pick_label

    grouped: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        grouped[_v(r, "b") or ""].append(r)
    seen: dict[str, dict] = {}
    for b, group in grouped.items():
        org = _v(group[0], "org")
        titles = list(dict.fromkeys(r["title"] for r in group if "title" in r))
        orgs = list(dict.fromkeys(r["orglabel"] for r in group if "orglabel" in r))
        seen[b] = {
            "href": _href(site, b),
            "label": pick_label(titles, "zh") or b,  # the Chinese title, as printed
            "year": _v(group[0], "year"),
            "org_href": _href(site, org) if org else None,
            "org_label": pick_label(orgs, "zh") or org,
        }
    return templating.page(
        "budgets.html",
        title="预算 Budgets",
        site_title=site.config.title,
        crumbs=[("预算 Budgets", None)],
        budgets=list(seen.values()),
    )


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


CODE_KIND_NAMES = {"func": "支出功能分类 Functional classification", "econ": "支出经济分类 Economic classification"}


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
    if kind is None:
        shown = [
            {
                "href": f"/def/code/{quote(k)}/",
                "name": CODE_KIND_NAMES.get(k, k),
                "count": len(kinds[k]),
                "schemes": [
                    {"href": _href(site, s), "label": _label(index, s)}
                    for s in sorted({c.scheme for c in kinds[k] if c.scheme})
                ],
            }
            for k in sorted(kinds)
        ]
        return templating.page(
            "code_kinds.html",
            title="科目 Codes",
            site_title=site.config.title,
            crumbs=[("科目 Codes", None)],
            kinds=shown,
        )
    if kind not in kinds:
        from budgetkg.serve.pages import not_found_page

        return not_found_page(site, request.url.path)
    orgs = sorted({o for c in kinds[kind] for o in c.by_org}, key=lambda o: _label(index, o))
    shown_codes = []
    for c in sorted(kinds[kind], key=lambda c: c.notation):
        uses = []
        for o in orgs:
            use = c.by_org.get(o)
            uses.append({"amount": use[1], "unit": use[2]} if use else None)
        shown_codes.append(
            {
                "href": _href(site, c.iri),
                "notation": c.notation,
                "label": c.label,
                "depth": {3: 0, 5: 1, 7: 2}.get(len(c.notation), 0),
                "uses": uses,
            }
        )
    name = CODE_KIND_NAMES.get(kind, kind)
    return templating.page(
        "codes.html",
        title=name,
        site_title=site.config.title,
        crumbs=[("科目 Codes", "/def/code/"), (name, None)],
        name=name,
        orgs=[{"label": _label(index, o)} for o in orgs],
        codes=shown_codes,
    )
