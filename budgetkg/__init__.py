"""budgetkg: budget PDFs → linked-data knowledge graph."""
