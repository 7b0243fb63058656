"""The Verilog backend: the IR as synthesizable Verilog-2001, simulated with Verilator and
synthesized with Yosys (:mod:`.writer`, :mod:`.verilator`, :mod:`.yosys`)."""
