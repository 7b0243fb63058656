"""keras-tuner searches that trade accuracy against FPGA cost (:mod:`.tuner`) and their Pareto
fronts (:mod:`.pareto`)."""
