"""`predict` and `sample` with --model net|ngram|mix, and the default when no n-gram can be fitted."""

from __future__ import annotations

import json

from conftest import assert_user_error
from conftest import rnn_tui as run

from tests.test_cli import zen_checkpoint  # noqa: F401 (a fixture)


def test_predict_and_sample_choose_the_model(zen_checkpoint):  # noqa: F811
    path, _ = zen_checkpoint
    tops = {}
    for choice in (None, "net", "ngram", "mix"):
        args = ["predict", str(path), "Beautiful is b", "--json"] + (
            ["--model", choice] if choice else []
        )
        out = run(*args)
        assert out.returncode == 0 and out.stderr == "", out.stderr
        data = json.loads(out.stdout)
        assert data["model"] == (choice or "mix")
        tops[choice] = [t["prob"] for t in data["top"]]
        assert sum(tops[choice]) <= 1 + 1e-9
        words = data["suggestions"]  # what the app's bar would show, by the same model
        assert len(words) == len(set(words)) <= 3 and all(" " not in w for w in words)
        if choice == "ngram":  # (it has the Zen of Python by heart)
            assert words[0] == "etter"
    assert tops[None] == tops["mix"] and tops["net"] != tops["ngram"]
    text = run("predict", str(path), "Beautiful is b", "--model", "ngram")
    assert "suggestions: etter" in text.stdout
    out = run(
        "sample",
        str(path),
        "--prime",
        "Beau",
        "--length",
        "30",
        "--seed",
        "2",
        "--model",
        "ngram",
        "--json",
    )
    assert out.returncode == 0 and json.loads(out.stdout)["model"] == "ngram"


def test_without_its_corpus_the_network_answers_alone(tmp_path):
    corpus = tmp_path / "words.txt"
    corpus.write_text("the cat sat on the mat and the dog sat on the log\n" * 40)
    ckpt = tmp_path / "m.npz"
    out = run(
        "train",
        "--corpus",
        str(corpus),
        "--cell",
        "rnn",
        "--hidden",
        "16",
        "--steps",
        "5",
        "--out",
        str(ckpt),
    )
    assert out.returncode == 0, out.stderr
    corpus.unlink()
    out = run("predict", str(ckpt), "the ca", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["model"] == "net"
    note = out.stderr.strip().splitlines()
    assert (
        len(note) == 1
        and note[0].startswith("note: the network alone")
        and "Traceback" not in out.stderr
    )
    out = run("sample", str(ckpt), "--length", "10")
    assert out.returncode == 0 and len(out.stderr.strip().splitlines()) == 1
    assert_user_error(run("predict", str(ckpt), "the", "--model", "mix"), "--model mix", "n-gram")
