"""Big corpora: the chunked loader gives today's vocabulary and ids, the cache is never trusted,
rare characters and byte mode round-trip, the memory-mapped ids train like the in-memory ones."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from rnn_tui.cli.main import main
from rnn_tui.engine import corpus as corpus_mod
from rnn_tui.engine import corpus_cache, encoding
from rnn_tui.engine.checkpoint import (
    Checkpoint,
    checkpoint_bytes,
    checkpoint_from_bytes,
    load_checkpoint,
)
from rnn_tui.engine.config import MAX_VOCAB, ModelConfig, TrainConfig
from rnn_tui.engine.corpus import BUILTIN_CORPORA, Vocab, load_corpus, make_corpus
from rnn_tui.engine.encoding import UNKNOWN, VocabPolicy
from rnn_tui.engine.errors import CorpusError
from rnn_tui.engine.model import ParamSnapshot
from rnn_tui.engine.predict import Predictor
from rnn_tui.engine.trainer import Trainer
from rnn_tui.runtime import protocol, wire
from rnn_tui.runtime.protocol import Start

DATA = Path(__file__).parent / "data"
UNICODE = DATA / "unicode.txt"


def reference(text: str) -> tuple[list[str], np.ndarray]:
    """The loader as it always was: sorted(set(text)), each character's index in it."""
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    return chars, np.array([index[c] for c in text], dtype=np.int64)


def file_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")


def assert_same(corpus, text: str) -> None:
    chars, ids = reference(text)
    assert list(corpus.vocab.chars) == chars and not corpus.vocab.unknown
    assert corpus.ids.dtype == (np.uint8 if len(chars) <= 256 else np.uint16)
    assert np.array_equal(np.asarray(corpus.ids, dtype=np.int64), ids)


# --- identical to today's ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BUILTIN_CORPORA))
def test_builtin_vocab_and_ids_unchanged(name):
    corpus = load_corpus(name)
    assert_same(corpus, corpus.text)


@pytest.mark.parametrize("chunk", [7, 64, encoding.CHUNK_BYTES])
def test_unicode_file_vocab_and_ids_unchanged(chunk, monkeypatch):
    """Chunks of 7 bytes split 4-byte emoji, combining sequences and CRLF pairs between reads."""
    monkeypatch.setattr(encoding, "CHUNK_BYTES", chunk)
    text = file_text(UNICODE)
    assert any(ord(c) > 0xFFFF for c in text) and "\u0301" in text and "\r" in text
    corpus = load_corpus(str(UNICODE))
    assert_same(corpus, text)
    assert corpus.text == text and corpus.cache
    assert_same(make_corpus("mem", text), text)


def test_bom_crlf_and_cr_at_chunk_end(tmp_path, monkeypatch):
    monkeypatch.setattr(encoding, "CHUNK_BYTES", 4)
    path = tmp_path / "t.txt"
    path.write_bytes(b"\xef\xbb\xbfab\r\ncd\r\r\nx\r")
    corpus = load_corpus(str(path))
    assert corpus.text == "ab\ncd\r\nx\r"
    assert_same(corpus, "ab\ncd\r\nx\r")


def test_bad_utf8_offset_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(encoding, "CHUNK_BYTES", 5)
    path = tmp_path / "t.txt"
    path.write_bytes("abcd\u00e9fgh".encode() + b"\xffz")
    with pytest.raises(CorpusError, match=r"not UTF-8 text \(byte 0xff at offset 9\)"):
        load_corpus(str(path))
    path.write_bytes(b"abcd\xc3")  # a character cut short by the end of the file
    with pytest.raises(CorpusError, match=r"byte 0xc3 at offset 4"):
        load_corpus(str(path))


# --- the long tail of characters ----------------------------------------------------------------


def test_many_distinct_characters_train_with_the_defaults(tmp_path):
    rare = "".join(chr(0x4E00 + i) for i in range(MAX_VOCAB + 100))
    text = "ab" * 50 + rare
    path = tmp_path / "wide.txt"
    path.write_text(text, encoding="utf-8")
    corpus = load_corpus(str(path))
    assert len(corpus.vocab) == MAX_VOCAB and corpus.vocab.unknown and UNKNOWN in corpus.vocab.chars
    assert "a" in corpus.vocab and "b" in corpus.vocab
    assert "103 rare characters" in corpus.note  # 8292 + 2 distinct, 8191 kept
    assert corpus.ids.dtype == np.uint16


@pytest.mark.parametrize(
    "policy",
    [VocabPolicy(max_vocab=20), VocabPolicy(min_count=6), VocabPolicy(max_vocab=30, min_count=4)],
)
def test_rare_characters_round_trip(policy):
    text = file_text(UNICODE)
    counts = {c: text.count(c) for c in set(text)}
    corpus = make_corpus("u", text, policy)
    vocab = corpus.vocab
    assert vocab.unknown and len(vocab) <= policy.max_vocab
    kept = set(vocab.chars) - {UNKNOWN}
    assert all(counts[c] >= policy.min_count for c in kept)
    dropped = set(text) - kept
    assert min(counts[c] for c in kept) >= max(counts[c] for c in dropped - {UNKNOWN})
    expected = "".join(c if c in kept else UNKNOWN for c in text)
    assert vocab.decode(corpus.ids) == expected
    assert vocab.decode(vocab.encode(text)) == expected  # nothing dropped: rare chars become �
    # the file path agrees with the in-memory one
    assert np.array_equal(load_corpus(str(UNICODE), policy).ids, corpus.ids)


def test_byte_mode_round_trip():
    text = file_text(UNICODE)
    corpus = load_corpus(str(UNICODE), VocabPolicy(byte_mode=True))
    data = text.encode("utf-8")
    assert corpus.vocab.byte_mode and len(corpus.vocab) == len(set(data)) <= 256
    assert corpus.size == len(data) and corpus.ids.dtype == np.uint8
    assert corpus.vocab.decode(corpus.ids) == text
    assert corpus.vocab.decode(corpus.vocab.encode(text)) == text
    assert len(corpus.vocab.encode("é")) == 2 and corpus.vocab.id("é") is None


def test_byte_mode_prediction_feeds_a_character_as_its_bytes():
    text = file_text(UNICODE)
    corpus = make_corpus("u", text, VocabPolicy(byte_mode=True))
    cfg = ModelConfig(len(corpus.vocab), cell="gru", hidden=8)
    model = Trainer(corpus, cfg, TrainConfig(seq_len=4, batch=2)).model
    snap = ParamSnapshot.of(cfg, corpus.vocab, model.params, 0)
    one, whole = Predictor(snap), Predictor(snap)
    for ch in "é漢":
        assert one.feed(ch)
    whole.feed_text("é漢")
    assert one.fed == whole.fed == 5
    np.testing.assert_allclose(one.probs, whole.probs, rtol=1e-5, atol=1e-7)
    assert isinstance(one.sample(30, seed=1), str)


def test_policy_limits():
    with pytest.raises(CorpusError, match="max vocab must be a whole number from 2"):
        VocabPolicy(max_vocab=1)
    with pytest.raises(CorpusError, match="min count"):
        VocabPolicy(min_count=0)


# --- the cache ---------------------------------------------------------------------------------


def write_text(tmp_path, text="hello world, hello cache\n" * 50) -> str:
    path = tmp_path / "c.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


def no_counting(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the file was counted again: the cache was not used")

    monkeypatch.setattr(corpus_mod, "count_symbols", refuse)


def test_second_open_comes_from_the_cache(tmp_path, monkeypatch):
    path = write_text(tmp_path)
    first = load_corpus(path)
    assert first.cache and Path(first.cache).parent == corpus_cache.cache_dir()
    assert str(corpus_cache.cache_dir()).startswith(os.environ["XDG_CACHE_HOME"])
    no_counting(monkeypatch)
    second = load_corpus(path)
    assert isinstance(second.ids, np.memmap) and second.cache == first.cache
    assert np.array_equal(first.ids, second.ids) and second.vocab == first.vocab
    assert second.text == first.text
    # another policy is another entry
    monkeypatch.undo()
    assert load_corpus(path, VocabPolicy(byte_mode=True)).cache != first.cache


def test_cache_remade_when_the_file_changes(tmp_path, monkeypatch):
    path = write_text(tmp_path, "abcd" * 100)
    first = load_corpus(path)
    Path(path).write_text("dcba" * 100, encoding="utf-8")  # same size, same characters
    second = load_corpus(path)
    assert second.cache == first.cache  # the entry was replaced, not added to
    assert second.vocab.decode(second.ids[:4]) == "dcba"
    assert len(list(corpus_cache.cache_dir().iterdir())) == 1


@pytest.mark.parametrize(
    "damage", ["truncate", "append", "body", "header", "garbage", "empty", "out_of_range"]
)
def test_damaged_cache_is_remade(tmp_path, damage):
    path = write_text(tmp_path)
    entry = Path(load_corpus(path).cache)
    data = bytearray(entry.read_bytes())
    if damage == "truncate":
        data = data[:-10]
    elif damage == "append":
        data += b"\0"
    elif damage == "body":
        data[-5] ^= 1
    elif damage == "header":
        data = data.replace(b'"unknown": false', b'"unknown": true ')
    elif damage == "garbage":
        data = bytearray(os.urandom(len(data)))
    elif damage == "empty":
        data = bytearray()
    elif damage == "out_of_range":  # a valid checksum over an id beyond the vocabulary
        data[-1] = 200
        n = int.from_bytes(data[8:16], "little")
        header = json.loads(data[16 : 16 + n])
        body = bytes(data[corpus_cache._data_offset(n) :])
        checksum = corpus_cache.Sum64()
        checksum.add(body)
        header["checksum"] = checksum.hexdigest()
        new = json.dumps(header, ensure_ascii=True).encode()
        assert len(new) == n
        data[16 : 16 + n] = new
    entry.write_bytes(bytes(data))
    corpus = load_corpus(path)
    assert corpus.vocab.decode(corpus.ids) == Path(path).read_text()


def test_no_room_for_the_cache_keeps_ids_in_memory(tmp_path, monkeypatch):
    path = write_text(tmp_path)
    monkeypatch.setattr(corpus_cache, "free_bytes", lambda d: 0)
    corpus = load_corpus(path)
    assert corpus.cache is None and not isinstance(corpus.ids, np.memmap)
    assert "no cache written" in corpus.note
    assert corpus.vocab.decode(corpus.ids) == Path(path).read_text()


def test_cache_write_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    path = write_text(tmp_path)

    def full(self, ids):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(corpus_cache.EntryWriter, "write", full)
    corpus = load_corpus(path)
    assert corpus.cache is None and "No space left on device" in corpus.note
    assert not any(corpus_cache.cache_dir().iterdir())  # no temp file left


def test_no_cache_and_no_memory_is_a_clear_error(tmp_path, monkeypatch):
    path = write_text(tmp_path)
    monkeypatch.setattr(corpus_cache, "free_bytes", lambda d: 0)
    monkeypatch.setattr(corpus_cache, "available_memory", lambda: 100)
    with pytest.raises(
        CorpusError, match=r"needs 1,250 bytes of memory for its ids.*free disk space"
    ):
        load_corpus(path)


def test_file_changing_while_read(tmp_path):
    path = write_text(tmp_path)

    def grow(done, total):
        if done < total:  # during the first pass
            with open(path, "a") as f:
                f.write("more text\n")

    with pytest.raises(CorpusError, match="changed while it was read; try again"):
        load_corpus(path, progress=grow)
    assert not [p for p in corpus_cache.cache_dir().iterdir() if p.suffix == ".ids"]


def test_progress_reaches_the_end(tmp_path):
    path = write_text(tmp_path)
    seen = []
    load_corpus(path, progress=lambda done, total: seen.append((done, total)))
    load_corpus(path, progress=lambda done, total: seen.append((done, total)))  # from the cache
    assert seen[-1][0] == seen[-1][1] and all(d <= t for d, t in seen)


# --- training from the memory-mapped ids ---------------------------------------------------------


def test_memory_mapped_ids_train_bit_for_bit(tmp_path):
    text = file_text(UNICODE) * 4
    path = write_text(tmp_path, text)
    mapped = load_corpus(path)
    assert isinstance(mapped.ids, np.memmap)
    in_memory = corpus_mod.Corpus(
        "mem", text, mapped.vocab, np.array(reference(text)[1], dtype=np.int32)
    )
    cfg, tc = (
        ModelConfig(len(mapped.vocab), cell="lstm", hidden=16),
        TrainConfig(seq_len=8, batch=4, seed=3),
    )
    results = []
    for corpus in (mapped, in_memory):
        trainer = Trainer(corpus, cfg, tc)
        trainer.run(threading.Event(), steps=15, val_interval=0)
        results.append((trainer.model.params, trainer.validate(None)))
    for name, value in results[0][0].items():
        assert np.array_equal(value, results[1][0][name]), name
    assert results[0][1] == results[1][1]


def test_training_process_gets_the_cache_path_not_the_ids(tmp_path):
    path = write_text(tmp_path)
    corpus = load_corpus(path)
    trainer = Trainer(
        corpus, ModelConfig(len(corpus.vocab), hidden=8), TrainConfig(seq_len=4, batch=2)
    )
    r, w = os.pipe()
    try:
        protocol.write(w, Start.of(corpus, trainer.to_checkpoint(), None, False))
        kind, meta, arrays = wire.read(r)
    finally:
        os.close(r)
        os.close(w)
    assert "ids" not in arrays and meta["ids_cache"] == corpus.cache
    child = protocol.decode(kind, meta, arrays).corpus_of()
    assert child.vocab == corpus.vocab and np.array_equal(child.ids, corpus.ids)


# --- checkpoints ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_old_checkpoint_loads(cell):
    """Fixtures written before `symbols` and `unknown` existed read as characters, none unknown."""
    ckpt = load_checkpoint(DATA / f"ckpt_v1_{cell}.npz")
    assert ckpt.vocab.symbols == "chars" and not ckpt.vocab.unknown
    assert "symbols" not in np.load(DATA / f"ckpt_v1_{cell}.npz")["meta"][()].item()
    assert ckpt.vocab == Vocab(ckpt.vocab.chars)


@pytest.mark.parametrize("policy", [VocabPolicy(max_vocab=12), VocabPolicy(byte_mode=True)])
def test_checkpoint_records_the_mapping(policy):
    corpus = make_corpus("u", file_text(UNICODE), policy)
    cfg = ModelConfig(len(corpus.vocab), hidden=4)
    params = Trainer(corpus, cfg, TrainConfig()).model.params
    back = checkpoint_from_bytes(checkpoint_bytes(Checkpoint(cfg, corpus.vocab, params)))
    assert back.vocab == corpus.vocab
    assert (back.vocab.unknown, back.vocab.byte_mode) == (not policy.byte_mode, policy.byte_mode)
    assert back.vocab != Vocab(corpus.vocab.chars)


# --- the command line ----------------------------------------------------------------------------


def test_train_bounded_validation_and_flags(tmp_path, capsys):
    path = write_text(tmp_path, file_text(UNICODE) * 20)
    out = tmp_path / "m.npz"
    code = main(
        [
            "train",
            "--corpus",
            path,
            "--steps",
            "3",
            "--hidden",
            "8",
            "--json",
            "--val-chars",
            "50",
            "--max-vocab",
            "40",
            "--out",
            str(out),
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["val_chars"] == 50
    assert load_checkpoint(out).vocab.unknown
    # resuming finds the same vocabulary without the flag
    assert main(["train", "--corpus", path, "--steps", "1", "--json", "--resume", str(out)]) == 0
    capsys.readouterr()
    assert (
        main(["train", "--corpus", path, "--steps", "2", "--hidden", "8", "--json", "--bytes"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["val_chars"] > 50


def test_bad_max_vocab_is_one_error_line(tmp_path, capsys):
    path = write_text(tmp_path)
    with pytest.raises(SystemExit) as refused:  # (by argparse, while the arguments are read)
        main(["train", "--corpus", path, "--steps", "1", "--max-vocab", "1"])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument --max-vocab") and "from 2 to 8192" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("policy", [VocabPolicy(max_vocab=12), VocabPolicy(byte_mode=True)])
def test_typing_session_refeed_matches_keystrokes(policy):
    """A re-feed (one chunk) and typing key by key agree when a typed character is rare (the
    unknown symbol) or several bytes: the same state, the same scores; and "your typing" scores
    the text as `eval` does, none of it unknown (a character of several bytes as their product)."""
    from rnn_tui.engine.predict import Predictor
    from rnn_tui.lab.metrics import evaluate
    from rnn_tui.runtime.session import PredictionSession

    corpus = make_corpus("u", file_text(UNICODE), policy)
    cfg = ModelConfig(len(corpus.vocab), cell="gru", hidden=8)
    snap = ParamSnapshot.of(cfg, corpus.vocab, Trainer(corpus, cfg, TrainConfig()).model.params, 0)
    typed = "e\u0301 漢字 😀 ab"
    keys, chunk = PredictionSession(), PredictionSession()
    keys.set_snapshot(snap)
    for i in range(1, len(typed) + 1):
        keys.set_text(typed[:i])
    chunk.set_text(typed)
    chunk.set_snapshot(snap)
    assert keys.predictor.fed == chunk.predictor.fed == len(corpus.vocab.encode(typed))
    np.testing.assert_allclose(keys.predictor.probs, chunk.predictor.probs, rtol=1e-4, atol=1e-6)
    assert keys.stats.total == chunk.stats.total == len(typed)
    assert keys.stats.bits == pytest.approx(chunk.stats.bits, rel=1e-4)
    report = evaluate(Predictor(snap), typed, suggestions=())
    for s in (keys, chunk):
        assert s.stats.unknown == 0 == report.unknown
        assert s.stats.bpc == pytest.approx(report.bpc, rel=1e-4)
        assert s.stats.top1_rate == pytest.approx(report.top1)


@pytest.mark.parametrize(
    "policy",
    [VocabPolicy(max_vocab=4, min_count=3), VocabPolicy(min_count=3), VocabPolicy(max_vocab=3)],
)
def test_vocabulary_limits_hold_and_resume_finds_the_same_vocabulary(policy):
    """4 frequent characters, U+FFFD frequent in the text itself, 2 rare ones: never more than
    max_vocab symbols, and `policy_for(vocab)` gives the same vocabulary back (how a resume works)."""
    text = "abcd" * 5 + UNKNOWN * 6 + "xy"
    corpus = make_corpus("t", text, policy)
    assert len(corpus.vocab) <= policy.max_vocab and corpus.vocab.unknown
    assert set(corpus.vocab.chars) - {UNKNOWN} <= set("abcd")
    again = make_corpus("t", text, corpus_mod.policy_for(corpus.vocab))
    assert again.vocab == corpus.vocab and np.array_equal(again.ids, corpus.ids)


@pytest.mark.parametrize("data", [b"", b"a", b"ab", b"abc\xff", bytes(range(256)) * 3 + b"\x00"])
def test_byte_counts_match_a_plain_count(data):
    expected = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)
    assert np.array_equal(encoding._byte_counts(data), expected)
