"""The budgetkg ontology and the national classification code lists."""

from __future__ import annotations

import csv
import re
import tomllib
from pathlib import Path

import pyoxigraph
import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS, XSD

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY = ROOT / "ontology" / "budgetkg.ttl"
CODELISTS = ROOT / "ontology" / "codelists"
COLUMNS = ROOT / "mappings" / "columns.toml"

BK = Namespace("https://w3id.org/budgetkg/def#")
QB = Namespace("http://purl.org/linked-data/cube#")
ORG = Namespace("http://www.w3.org/ns/org#")
PROV = Namespace("http://www.w3.org/ns/prov#")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
SDMX_ATTRIBUTE = Namespace("http://purl.org/linked-data/sdmx/2009/attribute#")
ONTOLOGY_IRI = URIRef("https://w3id.org/budgetkg/def")

PROPERTY_TYPES = {
    OWL.ObjectProperty,
    OWL.DatatypeProperty,
    OWL.AnnotationProperty,
    RDF.Property,
    QB.DimensionProperty,
    QB.MeasureProperty,
    QB.AttributeProperty,
}

# The terms the graph code emits: they must exist under exactly these names.
CLASSES = {
    "Budget": [QB.DataSet],
    "BudgetTable": [],
    "Project": [],
    "SourceDocument": [PROV.Entity, FOAF.Document],
    "Division": [ORG.OrganizationalUnit],
    "Department": [ORG.FormalOrganization],
    "SubordinateUnit": [ORG.FormalOrganization],
    "Column": [SKOS.Concept],
    "FundingSource": [SKOS.Concept],
    "ExpenditureType": [SKOS.Concept],
    "BudgetPhase": [SKOS.Concept],
    "GlossaryTerm": [SKOS.Concept],
    "FunctionalClassificationScheme": [SKOS.ConceptScheme],
    "EconomicClassificationScheme": [SKOS.ConceptScheme],
    "TableKind": [SKOS.Concept],
    "DatedName": [],
}
DIMENSIONS = {
    "organisation": ORG.Organization,
    "fiscalYear": XSD.gYear,
    "budgetPhase": BK.BudgetPhase,
    "table": BK.BudgetTable,
    "functionalClassification": SKOS.Concept,
    "economicClassification": SKOS.Concept,
    "item": RDFS.Literal,
    "project": BK.Project,
    "column": BK.Column,
    "side": SKOS.Concept,
}
MEASURES = {"amount": XSD.decimal}
ATTRIBUTES = {
    "amountInYuan": XSD.decimal,
    "isTotal": XSD.boolean,
    "rowLabel": RDF.langString,
    "page": XSD.integer,
    "rowIndex": XSD.integer,
    "fundingSource": BK.FundingSource,
    "expenditureType": BK.ExpenditureType,
    "isAggregate": XSD.boolean,
    "partOf": QB.Observation,
    "printedAmount": XSD.string,
}
OTHER_PROPERTIES = [
    "mainDuty",
    "explanation",
    "performanceTarget",
    "unit",
    "budget",
    "tableKind",
    "tableNumber",
    "sha256",
    "pageCount",
    "fileName",
    "currencyUnit",
    "documentKind",
    "glossary",
    "classificationLevel",
    "nameInYear",
    "year",
    "previousName",
]
CONCEPTS = {
    "Approved": BK.BudgetPhase,
    "Executed": BK.BudgetPhase,
    "BasicExpenditure": BK.ExpenditureType,
    "ProjectExpenditure": BK.ExpenditureType,
    "Income": SKOS.Concept,
    "Expenditure": SKOS.Concept,
    "FiscalAppropriation": BK.FundingSource,
    "GeneralPublicBudget": BK.FundingSource,
    "GovernmentFundBudget": BK.FundingSource,
    "StateCapitalBudget": BK.FundingSource,
    "SpecialAccountAppropriation": BK.FundingSource,
    "OtherFunds": BK.FundingSource,
    "InstitutionalRevenue": BK.FundingSource,
    "BusinessRevenue": BK.FundingSource,
    "OtherRevenue": BK.FundingSource,
    "HigherLevelSubsidy": BK.FundingSource,
    "AffiliateRemittance": BK.FundingSource,
    "InstitutionFund": BK.FundingSource,
    "CarryOver": BK.FundingSource,
}
FUNDING_LABELS = {
    "财政拨款": "FiscalAppropriation",
    "一般公共预算": "GeneralPublicBudget",
    "政府性基金预算": "GovernmentFundBudget",
    "国有资本经营预算": "StateCapitalBudget",
    "财政专户拨款": "SpecialAccountAppropriation",
    "其他资金": "OtherFunds",
    "事业收入": "InstitutionalRevenue",
    "经营收入": "BusinessRevenue",
    "其他收入": "OtherRevenue",
    "上级补助收入": "HigherLevelSubsidy",
    "附属单位上缴收入": "AffiliateRemittance",
    "用事业基金弥补收支差额": "InstitutionFund",
    "上年结转": "CarryOver",
}

CSV_HEADER = ["notation", "label_zh", "label_en", "parent", "years", "source", "names"]


@pytest.fixture(scope="module")
def graph() -> Graph:
    return Graph().parse(ONTOLOGY, format="turtle")


def _bk_subjects(graph: Graph) -> set[URIRef]:
    return {s for s in graph.subjects() if isinstance(s, URIRef) and s.startswith(str(BK))}


def _langs(graph: Graph, subject: URIRef, *predicates: URIRef) -> set[str]:
    return {
        o.language
        for p in predicates
        for o in graph.objects(subject, p)
        if isinstance(o, Literal) and o.language
    }


def _is_property(graph: Graph, term: URIRef) -> bool:
    return any(t in PROPERTY_TYPES for t in graph.objects(term, RDF.type))


def _is_class(graph: Graph, term: URIRef) -> bool:
    return (term, RDF.type, OWL.Class) in graph or (term, RDF.type, RDFS.Class) in graph


# --- parsing -------------------------------------------------------------------------------


def test_parses_with_rdflib(graph: Graph) -> None:
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in graph
    assert len(graph) > 500


def test_parses_with_pyoxigraph_and_agrees_with_rdflib(graph: Graph) -> None:
    store = pyoxigraph.Store()
    store.load(path=str(ONTOLOGY), format=pyoxigraph.RdfFormat.TURTLE)
    assert len(store) == len(graph)
    query = (
        "PREFIX owl: <http://www.w3.org/2002/07/owl#> "
        "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?c a owl:Class }"
    )
    (row,) = list(store.query(query))
    assert int(row["n"].value) == len(set(graph.subjects(RDF.type, OWL.Class)))


def test_no_blank_nodes(graph: Graph) -> None:
    """Dumps must be deterministic: every node of the ontology is an IRI or a literal."""
    nodes = {n for triple in graph for n in triple}
    assert all(isinstance(n, (URIRef, Literal)) for n in nodes)


# --- documentation of every term ----------------------------------------------------------


def test_every_class_and_property_has_zh_en_labels_and_definitions(graph: Graph) -> None:
    terms = [t for t in _bk_subjects(graph) if _is_class(graph, t) or _is_property(graph, t)]
    assert len(terms) > 50
    missing = []
    for term in sorted(terms):
        labels = _langs(graph, term, RDFS.label)
        definitions = _langs(graph, term, SKOS.definition, RDFS.comment)
        if not {"zh", "en"} <= labels or not {"zh", "en"} <= definitions:
            missing.append((str(term), sorted(labels), sorted(definitions)))
    assert not missing, missing


def test_every_concept_and_scheme_has_zh_en_labels(graph: Graph) -> None:
    missing = []
    for term in sorted(_bk_subjects(graph)):
        types = set(graph.objects(term, RDF.type))
        if _is_class(graph, term) or _is_property(graph, term):
            continue
        labels = _langs(graph, term, SKOS.prefLabel, RDFS.label)
        if not {"zh", "en"} <= labels:
            missing.append((str(term), sorted(map(str, types)), sorted(labels)))
    assert not missing, missing


def test_every_bk_term_that_is_used_is_defined(graph: Graph) -> None:
    defined = _bk_subjects(graph)
    used = {
        n for triple in graph for n in triple if isinstance(n, URIRef) and n.startswith(str(BK))
    }
    assert used <= defined, sorted(map(str, used - defined))


def test_definitions_come_from_the_sample_glossary(graph: Graph) -> None:
    """The 名词解释 of the sample document is the source of the matching definitions."""
    sample = (ROOT / "tests" / "fixtures" / "gz-zwfwsjglj-2023-budget.txt").read_text("utf-8")
    glossary = sample[sample.rindex("名词解释") :]
    for name in [
        "BasicExpenditure",
        "ProjectExpenditure",
        "FiscalAppropriation",
        "InstitutionalRevenue",
        "BusinessRevenue",
        "OtherRevenue",
        "InstitutionFund",
    ]:
        (definition,) = [o for o in graph.objects(BK[name], SKOS.definition) if o.language == "zh"]
        assert str(definition) in glossary, name


# --- the contract with the graph code -----------------------------------------------------


def test_required_classes(graph: Graph) -> None:
    for name, supers in CLASSES.items():
        term = BK[name]
        assert (term, RDF.type, OWL.Class) in graph, name
        for sup in supers:
            assert (term, RDFS.subClassOf, sup) in graph, (name, sup)


@pytest.mark.parametrize(
    ("kind", "terms"),
    [
        (QB.DimensionProperty, DIMENSIONS),
        (QB.MeasureProperty, MEASURES),
        (QB.AttributeProperty, ATTRIBUTES),
    ],
)
def test_component_properties(graph: Graph, kind: URIRef, terms: dict[str, URIRef]) -> None:
    for name, range_ in terms.items():
        term = BK[name]
        assert (term, RDF.type, kind) in graph, name
        assert (term, RDFS.range, range_) in graph, name


def test_classification_sub_properties(graph: Graph) -> None:
    for name in ["functionalClassification", "economicClassification"]:
        assert (BK[name], RDFS.subPropertyOf, BK.classification) in graph


def test_other_properties(graph: Graph) -> None:
    for name in OTHER_PROPERTIES:
        assert _is_property(graph, BK[name]), name
    assert (BK.performanceTarget, RDFS.range, RDF.langString) in graph
    assert (BK.classificationLevel, RDFS.range, XSD.integer) in graph
    assert (BK.tableNumber, RDFS.range, XSD.integer) in graph


def test_code_list_concepts(graph: Graph) -> None:
    for name, cls in CONCEPTS.items():
        term = BK[name]
        assert (term, RDF.type, cls) in graph, name
        assert (term, RDF.type, SKOS.Concept) in graph, name
        assert next(graph.objects(term, SKOS.inScheme), None) is not None, name
    assert (BK.GeneralPublicBudget, SKOS.broader, BK.FiscalAppropriation) in graph


def test_funding_source_labels(graph: Graph) -> None:
    for label, name in FUNDING_LABELS.items():
        labels = {str(o) for o in graph.objects(BK[name], SKOS.prefLabel)}
        assert label in labels, (label, name)


def test_columns_mapping_names_existing_concepts(graph: Graph) -> None:
    """mappings/columns.toml refers to funding, expenditure and side concepts by local name."""
    expected = {"funding": BK.FundingSource, "expenditure": BK.ExpenditureType, "side": BK.Side}
    labels = tomllib.loads(COLUMNS.read_text("utf-8"))["labels"]
    seen = 0
    for label, spec in labels.items():
        for key, cls in expected.items():
            if key in spec:
                seen += 1
                assert (BK[spec[key]], RDF.type, cls) in graph, (label, spec[key])
    assert seen > 10


def test_terms_written_by_the_pipeline_are_defined(graph: Graph) -> None:
    """Every bk: term that the graph builder, validator, shapes or queries write is defined."""
    sources = [
        *(ROOT / "budgetkg").glob("*.py"),
        *(ROOT / "shapes").glob("*.ttl"),
        *(ROOT / "queries").glob("*.rq"),
    ]
    used: dict[str, set[str]] = {}
    for path in sources:
        text = path.read_text("utf-8")
        names = re.findall(r'BK \+ "([A-Za-z][\w-]*)"', text)
        names += re.findall(r"\bbk:([A-Za-z][\w-]*)", text)
        for name in names:
            used.setdefault(name, set()).add(path.name)
    defined = {str(s)[len(str(BK)) :] for s in _bk_subjects(graph)}
    undefined = {name: sorted(files) for name, files in used.items() if name not in defined}
    assert not undefined, undefined


def test_data_structure_definition(graph: Graph) -> None:
    dsd = BK.BudgetDSD
    assert (dsd, RDF.type, QB.DataStructureDefinition) in graph
    components = list(graph.objects(dsd, QB.component))
    dims = {o for c in components for o in graph.objects(c, QB.dimension)}
    measures = {o for c in components for o in graph.objects(c, QB.measure)}
    attributes = {o for c in components for o in graph.objects(c, QB.attribute)}
    assert dims == {BK[n] for n in DIMENSIONS if n != "classification"}
    assert measures == {BK.amount}
    assert attributes == {BK[n] for n in ATTRIBUTES} | {
        SDMX_ATTRIBUTE.unitMeasure,
        SDMX_ATTRIBUTE.unitMult,
    }
    orders = [int(o) for c in components for o in graph.objects(c, QB.order)]
    assert sorted(orders) == list(range(1, len(dims) + 1))


# --- the code lists ------------------------------------------------------------------------


def _read(name: str) -> list[dict[str, str]]:
    with (CODELISTS / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == CSV_HEADER
        return list(reader)


@pytest.mark.parametrize(
    ("name", "first_digit", "lengths"),
    [("functional", "2", {3, 5, 7}), ("economic", "3", {3, 5})],
)
def test_codelist_well_formed(name: str, first_digit: str, lengths: set[int]) -> None:
    rows = _read(name)
    notations = [r["notation"] for r in rows]
    assert len(notations) == len(set(notations)), "duplicate notations"
    assert notations == sorted(notations)
    known = set(notations)
    for row in rows:
        code = row["notation"]
        assert re.fullmatch(r"\d+", code) and len(code) in lengths, code
        assert code.startswith(first_digit), code
        assert row["label_zh"].strip() == row["label_zh"] and row["label_zh"], code
        assert re.search(r"[\u4e00-\u9fff]", row["label_zh"]), code
        assert row["label_en"] == row["label_en"].strip(), code
        parent = row["parent"]
        if len(code) == 3:
            assert parent == "", code
        else:
            assert parent == code[: len(code) - 2], code
            assert parent in known, code
        years = row["years"].split(" ")
        assert years and all(re.fullmatch(r"20\d\d", y) for y in years), code
        assert years == sorted(set(years)), code


def test_codelists_cover_every_class_and_the_fixture_codes() -> None:
    functional = {r["notation"]: r["label_zh"] for r in _read("functional")}
    economic = {r["notation"]: r["label_zh"] for r in _read("economic")}
    for code in ["201", "205", "206", "207", "208", "210", "212", "213", "221", "224", "229"]:
        assert code in functional, code
    for code in ["301", "302", "303", "307", "309", "310", "311", "312", "313", "399"]:
        assert code in economic, code
    assert functional["2010301"] == "行政运行"
    assert functional["20103"] == "政府办公厅（室）及相关机构事务"
    assert economic["30212"] == "因公出国（境）费用"
    # every code printed in the sample text is in the lists, with the printed name
    sample = (ROOT / "tests" / "fixtures" / "gz-zwfwsjglj-2023-budget.txt").read_text("utf-8")
    printed = re.findall(r"^(\d{3}|\d{5}|\d{7})\t(\S+)", sample, flags=re.MULTILINE)
    assert len(printed) > 30
    for code, label in printed:
        table = functional if code.startswith("2") else economic
        assert table.get(code) == label, (code, label)
