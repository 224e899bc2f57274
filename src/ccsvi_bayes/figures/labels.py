"""The one labeller: every model, parameter and sensitivity knob a reader sees is named here.

Internal names (``bias_adjusted``, ``priors.gamma.uncontrolled.mu``, ``tau``) stay in files
(run.json, summary.json, scenarios.csv); reports, tables, panels and figure labels show
:func:`model_label`, :func:`parameter_label` and :func:`knob_label` instead. An unknown name is
shown readably (underscores as spaces), never dropped.
"""

from __future__ import annotations

import re

__all__ = [
    "FEATURE_LABELS",
    "MODEL_LABELS",
    "PARAMETER_LABELS",
    "design_label",
    "feature_label",
    "knob_label",
    "model_label",
    "parameter_label",
    "plain_text",
    "strip_internal_references",
]

#: the default models of a run, as a committee reads them
MODEL_LABELS = {
    "bias_adjusted": "bias-adjusted (all studies)",
    "naive": "all studies pooled, no bias adjustment",
    "rct_only": "randomized trials only",
}

#: model parameters (the names of summary.json ``priors_effective`` and the posterior)
PARAMETER_LABELS = {
    "mu": "pooled effect (μ)",
    "tau": "between-study SD (τ)",
    "psi": "extra between-study SD of non-randomized studies (ψ)",
    "mu_design": "effect by design",
    "pi_mean": "average placebo or natural-course response (π)",
    "pi_sd": "spread of the placebo or natural-course response",
    "omega": "wait-list offset (ω)",
    "gamma": "bias by design feature (γ)",
    "kappa": "study-specific bias (κ)",
    "q_intercept": "baseline of the quality score",
    "beta_mean": "average baseline",
    "alpha_mean": "average baseline risk (log odds)",
    "alpha_sd": "spread of the baseline risks",
    "delta": "study effect",
    "theta": "study effect",
    "rho": "ascertainment of events (ρ)",
}

#: design features (vocabulary.DESIGN_FEATURES): the bias a feature stands for
FEATURE_LABELS = {
    "nonrandomized": "non-randomized",
    "uncontrolled": "uncontrolled",
    "unblinded": "unblinded",
    "unblinded_x_patient_reported": "unblinded with a patient-reported outcome",
    "retrospective": "retrospective",
    "self_selected_survey": "self-selected survey",
    "single_centre": "single-centre",
}

_DESIGNS = {
    "rct": "randomized trial",
    "cohort": "cohort",
    "case_control": "case-control",
    "single_arm": "single-arm",
    "survey": "survey",
}

#: sensitivity knobs whose whole dotted key has its own words
_KNOBS = {
    "priors.tau.sigma": "prior scale of the between-study SD (τ)",
    "priors.kappa.sigma": "prior scale of the study-specific bias (κ)",
    "priors.gamma.sigma": "prior uncertainty of the assumed biases (γ)",
    "priors.omega.mu": "assumed wait-list offset (ω)",
    "priors.omega.sigma": "prior uncertainty of the wait-list offset (ω)",
    "priors.pi_mean.mu": "assumed placebo or natural-course response (π)",
    "priors.mu.sigma": "prior scale of the pooled effect",
}

_STAT_WORDS = {"mu": "assumed", "sigma": "uncertainty of the assumed", "sd": "spread of the"}


def _readable(name: str) -> str:
    return str(name).replace("_", " ").strip()


def model_label(model: str) -> str:
    """A model's name for a reader ("bias-adjusted (all studies)")."""
    return MODEL_LABELS.get(str(model), _readable(model))


def feature_label(feature: str) -> str:
    """A design feature's name for a reader ("unblinded with a patient-reported outcome")."""
    return FEATURE_LABELS.get(str(feature), _readable(feature))


def design_label(design: str) -> str:
    """A study design's name for a reader ("randomized trial")."""
    return _DESIGNS.get(str(design), _readable(design))


def parameter_label(name: str) -> str:
    """A model parameter for a reader ("between-study SD (τ)"); an indexed name
    (``gamma[unblinded]``) names its index: "bias by design feature (γ): unblinded"."""
    base, _, index = str(name).partition("[")
    if not index and "." in base:  # a prior's dotted name: gamma.single_centre
        base, _, index = base.partition(".")
    label = PARAMETER_LABELS.get(base, _readable(base))
    if index:
        index = index.rstrip("]")
        label += f": {feature_label(index) if index in FEATURE_LABELS else _readable(index)}"
    return label


def knob_label(key: str) -> str:
    """A sensitivity knob (a dotted key of the spec, ``priors.gamma.uncontrolled.mu``) for a
    reader: "assumed bias of uncontrolled studies"."""
    key = str(key)
    if key in _KNOBS:
        return _KNOBS[key]
    parts = key.split(".")
    if len(parts) == 4 and parts[0] == "priors" and parts[1] == "gamma":
        feature, stat = parts[2], parts[3]
        studies = f"{feature_label(feature)} studies"
        if stat == "mu":
            return f"assumed bias of {studies}"
        if stat == "sigma":
            return f"uncertainty of the assumed bias of {studies}"
        return f"{_readable(stat)} of the bias of {studies}"
    if len(parts) == 3 and parts[0] == "priors":
        word = _STAT_WORDS.get(parts[2], _readable(parts[2]) + " of the")
        return f"{word} {parameter_label(parts[1])}"
    if parts[0] in ("readings", "alternatives") and len(parts) > 1:
        return f"reading of the data: {_readable(parts[-1])}"
    return _readable(key.replace(".", " "))


#: a note of the package's own ("evidence.md", "DESIGN.md") and its sections ("§8.1, §4")
_NOTE = (
    r"\b[\w-]+\.md\b(?:\s*§+\s*[\w.\-–]*[\w](?:\s*[,/]\s*§+\s*[\w.\-–]*[\w])*"
    r"|\s+Table\s+\w+)?"
)
#: a parenthesis citing such a note ("(evidence.md §4, row 'serious AEs')")
_NOTE_PAREN = re.compile(r"\s*\((?:[^()]*?)" + _NOTE + r"[^()]*\)")
_NOTE_BARE = re.compile(r"(?:[;,]\s*)?(?:see\s+)?" + _NOTE, re.IGNORECASE)


def strip_internal_references(text: str) -> str:
    """``text`` without references to the package's internal notes (``evidence.md §8.1``,
    ``(priors.md §10)``): a committee has only the primary sources, which are kept. A text that
    was only an internal reference becomes ""."""
    out = _NOTE_PAREN.sub("", str(text))
    out = _NOTE_BARE.sub("", out)
    out = re.sub(r"\(\s*[;,]?\s*\)", "", out)  # an emptied parenthesis
    out = re.sub(r"\s+([.;,)])", r"\1", out)
    out = re.sub(r"([;,])\s*([.;,)])", r"\2", out)
    out = re.sub(r"\(\s*[;,]\s*", "(", out)
    out = re.sub(r"\s{2,}", " ", out).strip()
    return out.strip(" ;,")


_FEATURE_CODE = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, FEATURE_LABELS), key=len, reverse=True)) + r")\b"
)
_KEY = re.compile(r"\bpriors(?:\.[A-Za-z_]\w*)+")


def plain_text(text: str) -> str:
    """A text for a reader: internal notes stripped, every sensitivity knob
    (``priors.gamma.uncontrolled.mu``) named by :func:`knob_label` and every design feature
    written as a code (``single_centre``) by :func:`feature_label`."""
    out = _KEY.sub(lambda m: knob_label(m.group(0)), strip_internal_references(text))
    return _FEATURE_CODE.sub(lambda m: feature_label(m.group(0)), out)
