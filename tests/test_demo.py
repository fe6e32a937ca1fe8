"""The demo's script (what `--demo` types and when), in simulated time: no app, no Textual."""

from __future__ import annotations

from rnn_tui.app.demo import CLEAR, MAX_PHRASE, MIN_PHRASE, DemoScript, phrases
from rnn_tui.engine.corpus import load_corpus


def test_demo_script_types_corpus_phrases_at_a_human_pace():
    corpus = load_corpus("zen")
    script, again = DemoScript(corpus.text, seed=3), DemoScript(corpus.text, seed=3)
    assert all(
        MIN_PHRASE <= len(p) <= MAX_PHRASE and p in " ".join(corpus.text.split())
        for p in script.phrases
    )
    now, typed, actions = 0.0, "", []
    while typed.count(CLEAR) < 2:  # two whole phrases, in simulated time
        action = script.step(now)
        if action is not None:
            actions.append((now, action))
            typed += action
        now += 0.01
    assert actions == [(t, a) for t, a in actions if again.step(t) == a]  # seeded: the same run
    first = typed.split(CLEAR)[0]
    assert first in script.phrases
    seconds = actions[len(first) - 1][0] - actions[0][0]
    assert 5 <= (len(first) - 1) / seconds <= 10  # characters a second, pauses included


def test_phrases_cut_long_lines_at_a_word_and_fall_back_for_one_long_line():
    assert phrases("short\n" + "word " * 30) == [" ".join(["word"] * 12)]
    assert all(len(p) <= MAX_PHRASE for p in phrases("x" * 200))
    assert phrases("x" * 200)
