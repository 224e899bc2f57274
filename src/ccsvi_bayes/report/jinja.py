"""The Jinja2 environment of the report: templates shipped in the package
(``report/templates``), autoescaping on for every template, so any text from the evidence
set or a run folder is escaped."""

from __future__ import annotations

from functools import cache

import jinja2

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
    return env
