"""Vocabulary, corpus loading (built-in and files, every bad input) and the BPTT batches."""

import os

import numpy as np
import pytest

from rnn_tui.engine import builtin_corpora
from rnn_tui.engine import corpus as corpus_mod
from rnn_tui.engine.batches import BatchStream, eval_chunks
from rnn_tui.engine.config import MAX_VOCAB
from rnn_tui.engine.corpus import (
    BUILTIN_CORPORA,
    Corpus,
    Vocab,
    load_corpus,
)
from rnn_tui.engine.errors import CorpusError


def write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


# --- Vocab -------------------------------------------------------------------------------------


def test_vocab_is_sorted_set_and_deterministic():
    v1, v2 = Vocab.from_text("hello world"), Vocab.from_text("world hello")
    assert v1.chars == (" ", "d", "e", "h", "l", "o", "r", "w")
    assert v1 == v2 and hash(v1) == hash(v2)
    assert len(v1) == v1.size == 8
    assert "h" in v1 and "z" not in v1
    assert v1.id("d") == 1 and v1.id("z") is None


def test_vocab_round_trip_and_int32():
    text = "the cat sat on the mat"
    v = Vocab.from_text(text)
    ids = v.encode(text)
    assert ids.dtype == np.int32 and ids.shape == (len(text),)
    assert ids[:3].tolist() == [v.id("t"), v.id("h"), v.id("e")]
    assert v.decode(ids) == text
    assert v.decode([]) == ""


def test_vocab_unknown_policy():
    v = Vocab("abc")
    assert v.encode("axbyc").tolist() == [0, 1, 2]  # "skip" drops x and y
    with pytest.raises(CorpusError, match=r"character 'x' at position 1 is not in the vocabulary"):
        v.encode("axbyc", unknown="error")
    with pytest.raises(ValueError):
        v.encode("abc", unknown="replace")


def test_vocab_non_bmp_and_chinese():
    text = "机器学习🙂机器"
    v = Vocab.from_text(text)
    assert len(v) == 5 and v.decode(v.encode(text)) == text


def test_vocab_limits_and_immutability():
    with pytest.raises(CorpusError, match="at least 2"):
        Vocab("aaaa")
    with pytest.raises(CorpusError, match=f"limit of {MAX_VOCAB}"):
        Vocab(chr(0x4E00 + i) for i in range(MAX_VOCAB + 1))
    assert len(Vocab(chr(0x4E00 + i) for i in range(MAX_VOCAB))) == MAX_VOCAB
    with pytest.raises(CorpusError, match="single characters"):
        Vocab(["ab", "c"])
    v = Vocab("ab")
    with pytest.raises(AttributeError):
        v.chars = ("x", "y")
    with pytest.raises(IndexError):
        v.decode([2])


# --- Built-in corpora ---------------------------------------------------------------------------


def test_builtin_names():
    assert list(BUILTIN_CORPORA) == ["abcde", "alphabet", "zen", "stdlib"]


def test_abcde_and_alphabet():
    c = load_corpus("abcde")
    assert isinstance(c, Corpus) and c.name == "abcde"
    assert c.text == "abcde" * 200 and c.vocab.chars == tuple("abcde")
    assert c.ids[:7].tolist() == [0, 1, 2, 3, 4, 0, 1]
    assert not c.ids.flags.writeable
    a = load_corpus("alphabet")
    assert len(a.vocab) == 27 and a.text.startswith("abcdefghijklmnopqrstuvwxyz abc")


def test_zen_is_decoded_and_prints_nothing(capsys):
    builtin_corpora._zen_text.cache_clear()
    c = load_corpus("zen")
    assert c.text.startswith("The Zen of Python, by Tim Peters")
    assert "Beautiful is better than ugly." in c.text
    assert "Namespaces are one honking great idea -- let's do more of those!" in c.text
    assert capsys.readouterr().out == ""


def test_stdlib_size_deterministic_and_walked_once(capsys):
    builtin_corpora._stdlib_docstrings.cache_clear()
    first = load_corpus("stdlib")
    assert load_corpus("stdlib").text == first.text
    walks = builtin_corpora._stdlib_docstrings.cache_info().misses
    assert walks == 1  # the standard library is walked once a process, however often it is loaded
    builtin_corpora._stdlib_docstrings.cache_clear()
    second = load_corpus("stdlib")  # a walk of its own
    assert 500_000 <= len(first.text) <= builtin_corpora.STDLIB_MAX_CHARS
    assert first.text == second.text and first.vocab == second.vocab
    assert "Return the absolute value of the argument." in first.text  # builtins.abs
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


# --- Files -----------------------------------------------------------------------------------------


def test_chinese_file_bom_and_crlf(tmp_path):
    text = "机器学习很有趣。\r\n我们学习。\r\n"
    c = load_corpus(write(tmp_path, "zh.txt", b"\xef\xbb\xbf" + text.encode("utf-8")))
    assert c.text == "机器学习很有趣。\n我们学习。\n"
    assert "\ufeff" not in c.vocab and "\r" not in c.vocab
    assert c.vocab.decode(c.ids) == c.text
    assert c.name.endswith("zh.txt")


def test_pathlike_accepted(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("abab")
    assert load_corpus(p).text == "abab"


@pytest.mark.parametrize(
    "data, pattern",
    [
        (b"caf\xe9 au lait", r"is not UTF-8 text \(byte 0xe9 at offset 3\)"),
        (b"\x89PNG\r\n", r"is not UTF-8 text \(byte 0x89 at offset 0\)"),
        (b"\xef\xbb\xbfab\xff", r"\(byte 0xff at offset 5\)"),  # offset counts the BOM
        (b"", r"is empty"),
        (b"\xef\xbb\xbf", r"is empty"),
        (b"aaaaaaa", r"only one distinct character \('a'\): the next character is always the same"),
        (b"\r\n\r\n", r"only one distinct character \('\\n'\)"),
    ],
)
def test_bad_files(tmp_path, data, pattern):
    path = write(tmp_path, "bad.txt", data)
    with pytest.raises(CorpusError, match=pattern) as info:
        load_corpus(path)
    msg = str(info.value)
    assert f"corpus file '{path}'" in msg and "\n" not in msg


def test_missing_name_lists_builtins(tmp_path):
    with pytest.raises(CorpusError) as info:
        load_corpus("shakespeare")
    assert str(info.value) == (
        "no corpus file 'shakespeare'; the built-in corpora are abcde, alphabet, zen, stdlib"
    )
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(CorpusError, match=f"no corpus file '{missing}'"):
        load_corpus(missing)


def test_directory(tmp_path):
    with pytest.raises(CorpusError, match=f"corpus file '{tmp_path}' is a directory"):
        load_corpus(str(tmp_path))


def test_not_a_regular_file(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it would block: it must be refused before any read
    with pytest.raises(CorpusError, match="is not a regular file"):
        load_corpus(str(fifo))


def test_unreadable_simulated(tmp_path, monkeypatch):
    path = write(tmp_path, "secret.txt", b"abc")

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(corpus_mod, "open", deny, raising=False)
    with pytest.raises(CorpusError, match=f"cannot read corpus file '{path}': permission denied"):
        load_corpus(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_chmod(tmp_path):
    path = write(tmp_path, "secret.txt", b"abc")
    os.chmod(path, 0)
    with pytest.raises(CorpusError, match="permission denied"):
        load_corpus(path)


# --- Split --------------------------------------------------------------------------------------


def corpus_of(text):
    return corpus_mod.make_corpus("test", text)


def test_split_last_fraction():
    c = load_corpus("abcde")
    train, val = c.split(0.1)
    assert len(train) == 900 and len(val) == 100
    assert np.array_equal(np.concatenate([train, val]), c.ids)


def test_split_tiny_and_zero():
    train, val = corpus_of("abcab").split(0.1)
    assert len(train) == 3 and len(val) == 2  # at least 2 ids on each side
    train, val = corpus_of("aba").split(0.5)
    assert train.tolist() == val.tolist() == [0, 1, 0]  # too small to cut: both are everything
    train, val = corpus_of("abcabc").split(0.0)
    assert len(train) == 6 and len(val) == 0


# --- BatchStream --------------------------------------------------------------------------------


def test_batch_stream_shapes_offsets_and_targets():
    ids = np.arange(101, dtype=np.int32)  # 100 transitions
    s = BatchStream(ids, batch=4, seq_len=10)
    x, y = s.next()
    assert x.shape == y.shape == (10, 4) and x.dtype == y.dtype == np.int32
    assert x[0].tolist() == [0, 25, 50, 75]  # stream b starts at b * M // B
    assert np.array_equal(y, x + 1)  # targets are the inputs shifted by one
    assert x[:, 1].tolist() == list(range(25, 35))


def test_batch_stream_chunks_are_contiguous_and_cyclic():
    ids = np.arange(11, dtype=np.int32)  # 10 transitions
    s = BatchStream(ids, batch=3, seq_len=4)
    chunks = [s.next() for _ in range(5)]
    xs = np.concatenate([x for x, _ in chunks])  # (20, 3)
    ys = np.concatenate([y for _, y in chunks])
    starts = [0, 3, 6]
    for b, start in enumerate(starts):
        expected = [(start + k) % 10 for k in range(20)]
        assert xs[:, b].tolist() == expected
        assert ys[:, b].tolist() == [p + 1 for p in expected]
    assert s.chunks == 5


def test_batch_stream_seek_matches_stepping():
    ids = np.arange(38, dtype=np.int32)
    walked = BatchStream(ids, batch=5, seq_len=7)
    for _ in range(13):
        walked.next()
    jumped = BatchStream(ids, batch=5, seq_len=7)
    jumped.seek(13)
    assert jumped.chunks == 13
    for _ in range(3):
        (x1, y1), (x2, y2) = walked.next(), jumped.next()
        assert np.array_equal(x1, x2) and np.array_equal(y1, y2)


def test_batch_stream_returns_fresh_arrays():
    s = BatchStream(np.arange(20), batch=2, seq_len=3)
    x1, _ = s.next()
    keep = x1.copy()
    s.next()
    assert np.array_equal(x1, keep)


@pytest.mark.parametrize("n, batch, seq_len", [(2, 8, 5), (3, 5, 7), (6, 2, 50)])
def test_batch_stream_tiny_corpora(n, batch, seq_len):
    ids = np.arange(n, dtype=np.int32)
    s = BatchStream(ids, batch, seq_len)
    for _ in range(3):
        x, y = s.next()
        assert x.shape == (seq_len, batch)
        assert np.array_equal(y, x + 1) and x.max() <= n - 2


def test_batch_stream_abcde_pairs():
    c = load_corpus("abcde")
    x, y = BatchStream(c.ids, 32, 64).next()
    assert np.array_equal(y, (x + 1) % 5)


def test_batch_stream_refuses_single_id():
    with pytest.raises(CorpusError, match="at least 2 characters"):
        BatchStream(np.array([0]), 2, 2)
    with pytest.raises(ValueError):
        BatchStream(np.arange(5), 0, 2)


# --- eval_chunks --------------------------------------------------------------------------------


def transitions_of(chunks):
    pairs = []
    for x, y in chunks:
        assert x.shape == y.shape and x.dtype == np.int32
        pairs.extend(zip(x.ravel().tolist(), y.ravel().tolist(), strict=True))
    return pairs


@pytest.mark.parametrize(
    "n, batch, seq_len", [(101, 4, 10), (101, 7, 3), (5, 8, 2), (2, 3, 4), (50, 1, 7)]
)
def test_eval_chunks_cover_each_transition_once(n, batch, seq_len):
    ids = np.arange(n, dtype=np.int32)  # distinct ids, so each transition is (p, p + 1)
    chunks = list(eval_chunks(ids, batch, seq_len))
    pairs = transitions_of(chunks)
    m = n - 1
    b = min(batch, m)
    assert len(pairs) == m - m % b and m % b <= batch - 1
    assert len(set(pairs)) == len(pairs)
    assert all(t == x + 1 for x, t in pairs)
    assert all(x.shape[1] == b for x, _ in chunks)
    assert all(x.shape[0] == seq_len for x, _ in chunks[:-1]) and chunks[-1][0].shape[0] <= seq_len
    # each stream continues where the previous chunk stopped
    xs = np.concatenate([x for x, _ in chunks])
    assert np.all(np.diff(xs, axis=0) == 1)


def test_eval_chunks_nothing_for_short_ids():
    assert list(eval_chunks(np.array([3], dtype=np.int32), 4, 4)) == []
    assert list(eval_chunks(np.array([], dtype=np.int32), 4, 4)) == []
