"""What can go wrong when a project is written or reused."""

from __future__ import annotations

__all__ = ["OutputDirectoryError", "ProjectExistsError", "ProjectDefinitionError", "ProjectChangedError"]


class OutputDirectoryError(FileExistsError):
    """The output path exists and is not an fpga_aware project (or is a file): left untouched."""


class ProjectExistsError(FileExistsError):
    """The output folder holds an earlier fpga_aware project; pass ``overwrite=True`` to replace it."""


class ProjectDefinitionError(ValueError):
    """The IR or the config cannot be written as a project (the message says which layer and why)."""


class ProjectChangedError(RuntimeError):
    """A firmware's project folder no longer holds what it wrote (another export, or edited files)."""
