"""The offline demo in reduced mode: its summary, the bit-exact check, sparsity, cost and figures."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from fpga_aware.demo import DemoResult, run_demo

EPOCHS, PRUNE_EPOCHS, FINETUNE_EPOCHS = 2, 3, 2
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = run_demo(out, epochs=EPOCHS, prune_epochs=PRUNE_EPOCHS, finetune_epochs=FINETUNE_EPOCHS)
    return out, result


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every chunk of a PNG, each CRC checked."""
    assert data[:8] == PNG_SIGNATURE
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def test_summary_json(demo):
    out, result = demo
    assert isinstance(result, DemoResult)
    summary = json.loads((out / "summary.json").read_text())
    expected = {"float_accuracy", "pruned_accuracy", "quantized_pruned_accuracy", "firmware_accuracy", "sparsity",
                "emulator_csim_mismatches", "n_verified", "dsp_per_epoch", "lut_per_epoch", "sparsity_per_epoch",
                "estimate", "output_dir", "seconds"}
    assert set(summary) == expected
    assert summary["output_dir"] == str(out)
    n_epochs = EPOCHS + PRUNE_EPOCHS + FINETUNE_EPOCHS
    assert len(summary["dsp_per_epoch"]) == len(summary["lut_per_epoch"]) == len(summary["sparsity_per_epoch"]) == n_epochs
    for key in ("float_accuracy", "pruned_accuracy", "quantized_pruned_accuracy", "firmware_accuracy"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["float_accuracy"] > 0.5  # digits, even after 2 epochs
    assert summary["estimate"]["dsp"] == summary["dsp_per_epoch"][-1]
    assert summary["estimate"]["part"] == "xcu250-figd2104-2L-e"


def test_emulator_equals_csim(demo):
    out, result = demo
    assert result.emulator_csim_mismatches == 0
    assert result.n_verified >= 2000
    assert (out / "firmware" / "build_prj.tcl").is_file()
    assert abs(result.firmware_accuracy - result.quantized_pruned_accuracy) <= 0.02


def test_sparsity_reaches_75_percent(demo):
    _, result = demo
    assert abs(result.sparsity - 0.75) < 0.01
    float_phase = result.sparsity_per_epoch[:EPOCHS]
    assert all(s == 0.0 for s in float_phase)
    assert abs(result.sparsity_per_epoch[EPOCHS + PRUNE_EPOCHS - 1] - 0.75) < 0.01  # end of pruning
    assert all(abs(s - 0.75) < 0.01 for s in result.sparsity_per_epoch[EPOCHS + PRUNE_EPOCHS:])  # held


def test_cost_falls_from_float_to_the_end(demo):
    _, result = demo
    float_dsp, final_dsp = result.dsp_per_epoch[EPOCHS - 1], result.dsp_per_epoch[-1]
    float_lut, final_lut = result.lut_per_epoch[EPOCHS - 1], result.lut_per_epoch[-1]
    assert final_dsp < 0.2 * float_dsp, result.dsp_per_epoch
    assert final_lut < float_lut, result.lut_per_epoch
    pruned_dsp = result.dsp_per_epoch[EPOCHS + PRUNE_EPOCHS - 1]
    assert final_dsp < pruned_dsp < float_dsp  # pruning, then quantization, each lower the cost


def test_figures_are_valid_pngs(demo):
    out, _ = demo
    for name in ("cost_per_epoch.png", "roc.png"):
        chunks = _png_chunks((out / name).read_bytes())
        kinds = [kind for kind, _ in chunks]
        assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
        width, height = struct.unpack(">II", chunks[0][1][:8])
        assert width >= 300 and height >= 300
        import matplotlib.image

        image = matplotlib.image.imread(out / name)
        assert image.shape[:2] == (height, width) and image.std() > 0  # decodes, and is not blank


def test_summary_markdown(demo):
    out, result = demo
    text = (out / "summary.md").read_text()
    assert text.startswith("# fpga_aware demo")
    assert f"emulator vs C simulation: 0 mismatching samples of {result.n_verified}" in text
    assert "![cost_per_epoch.png](cost_per_epoch.png)" in text and "![roc.png](roc.png)" in text
