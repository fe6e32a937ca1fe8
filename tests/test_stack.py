"""The recurrent stack both heads share: one set of layer names and shapes, one initialisation."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tui.engine.config import CELLS, ModelConfig
from rnn_tui.engine.model import CharModel
from rnn_tui.engine.series import SeriesConfig, SeriesModel
from rnn_tui.engine.stack import layer_shapes

LAYER_NAMES = {
    "rnn": ("Wxh", "Whh", "bh"),
    "lstm": ("Wx", "Wh", "b"),
    "gru": ("Wx", "Wh", "bx", "bh"),
}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("embed", [0, 4])
def test_the_character_model_is_its_input_the_stack_and_its_head(cell, embed):
    """The checkpoint's names, shapes and order (files saved before must load): DESIGN.md's."""
    V, H, G = 7, 5, {"rnn": 1, "lstm": 4, "gru": 3}[cell] * 5
    config = ModelConfig(vocab_size=V, cell=cell, hidden=H, layers=2, embed=embed)
    Wx, Wh, *biases = LAYER_NAMES[cell]
    expected = [("E", (V, embed))] if embed else []
    for sfx, d_in in (("", embed or V), ("_1", H)):
        expected += [(Wx + sfx, (d_in, G)), (Wh + sfx, (H, G))] + [(b + sfx, (G,)) for b in biases]
    expected += [("Why", (H, V)), ("by", (V,))]
    assert list(config.param_shapes().items()) == expected
    assert list(layer_shapes(cell, H, 2, embed or V).items()) == expected[bool(embed) : -2]


@pytest.mark.parametrize("cell", CELLS)
def test_both_heads_name_and_initialise_the_stack_alike(cell):
    char = CharModel(ModelConfig(vocab_size=2, cell=cell, hidden=6, layers=2), seed=3)
    series = SeriesModel(SeriesConfig(cell=cell, hidden=6, layers=2), seed=3)
    assert list(char.params) == list(series.params)  # the weight views read either by name
    for model in (char, series):
        assert not model.params["by"].any()
        k = 1 / np.sqrt(6)
        assert all(
            np.abs(v).max() <= k
            for n, v in model.params.items()
            if n != "by" and not n.startswith("b")
        )
        if cell == "lstm":  # the forget gate's bias starts at 1 in every layer
            for name in ("b", "b_1"):
                np.testing.assert_array_equal(model.params[name][6:12], 1.0)
