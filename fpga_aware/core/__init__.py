"""What every stage shares: fixed-point semantics (:mod:`.fixed`), the IR (:mod:`.ir`), the
typed configuration (:mod:`.config`), FPGA parts (:mod:`.parts`), lookup tables
(:mod:`.tables`), project-name rules (:mod:`.names`) and the CPU count (:mod:`.cpus`)."""
