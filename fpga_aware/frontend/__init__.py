"""Keras (tf-keras, QKeras, tfmot) → IR: model loading (:mod:`.model_io`), the parse
(:mod:`.keras`) and the QKeras quantizer mapping (:mod:`.quantizers`)."""
