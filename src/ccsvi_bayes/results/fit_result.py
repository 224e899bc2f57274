"""One fitted model on one outcome (:class:`FitResult`): its summary and its folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ccsvi_bayes.results import files
from ccsvi_bayes.results.families import summarise
from ccsvi_bayes.results.fitted import Fitted
from ccsvi_bayes.results.provenance import provenance_attrs
from ccsvi_bayes.results.store import write_datatree, write_json
from ccsvi_bayes.results.summaries import parameter_table

__all__ = ["FitResult"]


@dataclass
class FitResult(Fitted):
    """One fitted model on one outcome: posterior, diagnostics, provenance (the parts of
    :class:`~ccsvi_bayes.results.fitted.Fitted`), with its summary and its folder."""

    def summary(self) -> pd.DataFrame:
        """Key parameters (mean, sd, 2.5%, 50%, 97.5%, R-hat, ESS) as a pandas table."""
        return parameter_table(self)

    def summary_dict(self) -> dict[str, Any]:
        """The ``summary.json`` content (architecture §5), as the model family summarises it
        (:mod:`ccsvi_bayes.results.families`)."""
        return summarise(self)

    def to_dir(self, path: str | Path) -> Path:
        """Write ``posterior.nc`` then ``summary.json`` (each atomically) into ``path``.

        ``summary.json`` carries ``schema_version`` and the ``store_key`` the main job compares
        to decide whether the fit is up to date.
        """
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        summary = self.summary_dict()
        idata = self.idata
        idata.posterior.attrs.update(provenance_attrs(self))
        # posterior.nc first, summary.json last: a folder with a summary is complete (an old
        # summary goes first, so it never sits beside a posterior it does not describe)
        (folder / files.SUMMARY).unlink(missing_ok=True)
        write_datatree(folder / files.POSTERIOR, idata)
        write_json(folder / files.SUMMARY, summary, "summary")
        return folder
