"""A registry of named factories: how embedders and extractors are built by name from configuration."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Generic, TypeVar

from memvault.errors import Conflict, InvalidInput

T = TypeVar("T")


class Registry(Generic[T]):
    """Factories by name; `build(name, **options)` calls the factory with options its signature takes."""

    def __init__(self, what: str) -> None:
        self.what = what  # "embedder", "extractor": the word in error messages
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str, factory: Callable[..., T], *, replace: bool = False) -> None:
        """Make ``build(name, **options)`` call ``factory(**options)``; Conflict when the name is taken,
        unless ``replace``."""
        if not name or name != name.strip():
            raise InvalidInput(f"an {self.what} name must be a non-empty word, not {name!r}")
        if name in self._factories and not replace:
            raise Conflict(f"an {self.what} named {name!r} is already registered")
        self._factories[name] = factory

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._factories)

    def build(self, kind: str, **options: object) -> T:
        """A new one of the registered ``kind``; InvalidInput for an unknown kind or options its factory does
        not take."""
        factory = self._factories.get(kind)
        if factory is None:
            raise InvalidInput(f"unknown {self.what} {kind!r}; known: {', '.join(self.names())}")
        try:
            inspect.signature(factory).bind(**options)
        except TypeError as exc:
            raise InvalidInput(f"{self.what} {kind!r}: {exc}") from None
        return factory(**options)
