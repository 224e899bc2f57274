"""Benchmarks (``nox -s bench``): ratios measured side by side in one run.

1. Exact NNHM engine throughput (posteriors per second, 10-study data).
2. Compile once + swap pm.Data vs recompile per scenario (a 3-point prior grid).
3. Fit time per model on the CCSVI set (in-process, caches warm after the first fit).
4. One bias_adjusted fit in a fresh process with warm on-disk caches (target < 15 s).

Results are printed and written to out/bench/results.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

from ccsvi_bayes.fitting import fit  # noqa: E402
from ccsvi_bayes.inference import clear_cache  # noqa: E402
from ccsvi_bayes.inference.exact import nnhm_exact, nnhm_exact_batch  # noqa: E402

OUT = Path("out/bench")


def exact_throughput() -> dict[str, float]:
    rng = np.random.default_rng(1)
    m, k = 1000, 10
    y = rng.normal(0.2, 0.3, (m, k))
    se = rng.uniform(0.1, 0.4, (m, k))
    tau = {"dist": "HalfNormal", "kwargs": {"sigma": 0.5}}
    mu = {"dist": "Normal", "kwargs": {"mu": 0.0, "sigma": 1.0}}
    nnhm_exact_batch(y[:10], se[:10], tau, mu)
    start = time.perf_counter()
    nnhm_exact_batch(y, se, tau, mu)
    batch = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(100):
        nnhm_exact(y[i], se[i], tau, mu).summary()
    single = (time.perf_counter() - start) / 100
    return {"batch_posteriors_per_s": m / batch, "single_posterior_s": single}


def compile_once_vs_recompile() -> dict[str, float]:
    grid = [0.25, 0.5, 1.0]
    kwargs = {"model": "bias_adjusted", "outcome": "qol_physical", "predictive": False}
    clear_cache()
    fit(**kwargs, priors=["priors.tau.sigma=0.5"])  # compile once
    start = time.perf_counter()
    for sigma in grid:
        fit(**kwargs, priors=[f"priors.tau.sigma={sigma}"])
    once = time.perf_counter() - start
    start = time.perf_counter()
    for sigma in grid:
        clear_cache()
        fit(**kwargs, priors=[f"priors.tau.sigma={sigma}"])
    every = time.perf_counter() - start
    return {
        "scenarios": len(grid),
        "compile_once_s": once,
        "recompile_each_s": every,
        "ratio": every / once,
    }


def fit_times() -> dict[str, float]:
    out = {}
    for model in (
        "rct_only",
        "naive",
        "bias_adjusted",
        "three_level",
        "bias_mixture",
        "power_prior",
    ):
        start = time.perf_counter()
        fit(model=model, outcome="qol_physical")
        out[model] = time.perf_counter() - start
    start = time.perf_counter()
    fit(model="rct_only", outcome="qol_physical", engine="exact")
    out["rct_only (exact engine)"] = time.perf_counter() - start
    for endpoint in ("sae_any", "complication_major"):
        start = time.perf_counter()
        fit(model="sae", outcome=endpoint)
        out[f"sae / {endpoint}"] = time.perf_counter() - start
    return out


def fresh_process() -> dict[str, float]:
    code = (
        "import time, warnings; t0 = time.perf_counter(); warnings.filterwarnings('ignore');"
        "from ccsvi_bayes.fitting import fit; t1 = time.perf_counter();"
        "r = fit(model='bias_adjusted', outcome='qol_physical'); r.to_dir('out/bench/fresh'); t2 = time.perf_counter();"
        "print(t1 - t0, t2 - t1)"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True
    )  # warm on-disk caches
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    imports, fit_s = (float(v) for v in done.stdout.split()[-2:])
    return {
        "process_wall_s": wall,
        "imports_s": imports,
        "fit_and_write_s": fit_s,
        "target_s": 15.0,
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, bench in (
        ("exact_engine", exact_throughput),
        ("compile_once_vs_recompile", compile_once_vs_recompile),
        ("fit_seconds", fit_times),
        ("fresh_process_bias_adjusted", fresh_process),
    ):
        print(f"running {name} …", flush=True)
        results[name] = bench()
        print(json.dumps(results[name], indent=2), flush=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
