"""The Jinja2 environment of the report: templates shipped in the package
(``report/templates``), autoescaping on for every template, so any text from the evidence
set or a run folder is escaped."""

from __future__ import annotations

from functools import cache

import jinja2

from ccsvi_bayes.results import HARMS_FIGURE, KINDS

__all__ = ["environment"]


@cache
def environment() -> jinja2.Environment:
    """The package's template environment (autoescape on, undefined variables fail)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ccsvi_bayes.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # ``tojson`` (the panel's data in a <script>): "<", ">", "&", "'" are escaped by Jinja,
    # and every non-ASCII character (U+2028/9 included) by ensure_ascii, so no value can end
    # the script element or open an HTML comment
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": True}
    # the kinds of an outcome (``kind`` of a summary-of-findings row) and the harms section
    env.globals["kinds"] = {name: kind.name for name, kind in KINDS.items()}
    env.globals["harms_section"] = HARMS_FIGURE
    return env
