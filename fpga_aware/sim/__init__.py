"""Running the IR: the bit-exact numpy emulator (:mod:`.emulator`), the g++ C simulation of the
written project (:mod:`.csim`) and the input checks both share (:mod:`.inputs`)."""
