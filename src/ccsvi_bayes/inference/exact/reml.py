"""The frequentist reference: a REML random-effects fit, the check on the Bayesian engine."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import optimize

from ccsvi_bayes.inference.exact.conjugate import marginal_given_tau
from ccsvi_bayes.inference.exact.inputs import check_data
from ccsvi_bayes.inference.exact.priors import MuPrior

__all__ = ["reml"]

FloatArray = npt.NDArray[np.float64]


def reml(y: npt.ArrayLike, se: npt.ArrayLike) -> dict[str, float]:
    """Frequentist REML random-effects fit: the check on the Bayesian engine.

    Maximises the restricted likelihood over tau^2 >= 0 (log-spaced grid search, then a
    bounded Brent search between the best point's neighbours). Returns ``tau2`` and
    ``tau`` (units of y squared / of y), ``mu`` (the inverse-variance weighted mean at
    tau2) and its standard error ``se_mu``. With one study the restricted likelihood is
    flat and ``tau2`` is 0.
    """
    yv, sv = check_data(y, se)
    s2 = sv * sv
    flat = MuPrior(0.0, math.inf)

    def loglik(t2: FloatArray) -> FloatArray:
        ll, _, _ = marginal_given_tau(np.sqrt(t2).reshape(1, -1), yv[None], s2[None], flat)
        return np.asarray(ll[0], dtype=np.float64)

    tau2 = 0.0
    if yv.size > 1:
        scale2 = float(np.var(yv) + np.median(s2))
        grid = np.concatenate([[0.0], np.geomspace(1e-8 * scale2, 1e2 * scale2, 400)])
        vals = loglik(grid)
        j = int(np.argmax(vals))
        lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
        res = optimize.minimize_scalar(
            lambda t2: -float(loglik(np.array([t2]))[0]),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-13 * scale2},
        )
        tau2 = float(res.x) if -float(res.fun) >= vals[j] else float(grid[j])
    w = 1.0 / (s2 + tau2)
    return {
        "tau2": tau2,
        "tau": math.sqrt(tau2),
        "mu": float((w * yv).sum() / w.sum()),
        "se_mu": float(1.0 / math.sqrt(w.sum())),
    }
