"""Builders and parsers of command-line values shared by the command modules: an option
whose help shows no default, ``KEY=VALUE`` lists and comma-separated numbers. A malformed
value is an argument error (exit 2, the message names the option and the value)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from ccsvi_bayes.cli.render import fail

__all__ = ["comma_numbers", "finite_number", "no_default", "pairs", "text_value"]


def no_default(text: str, *names: str) -> Any:
    """A ``typer.Option`` (``names``, else the parameter's name) with help ``text`` and no
    default shown in ``--help``."""
    return typer.Option(*names, help=text, show_default=False)


def pairs[T](items: list[str] | None, message: str, value: Callable[[str], T]) -> dict[str, T]:
    """``["KEY=VALUE", ...]`` as a dict (keys stripped, values converted by ``value``); an item
    without ``=``, without a key or whose value ``value`` refuses (ValueError) fails with
    ``message`` formatted with ``item``, e.g. ``"--prior {item!r}: expected MODEL=P"``."""
    out: dict[str, T] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        try:
            parsed = value(text)
        except ValueError:
            fail(message.format(item=item))
        if not sep or not key.strip():
            fail(message.format(item=item))
        out[key.strip()] = parsed
    return out


def text_value(text: str) -> str:
    """A ``pairs`` value: the text stripped, which must not be empty."""
    if not text.strip():
        raise ValueError("empty value")
    return text.strip()


def finite_number(text: str) -> float:
    """A ``pairs`` value: a number, not NaN (infinities are left to the library's checks)."""
    number = float(text)
    if number != number:
        raise ValueError("not a number")
    return number


def comma_numbers[T](text: str, option: str, kind: Callable[[str], T]) -> list[T]:
    """``"V1,V2,…"`` converted by ``kind``; an unreadable or empty list fails naming
    ``option``."""
    try:
        values = [kind(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        fail(f"{option}: expected comma-separated numbers, got {text!r}")
    if not values:
        fail(f"{option}: expected comma-separated numbers, got {text!r}")
    return values
