"""Load a Keras/QKeras model from disk: ``.h5``, ``.keras``, a SavedModel folder, or ``model.json`` + weights.

QKeras layers and quantizers load without extra flags.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from fpga_aware._stack import keras

__all__ = ["ModelLoadError", "Keras3ModelError", "load_model", "custom_objects", "saved_by_keras_version"]


class ModelLoadError(ValueError):
    """The model file cannot be read (missing, wrong format, or missing weights)."""


class Keras3ModelError(ModelLoadError):
    """The file was written by Keras 3, which tf-keras (Keras 2) cannot read."""


_RESAVE_HOW = (
    "fpga_aware reads tf-keras (Keras 2) models (QKeras and tfmot need Keras 2). Re-save it with tf-keras: "
    "build the same model after `import fpga_aware` (or with TF_USE_LEGACY_KERAS=1), copy the weights "
    "(Keras 3: np.savez('w.npz', *model.get_weights()); tf-keras: "
    "model.set_weights(list(np.load('w.npz').values()))) and call model.save('model.h5')"
)


def saved_by_keras_version(path: str | Path) -> str | None:
    """The Keras version recorded in a saved model (``.keras``, ``.h5``, ``.json``), if it records one.

    A SavedModel folder without tf-keras's ``keras_metadata.pb`` (what Keras 3's ``model.export()``
    writes; it holds no Keras layers tf-keras could read) reports ``"3"``.
    """
    path = Path(path)
    try:
        if path.is_dir():
            if (path / "saved_model.pb").is_file() and not (path / "keras_metadata.pb").is_file():
                return "3"
            return None
        if path.suffix == ".keras" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                if "metadata.json" in archive.namelist():
                    return json.loads(archive.read("metadata.json")).get("keras_version")
            return None
        if path.suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                version = f.attrs.get("keras_version")
            return version.decode() if isinstance(version, bytes) else version
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                return None
            # tf-keras's to_json() records its version; Keras 3's records none but names each object's module
            return data.get("keras_version") or ("3" if "module" in data else None)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None  # not readable as that format: the loader says why
    return None


def _refuse_keras3(path: Path) -> None:
    version = saved_by_keras_version(path)
    if version is not None and str(version).split(".")[0] == "3":
        what = ("is a SavedModel without Keras layers (written by Keras 3's model.export() or "
                "tf.saved_model.save, inference only)" if path.is_dir() else f"was saved by Keras {version}")
        raise Keras3ModelError(f"model {str(path)!r} {what}. {_RESAVE_HOW}")


def custom_objects() -> dict:
    """QKeras layers, quantizers and tfmot wrappers, for deserialisation."""
    from qkeras.utils import _add_supported_quantized_objects

    objects: dict = {}
    _add_supported_quantized_objects(objects)
    objects["QActivation"] = _qactivation_from_config()
    try:
        from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

        objects["PruneLowMagnitude"] = pruning_wrapper.PruneLowMagnitude
    except ImportError:  # pragma: no cover - tfmot is a dependency
        pass
    return objects


def _qactivation_from_config():
    """QActivation, but able to read the ``.keras`` format, which stores its quantizer as a nested config.

    QKeras 0.9.0's ``QActivation(activation=<dict>)`` keeps the dict as its quantizer, so a
    quantized model saved as ``.keras`` cannot be loaded back; this ``from_config`` deserialises
    the quantizer first and returns a plain ``QActivation``.
    """
    from qkeras import QActivation
    from qkeras.quantizers import get_quantizer

    class QActivationFromConfig(QActivation):
        @classmethod
        def from_config(cls, config):
            config = dict(config)
            if isinstance(config.get("activation"), dict):
                config["activation"] = get_quantizer(config["activation"])
            return QActivation(**config)

    return QActivationFromConfig


def load_model(path: str | Path, weights: str | Path | None = None):
    """Load a tf-keras model; ``weights`` is required for (and only allowed with) a ``.json`` architecture."""
    k = keras()
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"model {str(path)!r} does not exist")
    _refuse_keras3(path)
    objects = custom_objects()
    if path.suffix == ".json":
        if weights is None:
            raise ModelLoadError(f"{path.name} holds only the architecture: pass its weights file with --weights")
        weights = Path(weights)
        if not weights.exists():
            raise ModelLoadError(f"weights file {str(weights)!r} does not exist")
        _refuse_keras3(weights)
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
