"""The role of this process in a keras-tuner search: single, or chief or worker of a distributed one."""

from __future__ import annotations

from fpga_aware._stack import tensorflow

tensorflow()  # the tf-keras guard, before keras_tuner imports Keras

from keras_tuner.src.distribute import utils as _dist_utils  # noqa: E402

__all__ = ["is_worker", "process_role"]


def is_worker() -> bool:
    """Whether this process is a worker of a distributed search (it neither deletes nor writes files)."""
    return _dist_utils.has_chief_oracle() and not _dist_utils.is_chief_oracle()


def process_role() -> str:
    """``'single'``, ``'chief'`` or ``'worker'`` (keras-tuner's ``KERASTUNER_*`` environment)."""
    if not _dist_utils.has_chief_oracle():
        return "single"
    return "chief" if _dist_utils.is_chief_oracle() else "worker"
