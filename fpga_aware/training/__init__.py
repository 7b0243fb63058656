"""The Keras training plugin: pruning (:mod:`.pruning`), quantization-aware training
(:mod:`.quantization`), the cost callback (:mod:`.callbacks`) and progress lines
(:mod:`.progress`)."""
