"""io_stream: how tensors travel as tokens between layers, and the FIFO depths that follows.

In ``io_type='io_stream'`` every tensor between two layers is an ``hls::stream`` of
**tokens**: a channels-last tensor with spatial axes is sent one pixel per token (its ``C``
channels side by side, in C order over the spatial axes); a tensor without spatial axes (a
dense layer's output, a Flatten) is one token of all its values.  Each layer is one process of
a ``DATAFLOW`` region and works in one of three ways (:data:`STREAM_MODES`):

``window``  (convolution, pooling)
    keeps a circular **line buffer** of the last ``depth`` input pixels; output pixel ``p``
    (C order) is computed as soon as the input pixels its window reads have arrived:
    ``ready[p]``, the number of input pixels read before ``p`` (the running maximum of the
    last position each window reads, plus one).  ``depth`` is the largest span a window needs
    at that moment, ``max_p(ready[p] - first[p])`` with ``first[p]`` the earliest position
    window ``p`` reads: ``(kernel_rows - 1) * width + kernel_cols`` pixels for a stride-1
    ``'valid'`` 2-D window (dilation and ``'same'`` padding change it; this is the computed
    value, not a rule of thumb).
``pixel``   (element-wise activations)
    one output token per input token.
``tensor``  (dense, reorder, softmax)
    reads its whole input, then writes its whole output (a dense layer after Flatten reads one
    token anyway).  Before a window layer it writes pixels of that layer's channels (a Reshape
    after a Dense is no IR layer; the model input likewise).

FIFO depths come from a token schedule (:func:`stream_plan`): every process moves at most one
token per clock cycle on each of its streams, reading and writing in the same cycle (a
pipelined loop: an output token leaves one cycle after the last token it needs arrived); the
model input arrives one token per cycle; a process reads a token only when its next output
needs it, and not before its previous output is out (a window layer's line buffer holds
nothing more); a layer whose arithmetic has an initiation interval ``ii > 1`` (a reuse factor:
its multipliers shared over ``ii`` cycles) writes an output token at most every ``ii`` cycles
(a tensor layer: its first token ``ii`` cycles after its last read), so the FIFO in front of
it fills up.  The layers' pipeline latencies are not in the schedule (they delay every token
of a layer alike and add to the design's latency, which the cost model adds layer by layer).  The depth of the FIFO from a layer to the next is the most tokens the producer
has written and the consumer not yet read at any cycle, so the producer is never stopped
(at least 1).  The schedule's last write is the design's latency in token cycles and, since a
new sample can only enter once the first process has read the previous one, the interval
between samples is about the number of input pixels (reported as ``ii_tokens``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fpga_aware.core.config import ConfigError

__all__ = ["STREAM_MODES", "StreamStage", "StreamPlan", "stream_plan", "UnsupportedStreamError"]

#: How each layer kind runs in io_stream; kinds not listed are refused by name.
STREAM_MODES = {"conv": "window", "pooling": "window", "activation": "pixel", "step": "pixel",
                "dense": "tensor", "reorder": "tensor", "softmax": "tensor",
                "scale_shift": "tensor", "parametric_relu": "tensor"}
#: Kinds that run as a tensor process only on a tensor that arrives as one token (after a dense
#: layer or a Flatten: an unfolded BatchNormalization after a QDense, a PReLU); on pixels they
#: would hold the whole image, and are refused by name.
ONE_TOKEN_KINDS = ("scale_shift", "parametric_relu")


class UnsupportedStreamError(ConfigError):
    """A layer that io_stream does not implement (its kind, or its tensor layout): the option
    ``io_type='io_stream'`` does not apply to the model; the message names the layer and what is allowed."""


@dataclass
class StreamStage:
    """One layer of the stream: its tokens and, for a window layer, its line buffer."""

    name: str
    kind: str
    mode: str
    in_tokens: int  #: tokens read (input pixels)
    in_width: int  #: values per input token
    out_tokens: int
    out_width: int
    ready: np.ndarray | None = None  #: window layers: input pixels read before each output pixel
    buffer_depth: int = 0  #: window layers: pixels the line buffer holds
    fifo_depth: int = 1  #: depth of the FIFO to the next layer (computed; 0 for the model output)
    first_out_cycle: int = 0  #: schedule: cycle of the first output token
    last_out_cycle: int = 0  #: schedule: cycle of the last output token
    in_depth: int = 1  #: computed depth of the FIFO this stage reads
    #: cycles the layer's arithmetic needs per output token (window, pixel) or per output
    #: tensor (tensor): its initiation interval, ``layer.ii`` (a reuse factor R: R cycles)
    ii: int = 1
    cname: str = ""  #: the layer's C++ name (set by the HLS writer)

    @property
    def busy_cycles(self) -> int:
        """Cycles the process needs per sample: one per token on each stream, ``ii`` per
        output token (a tensor layer: ``ii`` for the whole output)."""
        work = self.ii if self.mode == "tensor" else self.ii * self.out_tokens
        return max(self.in_tokens, self.out_tokens, work)

    @property
    def buffer_values(self) -> int:
        """Values of the line buffer (``buffer_depth * in_width``)."""
        return self.buffer_depth * self.in_width

    def summary(self) -> dict:
        out = {"mode": self.mode, "in_tokens": self.in_tokens, "token_width_in": self.in_width,
               "out_tokens": self.out_tokens, "token_width_out": self.out_width,
               "fifo_depth_out": self.fifo_depth, "first_output_cycle": self.first_out_cycle,
               "last_output_cycle": self.last_out_cycle}
        if self.mode == "window":
            out.update(line_buffer_pixels=self.buffer_depth, line_buffer_values=self.buffer_values)
        return out


@dataclass
class StreamPlan:
    input_tokens: int
    input_width: int
    stages: list[StreamStage] = field(default_factory=list)
    input_fifo_depth: int = 1  #: depth the model input's port would need (the first stage's reads)

    @property
    def latency_tokens(self) -> int:
        """Cycles of the token schedule from the first input token to the last output token."""
        return self.stages[-1].last_out_cycle + 1 if self.stages else self.input_tokens

    @property
    def ii_tokens(self) -> int:
        """Cycles between two samples: the busiest process (tokens it moves, or its outputs
        times its initiation interval)."""
        return max([self.input_tokens] + [s.busy_cycles for s in self.stages])

    def summary(self) -> dict:
        return {"input_tokens": self.input_tokens, "token_width_in": self.input_width,
                "latency_token_cycles": self.latency_tokens, "ii_token_cycles": self.ii_tokens,
                "fifo_depths": {s.name: s.fifo_depth for s in self.stages[:-1]},
                "fifo_values": int(sum(s.fifo_depth * s.out_width for s in self.stages[:-1]))}


def _token_width(shape: tuple, n: int) -> int:
    """Values per token of a tensor of Keras ``shape`` (no batch) and ``n`` values."""
    shape = tuple(int(v) for v in shape or ())
    if len(shape) >= 2 and int(np.prod(shape)) == n:
        return shape[-1]
    return n


def _window_ready(layer, positions: np.ndarray) -> tuple[np.ndarray, int]:
    """``ready`` (input pixels read before each output pixel) and the line buffer depth."""
    valid = positions >= 0
    if not valid.any(axis=1).all():
        raise UnsupportedStreamError(f"layer {layer.name!r}: an output pixel whose window reads no input")
    last = np.where(valid, positions, -1).max(axis=1)
    first = np.where(valid, positions, np.iinfo(np.int64).max).min(axis=1)
    ready = np.maximum.accumulate(last) + 1
    depth = int((ready - first).max())
    return ready.astype(np.int64), depth


def stream_plan(ir) -> StreamPlan:
    """The io_stream plan of ``ir`` (raises :class:`UnsupportedStreamError` for what it does not run)."""
    first = ir.layers[0]
    width = _token_width(getattr(first, "shape", ()), first.n_out)
    plan = StreamPlan(first.n_out // width, width)
    tokens = plan.input_tokens
    for layer in ir.layers[1:]:
        mode = STREAM_MODES.get(layer.kind)
        if mode is None:
            raise UnsupportedStreamError(
                f"layer {layer.name!r} ({layer.kind}) has no io_stream implementation; io_stream runs the kinds "
                f"{', '.join(sorted(STREAM_MODES))} (use io_type='io_parallel' for this model)")
        in_width = layer.n_in // tokens
        if layer.kind in ONE_TOKEN_KINDS and tokens != 1:
            raise UnsupportedStreamError(
                f"layer {layer.name!r} ({layer.kind}) reads {tokens} tokens (pixels); io_stream runs {layer.kind} "
                "only on a tensor that arrives as one token (after a Dense or a Flatten); fold it into the "
                "convolution before it or use io_type='io_parallel'")
        if mode == "window":
            channels = int(layer.in_shape[-1])
            if in_width != channels and layer.n_in % channels == 0:
                # a whole-tensor producer (or the model input) may send any tokens: send pixels
                if not plan.stages:
                    plan.input_width, plan.input_tokens = channels, layer.n_in // channels
                    tokens, in_width = plan.input_tokens, channels
                elif plan.stages[-1].mode == "tensor":
                    plan.stages[-1].out_width, plan.stages[-1].out_tokens = channels, layer.n_in // channels
                    tokens, in_width = plan.stages[-1].out_tokens, channels
            if in_width != channels:
                raise UnsupportedStreamError(
                    f"layer {layer.name!r} ({layer.kind}) reads pixels of {channels} channels but its input arrives "
                    f"in tokens of {in_width} values (after a layer without spatial axes); io_stream needs a "
                    "channels-last tensor from the previous layer")
            positions = np.asarray(layer.windows if layer.kind == "pooling" else layer.patch[:, ::channels])
            if layer.kind == "conv":  # patch entries tap * C + c with c = 0: the tap's flat index / C
                positions = np.where(positions < layer.n_in, positions // channels, -1)
            ready, depth = _window_ready(layer, positions)
            out_width = _token_width(layer.out_shape, layer.n_out)
            stage = StreamStage(layer.name, layer.kind, mode, tokens, in_width, layer.n_out // out_width,
                                out_width, ready=ready, buffer_depth=depth)
        elif mode == "pixel":
            stage = StreamStage(layer.name, layer.kind, mode, tokens, in_width, tokens, in_width)
        else:
            out_width = _token_width(getattr(layer, "out_shape", ()), layer.n_out)
            stage = StreamStage(layer.name, layer.kind, mode, tokens, in_width, layer.n_out // out_width, out_width)
        stage.ii = max(1, int(layer.ii))
        plan.stages.append(stage)
        tokens = stage.out_tokens
    _schedule(plan)
    return plan


def _needs(stage: StreamStage) -> np.ndarray:
    """Input tokens the stage must have read before each of its output tokens."""
    if stage.mode == "window":
        return stage.ready
    if stage.mode == "pixel":
        return np.arange(1, stage.out_tokens + 1)
    return np.full(stage.out_tokens, stage.in_tokens)


def _schedule(plan: StreamPlan) -> None:
    """Token schedule: arrival cycles, lazy reads, one token per cycle per stream; FIFO depths."""
    arrive = np.arange(plan.input_tokens, dtype=np.int64)  # the model input: one token per cycle
    for stage in plan.stages:
        needs = _needs(stage)
        reads = np.empty(stage.in_tokens, dtype=np.int64)
        writes = np.empty(stage.out_tokens, dtype=np.int64)
        t_read, t_write, n_read = -1, -1, 0
        for j, need in enumerate(needs.tolist()):
            while n_read < need:  # not before the previous output is out (the line buffer holds no more)
                t_read = max(t_read + 1, t_write, int(arrive[n_read]))
                reads[n_read] = t_read
                n_read += 1
            if stage.mode == "tensor":  # the whole output is computed in ii cycles, then written
                t_write = t_read + stage.ii if j == 0 else t_write + 1
            else:  # a cycle after its last read, and one output token every ii cycles at most
                t_write = max(t_read + 1, t_write + stage.ii) if j else t_read + 1
            writes[j] = t_write
        while n_read < stage.in_tokens:  # cells no window reads: drained after the last output
            t_read = max(t_read + 1, t_write, int(arrive[n_read]))
            reads[n_read] = t_read
            n_read += 1
        stage.first_out_cycle, stage.last_out_cycle = int(writes[0]), int(writes[-1])
        stage.in_depth = _occupancy(arrive, reads)
        arrive = writes
    # the FIFO between stage k and k + 1 is the one stage k + 1 reads
    for producer, consumer in zip(plan.stages, plan.stages[1:]):
        producer.fifo_depth = consumer.in_depth
    if plan.stages:
        plan.stages[-1].fifo_depth = 0  # the model output: the top function's port
        plan.input_fifo_depth = plan.stages[0].in_depth


def _occupancy(arrive: np.ndarray, reads: np.ndarray) -> int:
    """Most tokens written (at ``arrive``) and not yet read (at ``reads``) at any cycle; at least 1."""
    events = np.concatenate([np.stack([arrive, np.ones_like(arrive)], 1), np.stack([reads, -np.ones_like(reads)], 1)])
    order = np.lexsort((-events[:, 1], events[:, 0]))  # a write and a read in one cycle: write first
    level = np.cumsum(events[order, 1])
    return max(1, int(level.max()) if level.size else 1)
