"""Running a recipe: :func:`run_recipe` builds or loads the model, runs its steps with the cost
logged every epoch, and writes the firmware, ``model.h5`` and the summaries."""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from fpga_aware.resources import MissingDataError, shared_models_dir
from fpga_aware.training.classifier import accuracy, compile_classifier
from fpga_aware.workflows.recipes.data import DATA_SHAPES, Dataset, load_data
from fpga_aware.workflows.recipes.errors import DataUnavailableError, RecipeError
from fpga_aware.workflows.recipes.result import FirmwareResult, RecipeResult
from fpga_aware.workflows.recipes.schema import FirmwareSpec, ModelSpec, QuantizeStep, Recipe, TrainStep, load_recipe
from fpga_aware.workflows.recipes.summary import summary_markdown

__all__ = ["run_recipe", "kernel_sparsity"]

logger = logging.getLogger(__name__)


def _kernel_layers(model) -> list:
    return [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]


def kernel_sparsity(model) -> float:
    """Fraction of exact zeros over all Dense/QDense kernels."""
    total = zeros = 0
    for layer in _kernel_layers(model):
        w = np.asarray(layer.kernel.numpy())
        total += w.size
        zeros += int(np.count_nonzero(w == 0))
    return zeros / total if total else 0.0


def _initializer(spec: Any, seed: int):
    from fpga_aware._stack import keras

    k = keras()
    if spec is None:
        return "glorot_uniform"
    try:
        if isinstance(spec, str):
            init = k.initializers.get(spec)
        else:
            init = k.initializers.deserialize(spec)
    except (ValueError, TypeError, KeyError) as err:
        raise RecipeError(f"model.untrained_init {spec!r} is not a Keras initializer: {err}") from None
    if hasattr(init, "seed") and init.seed is None:
        init.seed = seed
    return init


def _build_model(spec: ModelSpec, n_inputs: int, n_classes: int, init: Any):
    from fpga_aware._stack import keras

    k = keras()
    convs = spec.conv or []
    names = spec.names or ([f"conv{i}" for i in range(1, len(convs) + 1)]
                           + [f"fc{i}" for i in range(1, len(spec.hidden) + 1)] + ["output"])
    layers = [k.layers.InputLayer(input_shape=(n_inputs,), name="input")]
    if convs:
        if int(np.prod(spec.image)) != n_inputs:
            raise RecipeError(f"model.image {spec.image} holds {int(np.prod(spec.image))} values but the data set "
                              f"has {n_inputs} features")
        layers.append(k.layers.Reshape(tuple(spec.image), name="image"))
        for name, c in zip(names, convs):
            layers.append(k.layers.Conv2D(c.filters, c.kernel, activation=spec.activation, name=name,
                                          kernel_initializer=init))
            if c.pool > 1:
                layers.append(k.layers.MaxPooling2D(c.pool, name=f"{name}_pool"))
        layers.append(k.layers.Flatten(name="flatten"))
        names = names[len(convs):]
    for name, width in zip(names, spec.hidden):
        layers.append(k.layers.Dense(width, activation=spec.activation, name=name, kernel_initializer=init))
    layers.append(k.layers.Dense(n_classes, activation=spec.output_activation, name=names[-1],
                                 kernel_initializer=init))
    return k.Sequential(layers)


def _load_model(spec: ModelSpec, base: Path):
    from fpga_aware.frontend.model_io import load_model

    def resolve(name: str | None) -> Path | None:
        if name is None:
            return None
        path = Path(name).expanduser()
        return path if path.is_absolute() or path.exists() or not (base / path).exists() else base / path

    if spec.shared:
        try:
            shared = shared_models_dir()
        except MissingDataError as err:
            raise RecipeError(f"shared model {spec.shared!r}: {err}") from None
        arch, weights = shared / f"{spec.shared}.json", shared / f"{spec.shared}_weights.h5"
        if not arch.is_file():
            raise RecipeError(f"shared model {spec.shared!r} not found: {arch} does not exist")
        return load_model(arch, weights)
    return load_model(resolve(spec.file), resolve(spec.weights))


def _cost(model, spec: FirmwareSpec):
    from fpga_aware.firmware import to_firmware

    return to_firmware(model, spec.part, **spec.options()).estimate(spec.tool)


def _stage(name: str, model, spec: FirmwareSpec, data: Dataset | None) -> dict:
    report = _cost(model, spec)
    keras_accuracy = None
    if data is not None:
        keras_accuracy = accuracy(model.predict(data.x_test, verbose=0), data.y_test)
    stage = {"stage": name, "keras_accuracy": keras_accuracy, "sparsity": round(kernel_sparsity(model), 4)}
    stage.update({key: getattr(report, key) for key in ("dsp", "lut", "ff", "bram_18k", "latency_cycles", "ii")})
    logger.info("%s: DSP %s, LUT %s, II %d, sparsity %.1f %%%s", name, f"{report.dsp:,}", f"{report.lut:,}", report.ii,
                100 * stage["sparsity"], "" if keras_accuracy is None else f", test accuracy {100 * keras_accuracy:.1f} %")
    return stage


def _train(model, step: TrainStep, data: Dataset, cost_spec: FirmwareSpec, pruned_before: float,
           label: str = "") -> tuple[dict, float]:
    """Train one step quietly (no Keras progress bar); ``EpochProgress`` logs each epoch as ``label``."""
    from fpga_aware.training.callbacks import FPGACost
    from fpga_aware.training.progress import EpochProgress
    from fpga_aware.training.pruning import Prune

    compile_classifier(model, step.learning_rate)
    callbacks = []
    if step.prune is not None:
        p = step.prune
        callbacks.append(Prune(target_sparsity=p.target_sparsity, begin_step=p.begin_step, end_step=p.end_step,
                               frequency=p.frequency, power=p.power, structure=p.structure,
                               block_size=p.block_size, layers=p.layers, ramp_fraction=p.ramp_fraction))
    elif step.keep_sparsity and pruned_before > 0:
        # freeze the zeros of an earlier pruning step: the mask is taken once, at the first batch
        callbacks.append(Prune(target_sparsity=pruned_before, begin_step=0, end_step=1, frequency=1))
    callbacks.append(FPGACost(part=cost_spec.part, tool=cost_spec.tool, **cost_spec.options()))
    callbacks.append(EpochProgress(label))  # after FPGACost and Prune: their values are in the logs
    history = model.fit(data.x_train, data.y_train, epochs=step.epochs, batch_size=step.batch_size,
                        validation_split=step.validation_split, verbose=0, callbacks=callbacks).history
    return history, (step.prune.target_sparsity if step.prune is not None else pruned_before)


def _diff_pct(estimate: float, reference: Any) -> float | None:
    if isinstance(reference, list) and reference and all(isinstance(v, (int, float)) for v in reference):
        lo, hi = min(reference), max(reference)
        if lo <= estimate <= hi:
            return 0.0
        reference = lo if estimate < lo else hi
    if isinstance(reference, bool) or not isinstance(reference, (int, float)) or reference == 0:
        return None
    return round(100.0 * (estimate - reference) / reference, 2)


def _firmware(model, spec: FirmwareSpec, out: Path, data: Dataset | None, keras_probs, seed: int,
              n_inputs: int) -> FirmwareResult:
    from fpga_aware.firmware import to_firmware

    firmware = to_firmware(model, spec.part, **spec.options())
    report = firmware.estimate(spec.tool)
    result = FirmwareResult(name=spec.name, part=spec.part, estimate=report.to_dict(), reference=spec.reference)
    if spec.reference:
        result.reference_diff_pct = {
            key: _diff_pct(getattr(report, key), value) for key, value in spec.reference.items() if key != "source"
        }
    if spec.write:
        path = firmware.write(out / spec.name, overwrite=True)
        result.path = str(path)
    if data is not None:
        probs = firmware.predict(data.x_test)
        result.emulator_accuracy = accuracy(probs, data.y_test)
        result.keras_agreement = float(np.mean(np.argmax(probs, axis=1) == np.argmax(keras_probs, axis=1)))
    if spec.csim:
        rng = np.random.default_rng(seed)
        if data is not None:
            lo, hi = float(data.x_train.min()), float(data.x_train.max())
            verify = np.concatenate([data.x_test, rng.uniform(lo, hi, (spec.verify_samples, n_inputs))])
        else:
            verify = rng.uniform(0.0, 1.0, (max(spec.verify_samples, 1), n_inputs))
        logger.info("%s: compiling the C simulation and comparing it with the emulator on %d inputs",
                    spec.name, len(verify))
        emulated, simulated = firmware.predict(verify), firmware.predict(verify, engine="csim")
        result.emulator_csim_mismatches = int(np.count_nonzero(np.any(emulated != simulated, axis=1)))
        result.n_verified = int(len(verify))
    return result


def _check_output_dir(out: Path, overwrite: bool) -> None:
    """Nothing the user had is overwritten: a missing or empty folder, or an earlier run with ``overwrite``."""
    if not out.exists():
        return
    if not out.is_dir():
        raise RecipeError(f"output folder {str(out)!r} is a file")
    if not any(out.iterdir()):
        return
    if not (out / "summary.json").is_file():
        raise RecipeError(f"output folder {str(out)!r} is not empty and holds no earlier recipe run "
                          "(summary.json): choose another folder")
    if not overwrite:
        raise RecipeError(f"output folder {str(out)!r} holds an earlier recipe run; pass overwrite=True to "
                          "write over it, or choose another folder")


def run_recipe(path_or_name: str | os.PathLike | Recipe, out_dir: str | os.PathLike, epochs: int | None = None,
               overwrite: bool = False) -> RecipeResult:
    """Run a recipe (a file, a shipped recipe's name, or a :class:`Recipe`) and write its outputs to ``out_dir``.

    ``epochs`` replaces the epochs of every train step (the tests' reduced mode).  ``out_dir``
    must be missing or empty, or hold an earlier recipe run (its ``summary.json``) and
    ``overwrite=True``.  Raises :class:`RecipeError` for an invalid recipe or output folder and
    :class:`DataUnavailableError` for a missing data set (unless the recipe says
    ``on_missing_data: cost_only``).
    """
    from fpga_aware._stack import tensorflow
    from fpga_aware.training.quantization import quantize

    start = time.perf_counter()
    recipe = path_or_name if isinstance(path_or_name, Recipe) else load_recipe(path_or_name)
    recipe = recipe.with_epochs(epochs)
    out = Path(out_dir)
    _check_output_dir(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    tensorflow().keras.utils.set_random_seed(recipe.seed)
    notes: list[str] = []
    cost_spec = recipe.firmware[0]

    data: Dataset | None
    try:
        data = load_data(recipe.data, recipe.data_dir, recipe.seed)
        logger.info("data: %s (%d train, %d test samples)", data.description, len(data.x_train), len(data.x_test))
    except DataUnavailableError as err:
        if recipe.on_missing_data != "cost_only":
            raise
        data = None
        notes.append(f"DATA SET MISSING: {err}. Training and accuracy are skipped; the cost below is estimated "
                     "for the model's weights as they are (untrained: random initialisation, "
                     f"{recipe.model.untrained_init or 'glorot_uniform'}) and is all this run shows.")
        logger.warning("%s", notes[-1])

    if recipe.model.shared or recipe.model.file:
        model = _load_model(recipe.model, Path(recipe.source).parent if recipe.source else Path.cwd())
    else:
        n_inputs, n_classes = DATA_SHAPES[recipe.data] if data is None else (data.n_inputs, data.n_classes)
        init = _initializer(recipe.model.untrained_init, recipe.seed) if data is None else "glorot_uniform"
        model = _build_model(recipe.model, n_inputs, n_classes, init)
    n_inputs = int(np.prod(model.input_shape[1:]))
    if data is not None and data.n_inputs != n_inputs:
        raise RecipeError(f"the model takes {n_inputs} inputs but data set {recipe.data!r} has {data.n_inputs} features")

    stages = [_stage("initial", model, cost_spec, data)]
    histories: list[dict] = []
    trained = False
    pruned = kernel_sparsity(model) if (recipe.model.shared or recipe.model.file) else 0.0
    pruned = pruned if pruned > 0.05 else 0.0
    for i, step in enumerate(recipe.steps, start=1):
        if isinstance(step, QuantizeStep):
            logger.info("step %d: quantize to %d bits", i, step.bits)
            model = quantize(model, bits=step.bits, integer=step.integer, activation_bits=step.activation_bits,
                             activation_integer=step.activation_integer, layer_config=step.layer_config)
            stages.append(_stage(f"{i}: quantize {step.bits} bits", model, cost_spec, data))
            continue
        label = f"{i}: train {step.epochs} epochs" + (
            f", prune to {step.prune.target_sparsity:.0%}" if step.prune is not None else "")
        if data is None:
            notes.append(f"step {label} skipped: no data")
            continue
        logger.info("step %s", label)
        history, pruned = _train(model, step, data, cost_spec, pruned, label=f"step {i}")
        histories.append(history)
        trained = trained or step.epochs > 0
        stages.append(_stage(label, model, cost_spec, data))

    keras_probs = model.predict(data.x_test, verbose=0) if data is not None else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*HDF5 file.*legacy")
        model.save(out / "model.h5")
    results = [_firmware(model, spec, out, data, keras_probs, recipe.seed, n_inputs) for spec in recipe.firmware]
    for r in results:
        if r.emulator_csim_mismatches:
            notes.append(f"{r.name}: {r.emulator_csim_mismatches} of {r.n_verified} samples differ between the "
                         "emulator and the C simulation")

    def per_epoch(key: str) -> list:
        return [v for h in histories for v in h.get(key, [])]

    result = RecipeResult(
        name=recipe.name,
        description=recipe.description.strip(),
        data=recipe.data,
        data_available=data is not None,
        trained=trained,
        output_dir=str(out),
        stages=stages,
        dsp_per_epoch=[int(v) for v in per_epoch("fpga_dsp")],
        lut_per_epoch=[int(v) for v in per_epoch("fpga_lut")],
        sparsity_per_epoch=[round(float(v), 4) for v in per_epoch("sparsity")],
        sparsity=round(kernel_sparsity(model), 4),
        keras_accuracy=None if data is None else accuracy(keras_probs, data.y_test),
        firmware=results,
        notes=notes,
        seconds=round(time.perf_counter() - start, 2),
    )
    (out / "summary.json").write_text(json.dumps(asdict(result), indent=2, default=str))
    (out / "summary.md").write_text(summary_markdown(result))
    logger.info("wrote %s and %s", out / "summary.md", out / "summary.json")
    return result
