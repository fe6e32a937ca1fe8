"""The option registry and its three readers agree: argparse, the settings form and the config checks."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from rnn_tui.app.screens import settings
from rnn_tui.cli.main import main, make_parser
from rnn_tui.cli.options import SWITCHES, given
from rnn_tui.cli.series import OPTION_NAMES
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.errors import ConfigError
from rnn_tui.engine.options import MODEL_FIELDS, OPTIONS, SERIES_FIELDS, TRAIN_FIELDS, Option
from rnn_tui.engine.series import SeriesConfig


def subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


def out_of_range(option: Option) -> list[object]:
    """Values just outside the option's range (and a wrong choice)."""
    if option.choices:
        return ["transformer"]
    assert option.lo is not None and option.hi is not None
    step = 1 if option.kind is int else 0.5
    low = option.lo if option.lo_open else option.lo - step
    return [option.kind(low), option.kind(option.hi + step)]


SERIES_FLAGS = (*OPTION_NAMES, "forecast")
RANGED = [o for o in OPTIONS.values() if o.choices or o.lo is not None]
CASES = [(o.name, v) for o in RANGED for v in out_of_range(o)]


def message(option: Option, value: object) -> str:
    with pytest.raises(ConfigError) as caught:
        option.check(value)
    return str(caught.value)


def test_every_field_of_the_configs_is_a_registry_option_with_its_default():
    assert {f.name for f in fields(ModelConfig)} - {"vocab_size"} == set(MODEL_FIELDS)
    assert {f.name for f in fields(TrainConfig)} == set(TRAIN_FIELDS)
    assert {f.name for f in fields(SeriesConfig)} == set(SERIES_FIELDS)
    model, train = ModelConfig(vocab_size=5), TrainConfig()
    for name in MODEL_FIELDS:
        assert getattr(model, name) == OPTIONS[name].default, name
    for name in TRAIN_FIELDS:
        assert getattr(train, name) == OPTIONS[name].default, name


@pytest.mark.parametrize("command", ["app", "train", "compare"])
def test_every_flag_option_is_a_flag_of_the_model_commands(command):
    parser_flags = flags(subparser(command))
    for option in OPTIONS.values():
        assert (option.cli_flag in parser_flags) == option.flag, (command, option.name)
        if option.flag:
            action = parser_flags[option.cli_flag]
            assert action.default is None  # presets, checkpoints and the configs supply defaults
            assert tuple(action.choices or ()) == option.choices
            assert action.help == option.describe()
    for name, (flag, _, _, _) in SWITCHES.items():
        assert flag in parser_flags and OPTIONS[name].flag


def test_every_series_option_is_a_series_flag():
    parser_flags = flags(subparser("series"))
    assert set(SERIES_FLAGS) - {"forecast"} <= set(SERIES_FIELDS)
    for name in SERIES_FLAGS:
        assert OPTIONS[name].cli_flag in parser_flags, name
        assert parser_flags[OPTIONS[name].cli_flag].help == OPTIONS[name].describe()


def test_the_settings_form_is_the_labelled_options_in_registry_order():
    labelled = [o.name for o in OPTIONS.values() if o.label]
    assert list(settings.FIELDS) == labelled
    for name in labelled:
        if OPTIONS[name].choices:
            assert settings.SELECTS[name] == OPTIONS[name].choices
    assert set(MODEL_FIELDS) <= set(labelled)


def form_values(**changes) -> dict[str, object]:
    current = settings.Settings("zen", None, ModelConfig(vocab_size=5), TrainConfig(), 1.0, 10)
    return {**settings.form_values(current), **{k: str(v) for k, v in changes.items()}}


def test_the_form_with_its_own_values_parses_back():
    parsed = settings.parse_settings(form_values(), 5, 0.1)
    assert parsed.model == ModelConfig(vocab_size=5) and parsed.train == TrainConfig()


def test_a_blank_workers_field_is_the_default_as_a_missing_flag_is():
    assert form_values()["workers"] == ""  # Settings.workers None: the app's default
    assert settings.parse_settings(form_values(workers=" "), 5, 0.1).workers is None
    assert settings.parse_settings(form_values(workers=3), 5, 0.1).workers == 3
    assert "workers" not in settings.preset_values("zen")  # the machine's, not a preset's


def test_the_app_refuses_a_bad_workers_flag_before_reading_a_corpus(capsys):
    assert main(["app", "--workers", "0", "--corpus", "/no/such/file"]) == 2
    assert (
        capsys.readouterr().err == "error: workers must be a whole number from 1 to 256 (got 0)\n"
    )


@pytest.mark.parametrize("name,value", CASES, ids=[f"{n}={v}" for n, v in CASES])
def test_an_out_of_range_value_is_refused_the_same_way_everywhere(name, value, capsys):
    option = OPTIONS[name]
    expected = message(option, value)
    assert option.display in expected
    if name in MODEL_FIELDS:
        with pytest.raises(ConfigError, match="^" + _re(expected) + "$"):
            ModelConfig(vocab_size=5, **{name: value})
    if name in TRAIN_FIELDS:
        with pytest.raises(ConfigError, match="^" + _re(expected) + "$"):
            TrainConfig(**{name: value})
    if name in SERIES_FIELDS:
        with pytest.raises(ConfigError, match="^" + _re(expected) + "$"):
            SeriesConfig(**{name: value})
    if option.flag:  # the whole command, in process: refused before any corpus is loaded
        args = (
            make_parser().parse_args(["train", option.cli_flag, str(value)])
            if not option.choices
            else None
        )
        if args is not None:
            with pytest.raises(ConfigError, match="^" + _re(expected) + "$"):
                given(args, (name,))
            assert main(["train", option.cli_flag, str(value)]) == 2
            assert capsys.readouterr().err == f"error: {expected}\n"
    if name in SERIES_FLAGS:  # `series` leaves its choices to the registry's check
        assert main(["series", option.cli_flag, str(value)]) == 2
        assert capsys.readouterr().err == f"error: {expected}\n"
    if option.label and not option.choices:
        with pytest.raises(ConfigError, match="^" + _re(expected) + "$"):
            settings.parse_settings(form_values(**{name: value}), 5, 0.1)


def test_a_choice_outside_the_registry_is_refused_by_argparse_with_the_registry_choices(capsys):
    for option in OPTIONS.values():
        if option.flag and option.choices:
            with pytest.raises(SystemExit) as exited:
                make_parser().parse_args(["train", option.cli_flag, "transformer"])
            assert exited.value.code == 2
            err = capsys.readouterr().err
            assert err.startswith("error: argument " + option.cli_flag) and all(
                c in err for c in option.choices
            )


def test_a_range_change_in_the_registry_reaches_every_reader(monkeypatch):
    """The readers hold no copy of a range: narrow one in the registry and all of them follow."""
    import dataclasses

    narrowed = dataclasses.replace(OPTIONS["hidden"], hi=64)
    monkeypatch.setitem(OPTIONS, "hidden", narrowed)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="from 1 to 64"):
        ModelConfig(vocab_size=5, hidden=65)
    with pytest.raises(ConfigError, match="from 1 to 64"):
        given(make_parser().parse_args(["train", "--hidden", "65"]), ("hidden",))
    with pytest.raises(ConfigError, match="from 1 to 64"):
        settings.parse_settings(form_values(hidden=65), 5, 0.1)
    assert "(1-64)" in subparser("train").format_help()


def _re(text: str) -> str:
    import re

    return re.escape(text)
