"""The ``[certainty]`` table of an evidence set's ``evidence.toml``: the certainty thresholds
and judgements an evidence set sets for the decision layer (the run folder itself is read by
:class:`ccsvi_bayes.results.RunFolder`)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ccsvi_bayes.errors import InvalidEvidence, Problem

__all__ = ["certainty_table"]


def certainty_table(evidence: Path | None) -> dict[str, Any]:
    """The ``[certainty]`` table of ``evidence/evidence.toml`` ({} when there is none)."""
    if evidence is None:
        return {}
    path = Path(evidence) / "evidence.toml"
    try:
        meta = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InvalidEvidence(
            [Problem("evidence.toml", None, None, f"not found in {evidence}")]
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InvalidEvidence(
            [Problem("evidence.toml", None, None, f"not valid TOML: {err}")]
        ) from None
    table = meta.get("certainty", {})
    if not isinstance(table, dict):
        raise InvalidEvidence([Problem("evidence.toml", None, "certainty", "must be a table")])
    return dict(table)
