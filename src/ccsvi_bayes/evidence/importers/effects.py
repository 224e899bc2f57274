"""The effect size of one imported row, treatment vs control on the measure's raw
direction: ``yi`` with ``vi`` or ``sei`` as given, or computed as metafor's ``escalc`` does
from 2×2 counts (OR, RR) or from arm means, SDs and n (SMD, MD)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial

from ccsvi_bayes.evidence import escalc
from ccsvi_bayes.evidence.importers.options import Measure
from ccsvi_bayes.evidence.importers.reader import Get, Reader, Row

__all__ = ["COUNTS", "MEANS", "read_effect"]

#: escalc's input columns
EFFECT = ("yi", "vi", "sei")
COUNTS = ("ai", "bi", "ci", "di", "n1i", "n2i")
MEANS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")


def read_effect(reader: Reader, row: dict[str, str], r: Row) -> None:
    """Fill ``r.estimate`` (and counts, n) from yi/vi/sei, 2×2 counts or means."""
    n, m = r.number, r.measure
    assert m is not None
    get: Get = partial(reader.number, row, n)
    given = {k: reader.cell(row, k) for k in (*EFFECT, *COUNTS, *MEANS)}
    n1, n2 = get("n1i", whole=True), get("n2i", whole=True)
    for name, value in (("n1i", n1), ("n2i", n2)):
        if value is not None and value <= 0:
            reader.problem(n, reader.col(name), f"must be > 0: got {given[name]}")
    r.n_t = int(n1) if n1 is not None and n1 > 0 else None
    r.n_c = int(n2) if n2 is not None and n2 > 0 else None
    if given["yi"]:
        _from_yi(reader, r, get, given)
    elif given["ai"] or given["ci"]:
        _from_counts(reader, r, get, given)
    elif given["m1i"] or given["m2i"]:
        _from_means(reader, r, get, given)
    else:
        reader.problem(
            n,
            None,
            "no effect size: give yi with vi or sei, 2x2 counts (ai, bi, ci, di or ai, n1i, "
            "ci, n2i) or means (m1i, sd1i, n1i, m2i, sd2i, n2i)",
        )


def _quote(reader: Reader, given: Mapping[str, str], names: tuple[str, ...]) -> str:
    """The imported cells verbatim, ``column=value``, in the table's column order."""
    cols = [(str(reader.col(k)), given[k]) for k in names if given.get(k)]
    order = reader.table.header
    return ", ".join(f"{c}={v}" for c, v in sorted(cols, key=lambda cv: order.index(cv[0])))


def _from_yi(reader: Reader, r: Row, get: Get, given: Mapping[str, str]) -> None:
    yi, vi, sei = get("yi"), get("vi"), get("sei")
    col = reader.col
    if vi is not None and vi <= 0:
        reader.problem(r.number, col("vi"), f"variance must be > 0: got {given['vi']}")
        return
    if sei is not None and sei <= 0:
        reader.problem(r.number, col("sei"), f"standard error must be > 0: got {given['sei']}")
        return
    if yi is None:
        return
    if vi is None and sei is None:
        reader.problem(r.number, col("vi") or "vi", "yi needs its variance vi or its SE sei")
        return
    if vi is not None and sei is not None and not math.isclose(vi, sei**2, rel_tol=1e-3):
        reader.problem(
            r.number, col("sei"), f"vi = {given['vi']} and sei = {given['sei']} disagree"
        )
        return
    variance = vi if vi is not None else (sei or 0.0) ** 2
    sd_pooled = None
    sd1, sd2 = get("sd1i") or 0.0, get("sd2i") or 0.0
    smd = r.measure is not None and r.measure.code == "SMD"
    if smd and min(sd1, sd2) > 0 and r.n_t and r.n_c and r.n_t + r.n_c > 2:
        sd_pooled = escalc.pooled_sd(sd1, r.n_t, sd2, r.n_c)  # the SMD's own SD
    r.estimate = escalc.EffectSize(yi, variance, sd_pooled=sd_pooled)
    r.quote = _quote(reader, given, ("yi", "vi", "sei", "n1i", "n2i"))
    r.how = "effect size as given (yi" + (", vi)" if vi is not None else ", sei)")


def _measure_of(reader: Reader, r: Row, data: str, codes: tuple[str, str]) -> Measure | None:
    """The row's measure when ``data`` (2x2 counts, means) gives it (one of ``codes``);
    else None and a problem."""
    m = r.measure
    assert m is not None
    if m.code not in codes:
        reader.problem(
            r.number, "--measure", f"{data} give an {' or '.join(codes)}, not measure {m.code}"
        )
        return None
    return m


def _from_counts(reader: Reader, r: Row, get: Get, given: Mapping[str, str]) -> None:
    m = _measure_of(reader, r, "2x2 counts", ("OR", "RR"))
    if m is None:
        return
    cells = {k: get(k, whole=True) for k in ("ai", "bi", "ci", "di")}
    for k, value in cells.items():
        if value is not None and value < 0:
            reader.problem(r.number, reader.col(k), f"a count must be >= 0: got {given[k]}")
            return
    ai, bi, ci, di = cells["ai"], cells["bi"], cells["ci"], cells["di"]
    if ai is None or ci is None:
        missing = "ai" if ai is None else "ci"
        reader.problem(r.number, reader.col(missing) or missing, "event count is blank")
        return
    groups = (("ai", "bi", "n1i", ai, bi, r.n_t), ("ci", "di", "n2i", ci, di, r.n_c))
    totals: list[int] = []
    for ev_name, non_name, n_name, events, non, total in groups:
        if non is None and total is None:
            reader.problem(
                r.number, reader.col(non_name) or non_name, f"give {non_name} or {n_name}"
            )
            return
        if total is not None and events > total:
            reader.problem(
                r.number,
                reader.col(ev_name),
                f"events exceed n: {ev_name} = {events:g} > {n_name} = {total:g}",
            )
            return
        if non is not None and total is not None and events + non != total:
            reader.problem(
                r.number,
                reader.col(n_name),
                f"{ev_name} + {non_name} = {events + non:g} but {n_name} = {total:g}",
            )
            return
        totals.append(int(total if total is not None else events + non))  # type: ignore[operator]
    n_t, n_c = totals
    r.n_t, r.n_c = n_t, n_c
    r.counts = (int(ai), n_t, int(ci), n_c)
    fn = escalc.log_odds_ratio if m.code == "OR" else escalc.log_risk_ratio
    r.estimate = fn(ai, n_t - ai, ci, n_c - ci)
    r.quote = _quote(reader, given, COUNTS)
    r.how = f"{m.label} and its variance from the 2x2 counts as metafor::escalc(measure='{m.code}') computes them"
    if r.estimate.note:
        r.how += f"; {r.estimate.note}"


def _from_means(reader: Reader, r: Row, get: Get, given: Mapping[str, str]) -> None:
    m = _measure_of(reader, r, "means", ("SMD", "MD"))
    if m is None:
        return
    values = {k: get(k) for k in MEANS}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        for k in missing:
            reader.problem(r.number, reader.col(k) or k, "required for means data, but blank")
        return
    for k in ("sd1i", "sd2i"):
        if values[k] <= 0:  # type: ignore[operator]
            reader.problem(r.number, reader.col(k), f"SD must be > 0: got {given[k]}")
            return
    if m.code == "SMD" and values["n1i"] + values["n2i"] <= 3:  # type: ignore[operator]
        reader.problem(r.number, reader.col("n1i"), "an SMD needs n1i + n2i > 3")
        return
    args = [float(values[k]) for k in MEANS]  # type: ignore[arg-type]
    fn = escalc.hedges_g if m.code == "SMD" else escalc.mean_difference
    r.estimate = fn(*args)
    r.quote = _quote(reader, given, MEANS)
    what = "Hedges' g (exact J, large-sample variance)" if m.code == "SMD" else "mean difference"
    r.how = (
        f"{what} from the arm means, SDs and n as metafor::escalc(measure='{m.code}') computes it"
    )
