"""The committee deliverable (architecture §9): summary-of-findings table, self-contained HTML
report with an offline interactive bias panel, and its PDF."""
