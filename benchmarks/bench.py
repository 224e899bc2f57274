"""Benchmarks (``nox -s bench``): ratios measured side by side in one run.

1. Exact NNHM engine throughput (posteriors per second, 10-study data), and with its own
   priors per scenario (scenarios/s including summaries): batch vs one at a time.
   Sensitivity grid: a 200-scenario bias_adjusted / qol_physical grid over bias and
   heterogeneity priors through the sensitivity engine vs refitting each scenario with
   fit() (a subset, extrapolated); ``--quick`` runs a 12-scenario part of that grid and
   extrapolates both sides to 200 (and skips benchmarks 2-4).
2. Compile once + swap pm.Data vs recompile per scenario (a 3-point prior grid).
3. Fit time per model on the CCSVI set (in-process, caches warm after the first fit).
4. One bias_adjusted fit in a fresh process with warm on-disk caches (target < 15 s).
5. The main job ``ccsvi-bayes run`` end to end (fits, checks, sweep, figures, SoF table,
   report and PDF) in a fresh process: cold (a new output folder) and warm (the same folder
   again: everything up to date); targets < 5 min cold, < 2 min warm. ``--run-only`` runs
   just this one.
6. Cost that grows with the data (``--storage-only`` runs just these), each in a fresh
   process on simulated evidence: the exact engine's peak memory at k = 200 RCTs
   (tracemalloc peak of fit + summary, and the process's peak RSS above its imports; target
   <= 300 MB) and the size of ``posterior.nc`` of a bias_adjusted fit at k = 600 studies
   (200 sham-controlled RCTs, 400 single-arm), as written and as a plain uncompressed
   float64 netCDF, at the requested 4 x 1000 draws (target <= 60 MB) and as fitted (a
   convergence retry multiplies the draws).
7. The compile cache (``--cache-only`` runs just this): one ``ccsvi-bayes fit`` of
   bias_adjusted / qol_physical (200 + 200 draws, chains in the process) in a fresh process
   with the compile cache cleared (cold) and then filled (warm): CPU seconds to the first
   draw (``resource.getrusage``: the machine may be shared) and in all; and the CPU seconds of
   ``ccsvi-bayes --help`` in a fresh process. Ratios cold / warm are printed.

Results are printed and written to out/bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

from ccsvi_bayes.fitting import fit  # noqa: E402
from ccsvi_bayes.inference import clear_cache  # noqa: E402
from ccsvi_bayes.inference.exact import (  # noqa: E402
    nnhm_exact,
    nnhm_exact_batch,
    nnhm_exact_scenarios,
)
from ccsvi_bayes.sensitivity.grid import plan_grid  # noqa: E402
from ccsvi_bayes.sensitivity.runner import run_grid  # noqa: E402

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


def _random_priors(rng: np.random.Generator) -> tuple[dict[str, object], dict[str, object]]:
    """A tau prior of a random family (HalfNormal, HalfCauchy, LogTau2Normal, Uniform) and a
    Normal or Flat mu prior, each with its own random hyperparameters."""
    family = int(rng.integers(4))
    if family == 0:
        tau = {"dist": "HalfNormal", "kwargs": {"sigma": float(rng.uniform(0.1, 1.0))}}
    elif family == 1:
        tau = {"dist": "HalfCauchy", "kwargs": {"beta": float(rng.uniform(0.05, 1.0))}}
    elif family == 2:
        kw = {"mu": float(rng.uniform(-4.0, -1.0)), "sigma": float(rng.uniform(0.8, 2.0))}
        tau = {"dist": "LogTau2Normal", "kwargs": kw}
    else:
        tau = {"dist": "Uniform", "kwargs": {"lower": 0.0, "upper": float(rng.uniform(0.5, 3.0))}}
    if rng.random() < 0.3:
        return tau, {"dist": "Flat", "kwargs": {}}
    sigma = float(rng.uniform(0.3, 3.0))
    return tau, {"dist": "Normal", "kwargs": {"mu": float(rng.normal(0, 0.2)), "sigma": sigma}}


def _best_of(n: int, run: object) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def exact_per_scenario_priors(m: int = 2000, k: int = 10, n_single: int = 100) -> dict[str, float]:
    """Scenarios/s with every scenario's own data and priors, full summaries included
    (effect mean/sd/median/95% interval, P(benefit), P(> MCID), tau mean and interval,
    predictive interval); best of 3 (time.perf_counter)."""
    rng = np.random.default_rng(11)
    y = rng.normal(0.2, 0.3, (m, k))
    se = rng.uniform(0.1, 0.4, (m, k))
    priors = [_random_priors(rng) for _ in range(m)]
    taus, mus = [p[0] for p in priors], [p[1] for p in priors]
    mcid = rng.uniform(0.0, 0.4, m)
    nnhm_exact_scenarios(y[:20], se[:20], taus[:20], mus[:20], mcid=mcid[:20])  # warm up
    batch = _best_of(3, lambda: nnhm_exact_scenarios(y, se, taus, mus, mcid=mcid))

    def one_at_a_time() -> None:
        for i in range(n_single):
            nnhm_exact(y[i], se[i], taus[i], mus[i]).summary(mcid=float(mcid[i]))

    single = _best_of(3, one_at_a_time) / n_single
    return {
        "scenarios": m,
        "studies_per_scenario": k,
        "batch_scenarios_per_s": m / batch,
        "one_at_a_time_scenarios_per_s": 1.0 / single,
        "ratio": single * m / batch,
        "target_scenarios_per_s": 1000.0,
    }


GRID_KNOBS = {  # 10 heterogeneity x 20 bias priors = 200 scenarios
    "priors.tau.sigma": [f"{v:.3g}" for v in np.linspace(0.1, 1.0, 10)],
    "priors.gamma.sigma": [f"{v:.3g}" for v in np.linspace(0.02, 0.4, 20)],
}


def sensitivity_grid(quick: bool = False, refits: int = 5) -> dict[str, float]:
    """The sensitivity engine on a bias_adjusted / qol_physical grid vs fit() per scenario.

    The engine runs the grid (all 200 scenarios, or 12 of them under ``quick``, in a fresh
    output folder, warm process); ``refits`` scenarios of the grid are refitted with
    ``fit(..., predictive=False)`` and the per-scenario time extrapolated to 200.
    """
    vary = GRID_KNOBS
    if quick:
        vary = {
            key: values[:: max(1, len(values) // n)][:n]
            for (key, values), n in zip(GRID_KNOBS.items(), (3, 4), strict=True)
        }
    plan = plan_grid(
        model="bias_adjusted", outcome="qol_physical", evidence_path=None, vary=vary, seed=1
    )
    out = OUT / "grid"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    outcome = run_grid(plan, out)
    engine = time.perf_counter() - start
    n = len(plan.scenarios)
    paths = sorted({str(r.get("path")) for r in outcome.rows})
    start = time.perf_counter()
    for scenario in plan.scenarios[:refits]:
        fit(
            model="bias_adjusted",
            outcome="qol_physical",
            priors=dict(scenario.sets),
            seed=1,
            predictive=False,
        )
    refit = (time.perf_counter() - start) / refits
    engine_200 = engine / n * 200
    return {
        "grid_scenarios_run": n,
        "engine_s": engine,
        "engine_200_s" + ("_extrapolated" if n != 200 else ""): engine_200,
        "engine_paths": ", ".join(paths),  # type: ignore[dict-item]
        "failed": len(outcome.failed),
        "refit_scenarios": refits,
        "refit_s_per_scenario": refit,
        "refit_200_s_extrapolated": refit * 200,
        "ratio": refit * 200 / engine_200,
        "target_ratio": 20.0,
        "target_200_s": 60.0,
        "note": "one warm process; the engine's time includes its first compile, the refits "
        "run after it (compiled model cached by structure)",
    }


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


def main_job() -> dict[str, object]:
    """``ccsvi-bayes run`` cold (a new output folder) then warm (the same folder again)."""
    out = OUT / "run"
    shutil.rmtree(out, ignore_errors=True)
    script = Path(sys.executable).with_name("ccsvi-bayes")  # the console script of this venv
    command = [str(script), "run", "--out", str(out)]
    times = {}
    for label in ("cold", "warm"):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        times[label] = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(
                f"ccsvi-bayes run ({label}) exited {done.returncode}:\n{done.stderr[-2000:]}"
            )
    index = json.loads((out / "run.json").read_text())
    return {
        "cold_s": times["cold"],
        "warm_s": times["warm"],
        "fits": len(index["fits"]),
        "sweep_scenarios": sum(s.get("scenarios", 0) for s in index.get("sweeps", [])),
        "figures": index.get("figures", {}).get("count", 0),
        "pdf_renderer": index.get("report", {}).get("pdf", {}).get("renderer", "none"),
        "target_cold_s": 300.0,
        "target_warm_s": 120.0,
    }


_EXACT_MEMORY = """
import json, resource, sys, tracemalloc, warnings
warnings.filterwarnings("ignore")
from ccsvi_bayes.checks.simulate import SimulationTruth, write_mixed_design_set
from ccsvi_bayes.fitting import fit
k, folder = int(sys.argv[1]), sys.argv[2]
evidence = write_mixed_design_set(folder, SimulationTruth(n_rct=k, n_single=0), seed=1)
fit(evidence, model="rct_only", outcome="qol", engine="exact").summary_dict()  # warm imports
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
result = fit(evidence, model="rct_only", outcome="qol", engine="exact")
result.summary_dict()
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"tracemalloc_peak_MB": peak / 1e6, "rss_peak_above_imports_MB": (rss1 - rss0) / 1e3,
                  "rss_peak_MB": rss1 / 1e3}))
"""

_STORAGE = """
import json, os, sys, time, warnings
warnings.filterwarnings("ignore")
import xarray as xr
from ccsvi_bayes.checks.simulate import SimulationTruth, write_mixed_design_set
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.results.store import write_datatree
k, folder = int(sys.argv[1]), sys.argv[2]
n_rct = k // 3
evidence = write_mixed_design_set(folder + "/evidence", SimulationTruth(n_rct=n_rct, n_single=k - n_rct))
start = time.perf_counter()
result = fit(evidence, model="bias_adjusted", outcome="qol")
fit_s = time.perf_counter() - start
out = result.to_dir(folder + "/fit")
written = os.path.getsize(out / "posterior.nc")
draws = int(result.idata["posterior"].sizes["draw"])
requested = int(result.spec.sampler["draws"])
def first_draws(tree, n):
    groups = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        if "draw" in ds.dims and ds.sizes["draw"] == draws:
            ds = ds.isel(draw=slice(0, n))
        groups[node.path] = ds
    return xr.DataTree.from_dict(groups)
part = first_draws(result.idata, requested)
write_datatree(folder + "/requested.nc", part)
part.to_netcdf(folder + "/requested_plain.nc", engine="h5netcdf")
result.idata.to_netcdf(folder + "/plain.nc", engine="h5netcdf")
print(json.dumps({
    "studies": k, "chains": int(result.idata["posterior"].sizes["chain"]),
    "draws_requested": requested, "draws_fitted": draws,
    "retries": result.diagnostics.retry.get("retries", 1 if result.diagnostics.retry else 0),
    "requested_draws_MB": os.path.getsize(folder + "/requested.nc") / 1e6,
    "requested_draws_plain_float64_MB": os.path.getsize(folder + "/requested_plain.nc") / 1e6,
    "as_fitted_MB": written / 1e6,
    "as_fitted_plain_float64_MB": os.path.getsize(folder + "/plain.nc") / 1e6,
    "fit_s": fit_s,
}))
"""


def _subprocess_json(code: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def exact_memory(k: int = 200) -> dict[str, object]:
    """Peak memory of one exact-engine fit (+ summary) at k RCTs, in a fresh process."""
    folder = OUT / f"exact_memory_{k}"
    shutil.rmtree(folder, ignore_errors=True)
    measured = _subprocess_json(_EXACT_MEMORY, str(k), str(folder))
    return {"studies": k, **measured, "target_MB": 300.0}


def storage_size(k: int = 600) -> dict[str, object]:
    """Size of posterior.nc of a bias_adjusted fit at k simulated studies (fresh process)."""
    folder = OUT / f"storage_{k}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    measured = _subprocess_json(_STORAGE, str(k), str(folder))
    return {**measured, "target_MB_at_requested_draws": 60.0}


#: run the CLI in this process; print CPU seconds when nutpie gets the model (its first draw)
_FIRST_DRAW = """
import atexit, json, resource, sys

def cpu():
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime

mark = {}
import ccsvi_bayes.inference.compiled as compiled

bind = compiled.CompiledModel.with_inputs

def with_inputs(self, inputs):
    runnable = bind(self, inputs)
    mark.setdefault("first_draw_cpu_s", cpu())
    return runnable

compiled.CompiledModel.with_inputs = with_inputs
atexit.register(lambda: print(json.dumps({**mark, "total_cpu_s": cpu()})))
from ccsvi_bayes.cli import main

sys.argv = ["ccsvi-bayes", *sys.argv[1:]]
main()
"""


def _child_cpu(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """CPU seconds (user + system) and wall seconds of a fresh process, and its stdout."""
    import os
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, done.stdout


def compile_cache_bench() -> dict[str, object]:
    """A CLI fit in a fresh process with the compile cache cleared, then filled; ``--help``."""
    from ccsvi_bayes.inference import compile_cache

    root = (OUT / "compile_cache").resolve()
    env = {compile_cache.CACHE_ENV: str(root)}
    folder = OUT / "cache_fit"
    args = ["fit", "--model", "bias_adjusted", "--outcome", "qol_physical", "--draws", "200"]
    args += ["--tune", "200", "--set", "sampler.processes=1", "--out", str(folder)]
    shutil.rmtree(root, ignore_errors=True)
    out: dict[str, float] = {}
    for label in ("cold", "warm"):  # cleared, then filled by the cold run
        shutil.rmtree(folder, ignore_errors=True)
        _, wall, stdout = _child_cpu([sys.executable, "-c", _FIRST_DRAW, *args], env)
        measured = json.loads(stdout.strip().splitlines()[-1])
        out[f"{label}_first_draw_cpu_s"] = float(measured["first_draw_cpu_s"])
        out[f"{label}_total_cpu_s"] = float(measured["total_cpu_s"])
        out[f"{label}_wall_s"] = wall
    script = Path(sys.executable).with_name("ccsvi-bayes")
    out["help_cpu_s"], out["help_wall_s"], _ = _child_cpu([str(script), "--help"], env)
    out["cache_MiB"] = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20
    out["ratio_first_draw_cold_over_warm"] = (
        out["cold_first_draw_cpu_s"] / out["warm_first_draw_cpu_s"]
    )
    out["ratio_total_cold_over_warm"] = out["cold_total_cpu_s"] / out["warm_total_cpu_s"]
    out["target_warm_first_draw_cpu_s"] = 3.0
    return dict(out)


def _table(results: dict[str, dict[str, object]]) -> str:
    """A plain table: benchmark, measure, value."""
    rows = [
        (bench, key, f"{v:,.4g}" if isinstance(v, float) else str(v))
        for bench, values in results.items()
        for key, v in values.items()
    ]
    widths = [max(len(r[i]) for r in [*rows, ("benchmark", "measure", "value")]) for i in range(3)]
    lines = [
        "  ".join(
            h.ljust(w) for h, w in zip(("benchmark", "measure", "value"), widths, strict=True)
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 12-scenario grid; skip 2-5")
    parser.add_argument("--run-only", action="store_true", help="only the main job (5)")
    parser.add_argument("--storage-only", action="store_true", help="only memory and file size (6)")
    parser.add_argument("--cache-only", action="store_true", help="only the compile cache (7)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, object]] = {}
    benches = [
        ("exact_engine", exact_throughput),
        ("exact_per_scenario_priors", exact_per_scenario_priors),
        ("sensitivity_grid", lambda: sensitivity_grid(quick=args.quick)),
    ]
    if not args.quick:
        benches += [
            ("compile_once_vs_recompile", compile_once_vs_recompile),
            ("fit_seconds", fit_times),
            ("fresh_process_bias_adjusted", fresh_process),
            ("main_job", main_job),
        ]
    storage = [("exact_memory_k200", exact_memory), ("posterior_nc_k600", storage_size)]
    if not args.quick:
        benches += [*storage, ("compile_cache", compile_cache_bench)]
    if args.run_only:
        benches = [("main_job", main_job)]
    if args.storage_only:
        benches = storage
    if args.cache_only:
        benches = [("compile_cache", compile_cache_bench)]
    for name, bench in benches:
        print(f"running {name} …", flush=True)
        results[name] = bench()  # type: ignore[operator]
        print(json.dumps(results[name], indent=2), flush=True)
    print(_table(results))
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
