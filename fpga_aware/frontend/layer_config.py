"""Checks ``layer_config`` against the parsed chain: every entry names a layer of the chain and
only options that apply to it (what applies is each IR builder's ``accepted``)."""

from __future__ import annotations

from fpga_aware.core.config import ConfigError, FirmwareConfig
from fpga_aware.frontend.builders import IR_BUILDERS, OPTION_ORDER

__all__ = ["check_layer_config"]


def check_layer_config(config: FirmwareConfig, chain: list, folded: dict[str, str], no_ops: dict[str, str],
                       names: list[str]) -> None:
    """Raise :class:`~fpga_aware.core.config.ConfigError` for a ``layer_config`` entry that names no
    layer of ``chain`` (the pending items, the input first) or an option that does not apply.

    ``folded``: ``{batch norm: dense}`` of the folded layers; ``no_ops``: ``{name: Keras class}``
    of the layers that become no IR layer; ``names``: the IR layer names (for messages).
    """
    input_name = chain[0].name
    by_name = {p.name: p for p in chain}
    unknown = sorted(n for n in config.layers if n not in by_name and n not in folded and n not in no_ops)
    if unknown:
        raise ConfigError(f"layer_config names unknown layer(s) {unknown}; the model's layers are {names}")
    for name, cfg in config.layers.items():
        where = f"layer_config[{name!r}]"
        if name in folded:
            raise ConfigError(
                f"{where}: BatchNormalization {name!r} is folded into Dense {folded[name]!r} (its scale and "
                f"shift are multiplied into {folded[name]!r}'s weights and biases), so it has no types or "
                f"options of its own; configure {folded[name]!r} instead"
            )
        if name in no_ops and name not in by_name and name != input_name:
            raise ConfigError(f"{where}: layer {name!r} is a {no_ops[name]}, which the firmware does not "
                              f"implement (it changes no value); it takes no options")
        item = by_name[name]
        accepted = IR_BUILDERS[item.kind].accepted(item, chain)
        options, keys = accepted.options, accepted.precision_keys
        wrong = [o for o in cfg.options if o not in options]
        wrong_keys = sorted(cfg.precision.keys - keys)
        if wrong or wrong_keys:
            given = ", ".join(wrong + [f"precision[{k!r}]" for k in wrong_keys])
            listed = ", ".join(
                (f"precision (key{'s' if len(keys) > 1 else ''} {', '.join(repr(k) for k in sorted(keys))})"
                 if o == "precision" else o) for o in sorted(options, key=OPTION_ORDER.index)
            )
            hint = ""
            if accepted.owner and set(wrong) & {"reuse_factor", "strategy"}:
                hint = f"; reuse_factor and strategy are options of {accepted.owner!r}"
            raise ConfigError(f"{where}: {given} do{'es' if given.count(',') == 0 else ''} not apply to layer "
                              f"{name!r} ({accepted.description}); it accepts {listed}{hint}")
