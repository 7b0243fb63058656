"""Recipes: the hls4ml tutorial's four parts as YAML files that run end to end.

A recipe (``recipes/*.yaml`` in the repository, or any YAML file) names a data set, a model, a
list of steps that change the model (``train`` with optional pruning, ``quantize``) and one or
more firmware configurations.  :func:`run_recipe` runs it and writes into ``out_dir``:

* ``summary.md`` and ``summary.json`` (the :class:`RecipeResult`): the estimated cost and the
  Keras accuracy after every step, the cost logged by :class:`~fpga_aware.FPGACost` every
  epoch, each firmware's estimate (beside published reference numbers where the recipe gives
  them), the firmware (emulator) accuracy and the emulator-vs-C-simulation check;
* ``model.h5``: the final Keras/QKeras model (``fpga-aware estimate out/model.h5`` reads it);
* one HLS project folder per firmware with ``write: true``.

Format (every key optional except where said; unknown keys are an error that lists the
allowed ones)::

    name: part3_pruning             # default: the file name
    description: one paragraph, copied into the summary
    data: digits                    # digits (scikit-learn, offline) | fashion_mnist | jets
    data_dir: null                  # fashion_mnist: folder of the idx files (default below);
                                    # jets: scikit-learn's data_home (its download cache)
    on_missing_data: error          # error | cost_only: without the data set, skip training
                                    # and accuracy and estimate the cost of the weights as they are
    seed: 0
    model:                          # built from the data set's shape ...
      hidden: [64, 32, 32]
      activation: relu
      names: [fc1, fc2, fc3, output]    # Dense layer names (default fc1.., output)
      untrained_init: null          # kernel initializer used only when training is skipped
      # conv: [{filters: 8, kernel: 3, pool: 2}]   # a CNN: Reshape(image), Conv2D(+MaxPooling2D)
      # image: [8, 8, 1]                         # blocks, Flatten, then hidden (names: conv1.., fc1..)
      # ... or loaded: shared: KERAS_3layer (../shared/models), or file: m.h5 (weights: w.h5)
    steps:
      - train: {epochs: 10, learning_rate: 0.003, batch_size: 32, validation_split: 0.1}
      - train: {epochs: 10, learning_rate: 0.001, prune: {target_sparsity: 0.75, frequency: 10}}
      - quantize: {bits: 6, integer: 0, activation_bits: 6}
    firmware:                       # one mapping or a list; the first also configures FPGACost
      - name: firmware              # folder name under out_dir
        part: xcu250-figd2104-2L-e
        precision: ap_fixed<16,6>
        reuse_factor: 1
        strategy: latency           # latency | resource
        clock_period: 5
        layer_config: {fc1: {reuse_factor: 2}}
        write: true                 # write the HLS project
        csim: true                  # compile it and check emulator == C simulation
        verify_samples: 2000        # random inputs added to the test set for that check
        tool: vivado                # the tool of the estimates: vitis (default), vivado or yosys
        reference: {dsp: 1162, ii: 128, source: "tutorial"}   # published numbers to compare with

A ``train`` step with no ``prune`` after a pruning step keeps the model's zeros (its mask is
frozen), unless ``keep_sparsity: false``.  ``run_recipe(..., epochs=N)`` sets the epochs of
every ``train`` step to ``N`` (the reduced mode of the tests).

Data sets: ``digits`` is scikit-learn's bundled 8x8 digits (offline); ``fashion_mnist`` reads
the idx files of Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``,
or ``$FPGA_AWARE_FASHION_MNIST`` / ``data_dir``); ``jets`` is the tutorial's hls4ml LHC jet data
set (OpenML 42468) fetched with :func:`sklearn.datasets.fetch_openml`, which needs the network
once (then scikit-learn's cache).  A missing data set raises :class:`DataUnavailableError` saying
how to get it (or, with ``on_missing_data: cost_only``, is noted in the summary).

The modules: :mod:`~fpga_aware.workflows.recipes.schema` (the dataclasses above, read from YAML),
:mod:`~fpga_aware.workflows.recipes.data` (the data sets), :mod:`~fpga_aware.workflows.recipes.run`
(:func:`run_recipe`), :mod:`~fpga_aware.workflows.recipes.result` (what a run produced),
:mod:`~fpga_aware.workflows.recipes.summary` (``summary.md``) and
:mod:`~fpga_aware.workflows.recipes.errors`.  Every public name is importable from this package.
"""

from __future__ import annotations

from fpga_aware.workflows.recipes.data import (
    DATA_SHAPES,
    DATA_SOURCES,
    FASHION_MNIST_DIR,
    FASHION_MNIST_ENV,
    FASHION_MNIST_FILES,
    JETS_OPENML_ID,
    Dataset,
    load_data,
    load_fashion_mnist,
    load_jets,
    read_idx,
)
from fpga_aware.workflows.recipes.errors import DataUnavailableError, RecipeError
from fpga_aware.workflows.recipes.result import FirmwareResult, RecipeResult
from fpga_aware.workflows.recipes.run import kernel_sparsity, run_recipe
from fpga_aware.workflows.recipes.schema import (
    MISSING_DATA_MODES,
    REFERENCE_KEYS,
    STEP_KINDS,
    FirmwareSpec,
    ModelSpec,
    PruneSpec,
    QuantizeStep,
    Recipe,
    TrainStep,
    find_recipe,
    list_recipes,
    load_recipe,
)
from fpga_aware.workflows.recipes.summary import summary_markdown

__all__ = [
    "RecipeError",
    "DataUnavailableError",
    "Dataset",
    "ModelSpec",
    "TrainStep",
    "PruneSpec",
    "QuantizeStep",
    "FirmwareSpec",
    "Recipe",
    "RecipeResult",
    "DATA_SOURCES",
    "FASHION_MNIST_DIR",
    "list_recipes",
    "find_recipe",
    "load_recipe",
    "load_data",
    "load_fashion_mnist",
    "load_jets",
    "read_idx",
    "run_recipe",
    "FirmwareResult",
    "kernel_sparsity",
    "summary_markdown",
    "DATA_SHAPES",
    "FASHION_MNIST_ENV",
    "FASHION_MNIST_FILES",
    "JETS_OPENML_ID",
    "MISSING_DATA_MODES",
    "REFERENCE_KEYS",
    "STEP_KINDS",
]
