"""Cost-aware keras-tuner searches on one machine (tuner issue, tests 1 and 3, plus the API around them)."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil

import keras_tuner as kt
import numpy as np
import pytest

import fpga_aware as fa
from fpga_aware import tuner as ft
from fpga_aware.core.config import ConfigError
from fpga_aware.workflows.demo import load_digits_split
from fpga_aware.search.pareto import dominates, pareto_indices
from conftest import captured_logs

PART = "xcu250-figd2104-2L-e"
BUDGET = {"dsp": 300}
COSTS = ("dsp", "lut", "ff", "bram_18k", "latency_cycles", "ii")
# a seed whose 4 trials mix feasible/infeasible, pruned/unpruned, reuse 1/2 and leave one trial off the front
SEED = 9


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


def _hypermodel():
    # 4- and 8-bit weights: 8-bit unpruned first layers cost ~400 DSPs (over the budget of 300),
    # 4-bit ones are built from LUTs; reuse factor 2 halves the multipliers and sets II = 2
    return ft.mlp_hypermodel(64, 10, layers=(1,), widths=(8, 16), bits=(4, 8), sparsity=(0.0, 0.75),
                             reuse_factor=(1, 2), learning_rate=(3e-3,))


@pytest.fixture(scope="module")
def search_run(digits, tmp_path_factory):
    """The search, its directory and the INFO messages it logged."""
    x_train, x_test, y_train, y_test = digits
    directory = tmp_path_factory.mktemp("tuner") / "runs"
    with captured_logs("fpga_aware.search.tuner") as messages:
        result = ft.search(_hypermodel(), x_train, y_train, part=PART, budget=BUDGET, max_trials=4, epochs=2,
                           directory=directory, algorithm="random", seed=SEED)
    return result, directory, messages


@pytest.fixture(scope="module")
def searched(search_run):
    return search_run[:2]


def _completed(result):
    return [t for t in result.trials if t["status"] == "COMPLETED"]


def test_search_runs_every_trial_and_costs_come_from_fpgacost(searched):
    result, directory = searched
    trials = _completed(result)
    assert len(result.trials) == 4 and len(trials) == 4
    # the seeded search is informative: some trials are within the budget and some are not,
    # some were pruned, and both reuse factors were tried
    assert {t["feasible"] for t in trials} == {True, False}
    assert {t["hyperparameters"]["sparsity"] for t in trials} == {0.0, 0.75}
    assert {t["hyperparameters"]["reuse_factor"] for t in trials} == {1, 2}
    for t in trials:
        model = result.load_model(t["trial_id"])
        options = result.trial_export_options(t["trial_id"])
        assert options["reuse_factor"] == t["hyperparameters"]["reuse_factor"]
        report = fa.estimate(model, PART, **options)
        for key in COSTS:
            assert t[f"fpga_{key}"] == getattr(report, key), (t["trial_id"], key)
        assert t["fpga_ii"] == t["hyperparameters"]["reuse_factor"]  # the trial's FPGACost used its reuse factor
        # Prune ran exactly when the trial asked for sparsity
        kernels = [w for w in model.get_weights() if w.ndim == 2]
        zeros = sum(int(np.sum(w == 0)) for w in kernels) / sum(w.size for w in kernels)
        if t["hyperparameters"]["sparsity"] > 0:
            assert t["sparsity"] == pytest.approx(0.75, abs=0.01)
            assert zeros == pytest.approx(0.75, abs=0.01)
        else:
            assert "sparsity" not in t
            assert zeros < 0.05
        # the per-trial report holds the same numbers and the epoch history
        report_file = json.loads((directory / "search" / f"trial_{t['trial_id']}" / "fpga_report.json").read_text())
        assert report_file["metrics"]["fpga_dsp"] == t["fpga_dsp"]
        assert len(report_file["history"]) == 2 and report_file["epoch"] == 1
        # the soft score is FPGACost's formula; the hard score is the metric or -inf
        factor = min(1.0, BUDGET["dsp"] / t["fpga_dsp"]) if t["fpga_dsp"] else 1.0
        assert t["fpga_score"] == pytest.approx(t["val_accuracy"] * factor)
        assert t["feasible"] == (t["fpga_dsp"] <= BUDGET["dsp"])
        assert t["score"] == t["fpga_hard_score"]
        assert t["fpga_hard_score"] == (t["val_accuracy"] if t["feasible"] else -math.inf)


def test_each_trial_logs_its_progress_and_the_best_so_far(search_run):
    result, _, messages = search_run
    pattern = re.compile(r"^trial (\d+)/4 \(trial_(\w+), [\d.]+ s\): val_accuracy ([\d.]+) % \| DSP ([\d,]+) .*"
                         r"\| best so far(?: \(within budget\): trial_(\w+), val_accuracy ([\d.]+) %|: none within "
                         r"the budget)$")
    lines = [m for m in map(pattern.match, messages) if m]
    assert len(lines) == 4, messages
    assert [int(m.group(1)) for m in lines] == [1, 2, 3, 4]
    by_id = {t["trial_id"]: t for t in result.trials}
    assert [m.group(2) for m in lines] == [t["trial_id"] for t in result.trials]
    best = None
    for m in lines:
        trial = by_id[m.group(2)]
        assert float(m.group(3)) == pytest.approx(100 * trial["val_accuracy"], abs=0.05)
        assert int(m.group(4).replace(",", "")) == trial["fpga_dsp"]
        assert ("OVER BUDGET" in m.group(0)) == (not trial["feasible"])
        if trial["feasible"] and (best is None or trial["val_accuracy"] > best["val_accuracy"]):
            best = trial
        if best is None:
            assert m.group(5) is None, m.group(0)
        else:  # the best within the budget among the trials so far
            assert m.group(5) == best["trial_id"], m.group(0)
            assert float(m.group(6)) == pytest.approx(100 * best["val_accuracy"], abs=0.05)
    assert lines[-1].group(5) == result.best_trial["trial_id"]


def test_planned_trials_of_hyperband():
    oracle = kt.oracles.HyperbandOracle(objective=kt.Objective("val_accuracy", "max"), max_epochs=3, factor=3)
    assert ft.planned_trials(oracle) == 2 + 3 + 1  # bracket 0: 2 trials; bracket 1: 3 then the best 1
    oracle.max_trials = 4
    assert ft.planned_trials(oracle) == 4
    random = kt.oracles.RandomSearchOracle(objective=kt.Objective("val_accuracy", "max"), max_trials=7)
    assert ft.planned_trials(random) == 7


def test_best_trial_respects_the_budget(searched):
    result, _ = searched
    assert result.objective.name == ft.HARD_SCORE and result.objective.direction == "max"
    feasible = [t for t in _completed(result) if t["fpga_dsp"] <= BUDGET["dsp"]]
    best = result.best_trial
    assert best is not None and best["fpga_dsp"] <= BUDGET["dsp"]
    assert best["val_accuracy"] == max(t["val_accuracy"] for t in feasible)
    assert result.best_hyperparameters.values == best["hyperparameters"]
    model = result.best_model()
    assert fa.estimate(model, PART, **result.trial_export_options(best["trial_id"])).dsp == best["fpga_dsp"]


def test_pareto_files_list_only_non_dominated_trials(searched):
    result, directory = searched
    project = directory / "search"
    trials = json.loads((project / "trials.json").read_text())["trials"]
    front = json.loads((project / "pareto.json").read_text())
    assert [a["name"] for a in front["axes"]] == ["val_accuracy", "fpga_dsp", "fpga_lut"]
    front_ids = [t["trial_id"] for t in front["front"]]
    assert front_ids and len(set(front_ids)) == len(front_ids)

    def better_or_equal(a, b):  # a at least as good as b on every axis
        return a["val_accuracy"] >= b["val_accuracy"] and a["fpga_dsp"] <= b["fpga_dsp"] and a["fpga_lut"] <= b["fpga_lut"]

    def strictly_dominates(a, b):
        return better_or_equal(a, b) and (
            a["val_accuracy"] > b["val_accuracy"] or a["fpga_dsp"] < b["fpga_dsp"] or a["fpga_lut"] < b["fpga_lut"])

    for point in front["front"]:
        assert not any(strictly_dominates(other, point) for other in trials), point["trial_id"]
    for other in trials:  # and every trial left out is dominated by one on the front
        if other["trial_id"] not in front_ids:
            assert any(strictly_dominates(p, other) for p in front["front"]), other["trial_id"]
    # the CSV has the same rows; the plot is a PNG
    with (project / "pareto.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["trial_id"] for r in rows] == front_ids
    assert [float(r["fpga_dsp"]) for r in rows] == [p["fpga_dsp"] for p in front["front"]]
    assert (project / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [t["trial_id"] for t in result.pareto] == front_ids
    assert [t["front_index"] for t in result.pareto] == list(range(len(front_ids)))


def test_pareto_filter_drops_exactly_the_dominated_rows():
    from fpga_aware.search.pareto import pareto_indices

    axes = [("val_accuracy", "max"), ("fpga_dsp", "min"), ("fpga_lut", "min")]
    rows = [
        {"val_accuracy": 0.90, "fpga_dsp": 100, "fpga_lut": 1000},
        {"val_accuracy": 0.85, "fpga_dsp": 120, "fpga_lut": 1000},  # dominated by row 0
        {"val_accuracy": 0.80, "fpga_dsp": 10, "fpga_lut": 5000},  # cheaper DSP: on the front
        {"val_accuracy": 0.90, "fpga_dsp": 100, "fpga_lut": 1000},  # equal to row 0: not dominated
        {"val_accuracy": None, "fpga_dsp": 1, "fpga_lut": 1},  # failed trial: never on the front
    ]
    assert pareto_indices(rows, axes) == [0, 2, 3]


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _offsets(ax, label: str) -> list[tuple[float, float]]:
    found = [c for c in ax.collections if c.get_label() == label]
    return [] if not found else [tuple(map(float, p)) for p in found[0].get_offsets()]


def test_pareto_figure_of_the_search(searched):
    """The search's own plot: every trial labelled by id, the best one starred, front/dominated/over budget apart."""
    from fpga_aware.search.pareto import front_figure

    result, _ = searched
    completed = _completed(result)
    best = result.best_trial
    fig = front_figure(completed, result.pareto, result.metric, costs=ft.PARETO_COSTS, limits=result._limits(),
                       chosen=best["trial_id"])
    front_ids = {t["trial_id"] for t in result.pareto}
    for ax, cost in zip(fig.axes, ft.PARETO_COSTS):
        assert sorted(t.get_text() for t in ax.texts) == sorted(t["trial_id"] for t in completed)
        assert _offsets(ax, f"chosen: trial {best['trial_id']}") == [(best[cost], best["val_accuracy"])]
        kinds = {"Pareto front (within budget)": (True, True), "Pareto front, over budget": (True, False),
                 "dominated (within budget)": (False, True), "dominated, over budget": (False, False)}
        for label, (on_front, feasible) in kinds.items():
            expected = sorted((t[cost], t["val_accuracy"]) for t in completed
                              if (t["trial_id"] in front_ids) == on_front and t["feasible"] == feasible)
            assert sorted(_offsets(ax, label)) == expected, label
            assert (label in _legend(ax)) == bool(expected)
        assert ax.get_ylabel() == "val_accuracy (%)" and ax.get_xlabel().startswith("estimated ")
    assert "budget: DSP 300" in _legend(fig.axes[0])


def test_pareto_figure_marks_each_kind_of_trial():
    from fpga_aware.search.pareto import front_figure

    trials = [
        {"trial_id": "0", "val_accuracy": 0.90, "fpga_dsp": 100, "fpga_lut": 1000, "feasible": True},
        {"trial_id": "1", "val_accuracy": 0.95, "fpga_dsp": 400, "fpga_lut": 900, "feasible": False},
        {"trial_id": "2", "val_accuracy": 0.85, "fpga_dsp": 120, "fpga_lut": 1100, "feasible": True},
        {"trial_id": "3", "val_accuracy": 0.80, "fpga_dsp": 500, "fpga_lut": 2000, "feasible": False},
        {"trial_id": "4", "val_accuracy": None, "fpga_dsp": 1, "fpga_lut": 1, "feasible": None},  # failed
    ]
    axes = [("val_accuracy", "max"), ("fpga_dsp", "min"), ("fpga_lut", "min")]
    front = [trials[i] for i in pareto_indices(trials, axes)]
    assert [t["trial_id"] for t in front] == ["0", "1"]
    fig = front_figure(trials, front, "val_accuracy", limits={"fpga_dsp": 300}, chosen="0")
    dsp = fig.axes[0]
    assert sorted(t.get_text() for t in dsp.texts) == ["0", "1", "2", "3"]  # the failed trial has no point
    assert _offsets(dsp, "Pareto front (within budget)") == [(100.0, 0.90)]
    assert _offsets(dsp, "Pareto front, over budget") == [(400.0, 0.95)]
    assert _offsets(dsp, "dominated (within budget)") == [(120.0, 0.85)]
    assert _offsets(dsp, "dominated, over budget") == [(500.0, 0.80)]
    assert _offsets(dsp, "chosen: trial 0") == [(100.0, 0.90)]
    assert _legend(dsp)[0] == "chosen: trial 0" and "budget: DSP 300" in _legend(dsp)
    with pytest.raises(ValueError, match="chosen trial '9' is not among the trials"):
        front_figure(trials, front, "val_accuracy", chosen="9")
    # without a budget nothing is "within budget"
    plain = front_figure([dict(t, feasible=True) for t in trials[:3]], front, "val_accuracy")
    assert "Pareto front" in _legend(plain.axes[0]) and not any("budget" in t for t in _legend(plain.axes[0]))


def test_export_a_front_point(searched, tmp_path):
    result, _ = searched
    point = result.pareto[0]
    firmware = result.export(0, tmp_path / "fw")
    assert (tmp_path / "fw").is_dir() and any((tmp_path / "fw").rglob("*.cpp"))
    assert firmware.estimate().dsp == point["fpga_dsp"] and firmware.estimate().lut == point["fpga_lut"]
    with pytest.raises(IndexError, match="front_index"):
        result.export(len(result.pareto), tmp_path / "nope")


def test_existing_directory_resumes_and_is_not_clobbered(searched, digits, tmp_path):
    result, directory = searched
    x_train, _, y_train, _ = digits
    copy = tmp_path / "runs"
    shutil.copytree(directory, copy)
    # same settings, overwrite=False: the finished search is reloaded, nothing is re-run
    resumed = ft.search(_hypermodel(), x_train, y_train, part=PART, budget=BUDGET, max_trials=4, epochs=2,
                        directory=copy, algorithm="random", seed=SEED)
    assert [(t["trial_id"], t["fpga_dsp"], t["val_accuracy"]) for t in resumed.trials] == \
        [(t["trial_id"], t["fpga_dsp"], t["val_accuracy"]) for t in result.trials]
    # other settings on the same directory: refused, the old search is untouched
    with pytest.raises(ft.SearchConfigError, match="budget"):
        ft.search(_hypermodel(), x_train, y_train, part=PART, budget={"lut": 1}, max_trials=4, epochs=2,
                  directory=copy, algorithm="random", seed=SEED)
    assert len(json.loads((copy / "search" / "trials.json").read_text())["trials"]) == 4
    # overwrite=True starts afresh
    with pytest.warns(ft.NoFeasibleTrialWarning):  # no model fits in 1 LUT
        fresh = ft.search(_hypermodel(), x_train[:300], y_train[:300], part=PART, budget={"lut": 1}, max_trials=1,
                          epochs=1, directory=copy, algorithm="random", seed=SEED, overwrite=True)
    assert [t["trial_id"] for t in fresh.trials] == ["0"]
    assert not (copy / "search" / "trial_3").exists()


def test_unreachable_budget_ends_with_a_clear_message(digits, tmp_path):
    x_train, _, y_train, _ = digits
    with pytest.warns(ft.NoFeasibleTrialWarning, match=r"no trial of 2 is within the budget \{'lut': 1\}"):
        result = ft.search(_hypermodel(), x_train[:400], y_train[:400], part=PART, budget={"lut": 1},
                           max_trials=2, epochs=1, directory=tmp_path, algorithm="random", seed=1)
    assert not result.feasible and result.best_trial is None and result.best_hyperparameters is None
    assert all(t["status"] == "COMPLETED" and t["feasible"] is False for t in result.trials)
    assert all(t["score"] == -math.inf for t in result.trials)
    with pytest.raises(ft.NoFeasibleTrialError, match="cheapest trial"):
        result.best_model()
    # the trade-off is still there to read
    assert result.pareto and (tmp_path / "search" / "pareto.json").exists()
    assert json.loads((tmp_path / "search" / "pareto.json").read_text())["best_trial"] is None


def test_objectives():
    assert (ft.resolve_objective(None, None).name, ft.resolve_objective(None, None).direction) == ("val_accuracy", "max")
    hard = ft.resolve_objective(None, {"dsp": 10})
    assert (hard.name, hard.direction) == (ft.HARD_SCORE, "max")
    soft = ft.resolve_objective("soft", {"dsp": 10})
    assert (soft.name, soft.direction) == ("fpga_score", "max")
    assert ft.resolve_objective("fpga_dsp", None).direction == "min"
    assert ft.resolve_objective("val_loss", None).direction == "min"
    custom = kt.Objective("my_metric", "max")
    assert ft.resolve_objective(custom, None) is custom
    with pytest.raises(ConfigError, match="needs a budget"):
        ft.resolve_objective("soft", None)
    with pytest.raises(ConfigError, match="keras_tuner.Objective"):
        ft.resolve_objective("my_metric", None)
    with pytest.raises(ConfigError, match="Pareto"):
        ft.resolve_objective(["val_accuracy", "fpga_dsp"], None)


def test_bad_settings_fail_before_training(digits, tmp_path):
    x_train, _, y_train, _ = digits
    with pytest.raises(ConfigError, match="budget keys"):
        ft.search(_hypermodel(), x_train, y_train, part=PART, budget={"dsps": 10}, directory=tmp_path)
    with pytest.raises(fa.UnknownPartError):
        ft.search(_hypermodel(), x_train, y_train, part="xcnope", directory=tmp_path)
    with pytest.raises(ConfigError, match="algorithm"):
        ft.search(_hypermodel(), x_train, y_train, part=PART, algorithm="grid", directory=tmp_path)
    assert not any(tmp_path.rglob("trial_*"))


def test_pareto_indices_and_dominance():
    axes = [("acc", "max"), ("dsp", "min")]
    rows = [
        {"acc": 0.9, "dsp": 100},   # front
        {"acc": 0.8, "dsp": 100},   # dominated by 0
        {"acc": 0.95, "dsp": 400},  # front
        {"acc": 0.9, "dsp": 100},   # tie with 0: front too
        {"acc": 0.99, "dsp": math.nan},  # not comparable: never on the front
        {"acc": 0.5, "dsp": 10},    # front
    ]
    assert pareto_indices(rows, axes) == [0, 2, 3, 5]
    assert dominates(rows[0], rows[1], axes) and not dominates(rows[0], rows[3], axes)
    assert not dominates(rows[4], rows[1], axes)
    with pytest.raises(ValueError):
        pareto_indices(rows, [("acc", "up")])
