"""Stage 1, evidence: read an evidence set (CSV + TOML), validate it, apply named readings.

The face of the stage: other stages import from here. ``load_evidence`` is the one entry
that reads a folder; ``import_table`` writes one from a table in metafor ``escalc``
conventions and ``write_template`` a documented template.
"""

from ccsvi_bayes.evidence import escalc
from ccsvi_bayes.evidence.dataset import Alternative, AlternativeOption, Domain, Evidence
from ccsvi_bayes.evidence.importers import ImportOptions, import_table, safe_id
from ccsvi_bayes.evidence.load import elicited_bias_table, load_evidence
from ccsvi_bayes.evidence.paths import inside, missing_reason
from ccsvi_bayes.evidence.rules import LINE, ORIGIN, id_reason, name_reason, shown
from ccsvi_bayes.evidence.template import COLUMNS, column_tables, write_template

__all__ = [
    "COLUMNS",
    "LINE",
    "ORIGIN",
    "Alternative",
    "AlternativeOption",
    "Domain",
    "Evidence",
    "ImportOptions",
    "column_tables",
    "elicited_bias_table",
    "escalc",
    "id_reason",
    "import_table",
    "inside",
    "load_evidence",
    "missing_reason",
    "name_reason",
    "safe_id",
    "shown",
    "write_template",
]
