"""Type-ahead in the playground (pilot): the shown model, learning from the typing, suggestions."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SIZE, make_app, type_text, until

from rnn_tui.app.widgets import ProbChart, PromptInput
from rnn_tui.app.widgets.suggestions import SuggestionBar

pytestmark = pytest.mark.asyncio


def chart(app) -> ProbChart:
    return app.query_one("#net-chart", ProbChart)


async def test_the_chart_switches_between_mixture_network_and_ngram():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.mixture is not None, 30, "the n-gram")
        await type_text(pilot, "Beautiful is")
        s = app.session
        assert s.shown == "mix" and chart(app).title == "mixture"
        assert "mix net " in str(app.query_one("#suggestions", SuggestionBar).render())
        mixed = chart(app).rows
        expected = [(c, p) for c, p in s.mixture.top_k(10)]
        assert mixed == expected
        await pilot.press("f6")  # typing mode key
        assert s.shown == "net" and chart(app).title == "network"
        assert chart(app).rows == s.predictor.top_k(10)
        await pilot.press("escape", "m")  # command mode key
        assert s.shown == "ngram" and chart(app).title == "n-gram"
        assert chart(app).rows == s.baseline.top_k(10) != mixed
        await pilot.press("m")
        assert s.shown == "mix" and chart(app).rows == s.mixture.top_k(10)
        weights = s.weights()
        assert set(weights) == {"net", "kn", "text"} and sum(weights.values()) == pytest.approx(1)


async def test_accepting_the_second_suggestion_types_it_and_counts_the_keys_saved():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.mixture is not None, 30, "the n-gram")
        await type_text(pilot, "Beautiful is be")
        s = app.session
        await until(
            pilot,
            lambda: s.suggestions_for == "Beautiful is be" and len(s.suggestions) == 3,
            30,
            "three suggestions",
        )
        second = s.suggestions[1]
        assert len(set(s.suggestions)) == 3
        bar = str(app.query_one("#suggestions", SuggestionBar).render())
        assert "F8" in bar and "F9" in bar and "F10" in bar and second in bar
        await pilot.press("f9")
        prompt = app.query_one("#prompt", PromptInput)
        assert prompt.value == "Beautiful is be" + second
        assert s.text == "Beautiful is be" + second
        assert s.keys_saved == len(second) - 1
        # Tab takes the first suggestion of the new text
        await type_text(pilot, " ")
        await until(pilot, lambda: s.suggestions_for == s.text and s.suggestions, 30, "suggestions")
        first, before = s.suggestions[0], s.keys_saved
        await pilot.press("tab")
        assert prompt.value.endswith(" " + first) and s.keys_saved == before + len(first) - 1


async def test_in_chinese_the_bar_offers_phrases_and_one_key_takes_one(tmp_path):
    """No space ends a Chinese "word" before the end of its clause: the bar offers the next
    phrases instead, without the typed clause before them, and F8 types the first."""
    path = tmp_path / "zh.txt"
    path.write_text("机器学习是人工智能的一个分支。深度学习是机器学习的一个分支。\n" * 40)
    app = make_app(corpus=str(path))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.mixture is not None, 30, "the n-gram")
        typed = "深度学习是机"
        await type_text(pilot, typed)
        s = app.session
        await until(
            pilot, lambda: s.suggestions_for == typed and s.suggestions, 30, "phrase suggestions"
        )
        first = s.suggestions[0]
        assert first.startswith("器学习") and all(" " not in w for w in s.suggestions)
        bar = str(app.query_one("#suggestions", SuggestionBar).render())
        assert f"F8 {first}" in bar and typed not in bar
        await pilot.press("f8")
        assert app.query_one("#prompt", PromptInput).value == typed + first
        assert s.keys_saved == len(first) - 1


async def test_learning_from_the_typing_toggles_and_resets_to_the_trained_weights():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.trained is not None, 30, "weights")
        s = app.session
        trained = s.trained
        assert app.typeahead.adapt_enabled
        await type_text(pilot, "Beautiful is better than ugly. Explicit is better than implicit. ")
        # the adapter learns on its own thread; its weights are taken between keys
        await until(
            pilot,
            lambda: app.typeahead.adapter.steps > 0 and s.predictor.snapshot is not trained,
            30,
            "adapted weights",
        )
        adapted = s.predictor.snapshot
        assert adapted.config == trained.config
        assert any(not np.array_equal(adapted.params[k], trained.params[k]) for k in trained.params)
        # (while the keys came fast, the adapted weights waited for a pause: the same bits so far)
        await type_text(pilot, "Simple is better than complex.")
        assert s.adapted.total == s.unadapted.total > 0 and s.adapted.bits != s.unadapted.bits
        assert "learning on:" in str(app.query_one("#typing").render())
        await pilot.press("f7")  # off: the trained weights answer
        assert not app.typeahead.adapt_enabled and s.predictor.snapshot is trained
        await pilot.press("f7")  # on again: the adapted weights come back
        await until(pilot, lambda: s.predictor.snapshot is not trained, 30, "adapted weights again")
        await pilot.press("f12")  # forget: the trained weights, and the adapter starts over
        assert s.predictor.snapshot is trained and s.adapted.total == 0
        app.typeahead.adapter.wait_idle()
        assert app.typeahead.adapter.latest()[1] is trained or app.typeahead.adapter.steps == 0


async def test_save_offers_the_weights_adapted_to_the_typing(tmp_path):
    from rnn_tui.app.screens.dialogs import ConfirmScreen, PathScreen
    from rnn_tui.engine.checkpoint import load_checkpoint

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.trained is not None, 30, "weights")
        await type_text(pilot, "Beautiful is better than ugly. Explicit is better than implicit. ")
        await until(
            pilot,
            lambda: app.typeahead.adapter.steps > 0 and app.typeahead.adapted_weights() is not None,
            30,
            "adapted weights",
        )
        adapted, trained = app.typeahead.adapted_weights(), app.session.trained
        for answer, expected in (("y", adapted), ("n", trained)):
            path = str(tmp_path / f"{answer}.npz")
            await pilot.press("ctrl+s")
            assert isinstance(app.screen, PathScreen)
            app.screen.query_one("#path").value = path
            await pilot.press("enter")
            assert isinstance(app.screen, ConfirmScreen)  # adapted or trained?
            await pilot.press(answer)
            await until(
                pilot,
                lambda p=path: any(p in n.message for n in app._notifications),
                30,
                "the save",
            )
            saved = load_checkpoint(path)
            for name, value in expected.params.items():
                assert np.array_equal(saved.params[name], value), name


async def test_the_settings_form_sets_the_chart_model_and_learning():
    from rnn_tui.app.screens.settings import SettingsScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, SettingsScreen)
        app.screen.query_one("#shown").value = "ngram"
        app.screen.query_one("#adapt").value = "off"
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, SettingsScreen)
        assert app.session.shown == "ngram" and not app.typeahead.adapt_enabled
