"""Stage 3 output: the tidy `lines.csv`, one row per printed amount (the reader's interface)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from budgetkg.codelists import table_codes
from budgetkg.mapping import normalise_title
from budgetkg.model import Document

HEADER = (
    "document",
    "table_no",
    "table_title",
    "page",
    "unit",
    "code",
    "item",
    "measure",
    "amount",
    "currency_unit",
    "classification_code",
    "extracted_by",
    "confidence",
)


def document_lines(doc: Document) -> Iterator[tuple[str, ...]]:
    for table in doc.tables:
        title = normalise_title(table.title)
        for row, coded in zip(table.rows, table_codes(table), strict=True):  # the graph's codes
            for amount in row.amounts:
                yield (
                    doc.source.name,
                    str(table.number),
                    title,
                    str(row.pages[0]),
                    row.unit,
                    row.code or "",
                    row.label,
                    " / ".join(amount.measure),
                    amount.printed.replace(",", "") if not amount.blank else "0",
                    table.currency_unit,
                    coded[1] if coded else "",
                    amount.extracted_by,
                    "" if amount.confidence is None else f"{amount.confidence:.1f}",
                )


def write_lines(documents: Iterable[Document], path: Path) -> int:
    """Write lines.csv (UTF-8, header row); returns the number of amount rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    for doc in documents:
        for line in document_lines(doc):
            writer.writerow(line)
            count += 1
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return count
