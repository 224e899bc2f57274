"""A registry: entries by name, with a lookup error that names the known ones.

The model-family registry (``models``), the summary registry (``results.families``) and the
SBC registry (``checks.sbc_families``) are :class:`Registry` instances; a new family is one
``register`` call in each, and no other module branches on its name.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from ccsvi_bayes.errors import InvalidModelSpec

__all__ = ["Named", "Registry"]


class Named(Protocol):
    """An entry: anything with a ``name``."""

    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


class Registry(dict[str, T]):
    """Entries by name (a ``dict``); :meth:`lookup` raises :class:`InvalidModelSpec`
    ``"{missing} {name!r} (known: ...)"``, e.g. ``unknown model family 'x' (known: ...)``."""

    def __init__(self, missing: str) -> None:
        super().__init__()
        self.missing = missing

    def register(self, entry: T) -> T:
        """Add ``entry`` under its name (a later entry of the same name replaces it)."""
        self[entry.name] = entry
        return entry

    def lookup(self, name: str) -> T:
        try:
            return self[name]
        except KeyError:
            raise InvalidModelSpec(f"{self.missing} {name!r} (known: {', '.join(self)})") from None
