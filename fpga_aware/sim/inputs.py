"""The batch given to ``Firmware.predict``: checked once, the same for both engines.

``as_batch(ir, x)`` returns a C-contiguous float64 array of shape ``(batch, n_inputs)`` or
raises before any engine runs:

* :class:`InputShapeError` when the shape matches neither ``(batch, *input_shape)`` nor
  ``(batch, n_inputs)`` (a single sample ``(n_inputs,)`` is a batch of one);
* :class:`InputValueError` for values that have no fixed-point value or that would be changed
  silently by a float conversion: NaN and infinity, ``None`` (missing values in an object
  array), complex numbers (never their real part only), strings and other non-numbers.  The
  message names the offending rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["InputShapeError", "InputValueError", "as_batch", "check_finite"]

_MAX_ROWS_SHOWN = 10


class InputShapeError(ValueError):
    """The array passed to ``predict`` does not match the model's input shape."""


class InputValueError(ValueError):
    """The array passed to ``predict`` holds values the firmware cannot take (NaN, None, complex, ...)."""


def _rows_contain(mask: np.ndarray) -> str:
    """``"row [3] of the input contains"`` / ``"rows [3, 5] of the input contain"``: a message's start."""
    rows = np.flatnonzero(mask).tolist()
    shown = ", ".join(str(r) for r in rows[:_MAX_ROWS_SHOWN])
    more = f", ... ({len(rows)} rows in all)" if len(rows) > _MAX_ROWS_SHOWN else ""
    return f"row{'s' if len(rows) > 1 else ''} [{shown}{more}] of the input contain{'' if len(rows) > 1 else 's'}"


def _row_mask(bad: np.ndarray) -> np.ndarray:
    """Per row (first axis; a 1-D input is one row): does it hold a bad element?"""
    if bad.ndim <= 1:
        return np.array([bool(bad.any())])
    return bad.reshape(bad.shape[0], -1).any(axis=1)


def _float_array(x) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except ValueError as err:  # ragged nested lists
        raise InputShapeError(f"the input is not a rectangular array: {err}") from None
    kind = arr.dtype.kind
    if kind in "biuf":
        return arr.astype(np.float64, copy=False)
    if kind == "c":
        raise InputValueError(
            f"the input is complex ({arr.dtype}); the firmware takes real numbers (it does not drop the "
            "imaginary part for you: pass x.real if that is what you mean)"
        )
    if kind == "O":
        missing = np.frompyfunc(lambda v: v is None, 1, 1)(arr).astype(bool) if arr.size else np.zeros(arr.shape, bool)
        if missing.any():
            raise InputValueError(f"{_rows_contain(_row_mask(missing))} None (a missing value)")
        numeric = np.frompyfunc(lambda v: isinstance(v, (int, float, np.integer, np.floating, np.bool_))
                                and not isinstance(v, complex), 1, 1)(arr).astype(bool) if arr.size else missing
        if not numeric.all():
            raise InputValueError(f"{_rows_contain(_row_mask(~numeric))} values that are not real numbers")
        return arr.astype(np.float64)
    raise InputValueError(f"the input has dtype {arr.dtype}; the firmware takes real numbers (int or float)")


def as_batch(ir, x, check: bool = True) -> np.ndarray:
    """``x`` as a checked float64 batch of shape ``(batch, ir.n_inputs)`` (see the module doc).

    ``check=False`` leaves NaN and infinity to the caller (:func:`check_finite`)."""
    arr = _float_array(x)
    shape = tuple(ir.input.shape)
    n_in = ir.n_inputs
    if arr.ndim >= 1 and arr.shape[1:] == shape:
        batch = arr.reshape(arr.shape[0], n_in)
    elif arr.ndim == 2 and arr.shape[1] == n_in:
        batch = arr
    elif arr.ndim == 1 and arr.shape[0] == n_in:
        batch = arr.reshape(1, n_in)
    else:
        expected = f"(batch, {', '.join(map(str, shape))})"
        if len(shape) > 1:
            expected += f" or (batch, {n_in})"
        raise InputShapeError(
            f"input of shape {arr.shape} does not match the model input {(None, *shape)} (expected {expected})"
        )
    if check:
        check_finite(batch)
    return np.ascontiguousarray(batch)


def check_finite(batch: np.ndarray) -> None:
    """Raise :class:`InputValueError` naming the rows of the 2-D float ``batch`` that hold NaN or
    infinity.  (``Emulator.predict``'s buffered program finds them in its own input conversion
    and only then calls this, which saves two passes over the batch.)"""
    finite = np.isfinite(batch)
    if not finite.all():
        raise InputValueError(
            f"{_rows_contain(~finite.all(axis=1))} NaN or infinity, which have no fixed-point value"
        )
