"""Helpers of the tests ported from hls4ml 1.3.0's ``test/pytest`` (issue 10).

hls4ml's ``convert_from_keras_model(...).compile(); predict(x)`` becomes
``fpga_aware.to_firmware(model, ...).predict(x)`` (the bit-exact emulator); :func:`check_csim`
writes the project and checks that the g++ C simulation equals the emulator exactly.
"""

from __future__ import annotations

import numpy as np


def check_csim(firmware, x, tmp_path) -> np.ndarray:
    """The C simulation of ``firmware`` on ``x`` equals the emulator bit for bit; returns it."""
    emulated = firmware.predict(x)
    firmware.write(tmp_path / "prj")
    simulated = firmware.predict(x, engine="csim")
    np.testing.assert_array_equal(simulated, emulated)
    return emulated
