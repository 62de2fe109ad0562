"""Stage 4: Documents → RDF (Data Cube observations, W3C ORG, SKOS code lists, PROV).

IRIs are minted from what things are (organisation, year, code, project name, column), never
from row numbers or build order, so the same department/year/code/project gets the same IRI
in every build and next year's budget links up with this one. See docs/design.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

from pyoxigraph import Literal, NamedNode, Triple

from budgetkg.codelists import (
    ORDINAL,
    SCHEMES,
    CodeEntry,
    code_level,
    code_list,
    parent_code,
    printed_name,
    resolve_name,
    table_codes,
)
from budgetkg.hierarchy import row_parents
from budgetkg.mapping import Mappings, load_mappings, normalise_title, squash
from budgetkg.model import TEXT_LAYER, Document, Row, RowKind, Side, Table
from budgetkg.resources import data_dir

ONTOLOGY_DIR = data_dir("ontology")
__all__ = ["CodeEntry", "code_level", "code_list", "parent_code", "resolve_name", "ORDINAL", "SCHEMES"]

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
#: the value of the literal-valued item dimension on a row that has a code (SDMX's _Z)
NOT_APPLICABLE = "_Z"

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

MULTIPLIER = {"元": 0, "千元": 3, "万元": 4, "亿元": 8}
#: a unit printed inside a column header (`预算数(单位:万元)`): not part of what the column is
_HEADER_UNIT = re.compile(r"\s*[(（]\s*(?:单位\s*[:：]?\s*)?(?:元|千元|万元|亿元)\s*[)）]\s*")
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


def canonical_decimal(value: Decimal) -> str:
    """The canonical lexical form of an xsd:decimal (no exponent, no trailing zeros, ``-0`` is
    ``0``): what Oxigraph returns for any form it is given, so store and dumps hold one term."""
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def decimal_literal(value: Decimal) -> Literal:
    return Literal(canonical_decimal(value), datatype=NamedNode(XSD + "decimal"))


def column_key(key: str) -> str:
    """A column's key without a unit printed in its header (`预算数(单位:万元)` → `预算数`):
    the 重点项目 table of the sample prints its unit there; the unit is an attribute of the
    amount (sdmx-attribute:unitMult), not a different column."""
    return _HEADER_UNIT.sub("", key) or key


A = nn(RDF + "type")


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


@dataclass(frozen=True, slots=True)
class ReferenceFacts:
    """What one document contributes to the reference graph (code concepts, schemes, columns,
    table kinds, its department's name that year): a pure function of the document, so the
    reference graph of a corpus does not depend on the order its documents come in."""

    doc_id: str
    year: int
    org_key: str
    department: str
    concepts: tuple[tuple[str, str, str], ...]  # (scheme, code, printed name)
    scheme_years: tuple[tuple[str, int], ...]
    columns: tuple[tuple[str, tuple[str, ...]], ...]  # (column key, printed path)
    kinds: tuple[tuple[str, str], ...]  # (table kind, printed title)


class GraphBuilder:
    """Mints the IRIs and builds the named graphs. A document's graph is a pure function of the
    document and the IRI scheme (base URI, mappings); the reference graph is a pure function of
    the set of documents (``reference_dataset(documents)``, or of those built so far)."""

    def __init__(self, base_uri: str, mappings: Mappings | None = None) -> None:
        self.base = base_uri if base_uri.endswith("/") else base_uri + "/"
        self.mappings = mappings or load_mappings()
        self.reference_graph = self.base + "graph/reference"
        self.validation_graph = self.base + "graph/validation"
        self._facts: dict[str, ReferenceFacts] = {}  # doc id → what it adds to the reference
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
        """One document's named graph, a pure function of the document (in any order). The
        builder also notes what the document adds to the reference graph."""
        self._facts[self.doc_id(doc)] = self.reference_facts(doc)
        return Dataset(self.document_graph(doc), doc, list(self._document(doc)))

    def reference_dataset(self, documents: Iterable[Document] | None = None) -> Dataset:
        """Ontology, code lists, columns and renamings for the given documents (default: every
        document added so far), the same whatever their order."""
        known = self._facts.values() if documents is None else map(self.reference_facts, documents)
        facts = list(known)
        return Dataset(self.reference_graph, None, list(self._reference(facts)))

    def reference_facts(self, doc: Document) -> ReferenceFacts:
        concepts: set[tuple[str, str, str]] = set()
        years: set[tuple[str, int]] = set()
        columns: set[tuple[str, tuple[str, ...]]] = set()
        kinds: set[tuple[str, str]] = set()
        for table in doc.tables:
            kinds.add((table.kind, normalise_title(table.title)))
            if table.code_scheme in SCHEMES:
                years.add((table.code_scheme, doc.year))
            for row, coded in zip(table.rows, table_codes(table), strict=True):
                if coded:
                    years.add((coded[0], doc.year))
                    concepts.add((coded[0], coded[1], printed_name(row) if not row.code else squash(row.label)))
                for amount in row.amounts:
                    columns.add((column_key(amount.measure_key), amount.measure))
        return ReferenceFacts(
            self.doc_id(doc),
            doc.year,
            self.org_key(doc.department),
            doc.department,
            tuple(sorted(concepts)),
            tuple(sorted(years)),
            tuple(sorted(columns)),
            tuple(sorted(kinds)),
        )

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
        glossary = nn(f"{self.budget_iri(doc)}/glossary")
        if doc.prose.glossary:
            yield Triple(glossary, A, nn(SKOS + "ConceptScheme"))
            yield Triple(glossary, A, nn(BK + "GlossaryScheme"))
            yield Triple(glossary, nn(SKOS + "prefLabel"), lit(f"{title}·名词解释", "zh"))
            yield Triple(glossary, nn(DCT + "source"), source)
        for entry in doc.prose.glossary:
            term = nn(f"{self.budget_iri(doc)}/glossary/{iri_segment(entry.term)}")
            yield Triple(budget, nn(BK + "glossary"), term)
            yield Triple(term, A, nn(BK + "GlossaryTerm"))
            yield Triple(term, A, nn(SKOS + "Concept"))
            yield Triple(term, nn(SKOS + "inScheme"), glossary)
            yield Triple(term, nn(SKOS + "topConceptOf"), glossary)
            yield Triple(glossary, nn(SKOS + "hasTopConcept"), term)
            yield Triple(term, nn(SKOS + "prefLabel"), lit(entry.term, "zh"))
            yield Triple(term, nn(SKOS + "definition"), lit(entry.definition, "zh"))
        projects = self._project_index(doc)
        for table in doc.tables:
            yield from self._table(doc, table, budget, source, year, phase, projects)
        from budgetkg.claims import audit_triples  # the disclosure audit (issue 14); it reads graph's terms

        yield from audit_triples(self, doc)

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
        table_scheme = table.code_scheme if table.code_scheme in SCHEMES else None
        if table.code_scheme == "functional-class-names":
            table_scheme = "functional"
        codes = table_codes(table)
        parents = row_parents(table, [c[1] if c else None for c in codes])
        keys: list[str] = []
        seen: dict[str, int] = {}
        for row in table.rows:
            key = self._row_key(row)
            n = seen.get(key, 0) + 1
            seen[key] = n
            keys.append(key if n == 1 else f"{key}~{n}")
        prefix = f"{self.budget_iri(doc)}/obs/{iri_segment(table.kind)}"
        columns_of = [{column_key(a.measure_key) for a in row.amounts} for row in table.rows]
        has_parts: set[tuple[int, str]] = {
            (p, c) for i, p in enumerate(parents) if p is not None for c in columns_of[i] if c in columns_of[p]
        }
        items = _item_names(table, parents)
        for i, (row, coded) in enumerate(zip(table.rows, codes, strict=True)):
            concept = self.concept_iri(*coded) if coded else None
            project = None
            if row.kind is RowKind.PROJECT:
                listed = None if row.parent_label else self._match_project(row.label, projects)
                unit, name = listed if listed else (row.unit, row.label)
                project = self.project_iri(unit, name)
                yield from self._project(project, row, unit, source, listed=row.parent_label is not None or not listed)
            dims = self._coded_dimensions(row, coded, table_scheme, concept, items[i])
            parent = parents[i]
            for amount in row.amounts:
                ckey = column_key(amount.measure_key)
                obs = nn(f"{prefix}/{keys[i]}/{iri_segment(ckey)}")
                yield Triple(obs, A, nn(QB + "Observation"))
                yield Triple(obs, nn(QB + "dataSet"), budget)
                yield Triple(obs, nn(BK + "budget"), budget)
                yield Triple(obs, nn(BK + "table"), table_node)
                yield Triple(obs, nn(BK + "organisation"), nn(self.org_iri(row.unit)))
                yield Triple(obs, nn(BK + "fiscalYear"), year)
                yield Triple(obs, nn(BK + "budgetPhase"), phase)
                for prop, value in dims:
                    yield Triple(obs, nn(BK + prop), value)
                yield Triple(obs, nn(BK + "project"), nn(project) if project else nn(BK + "NotApplicable"))
                yield Triple(obs, nn(BK + "column"), nn(self.column_iri(ckey)))
                yield Triple(obs, nn(BK + "columnLabel"), lit(" / ".join(amount.measure), "zh"))
                yield Triple(obs, nn(BK + "amount"), decimal_literal(amount.value))
                if not amount.blank:
                    yield Triple(obs, nn(BK + "printedAmount"), lit(amount.printed))
                yield Triple(obs, nn(BK + "amountInYuan"), decimal_literal(amount.value.scaleb(mult)))
                yield Triple(obs, nn(SDMX_ATTR + "unitMeasure"), nn(CNY))
                yield Triple(obs, nn(SDMX_ATTR + "unitMult"), typed(mult, "integer"))
                yield Triple(obs, nn(BK + "currencyUnit"), lit(table.currency_unit, "zh"))
                yield Triple(
                    obs,
                    nn(BK + "isTotal"),
                    typed("true" if row.kind in (RowKind.TOTAL, RowKind.UNIT) else "false", "boolean"),
                )
                aggregate = (i, ckey) in has_parts
                yield Triple(obs, nn(BK + "isAggregate"), typed("true" if aggregate else "false", "boolean"))
                if parent is not None and ckey in columns_of[parent]:
                    yield Triple(obs, nn(BK + "partOf"), nn(f"{prefix}/{keys[parent]}/{iri_segment(ckey)}"))
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
                    code = coded[1] if coded else "total"
                    yield Triple(obs, nn(BK + "quantity"), lit(quantity))
                    qkey = f"{quantity}|{code}|{self.org_key(row.unit)}"
                    yield Triple(obs, nn(BK + "quantityKey"), lit(qkey))

    def _coded_dimensions(
        self, row: Row, coded: tuple[str, str] | None, table_scheme: str | None, concept: str | None, item: str
    ) -> list[tuple[str, NamedNode | Literal]]:
        """The classification, item and side dimensions of a row's amounts, every one present
        (Data Cube IC-11): a code where the row has one, ``bk:Total`` (_T) for a total row in
        the classification its table is coded by, ``bk:NotApplicable`` (_Z) otherwise; the
        printed name (@zh) as item where the row has no code, the literal "_Z" where it has."""
        out: list[tuple[str, NamedNode | Literal]] = []
        for scheme, prop in (("functional", "functionalClassification"), ("economic", "economicClassification")):
            if coded and coded[0] == scheme and concept:
                value = nn(concept)
            elif row.kind is RowKind.TOTAL and table_scheme == scheme:
                value = nn(BK + "Total")
            else:
                value = nn(BK + "NotApplicable")
            out.append((prop, value))
        out.append(("item", lit(NOT_APPLICABLE) if coded else lit(item, "zh")))
        side = {Side.INCOME: "Income", Side.EXPENDITURE: "Expenditure"}.get(row.side, "NotApplicable")  # type: ignore[arg-type]
        out.append(("side", nn(BK + side)))
        return out

    def _sum_rules(self, table: Table, table_node: NamedNode) -> Iterator[Triple]:
        """Which columns of a row add up to which total column (reading.column_sum_rules, the
        same rules the reader checks itself with), for the RowTotalEqualsParts shape."""
        from budgetkg.reading import column_sum_rules, measures

        paths = measures(table)
        for sum_rule in column_sum_rules(table, self.mappings):
            rule = nn(f"{table_node.value}/rule/{iri_segment(sum_rule.total)}")
            yield Triple(rule, A, nn(BK + "ColumnSumRule"))
            yield Triple(rule, nn(BK + "ruleTable"), table_node)
            yield Triple(rule, nn(BK + "totalColumn"), nn(self._column(sum_rule.total, paths[sum_rule.total])))
            for part in sum_rule.parts:
                yield Triple(rule, nn(BK + "partColumn"), nn(self._column(part, paths[part])))

    def resolve_name(self, scheme: str, label: str, level: int | None = None) -> str | None:
        """A name printed without its code → the code, through the national code list."""
        return resolve_name(scheme, label, level)

    def _row_key(self, row: Row) -> str:
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
        return self.column_iri(column_key(key))

    # --- reference data ---------------------------------------------------------------------

    def _renamings(self, facts: list[ReferenceFacts]) -> Iterator[Triple]:
        """A department printed under a new name in a later year: one organisation, renamed."""
        by_org: dict[str, dict[int, str]] = {}
        for f in sorted(facts, key=lambda f: (f.year, f.doc_id)):
            by_org.setdefault(f.org_key, {})[f.year] = f.department
        for _key, names in sorted(by_org.items()):
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

    def _reference(self, facts: list[ReferenceFacts]) -> Iterator[Triple]:
        facts = sorted(facts, key=lambda f: (f.year, f.doc_id))
        yield from _ontology_triples()
        yield from self._renamings(facts)
        scheme_years = {sy for f in facts for sy in f.scheme_years}
        printed: dict[tuple[str, str], set[str]] = {}
        for f in facts:
            for scheme, code, name in f.concepts:
                printed.setdefault((scheme, code), set()).add(name)
        lists = {"functional": BK + "FunctionalClassificationList", "economic": BK + "EconomicClassificationList"}
        for scheme, year in sorted(scheme_years):
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
        for scheme, code in printed:
            years = {y for s, y in scheme_years if s == scheme}
            c: str | None = code
            while c:
                codes.setdefault((scheme, c), set()).update(years)
                c = parent_code(c)
        for (scheme, code), years in sorted(codes.items()):
            node = nn(self.concept_iri(scheme, code))
            entry = code_list(scheme).get(code)
            names = sorted(printed.get((scheme, code), ()))
            label = entry.label_zh if entry and entry.label_zh else (names[-1] if names else "")
            yield Triple(node, A, nn(SKOS + "Concept"))
            yield Triple(node, nn(SKOS + "notation"), lit(code))
            if label:
                yield Triple(node, nn(SKOS + "prefLabel"), lit(label, "zh"))
            for name in names:
                if name != squash(label):
                    yield Triple(node, nn(SKOS + "altLabel"), lit(name, "zh"))
            if entry and entry.label_en:
                yield Triple(node, nn(SKOS + "prefLabel"), lit(entry.label_en, "en"))
            if entry:
                yield from _evidence(node, entry)
                for year in sorted(years):  # the list's name in each year printed: checked by shapes/codelists.ttl
                    edition = nn(f"{self.concept_iri(scheme, code)}/name/{year}")
                    yield Triple(node, nn(BK + "editionName"), edition)
                    yield Triple(edition, A, nn(BK + "EditionName"))
                    yield Triple(edition, nn(BK + "year"), typed(year, "gYear"))
                    yield Triple(edition, nn(RDFS + "label"), lit(entry.name_in(year), "zh"))
                    if entry.evidence_status == "Unverified":
                        for note in UNVERIFIED_NOTE:
                            yield Triple(edition, nn(SKOS + "editorialNote"), note)
            yield Triple(node, nn(BK + "classificationLevel"), typed(code_level(code), "integer"))
            for year in sorted(years):
                scheme_node = nn(self.scheme_iri(scheme, year))
                yield Triple(node, nn(SKOS + "inScheme"), scheme_node)
                if parent_code(code) is None:
                    yield Triple(node, nn(SKOS + "topConceptOf"), scheme_node)
                    yield Triple(scheme_node, nn(SKOS + "hasTopConcept"), node)
            parent = parent_code(code)
            if parent:
                yield Triple(node, nn(SKOS + "broader"), nn(self.concept_iri(scheme, parent)))
                yield Triple(nn(self.concept_iri(scheme, parent)), nn(SKOS + "narrower"), node)
            else:
                yield Triple(nn(lists[scheme]), nn(QB + "hierarchyRoot"), node)
            if not entry:
                yield Triple(node, nn(BK + "notInNationalList"), typed("true", "boolean"))
        columns: dict[str, list[tuple[str, ...]]] = {}
        for f in facts:
            for key, path in f.columns:
                paths = columns.setdefault(key, [])
                if path in paths:
                    paths.remove(path)
                paths.append(path)  # the latest document's wording last
        for key, paths in sorted(columns.items()):
            node = nn(self.column_iri(key))
            yield Triple(node, A, nn(SKOS + "Concept"))
            yield Triple(node, A, nn(BK + "Column"))
            yield Triple(node, nn(SKOS + "notation"), lit(key))
            yield Triple(node, nn(SKOS + "inScheme"), nn(BK + "ColumnScheme"))
            yield Triple(node, nn(SKOS + "topConceptOf"), nn(BK + "ColumnScheme"))
            yield Triple(nn(BK + "ColumnScheme"), nn(SKOS + "hasTopConcept"), node)
            pref = " / ".join(paths[-1])
            yield Triple(node, nn(SKOS + "prefLabel"), lit(pref, "zh"))
            for other in {" / ".join(p) for p in paths[:-1]} - {pref}:
                yield Triple(node, nn(SKOS + "altLabel"), lit(other, "zh"))
            for label in paths[-1]:
                col = self.mappings.column(label)
                if col and col.funding:
                    yield Triple(node, nn(BK + "fundingSource"), nn(BK + col.funding))
                if col and col.expenditure:
                    yield Triple(node, nn(BK + "expenditureType"), nn(BK + col.expenditure))
                if col and col.total:
                    yield Triple(node, nn(BK + "isTotalColumn"), typed("true", "boolean"))
        kinds: dict[str, str] = {}
        for f in facts:
            for kind, title in f.kinds:
                kinds[kind] = title
        for kind, title in sorted(kinds.items()):
            node = nn(self.kind_iri(kind))
            spec = self.mappings.by_kind(kind)
            yield Triple(node, A, nn(SKOS + "Concept"))
            yield Triple(node, A, nn(BK + "TableKind"))
            yield Triple(node, nn(SKOS + "inScheme"), nn(BK + "TableKindScheme"))
            yield Triple(node, nn(SKOS + "topConceptOf"), nn(BK + "TableKindScheme"))
            yield Triple(nn(BK + "TableKindScheme"), nn(SKOS + "hasTopConcept"), node)
            yield Triple(node, nn(SKOS + "prefLabel"), lit(spec.title if spec else title, "zh"))
            if spec and spec.title_en:
                yield Triple(node, nn(SKOS + "prefLabel"), lit(spec.title_en, "en"))
            if spec:
                yield Triple(node, nn(SKOS + "notation"), lit(str(spec.number)))


#: skos:editorialNote of a code-list row that cites no checked source (``K``)
UNVERIFIED_NOTE = (
    lit("未经核对：编码与名称出自维护者所知的版本，未与已取得的版本或已发布文件核对。", "zh"),
    lit(
        "Unverified: code and name are from the edition as known to the maintainers, not checked "
        "against a retrieved edition or a published document.",
        "en",
    ),
)


def _evidence(node: NamedNode, entry: CodeEntry) -> Iterator[Triple]:
    """Where the code list's row comes from (bk:evidence, each reference as cited in its
    ``source`` column), how strong that is (bk:evidenceStatus), and for a row no source
    checked, a note a user reads beside the name (ontology/codelists/README.md)."""
    for ref in entry.sources:
        yield Triple(node, nn(BK + "evidence"), lit(ref))
    yield Triple(node, nn(BK + "evidenceStatus"), nn(BK + entry.evidence_status))
    if entry.evidence_status == "Unverified":
        for note in UNVERIFIED_NOTE:
            yield Triple(node, nn(SKOS + "editorialNote"), note)


def _item_names(table: Table, parents: tuple[int | None, ...]) -> list[str]:
    """The item dimension of each row: its printed name (no spaces); a name printed twice on
    one side of a table is qualified by the row it is part of (10-sh-pt-czj-2024-js prints
    二、政府性基金预算财政拨款 under 本年收入合计 and again under 年初财政拨款结转和结余), and by
    its occurrence if that is the same too — so no two observations share every dimension (IC-12)."""
    names = [squash(r.label) for r in table.rows]
    count: dict[tuple[object, str], int] = {}
    for row, name in zip(table.rows, names, strict=True):
        count[(row.side, name)] = count.get((row.side, name), 0) + 1
    out: list[str] = []
    seen: dict[tuple[object, str], int] = {}
    for row, name, parent in zip(table.rows, names, parents, strict=True):
        if count[(row.side, name)] > 1:
            name = f"{names[parent]} / {name}" if parent is not None else name
            n = seen[(row.side, name)] = seen.get((row.side, name), 0) + 1
            if n > 1:
                name = f"{name} ({n})"
        out.append(name)
    return out


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
