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

__all__ = ["dominates", "pareto_indices", "write_csv", "write_json", "plot_front", "jsonable"]

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


def plot_front(
    trials: Sequence[Mapping[str, Any]],
    front: Sequence[Mapping[str, Any]],
    metric: str,
    path: str | Path,
    *,
    costs: Sequence[str] = ("fpga_dsp", "fpga_lut"),
    limits: Mapping[str, float] | None = None,
    title: str | None = None,
    metric_direction: str = "max",
) -> Path:
    """Metric against each cost (one panel per cost), every trial grey, front points numbered.

    ``limits`` maps a cost key to a budget drawn as a dashed vertical line.  Feasible trials
    (``row['feasible']`` true or absent) are filled, infeasible ones hollow.  The staircase in
    each panel is that panel's own 2-D front (best metric reachable at each cost).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    limits = dict(limits or {})
    fig, axes = plt.subplots(1, len(costs), figsize=(5.5 * len(costs), 4.2), squeeze=False)
    front_ids = {row.get("trial_id") for row in front}
    for ax, cost in zip(axes[0], costs):
        for row in trials:
            c, m = row.get(cost), row.get(metric)
            if c is None or m is None or not (math.isfinite(float(c)) and math.isfinite(float(m))):
                continue
            if row.get("trial_id") in front_ids:
                continue
            feasible = row.get("feasible") is not False
            ax.scatter(c, m, s=28, color="0.6" if feasible else "none", edgecolors="0.5", zorder=2)
        points = sorted(
            ((float(r[cost]), float(r[metric]), r.get("front_index", i), r.get("feasible") is not False)
             for i, r in enumerate(front) if r.get(cost) is not None and r.get(metric) is not None),
        )
        # the 2-D front of this panel (best metric reachable at each cost) as a staircase
        panel = [r for r in trials if _coordinates(r, [(metric, "max"), (cost, "min")]) is not None]
        stairs = sorted((float(panel[i][cost]), float(panel[i][metric]))
                        for i in pareto_indices(panel, [(metric, metric_direction), (cost, "min")]))
        if stairs:
            ax.step([s[0] for s in stairs], [s[1] for s in stairs], where="post", color="tab:blue", alpha=0.35,
                    zorder=1, label=f"best {metric} at each {cost.removeprefix('fpga_').upper()}")
        for c, m, index, feasible in points:
            ax.scatter(c, m, s=60, color="tab:blue" if feasible else "white", edgecolors="tab:blue", zorder=3)
            ax.annotate(str(index), (c, m), textcoords="offset points", xytext=(5, 5), fontsize=8)
        if cost in limits:
            ax.axvline(limits[cost], color="tab:red", linestyle="--", label=f"budget {limits[cost]:g}")
        if stairs or cost in limits:
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xlabel(f"estimated {cost.removeprefix('fpga_').upper()}")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"Pareto front: {metric} vs {', '.join(c.removeprefix('fpga_') for c in costs)} "
                          "(numbered: front index; hollow: over budget)", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
