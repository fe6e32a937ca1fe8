"""The app's prediction session (no Textual): incremental feeding, re-feeds, unknown characters."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_trainer

from rnn_tui.engine.predict import Predictor
from rnn_tui.runtime.session import CONTEXT_CHARS, PredictionSession


@pytest.fixture(scope="module")
def snapshot():
    trainer = tiny_trainer("gru")
    for _ in range(5):
        trainer.train_step()
    return trainer.snapshot()


def fresh_probs(snapshot, text: str) -> np.ndarray:
    p = Predictor(snapshot)
    p.feed_text(text)
    return p.probs


def test_appending_feeds_one_step_and_matches_a_full_run(snapshot):
    s = PredictionSession(prime="The ")
    s.set_snapshot(snapshot)
    s.set_text("B")
    refeeds = s.refeeds
    for n in range(2, 10):
        s.set_text("Beautiful"[:n])
    assert s.refeeds == refeeds  # every keystroke was one incremental step
    np.testing.assert_allclose(s.predictor.probs, fresh_probs(snapshot, "Beautiful"), rtol=1e-6)
    assert s.stats.total == len("Beautiful")


def test_edits_other_than_appending_refeed_the_text(snapshot):
    s = PredictionSession()
    s.set_snapshot(snapshot)
    s.set_text("Beautiful")
    before = s.refeeds
    s.set_text("Beautifu")  # backspace
    s.set_text("XBeautifu")  # insertion at the start
    assert s.refeeds == before + 2
    np.testing.assert_allclose(s.predictor.probs, fresh_probs(snapshot, "XBeautifu"), rtol=1e-6)
    assert s.stats.total == len("XBeautifu")


def test_refeed_is_bounded_to_the_last_context_chars(snapshot):
    s = PredictionSession()
    s.set_snapshot(snapshot)
    text = "Simple is better than complex. " * 40
    s.set_text(text)
    assert s.stats.total == CONTEXT_CHARS
    np.testing.assert_allclose(
        s.predictor.probs, fresh_probs(snapshot, text[-CONTEXT_CHARS:]), rtol=1e-6
    )


def test_empty_text_predicts_after_the_prime_without_scoring_it(snapshot):
    s = PredictionSession(prime="The Zen")
    s.set_snapshot(snapshot)
    assert s.context == "The Zen"
    assert s.stats.total == 0
    np.testing.assert_allclose(s.predictor.probs, fresh_probs(snapshot, "The Zen"), rtol=1e-6)


def test_unknown_chars_are_skipped_and_reported(snapshot):
    s = PredictionSession()
    s.set_snapshot(snapshot)
    s.set_text("Be")
    probs = s.predictor.probs.copy()
    s.set_text("Beé")
    assert s.last_unknown == "é"
    assert s.stats.unknown == 1
    np.testing.assert_array_equal(s.predictor.probs, probs)  # the context did not change
    s.set_text("Beéa")
    np.testing.assert_allclose(s.predictor.probs, fresh_probs(snapshot, "Bea"), rtol=1e-6)


def test_top_k_completion_and_sample_come_from_the_predictor(snapshot):
    s = PredictionSession()
    assert s.top_k(5) == [] and s.completion() == "" and s.sample(5, 1.0, 0) == ""
    s.set_snapshot(snapshot)
    s.set_text("Beau")
    top = s.top_k(5)
    assert len(top) == 5 and sum(p for _, p in top) <= 1 + 1e-9
    assert not any(ch.isspace() for ch in s.completion())
    assert s.sample(20, 1.0, seed=3) == s.sample(20, 1.0, seed=3)
    assert s.hidden().shape == (16,)
