"""Import a table in metafor ``escalc`` conventions into an evidence folder (architecture §2).

One row per study (per outcome in a long table). Each row carries one of:

- an effect size: ``yi`` with ``vi`` or ``sei`` (as ``escalc`` or a paper gives it);
- 2×2 counts: ``ai, bi, ci, di`` or ``ai, n1i, ci, n2i`` (``ai``/``ci``: events in the
  treatment/control group) for ``--measure OR`` or ``RR``;
- arm means: ``m1i, sd1i, n1i, m2i, sd2i, n2i`` for ``--measure SMD`` or ``MD``.

Group 1 is the treatment, group 2 the control. The measure fixes the domain's analysis
scale (:data:`MEASURES`); a measure the package cannot analyse is refused with the reason.
``benefit`` says whether higher values of the measure (treatment vs control) are better;
the package turns every estimate so that positive = benefit. Optional columns give the
design facts of ``studies.csv``; a missing fact gets the documented default of
:data:`DESIGN_DEFAULTS`, and the folder's README lists what was assumed for which study.
Every written row's provenance names the imported file and row. Bad input raises
:class:`InvalidEvidence` with every problem (file, row, column, reason).

The importer's modules, in the order a table passes through them: :mod:`.options` (what
the user typed, the measures, identifiers), :mod:`.reader` (cells of one row as text and
numbers, problems collected), :mod:`.rows` (one row per study and outcome: measure, benefit,
ids), :mod:`.facts` (the design facts of ``studies.csv`` and their defaults),
:mod:`.effects` (the effect size of a row from ``yi``, 2×2 counts or means, with
:mod:`~ccsvi_bayes.evidence.escalc`), :mod:`.folder` (the folder's files and README) and
:mod:`.table` (:func:`import_table`, the one entry).
"""

from ccsvi_bayes.evidence.importers.facts import DESIGN_DEFAULTS
from ccsvi_bayes.evidence.importers.options import (
    MEASURES,
    ImportOptions,
    ImportResult,
    Measure,
    safe_id,
)
from ccsvi_bayes.evidence.importers.table import import_table

__all__ = [
    "DESIGN_DEFAULTS",
    "MEASURES",
    "ImportOptions",
    "ImportResult",
    "Measure",
    "import_table",
    "safe_id",
]
