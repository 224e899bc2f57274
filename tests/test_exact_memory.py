"""The exact NNHM engine: memory linear in k and small, numbers as before the memory work.

The continuous tau CDF behind ``sample`` evaluates the density at ~2 x 10^5 log-tau points;
built at once, its (points, k) temporaries took 1.3 GB at k = 200. The reference numbers
below were computed by the engine before it evaluated in blocks (commit 74d0398).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from ccsvi_bayes.inference.exact import nnhm_exact, nnhm_exact_scenarios

HALF_NORMAL = {"dist": "HalfNormal", "kwargs": {"sigma": 0.5}}
NORMAL = {"dist": "Normal", "kwargs": {"mu": 0.0, "sigma": 1.0}}
RHODES = {"dist": "LogTau2StudentT", "kwargs": {"nu": 5.0, "mu": -3.02, "sigma": 2.27}}
FLAT = {"dist": "Flat", "kwargs": {}}


def _data(k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(k)
    return rng.normal(0.2, 0.3, k), rng.uniform(0.1, 0.4, k)


# (priors, effect, tau, study 7, first draws of mu and tau with seed 3)
REFERENCE = [
    (
        (HALF_NORMAL, NORMAL),
        {
            "mean": 0.14300915382408755,
            "sd": 0.049498818202564784,
            "median": 0.1426199853139217,
            "q025": 0.046689134620105814,
            "q975": 0.24151738155298616,
            "prob_benefit": 0.9978987532572858,
            "prob_mcid": 0.8099438276936559,
        },
        {"mean": 0.20709094926693508, "q025": 0.1298999687922172, "q975": 0.29969763328744237},
        (0.3055705604440995, -0.0239740401635312, 0.6661910817124178),
        ([0.08607568827693451, 0.12704757053996205, 0.1406047707600523],),
        ([0.15111085280726955, 0.17553835002178833, 0.24207317970800657],),
    ),
    (
        (RHODES, FLAT),
        {
            "mean": 0.14276827226550728,
            "sd": 0.04877831938215289,
            "median": 0.1423718447294163,
            "q025": 0.047901459217027376,
            "q975": 0.23986720554574972,
            "prob_benefit": 0.9981468957077954,
            "prob_mcid": 0.8120043874354366,
        },
        {"mean": 0.2005831898644135, "q025": 0.12506503307309538, "q975": 0.2905837130008818},
        (0.2988814923142408, -0.024076540670115398, 0.6533882424319063),
        ([0.0863010567896567, 0.12687457315719247, 0.14056339490207373],),
        ([0.14594349389240904, 0.16988069823537633, 0.23470352052692456],),
    ),
]


@pytest.mark.parametrize(("priors", "effect", "tau", "study7", "mu_draws", "tau_draws"), REFERENCE)
def test_numbers_are_those_of_the_engine_before_the_memory_work(
    priors, effect, tau, study7, mu_draws, tau_draws
) -> None:
    y, se = _data(40)
    post = nnhm_exact(y, se, *priors)
    summary = post.summary(mcid=0.1)
    # the blocked BLAS sums may differ from one big product in the last bits only
    assert summary["effect"] == pytest.approx(effect, rel=1e-12)
    assert summary["heterogeneity"]["tau"] == pytest.approx(tau, rel=1e-12)
    row = summary["studies"][7]
    got = (row["shrunk_mean"], row["shrunk_q025"], row["shrunk_q975"])
    assert got == pytest.approx(study7, rel=1e-12)
    draws = post.sample(500, np.random.default_rng(3))
    np.testing.assert_allclose(draws["mu"][:3], mu_draws[0], rtol=1e-12)
    np.testing.assert_allclose(draws["tau"][:3], tau_draws[0], rtol=1e-12)


def _peak_bytes(k: int) -> int:
    """tracemalloc peak of one exact posterior at k studies: solve, summary, 4,000 draws."""
    y, se = _data(k)
    tracemalloc.start()
    try:
        post = nnhm_exact(y, se, HALF_NORMAL, NORMAL)
        post.summary(mcid=0.1)
        post.sample(4000, np.random.default_rng(1))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_grows_linearly_in_k_and_stays_small() -> None:
    small, large = _peak_bytes(20), _peak_bytes(80)
    # linear: four times the studies, at most ~four times the memory (blocks cap the rest)
    assert large / small <= 4.5, (small, large)
    # small: the 4,000 x 80 draws are 2.6 MB, the blocks ~20 MB; before: ~0.5 GB at k = 80
    # (1.3 GB at k = 200)
    assert large <= 40e6, large


def test_scenario_batch_unchanged_by_blocking() -> None:
    """The per-scenario batch shares the blocked marginal: same numbers as one at a time."""
    rng = np.random.default_rng(5)
    y, se = rng.normal(0.2, 0.3, (6, 120)), rng.uniform(0.1, 0.4, (6, 120))
    out = nnhm_exact_scenarios(y, se, HALF_NORMAL, NORMAL, n_nodes=256)
    for r in range(6):
        one = nnhm_exact(y[r], se[r], HALF_NORMAL, NORMAL).summary()
        assert out["mu_mean"][r] == pytest.approx(one["effect"]["mean"], rel=1e-9)
        assert out["tau_q975"][r] == pytest.approx(one["heterogeneity"]["tau"]["q975"], rel=1e-7)
