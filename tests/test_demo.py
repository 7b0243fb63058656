"""The offline demo in reduced mode: its summary, the bit-exact check, sparsity, cost and figures."""

from __future__ import annotations

import json
import re
import struct
import zlib

import numpy as np
import pytest

from conftest import captured_logs
from fpga_aware import plots
from fpga_aware.workflows.demo import PHASES, DemoResult, run_demo

EPOCHS, PRUNE_EPOCHS, FINETUNE_EPOCHS = 2, 3, 2
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo's output folder and result, the figures it drew and the INFO messages it logged."""
    out = tmp_path_factory.mktemp("demo")
    figures = {}

    def recording(draw):
        def wrapper(*args, **kwargs):
            figures[draw.__name__] = fig = draw(*args, **kwargs)
            return fig
        return wrapper

    with pytest.MonkeyPatch.context() as patch, captured_logs("fpga_aware") as messages:
        for name in ("cost_figure", "roc_figure"):
            patch.setattr(plots, name, recording(getattr(plots, name)))
        result = run_demo(out, epochs=EPOCHS, prune_epochs=PRUNE_EPOCHS, finetune_epochs=FINETUNE_EPOCHS)
    return out, result, figures, messages


@pytest.fixture(scope="module")
def demo(demo_run):
    return demo_run[:2]


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
                "estimate", "roc_auc", "output_dir", "seconds", "cnn"}
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
    auc = result.roc_auc
    assert f"| micro-average | {auc['float']['micro']:.4f} | {auc['pruned']['micro']:.4f} |" in text
    assert f"| 7 | {auc['float']['7']:.4f} |" in text


def test_progress_lines_every_epoch(demo_run):
    _, result, _, messages = demo_run
    pattern = re.compile(r"^(.+) epoch (\d+)/(\d+): loss [\d.]+, accuracy ([\d.]+) %, val_loss [\d.]+, "
                         r"val_accuracy ([\d.]+) % \| DSP ([\d,]+) \([\d.]+ % of the part\), LUT ([\d,]+) .*$")
    lines = [m for m in map(pattern.match, messages) if m]
    phases = [(PHASES[0], EPOCHS), (PHASES[1], PRUNE_EPOCHS), (PHASES[2], FINETUNE_EPOCHS)]
    assert [(m.group(1), int(m.group(2)), int(m.group(3))) for m in lines] == [
        (name, e, n) for name, n in phases for e in range(1, n + 1)]
    assert [int(m.group(6).replace(",", "")) for m in lines] == result.dsp_per_epoch
    assert [int(m.group(7).replace(",", "")) for m in lines] == result.lut_per_epoch
    for m, sparsity in zip(lines[EPOCHS:], result.sparsity_per_epoch[EPOCHS:]):  # Prune logs it from phase 2 on
        assert m.group(0).endswith(f"| sparsity {100 * sparsity:.1f} %"), m.group(0)
    assert all("sparsity" not in m.group(0) for m in lines[:EPOCHS])


def test_roc_figure_has_every_class_per_model(demo_run):
    _, result, figures, _ = demo_run
    fig = figures["roc_figure"]
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().split(":")[0] for ax in axes] == ["float", "pruned", "quantized+pruned", "firmware"]
    for ax in axes:
        model = ax.get_title().split(":")[0]
        aucs = result.roc_auc[model]
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == [f"micro-average: AUC {aucs['micro']:.4f}"] + [
            f"digit {c}: AUC {aucs[str(c)]:.4f}" for c in range(10)]
        assert len(ax.get_lines()) == 11
        bottom = ax.get_ylim()[0]  # zoomed in, yet every curve is in view from the left edge on
        assert all(np.asarray(line.get_ydata())[np.asarray(line.get_xdata()) == 0].max() >= bottom
                   for line in ax.get_lines())
        assert ax.get_xscale() == "log" and ax.get_xlabel() and ax.get_ylabel() == "true positive rate"
        assert 0.5 < aucs["micro"] <= 1.0 and len({round(a, 6) for a in aucs.values()}) > 1  # not one curve eleven times


def test_cost_figure_shows_cost_accuracy_and_phases(demo_run):
    _, result, figures, _ = demo_run
    top, bottom, lut_axis = figures["cost_figure"].axes
    assert top.get_ylabel() == "estimated DSP (DSP48 blocks)" and lut_axis.get_ylabel() == "estimated LUT (thousands)"
    assert bottom.get_xlabel() == "epoch" and bottom.get_ylabel() == "accuracy, sparsity (%)"
    n = EPOCHS + PRUNE_EPOCHS + FINETUNE_EPOCHS
    assert list(top.get_lines()[0].get_ydata()) == result.dsp_per_epoch
    np.testing.assert_allclose(lut_axis.get_lines()[0].get_ydata(), np.array(result.lut_per_epoch) / 1000)
    series = {line.get_label(): line.get_ydata() for line in bottom.get_lines() if not line.get_label().startswith("_")}
    assert len(bottom.get_lines()) - len(series) == 2  # the two phase boundaries
    assert set(series) == {"accuracy (train)", "accuracy (validation)", "sparsity (zero weights)"}
    assert all(len(v) == n and 0 <= min(v) and max(v) <= 100 for v in series.values())
    np.testing.assert_allclose(series["sparsity (zero weights)"], 100 * np.array(result.sparsity_per_epoch), atol=0.01)
    assert [t.get_text() for t in top.texts] == list(PHASES)


def test_figure_functions_reject_bad_input():
    labels = np.array([0, 1, 2, 1])
    good = np.full((4, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"scores\['b'\] must have shape \(4, n_classes\)"):
        plots.roc_figure({"a": good, "b": good[:3]}, labels)
    with pytest.raises(ValueError, match="labels must be in 0..2"):
        plots.roc_aucs({"a": good}, np.array([0, 1, 3, 1]))
    with pytest.raises(ValueError, match="class_names has 2 names for 3 classes"):
        plots.roc_figure({"a": good}, labels, class_names=["x", "y"])
    history = {"fpga_dsp": [3, 2, 1], "accuracy": [0.1, 0.2, 0.3]}
    with pytest.raises(ValueError, match="add up to the 3 epochs"):
        plots.cost_figure(history, phases=[("float", 1), ("pruning", 1)])
    with pytest.raises(ValueError, match=r"history\['accuracy'\] has 2 values"):
        plots.cost_figure({"fpga_dsp": [3, 2, 1], "accuracy": [0.1, 0.2]})
    with pytest.raises(ValueError, match="fpga_dsp"):
        plots.cost_figure({"fpga_lut": [1]})


def test_the_cnn_step_is_off_by_default_and_checked(demo, tmp_path):
    """The default demo has no CNN step (run_cnn_step is the recipe part5_cnn, tested in test_recipes)."""
    _, result = demo
    assert result.cnn is None
    with pytest.raises(ValueError, match="cnn_epochs"):
        run_demo(tmp_path, cnn_epochs=-1)

