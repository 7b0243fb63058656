"""Import paths of the flat layout before the pipeline subpackages, kept working.

fpga_aware's modules once sat side by side (``fpga_aware.tuner``, ``fpga_aware.emulator``, ...);
they now live in subpackages that read like the pipeline (``fpga_aware.search.tuner``,
``fpga_aware.sim.emulator``; see ``docs/architecture.md``).  User code and the documentation
written for the flat layout still import the old names: a finder on ``sys.meta_path`` answers
each old name with the module at its new place (the same module object, not a copy).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["MOVED_MODULES", "install_moved_module_aliases"]

#: Old module name (under ``fpga_aware``) -> its place now.
MOVED_MODULES = {
    "fixed": "core.fixed", "ir": "core.ir", "config": "core.config", "parts": "core.parts",
    "tables": "core.tables", "cpus": "core.cpus", "names": "core.names",
    "parser": "frontend.keras", "quantizers": "frontend.quantizers", "model_io": "frontend.model_io",
    "emulator": "sim.emulator", "csim": "sim.csim", "inputs": "sim.inputs",
    "writer": "hls.writer", "synthesis": "hls.synthesis", "reports": "hls.reports",
    "pruning": "training.pruning", "quantization": "training.quantization",
    "callbacks": "training.callbacks", "progress": "training.progress",
    "tuner": "search.tuner", "pareto": "search.pareto",
    "recipes": "workflows.recipes", "demo": "workflows.demo", "profiling": "workflows.profiling",
    "plots": "workflows.plots",
}
_PACKAGE = __name__.rpartition(".")[0]


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``fpga_aware.<old>`` to ``fpga_aware.<new>`` (imported on first use)."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package == _PACKAGE and name in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        module = importlib.import_module(f"{_PACKAGE}.{MOVED_MODULES[spec.name.rpartition('.')[2]]}")
        spec.loader_state = module.__spec__  # the import system is about to overwrite it
        return module

    def exec_module(self, module):
        # Already executed under its new name: give the module back its own spec.
        module.__spec__ = module.__spec__.loader_state


def install_moved_module_aliases() -> None:
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
