"""Package data, not code: the hls4ml tutorial's parts as fpga_aware recipes (YAML).

This folder stays at the top of the repository and is installed as
``fpga_aware.shipped_recipes`` (``fpga_aware.workflows.recipes`` is the module that runs them; see
``[tool.setuptools.package-dir]`` in pyproject.toml); fpga_aware reads it through
:mod:`fpga_aware.resources`.
"""
