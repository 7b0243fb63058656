"""The data sets a recipe trains and scores on: scikit-learn's digits, Fashion-MNIST (Debian's idx
files), the hls4ml jets (OpenML); :func:`load_data` picks one by name."""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fpga_aware.workflows.recipes.errors import DataUnavailableError, RecipeError

__all__ = [
    "Dataset",
    "DATA_SOURCES",
    "DATA_SHAPES",
    "FASHION_MNIST_DIR",
    "FASHION_MNIST_ENV",
    "FASHION_MNIST_FILES",
    "JETS_OPENML_ID",
    "load_data",
    "load_fashion_mnist",
    "load_jets",
    "read_idx",
]

DATA_SOURCES = ("digits", "fashion_mnist", "jets")
#: Where Debian's ``dataset-fashion-mnist`` package puts its files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_ENV = "FPGA_AWARE_FASHION_MNIST"
FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
#: OpenML id of the hls4ml LHC jet data set (``hls4ml_lhc_jets_hlf``).
JETS_OPENML_ID = 42468
#: (inputs, classes) of each data set: a model can be built without the data.
DATA_SHAPES = {"digits": (64, 10), "fashion_mnist": (784, 10), "jets": (16, 5)}


@dataclass
class Dataset:
    """Train/test arrays (float32 inputs, integer labels ``0..n_classes-1``)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    description: str = ""

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))


def _load_digits(seed: int = 0) -> Dataset:
    from fpga_aware.workflows.demo import load_digits_split

    x_train, x_test, y_train, y_test = load_digits_split(seed)
    return Dataset("digits", x_train, y_train, x_test, y_test, 10,
                   "scikit-learn's bundled 8x8 digits, scaled to [0, 1], 75/25 split")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (the MNIST format; ``.gz`` or plain) into a numpy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise RecipeError(f"cannot read idx file {path}: {err}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise RecipeError(f"{path} is not an idx file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    code, ndim = data[2], data[3]
    if code not in dtypes:
        raise RecipeError(f"{path}: unknown idx data type 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise RecipeError(f"{path}: truncated idx header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(dtypes[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise RecipeError(f"{path}: idx header says shape {shape} ({expected} bytes) but {len(data) - header} follow")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_fashion_mnist(data_dir: str | os.PathLike | None = None) -> Dataset:
    """Fashion-MNIST from the idx files of Debian's ``dataset-fashion-mnist`` package.

    ``data_dir`` defaults to ``$FPGA_AWARE_FASHION_MNIST``, else ``/usr/share/datasets/fashion-mnist``;
    each file may be gzipped (``.gz``, as Debian ships them) or not.  Images are flattened to 784
    values scaled to [0, 1].
    """
    folder = Path(data_dir or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR).expanduser()
    arrays = {}
    for key, stem in FASHION_MNIST_FILES.items():
        found = [folder / f"{stem}{ext}" for ext in (".gz", "") if (folder / f"{stem}{ext}").is_file()]
        if not found:
            raise DataUnavailableError(
                f"Fashion-MNIST is not installed: {folder / (stem + '.gz')} does not exist. Install it with "
                f"`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or point data_dir / "
                f"${FASHION_MNIST_ENV} at a folder with the four idx files"
            )
        arrays[key] = read_idx(found[0])
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise RecipeError(f"Fashion-MNIST {part} files in {folder} do not match: images {x.shape}, labels {y.shape}")
    flat = {k: (v.reshape(len(v), -1).astype(np.float32) / 255.0 if k.startswith("x") else v.astype(np.int64))
            for k, v in arrays.items()}
    return Dataset("fashion_mnist", flat["x_train"], flat["y_train"], flat["x_test"], flat["y_test"], 10,
                   f"Fashion-MNIST from {folder}, 28x28 images flattened to 784 values in [0, 1]")


def load_jets(data_home: str | os.PathLike | None = None, seed: int = 42) -> Dataset:
    """The tutorial's jet data (OpenML 42468: 16 features, 5 classes g/q/t/w/z), standardised, 80/20 split.

    Needs the network the first time (scikit-learn caches it in ``data_home``); without it raises
    :class:`DataUnavailableError`.
    """
    from sklearn.datasets import fetch_openml
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelEncoder, StandardScaler

    try:
        bunch = fetch_openml(data_id=JETS_OPENML_ID, data_home=None if data_home is None else str(data_home),
                             as_frame=False, n_retries=1, delay=0.5)
    except Exception as err:  # noqa: BLE001 - URLError, HTTPError, OpenMLError...: all mean "not available"
        reason = str(getattr(err, "reason", None) or err).splitlines()[0] if str(err) else type(err).__name__
        raise DataUnavailableError(
            f"the hls4ml jet data set (OpenML {JETS_OPENML_ID}) cannot be fetched: {reason}. It needs the "
            "network once (scikit-learn then caches it under ~/scikit_learn_data); use data: digits offline"
        ) from None
    x = np.asarray(bunch.data, dtype=np.float32)
    y = LabelEncoder().fit_transform(np.asarray(bunch.target))
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed)
    scaler = StandardScaler().fit(x_train)
    return Dataset("jets", scaler.transform(x_train).astype(np.float32), y_train.astype(np.int64),
                   scaler.transform(x_test).astype(np.float32), y_test.astype(np.int64), int(y.max()) + 1,
                   f"hls4ml LHC jets (OpenML {JETS_OPENML_ID}), 16 standardised features, 5 classes")


def load_data(name: str, data_dir: str | os.PathLike | None = None, seed: int = 0) -> Dataset:
    """One of :data:`DATA_SOURCES`."""
    if name == "digits":
        return _load_digits(seed)
    if name == "fashion_mnist":
        return load_fashion_mnist(data_dir)
    if name == "jets":
        return load_jets(data_dir)
    raise RecipeError(f"unknown data set {name!r}; use one of {list(DATA_SOURCES)}")
