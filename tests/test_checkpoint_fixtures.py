"""Checkpoints saved before the package was cut into layers still load and predict the same.

The fixtures were written by commit ac39e62 (flat modules, format version 1): a 2-layer RNN with
one-hot input, a 2-layer LSTM with an embedding, a 2-layer GRU, all on `zen`; the expected
distributions after "Beautiful is better" were computed by that same commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnn_tui.engine.checkpoint import load_checkpoint
from rnn_tui.engine.model import ParamSnapshot
from rnn_tui.engine.predict import Predictor

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "ckpt_v1_expected.json").read_text())


@pytest.mark.parametrize("cell", sorted(EXPECTED))
def test_a_checkpoint_from_before_predicts_as_it_did(cell: str) -> None:
    ckpt = load_checkpoint(DATA / f"ckpt_v1_{cell}.npz")
    assert ckpt.model_config.cell == cell
    assert ckpt.step == EXPECTED[cell]["step"]
    predictor = Predictor(ParamSnapshot.of(ckpt.model_config, ckpt.vocab, ckpt.params, ckpt.step))
    predictor.feed_text(EXPECTED[cell]["prompt"])
    np.testing.assert_allclose(predictor.probs, EXPECTED[cell]["probs"], rtol=1e-5, atol=1e-7)
