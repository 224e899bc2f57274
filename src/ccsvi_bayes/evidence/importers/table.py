"""Import one table (CSV or an Excel sheet) into a validated evidence folder."""

from __future__ import annotations

from pathlib import Path

from ccsvi_bayes.errors import InvalidEvidence
from ccsvi_bayes.evidence.importers.folder import folder_files, folder_readme
from ccsvi_bayes.evidence.importers.options import ImportOptions, ImportResult
from ccsvi_bayes.evidence.importers.rows import assign_ids, check_outcomes, read_rows
from ccsvi_bayes.evidence.spreadsheet import read_table
from ccsvi_bayes.evidence.writer import write_evidence_folder

__all__ = ["import_table"]


def import_table(
    path: str | Path, out: str | Path, options: ImportOptions, *, force: bool = False
) -> ImportResult:
    """Read ``path`` (CSV or Excel) in escalc conventions and write a validated evidence
    folder at ``out`` (atomically: a folder is complete or absent). ``out`` must not exist
    or be empty, unless ``force`` replaces it. Raises :class:`InvalidEvidence`."""
    src, target = Path(path), Path(out)
    table = read_table(src, options.sheet)
    rows, reader = read_rows(table, options)
    id_notes = assign_ids(rows, reader)
    check_outcomes(rows, reader)
    if reader.problems:
        raise InvalidEvidence(reader.problems, str(src))
    unused = [c for c in table.header if c and c not in reader.used]
    files = folder_files(rows, table.name, options, id_notes)
    readme, assumptions = folder_readme(rows, table.name, options, id_notes, unused)
    files["README.md"] = readme
    evidence = write_evidence_folder(target, files, force=force)
    return ImportResult(
        folder=target,
        studies=len(evidence.studies),
        rows=len(evidence.contrasts) + len(evidence.arms),
        domains=tuple(evidence.domains),
        assumptions=tuple(assumptions),
        unused_columns=tuple(unused),
    )
