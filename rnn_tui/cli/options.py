"""argparse from the option registry (`engine/options.py`): the flags, their help and their checks.

argparse converts the words (int, float, a choice); the ranges are checked by the registry right
after parsing, before a corpus is loaded, with the same message the config classes would give.
Defaults stay None here: a preset, a checkpoint or the config classes supply them.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from rnn_tui.engine.options import OPTIONS, Option

# Flags that set an option to a value without one of their own. `--embed N | --onehot`.
SWITCHES = {"embed": ("--onehot", "onehot", 0, "one-hot input (the default)")}


def add_option(
    group, option: Option, *, help_text: str | None = None, choices: bool = True
) -> None:
    """One `--name` flag. `choices=False` leaves a choice to the registry's check (its message)."""
    kwargs: dict = {"help": help_text if help_text is not None else option.describe()}
    if option.choices and choices:
        kwargs["choices"] = option.choices
    elif option.kind is not str:
        kwargs["type"] = option.kind
    switch = SWITCHES.get(option.name)
    if switch is None:
        group.add_argument(option.cli_flag, **kwargs)
        return
    flag, dest, _, switch_help = switch
    mode = group.add_mutually_exclusive_group()
    mode.add_argument(option.cli_flag, **kwargs)
    mode.add_argument(flag, dest=dest, action="store_true", help=switch_help)


def add_seed_option(p: argparse.ArgumentParser, default_note: str) -> None:
    """`--seed` of a command outside the registry's (sample, gradcheck): the registry's seed, so
    its range and message are train's; the command checks it with `given(args, ("seed",))`."""
    seed = OPTIONS["seed"]
    add_option(p, seed, help_text=f"{seed.help} ({seed.range_text()}; {default_note})")


def add_model_options(p: argparse.ArgumentParser) -> None:
    """The corpus, model and training flags of `app`, `train` and `compare`: every registry option
    that is a flag, in the registry's order, in two groups."""
    model = p.add_argument_group("corpus and model")
    train = p.add_argument_group("training")
    for option in OPTIONS.values():
        if option.flag:
            add_option(model if option.group in ("data", "model") else train, option)


def given(args: argparse.Namespace, names: Iterable[str]) -> dict:
    """The options among `names` the user gave (switches included), each checked against the
    registry: ConfigError names the option and its allowed range."""
    names = tuple(names)
    values = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    for name, (_, dest, value, _) in SWITCHES.items():
        if name in names and getattr(args, dest, False):
            values[name] = value
    for name, value in values.items():
        OPTIONS[name].check(value)
    return values
