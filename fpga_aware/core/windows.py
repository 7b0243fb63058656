"""Sliding windows over channels-last tensors: the one place convolution and pooling indices
are computed.

Tensors travel between layers as flat vectors, the Keras tensor flattened in C order
(channels last: ``x[(row * width + col) * channels + c]``).  A window of a convolution or a
pooling layer is described here once, as integer index arrays, and every stage reads the same
arrays (the emulator gathers with them, the HLS writer stores them as constant tables), so the
two cannot disagree on which input feeds which output.

Keras' rules (``padding='valid'``: no padding; ``'same'``: ``out = ceil(in / stride)`` and
``pad_total = max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0)``, ``pad_before =
pad_total // 2``, the larger half after), per spatial axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["WindowGeometry", "window_geometry", "window_positions", "patch_indices", "PADDINGS"]

#: The ``padding`` values Keras' convolution and pooling layers accept (and we implement).
PADDINGS = ("valid", "same")


@dataclass(frozen=True)
class WindowGeometry:
    """A sliding window over the spatial axes of a channels-last tensor (1-D or 2-D)."""

    in_spatial: tuple[int, ...]  #: the input's spatial shape (``(width,)`` or ``(height, width)``)
    kernel: tuple[int, ...]  #: window extent per spatial axis
    strides: tuple[int, ...]
    dilation: tuple[int, ...]
    pad_before: tuple[int, ...]  #: zeros (or ignored cells) before the first input, per axis
    out_spatial: tuple[int, ...]  #: the output's spatial shape

    @property
    def n_pixels(self) -> int:
        """Output positions (the product of :attr:`out_spatial`)."""
        return int(np.prod(self.out_spatial, dtype=np.int64))

    @property
    def n_taps(self) -> int:
        """Window cells (the product of :attr:`kernel`)."""
        return int(np.prod(self.kernel, dtype=np.int64))

    @property
    def n_in_pixels(self) -> int:
        return int(np.prod(self.in_spatial, dtype=np.int64))


def window_geometry(in_spatial, kernel, strides, dilation, padding: str) -> WindowGeometry:
    """The output shape and padding Keras gives a window (raises ``ValueError`` on bad input)."""
    in_spatial, kernel, strides, dilation = (tuple(int(v) for v in a) for a in (in_spatial, kernel, strides, dilation))
    n = len(in_spatial)
    if not 1 <= n <= 2 or not len(kernel) == len(strides) == len(dilation) == n:
        raise ValueError(f"windows over 1 or 2 spatial axes only, got input {in_spatial}, kernel {kernel}, "
                         f"strides {strides}, dilation {dilation}")
    if padding not in PADDINGS:
        raise ValueError(f"padding {padding!r} is not supported; supported: {', '.join(PADDINGS)}")
    if min(kernel + strides + dilation + in_spatial) < 1:
        raise ValueError(f"kernel {kernel}, strides {strides}, dilation {dilation} and input {in_spatial} "
                         "must all be at least 1")
    out, before = [], []
    for size, k, s, d in zip(in_spatial, kernel, strides, dilation):
        span = (k - 1) * d + 1
        if padding == "valid":
            if span > size:
                raise ValueError(f"a window of extent {span} does not fit an input of size {size} (padding 'valid')")
            o, pad = (size - span) // s + 1, 0
        else:
            o = -(-size // s)
            pad = max((o - 1) * s + span - size, 0) // 2
        out.append(o)
        before.append(pad)
    return WindowGeometry(in_spatial, kernel, strides, dilation, tuple(before), tuple(out))


def window_positions(g: WindowGeometry) -> np.ndarray:
    """``(n_pixels, n_taps)`` spatial input positions (C order over the spatial axes) read by each
    output pixel's window, the window cells in C order; ``-1`` for a padding cell."""
    grids = []
    valid = None
    for axis, (size, k, s, d, pad, o) in enumerate(zip(g.in_spatial, g.kernel, g.strides, g.dilation,
                                                        g.pad_before, g.out_spatial)):
        pos = np.arange(o)[:, None] * s - pad + np.arange(k)[None, :] * d  # (o, k)
        grids.append(pos)
    if len(grids) == 1:
        pos = grids[0]
        valid = (pos >= 0) & (pos < g.in_spatial[0])
        flat = pos
    else:
        rows, cols = grids  # (oh, kh), (ow, kw) -> (oh, ow, kh, kw)
        r = rows[:, None, :, None]
        c = cols[None, :, None, :]
        valid = (r >= 0) & (r < g.in_spatial[0]) & (c >= 0) & (c < g.in_spatial[1])
        flat = r * g.in_spatial[1] + c
        flat, valid = np.broadcast_arrays(flat, valid)
    flat = np.where(valid, flat, -1).reshape(g.n_pixels, g.n_taps)
    return flat.astype(np.int64)


def patch_indices(g: WindowGeometry, channels: int) -> np.ndarray:
    """``(n_pixels, n_taps * channels)`` flat input indices of each output pixel's receptive
    field, ordered ``tap * channels + c`` (the row order of a Keras kernel reshaped to
    ``(n_taps * channels, filters)``); a padding cell reads index ``n_pixels_in * channels``,
    one past the input: the zero the gather appends."""
    pos = window_positions(g)
    n_in = g.n_in_pixels * channels
    idx = pos[:, :, None] * channels + np.arange(channels)[None, None, :]
    idx = np.where(pos[:, :, None] >= 0, idx, n_in)
    return idx.reshape(g.n_pixels, g.n_taps * channels).astype(np.int64)
