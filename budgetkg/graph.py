"""Stage 4: Documents → RDF (Data Cube observations, W3C ORG, SKOS code lists, PROV).

IRIs are minted from what things are (organisation, year, code, project name, column), never
from row numbers or build order, so the same department/year/code/project gets the same IRI
in every build and next year's budget links up with this one. See docs/design.md.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Triple

from budgetkg.mapping import Mappings, load_mappings, normalise_title, squash
from budgetkg.model import TEXT_LAYER, Document, Row, RowKind, Side, Table

ONTOLOGY_DIR = Path(__file__).resolve().parent.parent / "ontology"

BK = "https://w3id.org/budgetkg/def#"
QB = "http://purl.org/linked-data/cube#"
SDMX_ATTR = "http://purl.org/linked-data/sdmx/2009/attribute#"
ORG = "http://www.w3.org/ns/org#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
PROV = "http://www.w3.org/ns/prov#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
DCT = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
CNY = "http://qudt.org/vocab/unit/CCY_CNY"

PREFIXES = {
    "bk": BK,
    "qb": QB,
    "sdmx-attribute": SDMX_ATTR,
    "org": ORG,
    "skos": SKOS,
    "prov": PROV,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "dct": DCT,
    "foaf": FOAF,
    "dcat": "http://www.w3.org/ns/dcat#",
    "void": "http://rdfs.org/ns/void#",
    "sh": "http://www.w3.org/ns/shacl#",
}

SCHEMES = {"functional": "func", "economic": "econ"}
MULTIPLIER = {"元": 0, "千元": 3, "万元": 4, "亿元": 8}
ORDINAL = re.compile(
    r"^(?:其中[：:])?\s*(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+[.、．])\s*"
)
_IRI_UNSAFE = re.compile(r'[\x00-\x20<>"{}|\\^`/?#%\[\]]')


def iri_segment(text: str) -> str:
    """A readable IRI path segment: Chinese kept, IRI-reserved characters percent-encoded."""
    text = squash(text)
    return _IRI_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode()), text) or "_"


def nn(iri: str) -> NamedNode:
    return NamedNode(iri)


def lit(value: str, lang: str | None = None) -> Literal:
    return Literal(value, language=lang) if lang else Literal(value)


def typed(value: object, datatype: str) -> Literal:
    return Literal(str(value), datatype=NamedNode(XSD + datatype))


def decimal_literal(value: Decimal) -> Literal:
    return Literal(format(value, "f"), datatype=NamedNode(XSD + "decimal"))


A = nn(RDF + "type")


@dataclass(frozen=True)
class CodeEntry:
    notation: str
    label_zh: str
    label_en: str
    parent: str


@cache
def code_list(scheme: str) -> dict[str, CodeEntry]:
    """The national code list shipped in ontology/codelists/ ({functional,economic}.csv)."""
    path = ONTOLOGY_DIR / "codelists" / f"{scheme}.csv"
    if not path.exists():
        return {}
    out: dict[str, CodeEntry] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            notation = row["notation"].strip()
            out[notation] = CodeEntry(
                notation,
                row.get("label_zh", "").strip(),
                row.get("label_en", "").strip(),
                row.get("parent", "").strip(),
            )
    return out


@cache
def _label_index(scheme: str) -> dict[str, list[str]]:
    """Squashed zh label → notations carrying it, in code-list order (for resolve_name)."""
    index: dict[str, list[str]] = {}
    for entry in code_list(scheme).values():
        index.setdefault(squash(entry.label_zh), []).append(entry.notation)
    return index


def parent_code(code: str) -> str | None:
    return code[:-2] if len(code) > 3 else None


def code_level(code: str) -> int:
    return {3: 1, 5: 2, 7: 3}.get(len(code), 0)


def _formal_organisation(node: NamedNode, kind: str) -> Iterator[Triple]:
    """A department and a subordinate unit are both legal entities (org:FormalOrganization)."""
    yield Triple(node, A, nn(ORG + "Organization"))
    yield Triple(node, A, nn(ORG + "FormalOrganization"))
    yield Triple(node, A, nn(BK + kind))


@dataclass
class Dataset:
    """One named graph: its IRI, the document it came from (None: reference data), triples."""

    graph: str
    document: Document | None
    triples: list[Triple] = field(default_factory=list)


class GraphBuilder:
    def __init__(self, base_uri: str, mappings: Mappings | None = None) -> None:
        self.base = base_uri if base_uri.endswith("/") else base_uri + "/"
        self.mappings = mappings or load_mappings()
        self.reference_graph = self.base + "graph/reference"
        self.validation_graph = self.base + "graph/validation"
        self._concepts: dict[tuple[str, str], str] = {}  # (scheme, code) → first printed label
        self._scheme_years: set[tuple[str, int]] = set()
        self._columns: dict[str, tuple[str, ...]] = {}
        self._kinds: dict[str, tuple[str, str]] = {}
        self._names: dict[str, dict[int, str]] = {}  # org key → year → printed name
        self._org_iris: dict[str, str] = {}

    # --- IRIs ------------------------------------------------------------------------------

    def org_key(self, name: str) -> str:
        return self.mappings.org_key(name)

    def org_iri(self, name: str) -> str:
        iri = self._org_iris.get(name)
        if iri is None:  # asked for every observation: worth remembering
            iri = self._org_iris[name] = f"{self.base}id/org/{iri_segment(self.org_key(name))}"
        return iri

    def budget_iri(self, doc: Document) -> str:
        return f"{self.base}id/budget/{iri_segment(self.org_key(doc.department))}/{doc.year}/{doc.phase}"

    def doc_id(self, doc: Document) -> str:
        return f"{self.org_key(doc.department)}-{doc.year}-{doc.phase}"

    def document_graph(self, doc: Document) -> str:
        return f"{self.base}graph/{iri_segment(self.doc_id(doc))}"

    def source_iri(self, doc: Document) -> str:
        return f"{self.base}id/source/{doc.source.sha256[:16]}"

    def table_iri(self, doc: Document, table: Table) -> str:
        key = table.kind if table.kind != "unknown" else f"t-{iri_segment(normalise_title(table.title))}"
        return f"{self.budget_iri(doc)}/table/{key}"

    def concept_iri(self, scheme: str, code: str) -> str:
        return f"{self.base}def/code/{SCHEMES[scheme]}/{code}"

    def scheme_iri(self, scheme: str, year: int) -> str:
        return f"{self.base}def/code/{SCHEMES[scheme]}/{year}"

    def column_iri(self, key: str) -> str:
        return f"{self.base}def/column/{iri_segment(key)}"

    def kind_iri(self, kind: str) -> str:
        return f"{self.base}def/table-kind/{iri_segment(kind)}"

    def project_iri(self, unit: str, name: str) -> str:
        return f"{self.base}id/project/{iri_segment(self.org_key(unit))}/{iri_segment(name)}"

    # --- building ---------------------------------------------------------------------------

    def build(self, documents: Iterable[Document]) -> list[Dataset]:
        datasets = [self.document_dataset(doc) for doc in documents]
        return [self.reference_dataset(), *datasets]

    def document_dataset(self, doc: Document) -> Dataset:
        """One document's named graph. Documents must come in build order (the reference data
        keeps the first printed label of a code); a corpus build adds them one by one as they
        are parsed, then asks for the reference once all are in."""
        self._names.setdefault(self.org_key(doc.department), {})[doc.year] = doc.department
        return Dataset(self.document_graph(doc), doc, list(self._document(doc)))

    def reference_dataset(self) -> Dataset:
        """Ontology, code lists, columns and renamings for every document added so far."""
        return Dataset(self.reference_graph, None, list(self._reference()))

    def _document(self, doc: Document) -> Iterator[Triple]:
        budget = nn(self.budget_iri(doc))
        source = nn(self.source_iri(doc))
        dept = nn(self.org_iri(doc.department))
        year = typed(doc.year, "gYear")
        phase = nn(BK + ("Executed" if doc.phase == "final" else "Approved"))
        yield from self._source(doc, source)
        yield from self._organisations(doc, dept)
        title = f"{doc.department}{doc.year}年部门{doc.kind}"
        yield Triple(budget, A, nn(QB + "DataSet"))
        yield Triple(budget, A, nn(BK + "Budget"))
        yield Triple(budget, nn(QB + "structure"), nn(BK + "BudgetDSD"))
        yield Triple(budget, nn(DCT + "title"), lit(title, "zh"))
        yield Triple(budget, nn(RDFS + "label"), lit(title, "zh"))
        en = f"{doc.year} {'final accounts' if doc.phase == 'final' else 'budget'} of {self.org_key(doc.department)}"
        yield Triple(budget, nn(RDFS + "label"), lit(en, "en"))
        yield Triple(budget, nn(BK + "organisation"), dept)
        yield Triple(budget, nn(BK + "fiscalYear"), year)
        yield Triple(budget, nn(BK + "budgetPhase"), phase)
        yield Triple(budget, nn(BK + "documentKind"), lit(doc.kind, "zh"))
        yield Triple(budget, nn(PROV + "wasDerivedFrom"), source)
        for text in doc.prose.explanations:
            yield Triple(budget, nn(BK + "explanation"), lit(text, "zh"))
        for entry in doc.prose.glossary:
            term = nn(f"{self.budget_iri(doc)}/glossary/{iri_segment(entry.term)}")
            yield Triple(budget, nn(BK + "glossary"), term)
            yield Triple(term, A, nn(BK + "GlossaryTerm"))
            yield Triple(term, A, nn(SKOS + "Concept"))
            yield Triple(term, nn(SKOS + "prefLabel"), lit(entry.term, "zh"))
            yield Triple(term, nn(SKOS + "definition"), lit(entry.definition, "zh"))
        projects = self._project_index(doc)
        for table in doc.tables:
            yield from self._table(doc, table, budget, source, year, phase, projects)

    def _source(self, doc: Document, source: NamedNode) -> Iterator[Triple]:
        yield Triple(source, A, nn(BK + "SourceDocument"))
        yield Triple(source, A, nn(PROV + "Entity"))
        yield Triple(source, A, nn(FOAF + "Document"))
        yield Triple(source, nn(BK + "fileName"), lit(doc.source.name))
        yield Triple(source, nn(RDFS + "label"), lit(doc.source.name))
        yield Triple(source, nn(BK + "sha256"), lit(doc.source.sha256))
        yield Triple(source, nn(BK + "pageCount"), typed(doc.source.page_count, "integer"))
        yield Triple(source, nn(DCT + "format"), lit("application/pdf"))

    def _organisations(self, doc: Document, dept: NamedNode) -> Iterator[Triple]:
        yield from _formal_organisation(dept, "Department")
        # skos:prefLabel (the latest name) is stated once, in the reference graph: see _renamings
        yield Triple(dept, nn(RDFS + "label"), lit(doc.department, "zh"))
        dated = nn(f"{self.org_iri(doc.department)}/name/{doc.year}")
        yield Triple(dept, nn(BK + "nameInYear"), dated)
        yield Triple(dated, A, nn(BK + "DatedName"))
        yield Triple(dated, nn(RDFS + "label"), lit(doc.department, "zh"))
        yield Triple(dated, nn(BK + "year"), typed(doc.year, "gYear"))
        for duty in doc.prose.duties:
            yield Triple(dept, nn(BK + "mainDuty"), lit(duty, "zh"))
        for division in doc.prose.divisions:
            unit = nn(f"{self.org_iri(doc.department)}/division/{iri_segment(division)}")
            yield Triple(unit, A, nn(ORG + "OrganizationalUnit"))
            yield Triple(unit, A, nn(BK + "Division"))
            yield Triple(unit, nn(SKOS + "prefLabel"), lit(division, "zh"))
            yield Triple(unit, nn(RDFS + "label"), lit(division, "zh"))
            yield Triple(unit, nn(ORG + "unitOf"), dept)
            yield Triple(dept, nn(ORG + "hasUnit"), unit)
        units = set(doc.prose.subordinate_units)
        for table in doc.tables:
            units.update(r.label for r in table.rows if r.kind is RowKind.UNIT)
            units.update(r.unit for r in table.rows if r.unit)
        for name in sorted(squash(u) for u in units):
            if self.org_key(name) == self.org_key(doc.department):
                continue
            unit = nn(self.org_iri(name))
            yield from _formal_organisation(unit, "SubordinateUnit")
            yield Triple(unit, nn(SKOS + "prefLabel"), lit(name, "zh"))
            yield Triple(unit, nn(RDFS + "label"), lit(name, "zh"))
            yield Triple(unit, nn(ORG + "subOrganizationOf"), dept)
            yield Triple(dept, nn(ORG + "hasSubOrganization"), unit)

    def _project_index(self, doc: Document) -> dict[str, tuple[str, str]]:
        """Project name → (unit, name as listed), from the by-unit project tables: the key
        projects table names no unit and often words a project slightly differently."""
        index: dict[str, tuple[str, str]] = {}
        for table in doc.tables:
            for row in table.rows:
                if row.kind is RowKind.PROJECT and row.parent_label:
                    index.setdefault(squash(row.label), (row.unit, row.label))
        return index

    @staticmethod
    def _match_project(name: str, index: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
        """The listed project a key-project row means: same name, or the same once a trailing
        项目 and year suffix such as （2023） are ignored, or the only listed name containing it."""
        if squash(name) in index:
            return index[squash(name)]

        def core(text: str) -> str:
            text = re.sub(r"[(（]\d{4}[)）]$", "", squash(text))
            return text.removesuffix("项目")

        wanted = core(name)
        same = [v for k, v in index.items() if core(k) == wanted]
        if len(same) == 1:
            return same[0]
        containing = [v for k, v in index.items() if len(wanted) >= 8 and (wanted in core(k) or core(k) in wanted)]
        return containing[0] if len(containing) == 1 else None

    def _table(
        self,
        doc: Document,
        table: Table,
        budget: NamedNode,
        source: NamedNode,
        year: Literal,
        phase: NamedNode,
        projects: dict[str, tuple[str, str]],
    ) -> Iterator[Triple]:
        table_node = nn(self.table_iri(doc, table))
        self._kinds.setdefault(table.kind, (normalise_title(table.title), ""))
        yield Triple(table_node, A, nn(BK + "BudgetTable"))
        yield Triple(table_node, nn(RDFS + "label"), lit(normalise_title(table.title), "zh"))
        yield Triple(table_node, nn(BK + "tableNumber"), typed(table.number, "integer"))
        yield Triple(table_node, nn(BK + "tableKind"), nn(self.kind_iri(table.kind)))
        yield Triple(table_node, nn(BK + "budget"), budget)
        yield Triple(table_node, nn(BK + "currencyUnit"), lit(table.currency_unit, "zh"))
        yield Triple(table_node, nn(PROV + "wasDerivedFrom"), source)
        for page in table.pages:
            yield Triple(table_node, nn(BK + "page"), typed(page, "integer"))
        spec = self.mappings.by_kind(table.kind)
        if spec is not None and spec.layout in ("coded", "by-unit"):
            yield Triple(table_node, nn(BK + "expectsTotalRow"), typed("true", "boolean"))
        yield from self._sum_rules(table, table_node)
        quantities = spec.quantities if spec is not None else {}
        mult = MULTIPLIER.get(table.currency_unit, 0)
        scheme = table.code_scheme if table.code_scheme in SCHEMES else None
        if scheme:
            self._scheme_years.add((scheme, doc.year))
        seen: dict[str, int] = {}
        for row in table.rows:
            concept, concept_scheme = self._row_concept(row, table, scheme, doc.year)
            project = None
            if row.kind is RowKind.PROJECT:
                listed = None if row.parent_label else self._match_project(row.label, projects)
                unit, name = listed if listed else (row.unit, row.label)
                project = self.project_iri(unit, name)
                yield from self._project(project, row, unit, source, listed=row.parent_label is not None or not listed)
            key = self._row_key(row, concept_scheme)
            n = seen.get(key, 0) + 1
            seen[key] = n
            if n > 1:
                key = f"{key}~{n}"
            for amount in row.amounts:
                obs = nn(
                    f"{self.budget_iri(doc)}/obs/{iri_segment(table.kind)}/{key}/{iri_segment(amount.measure_key)}"
                )
                yield Triple(obs, A, nn(QB + "Observation"))
                yield Triple(obs, nn(QB + "dataSet"), budget)
                yield Triple(obs, nn(BK + "budget"), budget)
                yield Triple(obs, nn(BK + "table"), table_node)
                yield Triple(obs, nn(BK + "organisation"), nn(self.org_iri(row.unit)))
                yield Triple(obs, nn(BK + "fiscalYear"), year)
                yield Triple(obs, nn(BK + "budgetPhase"), phase)
                if concept is not None:
                    prop = "functionalClassification" if concept_scheme == "functional" else "economicClassification"
                    yield Triple(obs, nn(BK + prop), nn(concept))
                else:
                    yield Triple(obs, nn(BK + "item"), lit(squash(row.label)))
                if project is not None:
                    yield Triple(obs, nn(BK + "project"), nn(project))
                column = self._column(amount.measure_key, amount.measure)
                yield Triple(obs, nn(BK + "column"), nn(column))
                yield Triple(obs, nn(BK + "columnLabel"), lit(" / ".join(amount.measure), "zh"))
                if row.side is not None:
                    yield Triple(
                        obs, nn(BK + "side"), nn(BK + ("Income" if row.side is Side.INCOME else "Expenditure"))
                    )
                yield Triple(obs, nn(BK + "amount"), decimal_literal(amount.value))
                yield Triple(obs, nn(BK + "amountInYuan"), decimal_literal(amount.value.scaleb(mult)))
                yield Triple(obs, nn(SDMX_ATTR + "unitMeasure"), nn(CNY))
                yield Triple(obs, nn(SDMX_ATTR + "unitMult"), typed(mult, "integer"))
                yield Triple(obs, nn(BK + "currencyUnit"), lit(table.currency_unit, "zh"))
                yield Triple(
                    obs,
                    nn(BK + "isTotal"),
                    typed("true" if row.kind in (RowKind.TOTAL, RowKind.UNIT) else "false", "boolean"),
                )
                yield Triple(obs, nn(BK + "rowKind"), lit(row.kind.value))
                if row.kind is RowKind.ITEM and row.parent_label:
                    yield Triple(obs, nn(BK + "isSubItem"), typed("true", "boolean"))
                yield Triple(obs, nn(BK + "rowLabel"), lit(row.label, "zh"))
                yield Triple(obs, nn(BK + "rowIndex"), typed(row.index, "integer"))
                for page in row.pages:
                    yield Triple(obs, nn(BK + "page"), typed(page, "integer"))
                yield Triple(obs, nn(BK + "firstPage"), typed(row.pages[0], "integer"))
                yield Triple(obs, nn(PROV + "wasDerivedFrom"), source)
                if amount.blank:
                    yield Triple(obs, nn(BK + "printedBlank"), typed("true", "boolean"))
                if amount.confidence is not None or amount.extracted_by != TEXT_LAYER:  # an OCR'd figure (issue 15)
                    yield Triple(obs, nn(BK + "extractedBy"), lit(amount.extracted_by))
                    confidence = Decimal(f"{amount.confidence or 0:.1f}")
                    yield Triple(obs, nn(BK + "ocrConfidence"), decimal_literal(confidence))
                quantity = quantities.get(amount.measure_key)
                if quantity and (row.kind is RowKind.TOTAL and row.side is None or concept is not None):
                    code = concept.rsplit("/", 1)[-1] if concept else "total"
                    yield Triple(obs, nn(BK + "quantity"), lit(quantity))
                    qkey = f"{quantity}|{code}|{self.org_key(row.unit)}"
                    yield Triple(obs, nn(BK + "quantityKey"), lit(qkey))

    def _sum_rules(self, table: Table, table_node: NamedNode) -> Iterator[Triple]:
        """Which columns of a row add up to which total column, from the header paths:
        a total (合计/小计/总计) sums its siblings; a top-level total sums each top-level
        column or group (through the group's own subtotal where it prints one)."""
        if not table.rows or table.rows[0].side is not None:
            return
        amounts = {a.measure_key: a.measure for r in table.rows for a in r.amounts}
        is_total = {k: bool((c := self.mappings.column(p[-1])) and c.total) for k, p in amounts.items()}
        for key, path in amounts.items():
            if not is_total[key]:
                continue
            group = path[:-1]
            if group:
                parts = [k for k, p in amounts.items() if p[:-1] == group and not is_total[k]]
            else:
                parts = []
                for k, p in amounts.items():
                    if k == key or (len(p) == 1 and is_total[k]):
                        continue
                    if len(p) == 1:
                        parts.append(k)
                        continue
                    subtotal = next((k2 for k2, p2 in amounts.items() if p2[:-1] == p[:-1] and is_total[k2]), None)
                    if subtotal is None:
                        parts.append(k)
                    elif subtotal not in parts:
                        parts.append(subtotal)
            if len(parts) < 1:
                continue
            rule = nn(f"{table_node.value}/rule/{iri_segment(key)}")
            yield Triple(rule, A, nn(BK + "ColumnSumRule"))
            yield Triple(rule, nn(BK + "ruleTable"), table_node)
            yield Triple(rule, nn(BK + "totalColumn"), nn(self._column(key, path)))
            for part in sorted(parts):
                yield Triple(rule, nn(BK + "partColumn"), nn(self._column(part, amounts[part])))

    def _row_concept(self, row: Row, table: Table, scheme: str | None, year: int) -> tuple[str | None, str | None]:
        if row.code and scheme:
            self._concepts.setdefault((scheme, row.code), squash(row.label))
            return self.concept_iri(scheme, row.code), scheme
        if row.kind is RowKind.ITEM and (
            table.code_scheme == "functional-class-names" and row.side is Side.EXPENDITURE
        ):
            code = self.resolve_name("functional", row.label, level=1)
            if code:
                self._scheme_years.add(("functional", year))
                self._concepts.setdefault(("functional", code), ORDINAL.sub("", squash(row.label)))
                return self.concept_iri("functional", code), "functional"
        if row.kind in (RowKind.ITEM, RowKind.CLASS) and scheme and not row.code:
            code = self.resolve_name(scheme, row.label)
            if code:
                return self.concept_iri(scheme, code), scheme
        return None, None

    def resolve_name(self, scheme: str, label: str, level: int | None = None) -> str | None:
        """A name printed without its code → the code, through the national code list."""
        name = ORDINAL.sub("", squash(label))
        matches = [n for n in _label_index(scheme).get(name, ()) if level is None or code_level(n) == level]
        return matches[0] if len(matches) == 1 else None

    def _row_key(self, row: Row, concept_scheme: str | None) -> str:
        label = iri_segment(ORDINAL.sub("", squash(row.label)) or row.label)
        if row.code:
            base = row.code
        elif row.kind is RowKind.TOTAL:
            base = f"total-{label}"
        else:
            base = label
        if row.side is not None:
            base = f"{row.side.value}-{base}"
        if row.kind in (RowKind.CATEGORY, RowKind.PROJECT) and row.parent_label:
            base = f"{iri_segment(self.org_key(row.unit))}/{base}"
        elif row.kind is RowKind.UNIT:
            base = f"{iri_segment(self.org_key(row.unit))}/subtotal"
        return base

    def _project(
        self, project: str, row: Row, unit: str, source: NamedNode, listed: bool = True
    ) -> Iterator[Triple]:
        node = nn(project)
        yield Triple(node, A, nn(BK + "Project"))
        # the name as listed in the by-unit table is the label; other wordings are alternatives
        yield Triple(node, nn(RDFS + "label" if listed else SKOS + "altLabel"), lit(row.label, "zh"))
        yield Triple(node, nn(BK + "unit"), nn(self.org_iri(unit)))
        yield Triple(node, nn(PROV + "wasDerivedFrom"), source)
        for key, text in row.texts:
            if key == "绩效目标" and text:
                yield Triple(node, nn(BK + "performanceTarget"), lit(text, "zh"))
        for page in row.pages:
            yield Triple(node, nn(BK + "page"), typed(page, "integer"))

    def _column(self, key: str, path: tuple[str, ...]) -> str:
        self._columns.setdefault(key, path)
        return self.column_iri(key)

    # --- reference data ---------------------------------------------------------------------

    def _renamings(self) -> Iterator[Triple]:
        """A department printed under a new name in a later year: one organisation, renamed."""
        for _key, names in sorted(self._names.items()):
            years = sorted(names)
            latest = names[years[-1]]
            yield Triple(nn(self.org_iri(latest)), nn(SKOS + "prefLabel"), lit(latest, "zh"))
            for before, after in zip(years, years[1:], strict=False):
                if squash(names[before]) == squash(names[after]):
                    continue
                org = nn(self.org_iri(names[after]))
                event = nn(f"{self.org_iri(names[after])}/renaming/{after}")
                yield Triple(event, A, nn(BK + "Renaming"))
                yield Triple(event, A, nn(ORG + "ChangeEvent"))
                yield Triple(event, nn(ORG + "originalOrganization"), org)
                yield Triple(event, nn(ORG + "resultingOrganization"), org)
                yield Triple(event, nn(BK + "nameBefore"), lit(names[before], "zh"))
                yield Triple(event, nn(BK + "nameAfter"), lit(names[after], "zh"))
                yield Triple(event, nn(BK + "year"), typed(after, "gYear"))
                yield Triple(event, nn(RDFS + "label"), lit(f"{names[before]} → {names[after]}（{after}年起）", "zh"))
                yield Triple(org, nn(BK + "previousName"), lit(names[before], "zh"))

    def _reference(self) -> Iterator[Triple]:
        yield from _ontology_triples()
        yield from self._renamings()
        for scheme, year in sorted(self._scheme_years):
            node = nn(self.scheme_iri(scheme, year))
            zh = "支出功能分类科目" if scheme == "functional" else "部门预算支出经济分类科目"
            en = (
                "functional classification of expenditure"
                if scheme == "functional"
                else "economic classification of departmental expenditure"
            )
            yield Triple(node, A, nn(SKOS + "ConceptScheme"))
            yield Triple(
                node,
                A,
                nn(
                    BK
                    + ("FunctionalClassificationScheme" if scheme == "functional" else "EconomicClassificationScheme")
                ),
            )
            yield Triple(node, nn(SKOS + "prefLabel"), lit(f"{year}年政府收支分类科目（{zh}）", "zh"))
            yield Triple(node, nn(SKOS + "prefLabel"), lit(f"{year} {en}", "en"))
            yield Triple(node, nn(DCT + "title"), lit(f"{year}年{zh}", "zh"))
        codes: dict[tuple[str, str], set[int]] = {}
        for scheme, code in self._concepts:
            years = {y for s, y in self._scheme_years if s == scheme}
            c: str | None = code
            while c:
                codes.setdefault((scheme, c), set()).update(years)
                c = parent_code(c)
        for (scheme, code), years in sorted(codes.items()):
            node = nn(self.concept_iri(scheme, code))
            entry = code_list(scheme).get(code)
            label = entry.label_zh if entry and entry.label_zh else self._concepts.get((scheme, code), "")
            yield Triple(node, A, nn(SKOS + "Concept"))
            yield Triple(node, nn(SKOS + "notation"), lit(code))
            if label:
                yield Triple(node, nn(SKOS + "prefLabel"), lit(label, "zh"))
            printed = self._concepts.get((scheme, code))
            if printed and label and printed != squash(label):
                yield Triple(node, nn(SKOS + "altLabel"), lit(printed, "zh"))
            if entry and entry.label_en:
                yield Triple(node, nn(SKOS + "prefLabel"), lit(entry.label_en, "en"))
            yield Triple(node, nn(BK + "classificationLevel"), typed(code_level(code), "integer"))
            for year in sorted(years):
                yield Triple(node, nn(SKOS + "inScheme"), nn(self.scheme_iri(scheme, year)))
                if len(code) == 3:
                    yield Triple(node, nn(SKOS + "topConceptOf"), nn(self.scheme_iri(scheme, year)))
            parent = parent_code(code)
            if parent:
                yield Triple(node, nn(SKOS + "broader"), nn(self.concept_iri(scheme, parent)))
                yield Triple(nn(self.concept_iri(scheme, parent)), nn(SKOS + "narrower"), node)
            if not entry:
                yield Triple(node, nn(BK + "notInNationalList"), typed("true", "boolean"))
        for key, path in sorted(self._columns.items()):
            node = nn(self.column_iri(key))
            yield Triple(node, A, nn(SKOS + "Concept"))
            yield Triple(node, A, nn(BK + "Column"))
            yield Triple(node, nn(SKOS + "notation"), lit(key))
            yield Triple(node, nn(SKOS + "prefLabel"), lit(" / ".join(path), "zh"))
            for label in path:
                col = self.mappings.column(label)
                if col and col.funding:
                    yield Triple(node, nn(BK + "fundingSource"), nn(BK + col.funding))
                if col and col.expenditure:
                    yield Triple(node, nn(BK + "expenditureType"), nn(BK + col.expenditure))
                if col and col.total:
                    yield Triple(node, nn(BK + "isTotalColumn"), typed("true", "boolean"))
        for kind, (title, _) in sorted(self._kinds.items()):
            node = nn(self.kind_iri(kind))
            spec = self.mappings.by_kind(kind)
            yield Triple(node, A, nn(SKOS + "Concept"))
            yield Triple(node, A, nn(BK + "TableKind"))
            yield Triple(node, nn(SKOS + "prefLabel"), lit(spec.title if spec else title, "zh"))
            if spec and spec.title_en:
                yield Triple(node, nn(SKOS + "prefLabel"), lit(spec.title_en, "en"))
            if spec:
                yield Triple(node, nn(SKOS + "notation"), lit(str(spec.number)))


@cache
def _ontology_triple_list() -> tuple[Triple, ...]:
    """The ontology files, blank nodes replaced by stable IRIs (dumps must be deterministic)."""
    from pyoxigraph import BlankNode, RdfFormat, parse

    triples: list[Triple] = []
    names: dict[str, NamedNode] = {}

    def stable(term):  # noqa: ANN001, ANN202 - pyoxigraph term union
        if isinstance(term, BlankNode):
            return names.setdefault(term.value, NamedNode(f"{BK}_genid{len(names) + 1}"))
        return term

    for path in sorted(ONTOLOGY_DIR.glob("*.ttl")):
        for quad in parse(path=str(path), format=RdfFormat.TURTLE):
            triples.append(Triple(stable(quad.subject), quad.predicate, stable(quad.object)))
    return tuple(triples)


def _ontology_triples() -> Iterator[Triple]:
    yield from _ontology_triple_list()
