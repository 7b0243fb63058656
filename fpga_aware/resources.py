"""The data files fpga_aware ships: HLS project templates and recipes.

``templates/`` and ``recipes/`` live at the top of the repository and are installed as the
packages ``fpga_aware.templates`` and ``fpga_aware.shipped_recipes`` (pyproject.toml maps them), so
they are found through :mod:`importlib.resources` in the same way from a checkout, an
editable install and a wheel.
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["template_root", "recipes_dir", "shared_models_dir", "SHARED_ENV", "MissingDataError"]

TEMPLATES_PACKAGE = "fpga_aware.templates"
RECIPES_PACKAGE = "fpga_aware.shipped_recipes"
#: Environment variable naming the ``shared/`` folder (the hls4ml example models).
SHARED_ENV = "FPGA_AWARE_SHARED"


class MissingDataError(FileNotFoundError):
    """A data folder fpga_aware needs cannot be found (the message says where it looked)."""


def template_root() -> Traversable:
    """The root of the shipped jinja2 templates (``templates/`` of the repository)."""
    return resources.files(TEMPLATES_PACKAGE)


def recipes_dir() -> Path:
    """The folder of the shipped recipes (``recipes/`` of the repository) on the file system."""
    root = resources.files(RECIPES_PACKAGE)
    if not isinstance(root, Path):  # e.g. a zip import: recipes are read as files by path
        raise MissingDataError(f"the shipped recipes ({RECIPES_PACKAGE}) are not on the file system: {root}")
    return root


def _checkout_root() -> Path | None:
    """The repository root when fpga_aware runs from a checkout (editable install), else None."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "templates").is_dir() else None


def shared_models_dir() -> Path:
    """``shared/models`` of the project: ``$FPGA_AWARE_SHARED/models``, else ``../shared`` beside a checkout
    or beside the working directory."""
    if os.environ.get(SHARED_ENV):
        candidates = [Path(os.environ[SHARED_ENV]).expanduser()]
    else:
        candidates = [Path.cwd() / "shared", Path.cwd().parent / "shared"]
        checkout = _checkout_root()
        if checkout is not None:
            candidates.insert(0, checkout.parent / "shared")
    for folder in candidates:
        if (folder / "models").is_dir():
            return folder / "models"
    looked = ", ".join(str(folder / "models") for folder in candidates)
    raise MissingDataError(f"the shared models folder was not found (looked in {looked}); set {SHARED_ENV}=/path/to/shared")
