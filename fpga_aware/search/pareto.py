"""Pareto fronts of search trials: which trials are not dominated, and the CSV/JSON/PNG files.

A trial is a flat dict of numbers (``{'val_accuracy': 0.95, 'fpga_dsp': 310, 'fpga_lut': 20411,
...}``).  ``axes`` lists the coordinates and whether each is maximised or minimised, e.g.
``[('val_accuracy', 'max'), ('fpga_dsp', 'min'), ('fpga_lut', 'min')]``.

Trial ``a`` *dominates* ``b`` when ``a`` is at least as good as ``b`` on every axis and strictly
better on at least one.  The front is the set of trials no other trial dominates; two trials
with identical coordinates are both on it.  Trials with a missing or non-finite coordinate (a
failed trial) are never on the front and dominate nothing.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["dominates", "pareto_indices", "write_csv", "write_json", "front_figure", "plot_front", "jsonable"]

Axes = Sequence[tuple[str, str]]


def _check_axes(axes: Axes) -> None:
    if not axes:
        raise ValueError("a Pareto front needs at least one axis")
    for name, direction in axes:
        if direction not in ("min", "max"):
            raise ValueError(f"axis {name!r}: direction must be 'min' or 'max', got {direction!r}")


def _coordinates(row: Mapping[str, Any], axes: Axes) -> tuple[float, ...] | None:
    """The row's coordinates, signed so that larger is better; ``None`` if one is missing."""
    values = []
    for name, direction in axes:
        value = row.get(name)
        if value is None or isinstance(value, bool):
            return None
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(value):
            return None
        values.append(value if direction == "max" else -value)
    return tuple(values)


def dominates(a: Mapping[str, Any], b: Mapping[str, Any], axes: Axes) -> bool:
    """Whether ``a`` is at least as good as ``b`` on every axis and strictly better on one."""
    _check_axes(axes)
    ca, cb = _coordinates(a, axes), _coordinates(b, axes)
    if ca is None or cb is None:
        return False
    return all(x >= y for x, y in zip(ca, cb)) and any(x > y for x, y in zip(ca, cb))


def pareto_indices(rows: Sequence[Mapping[str, Any]], axes: Axes) -> list[int]:
    """Indices of the non-dominated rows, in the order of ``rows``."""
    _check_axes(axes)
    coords = [_coordinates(row, axes) for row in rows]
    front = []
    for i, ci in enumerate(coords):
        if ci is None:
            continue
        dominated = False
        for j, cj in enumerate(coords):
            if j == i or cj is None:
                continue
            if all(x >= y for x, y in zip(cj, ci)) and any(x > y for x, y in zip(cj, ci)):
                dominated = True
                break
        if not dominated:
            front.append(i)
    return front


# --------------------------------------------------------------------------- files
def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as ``None`` and numpy scalars as Python numbers (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(data: Any, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n")
    return path


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    """One CSV row: nested dicts become ``<key>/<name>`` columns."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Mapping):
            for name, inner in value.items():
                out[f"{key}/{name}"] = inner
        else:
            out[key] = value
    return out


def write_csv(rows: Iterable[Mapping[str, Any]], path: str | Path, first: Sequence[str] = ()) -> Path:
    """Write ``rows`` as CSV; columns ``first`` come first, the others sorted; ``-inf`` is written as ``-inf``."""
    flat = [_flat(row) for row in rows]
    seen = {key for row in flat for key in row}
    columns = [c for c in first if c in seen] + sorted(seen - set(first))
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in flat:
            writer.writerow({c: ("" if row.get(c) is None else row.get(c)) for c in columns})
    return path


#: Marker style of each kind of point in :func:`front_figure`, and its legend label.
_POINT_STYLES = {
    "front": dict(s=70, color="tab:blue", edgecolors="tab:blue", zorder=4),
    "front_over": dict(s=70, color="white", edgecolors="tab:blue", linewidths=1.5, zorder=4),
    "dominated": dict(s=36, color="0.65", edgecolors="0.45", zorder=3),
    "dominated_over": dict(s=36, color="white", edgecolors="0.45", zorder=3),
}


def _point_labels(budgeted: bool) -> dict[str, str]:
    within = " (within budget)" if budgeted else ""
    return {"front": f"Pareto front{within}", "front_over": "Pareto front, over budget",
            "dominated": f"dominated{within}", "dominated_over": "dominated, over budget"}


def _finite_point(row: Mapping[str, Any], cost: str, metric: str) -> tuple[float, float] | None:
    c, m = row.get(cost), row.get(metric)
    if c is None or m is None or isinstance(c, bool) or isinstance(m, bool):
        return None
    c, m = float(c), float(m)
    return (c, m) if math.isfinite(c) and math.isfinite(m) else None


def _is_fraction(metric: str) -> bool:
    return metric.removeprefix("val_").endswith(("accuracy", "acc"))


def front_figure(
    trials: Sequence[Mapping[str, Any]],
    front: Sequence[Mapping[str, Any]],
    metric: str,
    *,
    costs: Sequence[str] = ("fpga_dsp", "fpga_lut"),
    limits: Mapping[str, float] | None = None,
    chosen: str | None = None,
    title: str | None = None,
    metric_direction: str = "max",
):
    """Metric against each cost (one panel per cost), every trial labelled with its trial id.

    Front points are blue, dominated trials grey; over-budget trials (``row['feasible']`` false)
    are hollow; the ``chosen`` trial (a ``trial_id``, e.g. the best within the budget) sits on a
    gold star; ``limits`` maps a cost key to a budget drawn as a dashed red line.  The
    staircase in each panel is that panel's own 2-D front (best metric reachable at each cost).
    Returns the matplotlib Figure.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    _check_axes([(metric, metric_direction)])
    if not costs:
        raise ValueError("front_figure needs at least one cost axis")
    ids = [str(row.get("trial_id")) for row in trials]
    if chosen is not None and str(chosen) not in ids:
        raise ValueError(f"chosen trial {chosen!r} is not among the trials {ids}")
    limits = dict(limits or {})
    front_ids = {str(row.get("trial_id")) for row in front}
    budgeted = bool(limits) or any(row.get("feasible") is False for row in trials)
    labels = _point_labels(budgeted)
    fig = Figure(figsize=(6.0 * len(costs), 4.8))
    axes = fig.subplots(1, len(costs), squeeze=False)[0]
    for ax, cost in zip(axes, costs):
        groups: dict[str, list[tuple[float, float]]] = {kind: [] for kind in _POINT_STYLES}
        for row in trials:
            point = _finite_point(row, cost, metric)
            if point is None:
                continue
            kind = ("front" if str(row.get("trial_id")) in front_ids else "dominated") + (
                "_over" if row.get("feasible") is False else "")
            groups[kind].append(point)
            ax.annotate(str(row.get("trial_id")), point, textcoords="offset points", xytext=(6, 4), fontsize=8,
                        zorder=6)
            if chosen is not None and str(row.get("trial_id")) == str(chosen):
                ax.scatter(*point, s=480, marker="*", color="gold", edgecolors="black", linewidths=0.8, zorder=2,
                           label=f"chosen: trial {chosen}")  # behind the point, whose style stays visible
        for kind, points in groups.items():
            if points:
                ax.scatter([p[0] for p in points], [p[1] for p in points], label=labels[kind], **_POINT_STYLES[kind])
        panel = [r for r in trials if _finite_point(r, cost, metric) is not None]
        stairs = sorted((float(panel[i][cost]), float(panel[i][metric]))
                        for i in pareto_indices(panel, [(metric, metric_direction), (cost, "min")]))
        name = cost.removeprefix("fpga_").upper()
        if stairs:
            ax.step([p[0] for p in stairs], [p[1] for p in stairs], where="post", color="tab:blue", alpha=0.35,
                    zorder=1, label=f"best {metric} at each {name}")
        if cost in limits:
            ax.axvline(limits[cost], color="tab:red", linestyle="--", label=f"budget: {name} {limits[cost]:g}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
        ax.set_xlabel(f"estimated {name}" + (" (DSP48 blocks)" if cost == "fpga_dsp" else ""))
        ax.set_ylabel(metric + (" (%)" if _is_fraction(metric) else ""))
        if _is_fraction(metric):
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        ax.margins(0.08)  # room for the star and the labels of the extreme points
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"Pareto front: {metric} vs {', '.join(c.removeprefix('fpga_') for c in costs)} "
                          "(labels: trial ids)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_front(
    trials: Sequence[Mapping[str, Any]],
    front: Sequence[Mapping[str, Any]],
    metric: str,
    path: str | Path,
    **options: Any,
) -> Path:
    """Save :func:`front_figure` (same arguments) as ``path``; returns the path."""
    fig = front_figure(trials, front, metric, **options)
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path
