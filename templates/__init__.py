"""Package data, not code: the jinja2 templates of the generated HLS projects.

This folder stays at the top of the repository and is installed as ``fpga_aware.templates``
(see ``[tool.setuptools.package-dir]`` in pyproject.toml); fpga_aware reads it through
:mod:`fpga_aware.resources`, so a checkout, an editable and a wheel install behave alike.
"""
