"""Open a rendered report in headless Chromium and fail on anything broken (``nox -s report``).

    python tests/browser/check_report.py RUN_DIR [--chromium PATH] [--screenshot FILE]

Not collected by pytest (the file name does not start with ``test_``): it needs a browser.
Playwright is only the driver; the browser is Debian's ``chromium`` (``executable_path``),
nothing is downloaded. Fails (exit 1, one line per problem) on:

- any image not loaded (``naturalWidth == 0``);
- any console error or uncaught page error;
- any request other than ``data:`` / ``file:`` (the report must need no network);
- a broken panel: for each panel, the slider is moved to every other swept value; the P(benefit),
  P(> MCID) and interval read-outs must change and equal the embedded JSON.

A full-page screenshot is kept (default ``RUN_DIR/report-screenshot.png``), and one of the
first panel (``RUN_DIR/report-panel.png``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")


def find_chromium(explicit: str | None) -> str:
    for cand in (explicit, os.environ.get("CCSVI_BAYES_CHROMIUM"), *CANDIDATES):
        if cand and shutil.which(cand):
            return str(shutil.which(cand))
    sys.exit("no Chromium found (/usr/bin/chromium, chromium, chromium-browser)")


def fmt(x: Any) -> str:
    """The read-out format of the report (2 decimals, a real minus sign)."""
    if x is None or not math.isfinite(float(x)):
        return "–"
    return f"{float(x):.2f}".replace("-", "−")


def close(a: Any, b: Any) -> bool:
    if a in (None, "") or b in (None, ""):
        return a in (None, "") and b in (None, "")
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))


def check(run_dir: Path, chromium: str, screenshot: Path) -> list[str]:
    from playwright.sync_api import sync_playwright

    report = run_dir / "report.html"
    if not report.is_file():
        return [f"{report}: no report"]
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on(
            "console",
            lambda msg: (
                problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
            ),
        )
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

        def on_request(request: Any) -> None:
            if not request.url.startswith(("data:", "file:")):
                problems.append(f"network request: {request.url}")

        page.on("request", on_request)
        page.goto(report.resolve().as_uri(), wait_until="load")

        broken = page.eval_on_selector_all(
            "img",
            "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0)"
            ".map(i => i.getAttribute('data-stem') || i.alt)",
        )
        problems += [f"image not loaded: {name}" for name in broken]
        n_images = page.eval_on_selector_all("img", "imgs => imgs.length")
        print(f"{n_images} image(s) loaded")

        node = page.query_selector("#panel-data")
        panels = json.loads(node.text_content() or "[]") if node else []
        if not panels:
            print("no interactive panel in the report (no sweep in the run folder)")
        for panel in panels:
            problems += check_panel(page, panel)
        page.screenshot(path=str(screenshot), full_page=True)
        if panels:
            first = page.query_selector(f'[data-panel="{panels[0]["outcome"]}"]')
            if first is not None:
                first.scroll_into_view_if_needed()
                first.screenshot(path=str(screenshot.with_name("report-panel.png")))
        browser.close()
    return problems


def check_panel(page: Any, panel: dict[str, Any]) -> list[str]:
    outcome = panel["outcome"]
    root = f'[data-panel="{outcome}"]'
    slider = page.query_selector(f'{root} [data-role="slider"]')
    if slider is None:
        return [f"panel {outcome}: no slider"]
    values = panel["values"]
    problems: list[str] = []

    def read() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for role in ("prob-benefit", "prob-mcid", "interval"):
            el = page.query_selector(f'{root} [data-role="{role}"]')
            out[role] = (
                el.text_content() if el else None,
                el.get_attribute("data-value") if el else None,
            )
        el = page.query_selector(f'{root} [data-role="interval"]')
        out["q975"] = el.get_attribute("data-q975") if el else None
        return out

    start = int(slider.get_attribute("data-index") or 0)
    before = read()
    changed = False
    for index in [i for i in range(len(values)) if i != start] + [start]:
        slider.fill(repr(float(values[index]["value"])))  # sets the value, fires input + change
        now = read()
        v = values[index]
        if slider.get_attribute("data-index") != str(index):
            problems.append(f"panel {outcome}: the slider did not snap to {v['value']}")
        text = v.get("text") or {}  # the read-outs as the report prints them (MCSE digits)
        want_interval = text.get("interval") or (
            f"{fmt(v['mean'])} ({fmt(v['q025'])} to {fmt(v['q975'])})"
        )
        if now["prob-benefit"][0] != (
            text.get("prob_benefit") or fmt(v["prob_benefit"])
        ) or not close(now["prob-benefit"][1], v["prob_benefit"]):
            problems.append(
                f"panel {outcome} at {v['value']}: P(benefit) shows {now['prob-benefit']}, "
                f"the sweep says {v['prob_benefit']}"
            )
        if now["prob-mcid"][0] != (text.get("prob_mcid") or fmt(v["prob_mcid"])):
            problems.append(
                f"panel {outcome} at {v['value']}: P(> MCID) shows {now['prob-mcid'][0]}, "
                f"the sweep says {v['prob_mcid']}"
            )
        if now["interval"][0] != want_interval or not close(now["q975"], v["q975"]):
            problems.append(
                f"panel {outcome} at {v['value']}: interval shows {now['interval'][0]}, "
                f"the sweep says {want_interval}"
            )
        if index != start and now != before:
            changed = True
    if len({(v["prob_benefit"], v["q025"], v["q975"]) for v in values}) > 1 and not changed:
        problems.append(f"panel {outcome}: moving the slider changed nothing")
    print(f"panel {outcome}: {len(values)} values over {panel['key']} checked")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--chromium", default=None)
    parser.add_argument("--screenshot", type=Path, default=None)
    args = parser.parse_args()
    shot = args.screenshot or args.run_dir / "report-screenshot.png"
    problems = check(args.run_dir, find_chromium(args.chromium), shot)
    print(f"screenshot: {shot}")
    if problems:
        for p in problems:
            print("FAIL:", p)
        sys.exit(1)
    print("report OK: every image loaded, no console error, no network request, panels respond")


if __name__ == "__main__":
    main()
