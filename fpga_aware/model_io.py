"""Load a Keras/QKeras model from disk: ``.h5``, ``.keras``, a SavedModel folder, or ``model.json`` + weights.

QKeras layers and quantizers load without extra flags.
"""

from __future__ import annotations

from pathlib import Path

from ._stack import keras

__all__ = ["ModelLoadError", "load_model", "custom_objects"]


class ModelLoadError(ValueError):
    """The model file cannot be read (missing, wrong format, or missing weights)."""


def custom_objects() -> dict:
    """QKeras layers, quantizers and tfmot wrappers, for deserialisation."""
    from qkeras.utils import _add_supported_quantized_objects

    objects: dict = {}
    _add_supported_quantized_objects(objects)
    try:
        from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

        objects["PruneLowMagnitude"] = pruning_wrapper.PruneLowMagnitude
    except ImportError:  # pragma: no cover - tfmot is a dependency
        pass
    return objects


def load_model(path: str | Path, weights: str | Path | None = None):
    """Load a tf-keras model; ``weights`` is required for (and only allowed with) a ``.json`` architecture."""
    k = keras()
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"model {str(path)!r} does not exist")
    objects = custom_objects()
    if path.suffix == ".json":
        if weights is None:
            raise ModelLoadError(f"{path.name} holds only the architecture: pass its weights file with --weights")
        weights = Path(weights)
        if not weights.exists():
            raise ModelLoadError(f"weights file {str(weights)!r} does not exist")
        try:
            model = k.models.model_from_json(path.read_text(), custom_objects=objects)
            model.load_weights(str(weights))
        except (ValueError, OSError, KeyError, TypeError) as err:
            raise ModelLoadError(f"cannot load {path.name} with weights {weights.name}: {err}") from None
        return model
    if weights is not None:
        raise ModelLoadError("--weights is only used with a model.json architecture file")
    if path.is_dir() or path.suffix in (".h5", ".hdf5", ".keras"):
        try:
            return k.models.load_model(str(path), custom_objects=objects, compile=False)
        except (ValueError, OSError, KeyError, TypeError) as err:
            raise ModelLoadError(f"cannot load model {str(path)!r}: {err}") from None
    raise ModelLoadError(
        f"unknown model format {path.suffix!r} for {str(path)!r}: use .h5, .keras, a SavedModel folder, "
        "or model.json with --weights"
    )
