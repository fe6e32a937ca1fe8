"""The recurrent stack both heads share: one set of layer names and shapes, one initialisation."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tui.engine.config import CELLS, ModelConfig
from rnn_tui.engine.model import CharModel
from rnn_tui.engine.series import SeriesConfig, SeriesModel
from rnn_tui.engine.stack import layer_shapes


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("embed", [0, 4])
def test_the_character_model_is_its_input_the_stack_and_its_head(cell, layers, embed):
    config = ModelConfig(vocab_size=7, cell=cell, hidden=5, layers=layers, embed=embed)
    expected = {**({"E": (7, embed)} if embed else {}), **layer_shapes(cell, 5, layers, embed or 7),
                "Why": (5, 7), "by": (7,)}
    assert list(config.param_shapes().items()) == list(expected.items())  # names, shapes and order


@pytest.mark.parametrize("cell", CELLS)
def test_both_heads_name_and_initialise_the_stack_alike(cell):
    char = CharModel(ModelConfig(vocab_size=2, cell=cell, hidden=6, layers=2), seed=3)
    series = SeriesModel(SeriesConfig(cell=cell, hidden=6, layers=2), seed=3)
    assert list(char.params) == list(series.params)  # the weight views read either by name
    for model in (char, series):
        assert not model.params["by"].any()
        k = 1 / np.sqrt(6)
        assert all(np.abs(v).max() <= k for n, v in model.params.items() if n != "by" and not n.startswith("b"))
        if cell == "lstm":  # the forget gate's bias starts at 1 in every layer
            for name in ("b", "b_1"):
                np.testing.assert_array_equal(model.params[name][6:12], 1.0)
