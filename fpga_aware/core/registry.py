"""Per-stage registries: where each pipeline stage finds its entry for a layer kind.

Every stage that treats layer kinds differently (the Keras frontend, the emulator, the cost
model, the HLS writer) keeps one :class:`Registry` and registers one entry per kind with a
decorator next to the code of that entry::

    EMULATOR_RULES = Registry("emulator rule")

    @EMULATOR_RULES.register("dense")
    class DenseRule: ...

A stage looks its entry up with ``registry[kind]``; a kind without one raises
:class:`MissingStageError` naming the stage, the kind and what is registered.  The
conformance test (``tests/test_conformance.py``) checks that every kind of
:data:`fpga_aware.core.ir.LAYER_KINDS` has an entry in every stage.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

__all__ = ["Registry", "MissingStageError", "DuplicateEntryError"]

T = TypeVar("T")


class MissingStageError(LookupError):
    """A stage has no entry for a layer kind (or Keras class, or activation function)."""


class DuplicateEntryError(ValueError):
    """Two entries were registered for the same key of one stage."""


class Registry(Generic[T]):
    """A mapping ``key -> entry`` for one stage, filled by :meth:`register`."""

    def __init__(self, stage: str, key: str = "layer kind"):
        self.stage = stage  #: what an entry is, for messages ("emulator rule")
        self.key = key  #: what the keys are ("layer kind", "Keras class")
        self._entries: dict[str, T] = {}

    def register(self, *keys: str) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``keys``."""
        if not keys:
            raise ValueError(f"{self.stage}: register() needs at least one {self.key}")

        def add(entry: T) -> T:
            for key in keys:
                if key in self._entries:
                    raise DuplicateEntryError(f"{self.stage} for {self.key} {key!r} is registered twice")
                self._entries[key] = entry
            return entry

        return add

    def __getitem__(self, key: str) -> T:
        try:
            return self._entries[key]
        except KeyError:
            raise MissingStageError(
                f"no {self.stage} for {self.key} {key!r}; registered: {', '.join(sorted(self._entries)) or 'none'}"
            ) from None

    def get(self, key: str, default=None):
        return self._entries.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[str]:
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __repr__(self) -> str:
        return f"Registry({self.stage!r}: {', '.join(self._entries)})"
