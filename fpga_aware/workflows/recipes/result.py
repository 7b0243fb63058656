"""What a recipe run produced: :class:`RecipeResult` (written to ``summary.json``) and one
:class:`FirmwareResult` per firmware."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FirmwareResult", "RecipeResult"]


@dataclass
class FirmwareResult:
    name: str
    part: str
    estimate: dict
    path: str | None = None
    emulator_accuracy: float | None = None
    keras_agreement: float | None = None  #: fraction of test samples where firmware and Keras pick the same class
    emulator_csim_mismatches: int | None = None
    n_verified: int = 0
    reference: dict | None = None
    reference_diff_pct: dict | None = None


@dataclass
class RecipeResult:
    name: str
    description: str
    data: str
    data_available: bool
    trained: bool
    output_dir: str
    stages: list  #: one dict per stage: cost and accuracy after the model was built and after each step
    dsp_per_epoch: list
    lut_per_epoch: list
    sparsity_per_epoch: list
    sparsity: float
    keras_accuracy: float | None
    firmware: list  #: of FirmwareResult
    notes: list
    seconds: float

    def firmware_result(self, name: str | None = None) -> FirmwareResult:
        for f in self.firmware:
            if name is None or f.name == name:
                return f
        raise KeyError(f"no firmware {name!r}; have {[f.name for f in self.firmware]}")
