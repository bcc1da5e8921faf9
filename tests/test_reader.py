"""The trained reader (rag/reader/): encoding, the network and its loss, the weights file, reading, dev
scores, training pairs, and (integration) a two-step ``rag train-reader`` run.

Everything but the last test runs on a tiny randomly initialised BERT (hidden 32) that reads the real e5
tokenizer's ids: the converted multilingual-e5-small folder must exist (the install prepares it; in CI it
must be there, elsewhere the tests skip without it).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rag.reader import Reader, SentenceScore, devscore, pairs as P, training, weights  # noqa: E402
from rag.reader.encoding import MAX_TOKENS, PASSAGE, QUERY, char_span, encode, token_span  # noqa: E402
from rag.reader.inference import PairScore, score_pairs  # noqa: E402
from rag.reader.network import TRAINED_LAYERS, ReaderNetwork, best_span, loss  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

SENTENCES = [
    "L'économie française a crû de 2,5 % en 2023, selon l’Insee.",
    "Élisabeth Borne (née en 1961) a salué « une croissance solide » à Noël.",
    "Aujourd’hui, l’Assemblée n’a pas voté : c’était prévu.",
    "The Normans gave their name to Normandy, a region in France.",
    "Il a dit « bonjour » à 北京市 et à São Paulo…",
]
QUESTION = "De combien l'économie française a-t-elle crû en 2023 ?"


def e5_folder() -> Path:
    from rag.models.files import E5_DIR
    from rag.settings import Settings

    return Settings().cache_dir / "models" / E5_DIR


@pytest.fixture(scope="module")
def tokenizer():
    folder = e5_folder()
    if not (folder / "tokenizer.json").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{folder} is missing: CI installs the converted e5 (README, install)")
        pytest.skip(f"no converted multilingual-e5-small at {folder}: run the install command from the README")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def tiny_encoder(tokenizer, seed: int = 0, layers: int = TRAINED_LAYERS + 1):
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=514, pad_token_id=tokenizer.pad_token_id)
    return BertModel(config)


def tiny_network(tokenizer, seed: int = 0, layers: int = TRAINED_LAYERS + 1, trained_layers: int = TRAINED_LAYERS
                 ) -> ReaderNetwork:
    """A tiny reader (the real one's trained layers, one frozen below them, as E5Reader builds it), the encoder and
    the heads drawn from ``seed``."""
    encoder = tiny_encoder(tokenizer, seed, layers)
    torch.manual_seed(seed + 1000)
    return ReaderNetwork(encoder, trained_layers=trained_layers).eval()


def trained(network: ReaderNetwork, seed: int) -> ReaderNetwork:
    """``network`` as training would leave it: its trained tensors moved (and, like the file, fp16-exact)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in network.named_parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * 0.5)
                p.copy_(p.half().float())
    return network


@pytest.fixture(scope="module")
def network(tokenizer):
    return trained(tiny_network(tokenizer), seed=7)


def sentence_tokens(enc, i):
    return [(t, o) for t, o in enumerate(enc.offsets[i]) if o is not None]


# ---- encoding ---------------------------------------------------------------------------------
def test_sentence_offsets_are_the_sentence_characters(tokenizer):
    enc = encode(tokenizer, [QUESTION] * len(SENTENCES), SENTENCES)
    for i, s in enumerate(SENTENCES):
        inside = sentence_tokens(enc, i)
        ts = [t for t, _ in inside]
        assert ts == list(range(enc.first[i], enc.last[i] + 1)), "the sentence's tokens are one run"
        # Consecutive tokens tile the sentence exactly: every character, accents, ’ and « » included.
        assert "".join(s[a:b] for _, (a, b) in inside) == s
        assert inside[0][1][0] == 0 and inside[-1][1][1] == len(s)
        pieces = tokenizer.convert_ids_to_tokens(enc.input_ids[i])
        for t, (a, b) in inside:
            said = pieces[t].replace("▁", " ").strip()
            if said:     # a lone "▁" stands for the space before what follows
                assert said == unicodedata.normalize("NFKC", s[a:b]).strip(), (pieces[t], s[a:b])
        # The question is read whole, as "query: …", before the sentence; the sentence as "passage: …".
        question = tokenizer(QUERY + QUESTION, add_special_tokens=False)["input_ids"]
        assert enc.input_ids[i][1:1 + len(question)] == question
        assert all(o is None for o in enc.offsets[i][:enc.first[i]] + enc.offsets[i][enc.last[i] + 1:])
        assert len(enc.input_ids[i]) == len(enc.attention_mask[i]) == len(enc.offsets[i])
        assert set(enc.attention_mask[i]) == {1}
    assert PASSAGE == "passage: "


def test_a_long_sentence_is_cut_the_question_kept_whole(tokenizer):
    long = " ".join(["Le gouvernement a présenté un plan d’économies de 40 milliards d’euros."] * 40)
    enc = encode(tokenizer, [QUESTION, QUESTION], [long, SENTENCES[0]])
    assert len(enc.input_ids[0]) == MAX_TOKENS and len(enc.input_ids[1]) < MAX_TOKENS
    assert enc.input_ids[0][-1] == tokenizer.eos_token_id
    question = tokenizer(QUERY + QUESTION, add_special_tokens=False)["input_ids"]
    assert enc.input_ids[0][1:1 + len(question)] == question
    inside = sentence_tokens(enc, 0)
    kept = inside[-1][1][1]
    assert 0 < kept < len(long)
    assert "".join(long[a:b] for _, (a, b) in inside) == long[:kept]
    # An answer cut off by the truncation has no tokens; one inside the kept part has.
    last = long.rindex("40 milliards")
    assert last > kept and token_span(enc.offsets[0], last, last + len("40 milliards")) is None
    first = long.index("40 milliards")
    t = token_span(enc.offsets[0], first, first + len("40 milliards"))
    assert t is not None and long[slice(*char_span(enc.offsets[0], *t))].strip() == "40 milliards"


def test_an_overlong_question_is_cut_not_an_error(tokenizer, network):
    # The app takes questions of up to 2000 characters (rag.pipeline.ask.MAX_QUESTION_CHARS); whole, such a
    # question leaves the sentence no token and the tokenizer raises.
    question = "Quelle est la position du gouvernement sur la réforme des retraites annoncée hier ? " * 22
    assert len(question) < 2000
    enc = encode(tokenizer, [question], [SENTENCES[0]])
    assert len(enc.input_ids[0]) <= MAX_TOKENS
    assert enc.last[0] - enc.first[0] + 1 >= 10          # the sentence keeps room
    short = encode(tokenizer, [QUESTION], [SENTENCES[0]])
    assert short.offsets[0][short.first[0]:] == enc.offsets[0][enc.first[0]:]   # the whole sentence here
    (scored,) = score_pairs(network, tokenizer, [question], [SENTENCES[0]])
    a, b = scored.span
    assert 0 <= a <= b <= len(SENTENCES[0])


def test_token_span_and_char_span_round_trip(tokenizer):
    enc = encode(tokenizer, [QUESTION] * len(SENTENCES), SENTENCES)
    checked = 0
    for i, s in enumerate(SENTENCES):
        for m in re.finditer(r"\w+(?:[ ,]\d+)*", s):
            t = token_span(enc.offsets[i], m.start(), m.end())
            assert t is not None and enc.first[i] <= t[0] <= t[1] <= enc.last[i]
            a, b = char_span(enc.offsets[i], *t)
            assert a <= m.start() and m.end() <= b, "the tokens cover the words"
            assert s[a:b].strip() == m.group(), "and no more than them (XLM-R pieces never straddle a word)"
            # Tokens → characters → the same tokens.
            assert token_span(enc.offsets[i], a, b) == t
            checked += 1
    assert checked > 40
    # Docstring cases, and a span past the sentence's end.
    offsets = [None, (0, 3), (3, 8), (9, 12), None]
    assert token_span(offsets, 0, 3) == (1, 1) and token_span(offsets, 4, 10) == (2, 3)
    assert token_span(offsets, 9, 13) is None
    assert char_span(offsets, 1, 3) == (0, 12)


def test_best_span_keeps_to_the_sentence_and_the_length():
    g = torch.Generator().manual_seed(3)
    for _ in range(30):
        n = int(torch.randint(4, 40, (1,), generator=g))
        start, end = torch.randn(n, generator=g) * 3, torch.randn(n, generator=g) * 3
        first = int(torch.randint(1, n - 1, (1,), generator=g))
        last = int(torch.randint(first, n, (1,), generator=g))
        for width in (1, 3, 30):
            s, e, value = best_span(start, end, first, last, max_tokens=width)
            assert first <= s <= e <= last and e - s < width
            assert value == pytest.approx(float(start[s] + end[e]))
            brute = max(float(start[i] + end[j]) for i in range(first, last + 1)
                        for j in range(i, min(last, i + width - 1) + 1))
            assert value == pytest.approx(brute)
    # The best start after the best end: the answer is the best ordered pair, not the two peaks.
    start = torch.tensor([9., 0., 0., 1., 8.])
    end = torch.tensor([9., 0., 7., 0., 0.])
    assert best_span(start, end, 1, 4) == (4, 4, 8.0)
    assert best_span(start, end, 1, 4, max_tokens=1) == (4, 4, 8.0)


# ---- the network ------------------------------------------------------------------------------
def some_pairs() -> list[P.Pair]:
    s0, s3 = SENTENCES[0], SENTENCES[3]
    return [P.Pair(QUESTION, s0, True, (s0.index("2,5 %"), s0.index("2,5 %") + 5), "a/x", "q1", "positive"),
            P.Pair(QUESTION, SENTENCES[1], False, None, "a/x", "q1", "paragraph"),
            P.Pair("Where is Normandy?", s3, True, (s3.index("France"), s3.index("France") + 6), "b/y", "q2",
                   "positive"),
            P.Pair("Where is Normandy?", SENTENCES[2], False, None, "b/y", "q2", "retrieved"),
            P.Pair("Who won?", SENTENCES[4], True, None, "c/z", "q3", "positive")]


def test_dataset_rows_label_the_answer_tokens(tokenizer):
    ps = some_pairs()
    data = training.PairDataset(tokenizer, ps)
    assert len(data) == len(ps)
    enc = encode(tokenizer, [p.question for p in ps], [p.sentence for p in ps])
    for i, p in enumerate(ps):
        row = data[i]
        assert row["answerable"] == int(p.answerable)
        if p.answerable and p.span:
            a, b = char_span(enc.offsets[i], row["start_positions"], row["end_positions"])
            assert p.sentence[a:b].strip() == p.sentence[slice(*p.span)]
            assert row["has_span"] == 1
        elif p.answerable:      # answer words unknown: left out of the span loss
            assert row["has_span"] == 0
        else:                   # "no answer here": the first token
            assert (row["start_positions"], row["end_positions"], row["has_span"]) == (0, 0, 1)
    batch = training.collate([data[i] for i in range(len(data))], tokenizer.pad_token_id)
    width = max(len(data[i]["input_ids"]) for i in range(len(data)))
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (len(ps), width)
    for i in range(len(ps)):
        n = len(data[i]["input_ids"])
        assert batch["attention_mask"][i, :n].all() and not batch["attention_mask"][i, n:].any()
        assert (batch["input_ids"][i, n:] == tokenizer.pad_token_id).all()
    assert batch["answerable"].tolist() == [1, 0, 1, 0, 1]


def test_the_loss_trains_only_the_top_layers_and_the_heads(tokenizer):
    net = tiny_network(tokenizer, layers=4, trained_layers=2).train()
    data = training.PairDataset(tokenizer, some_pairs())
    batch = training.collate([data[i] for i in range(len(data))], tokenizer.pad_token_id)
    out = net(**batch)
    assert out["start_logits"].shape == out["end_logits"].shape == batch["input_ids"].shape
    assert out["cls_logits"].shape == out["mean_logits"].shape == (len(data),)
    assert (out["start_logits"][batch["attention_mask"] == 0] < -1e30).all(), "padding can never be the answer"
    value = out["loss"]
    assert value.ndim == 0 and torch.isfinite(value) and value > 0
    value.backward()
    top = ("encoder.encoder.layer.2.", "encoder.encoder.layer.3.", "span.", "cls.", "mean.")
    for name, p in net.named_parameters():
        if name.startswith(top):
            assert p.requires_grad and p.grad is not None, name
        else:       # embeddings, the lower layers, the pooler: frozen, not even a zero gradient
            assert not p.requires_grad and p.grad is None, name
    for part in top:
        assert sum(float(p.grad.abs().sum()) for n, p in net.named_parameters() if n.startswith(part)) > 0, part
    assert set(net.trained_state()) == {n for n, _ in net.named_parameters() if n.startswith(top)}
    assert net(batch["input_ids"], batch["attention_mask"]).keys() == {"start_logits", "end_logits", "cls_logits",
                                                                       "mean_logits"}


def test_the_loss_is_finite_when_no_pair_has_known_words(tokenizer):
    net = tiny_network(tokenizer)
    data = training.PairDataset(tokenizer, [some_pairs()[4], some_pairs()[0]])
    batch = training.collate([data[0], data[1]], tokenizer.pad_token_id)
    batch["has_span"] = torch.tensor([0, 0])
    assert (batch["attention_mask"] == 0).sum() >= 2      # padding in the batch
    value = net(**batch)["loss"]
    assert torch.isfinite(value)
    value.backward()
    # Only the sentence heads' cross-entropy is left: the span head gets no gradient.
    assert (net.span.weight.grad is None or not net.span.weight.grad.any()) and net.cls.weight.grad.any()
    with torch.no_grad():
        h = net.heads(batch["input_ids"], batch["attention_mask"])
        again = loss(h, batch["start_positions"], batch["end_positions"], batch["answerable"], batch["has_span"])
    assert float(value.detach()) == pytest.approx(float(again))


# ---- reading ----------------------------------------------------------------------------------
def check_scores(scores: list[PairScore], sentences: list[str]) -> None:
    assert len(scores) == len(sentences)
    for s, sentence in zip(scores, sentences):
        a, b = s.span
        assert 0 <= a <= b <= len(sentence)
        assert sentence[a:b] == sentence[a:b].lstrip(), "no leading space in the answer"
        assert s.score == pytest.approx((s.cls + s.mean + s.margin) / 3)
        assert all(math.isfinite(x) for x in (s.cls, s.mean, s.margin))


def test_score_pairs_one_score_per_sentence_and_batches_agree(tokenizer, network):
    long = " ".join(SENTENCES * 12)
    sentences = SENTENCES + [long, "", "Oui."]
    scores = score_pairs(network, tokenizer, [QUESTION] * len(sentences), sentences)
    check_scores(scores, sentences)
    assert scores[-2].span == (0, 0) and scores[-2].margin == 0.0, "a sentence without tokens has no answer"
    assert len({round(s.score, 6) for s in scores}) > 1
    # Padding and batching change nothing (the attention mask hides the padding).
    small = score_pairs(network, tokenizer, [QUESTION] * len(sentences), sentences, batch_size=3)
    alone = [score_pairs(network, tokenizer, [QUESTION], [s])[0] for s in sentences[:2]]
    for x, y in [*zip(scores, small), *zip(scores, alone)]:
        assert x.span == y.span and x.score == pytest.approx(y.score, abs=1e-4)


class TinyReader(Reader):
    """A reader backend as a larger one would be written: ``score`` over the network, ``probability`` fixed."""

    model_id = "tiny"

    def __init__(self, network, tokenizer):
        self.network, self.tokenizer = network, tokenizer

    def score(self, question, sentences):
        return [SentenceScore(s.score, s.span) for s in score_pairs(self.network, self.tokenizer,
                                                                    [question] * len(sentences), sentences)]

    def probability(self, score):
        return 1 / (1 + math.exp(-score))


def test_read_picks_a_sentence_and_a_span_inside_it(tokenizer, network):
    reader = TinyReader(network, tokenizer)
    reading = reader.read(QUESTION, SENTENCES)
    assert reading.sentences == SENTENCES and len(reading.scores) == len(SENTENCES)
    values = [s.score for s in reading.scores]
    assert reading.best == int(np.argmax(values)) and reading.order[0] == reading.best
    assert [values[i] for i in reading.order] == sorted(values, reverse=True)
    assert 0.0 <= reading.p_answer <= 1.0 and reading.p_answer == round(reader.probability(max(values)), 4)
    for sentence, s in zip(SENTENCES, reading.scores):
        assert sentence[s.span[0]:s.span[1]] in sentence
    if reading.span_text is not None:
        assert reading.span_text in SENTENCES[reading.best] and reading.span_text.strip()
    empty = reader.read(QUESTION, [])
    assert (empty.best, empty.p_answer, empty.span_text, empty.order) == (None, 0.0, None, [])


@pytest.fixture
def tiny_e5_folder(tmp_path, tokenizer, network, monkeypatch):
    """A folder E5Reader loads: the tiny encoder (as ``network``'s base, before training) saved as a model;
    its tokenizer is the session's (loading the real one again costs seconds)."""
    import transformers

    folder = tmp_path / "tiny-e5"
    tiny_network(tokenizer).encoder.save_pretrained(folder)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda path, **kw: tokenizer)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return folder


def test_e5_reader_loads_the_weights_file_and_reads(tmp_path, tokenizer, network, tiny_e5_folder):
    from rag.reader.e5reader import E5Reader

    path = weights.save(network, tmp_path / weights.FILE_NAME, {"steps": 3, "calibration": {"a": 2.0, "b": -1.0}})
    reader = E5Reader(str(tiny_e5_folder), path)
    assert reader.model_id == "e5-reader-" + weights.sha256(path)[:16]
    reading = reader.read(QUESTION, SENTENCES)
    assert reader.report == {"steps": 3, "calibration": {"a": 2.0, "b": -1.0}}
    expected = score_pairs(network, tokenizer, [QUESTION] * len(SENTENCES), SENTENCES)
    assert [s.span for s in reading.scores] == [s.span for s in expected]
    assert [s.score for s in reading.scores] == pytest.approx([round(s.score, 4) for s in expected], abs=1e-4)
    a, b = reading.scores[reading.best].span
    assert reading.span_text in (None, SENTENCES[reading.best][a:b])
    # P(answerable) = sigmoid(2 * score - 1): 0.5 at 0.5, and it grows with the score.
    assert reader.probability(0.5) == pytest.approx(0.5)
    ps = [reader.probability(x) for x in np.linspace(-30, 30, 13)]
    assert ps == sorted(ps) and 0 <= ps[0] < ps[-1] <= 1
    untrained = E5Reader(str(tiny_e5_folder), None)
    assert untrained.model_id == "untrained" and untrained.probability(0.0) == 0.5


def test_e5_reader_refuses_weights_of_another_layout(tmp_path, tokenizer, tiny_e5_folder):
    from rag.errors import RagError
    from rag.reader.e5reader import E5Reader

    other = weights.save(tiny_network(tokenizer, trained_layers=1), tmp_path / "other.safetensors", {})
    with pytest.raises(RagError, match="cannot load the reader .*does not fit"):
        E5Reader(str(tiny_e5_folder), other).score(QUESTION, SENTENCES)


# ---- the weights file -------------------------------------------------------------------------
def test_weights_save_and_apply_reproduce_the_scores(tmp_path, tokenizer, network):
    report = {"steps": 2, "data": ["x"], "calibration": {"a": 1.5, "b": 0.2}, "weights": "w", "sha256": "s"}
    path = weights.save(network, tmp_path / weights.FILE_NAME, report)
    assert weights.report(path) == {"steps": 2, "data": ["x"], "calibration": {"a": 1.5, "b": 0.2}}
    assert weights.sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        assert f.metadata()["trained_layers"] == str(TRAINED_LAYERS)
        assert set(f.keys()) == set(network.trained_state())
        assert all(f.get_tensor(k).dtype == torch.float16 for k in f.keys())
    before = score_pairs(network, tokenizer, [QUESTION] * len(SENTENCES), SENTENCES)
    fresh = tiny_network(tokenizer)         # the same base, untrained top layers and heads
    untrained = score_pairs(fresh, tokenizer, [QUESTION] * len(SENTENCES), SENTENCES)
    assert [s.score for s in untrained] != pytest.approx([s.score for s in before], abs=1e-3)
    assert weights.apply(fresh, path) == weights.report(path)
    after = score_pairs(fresh, tokenizer, [QUESTION] * len(SENTENCES), SENTENCES)
    assert after == before
    assert all(fresh.state_dict()[k].dtype == torch.float32 for k in network.trained_state())


def test_weights_of_another_layout_are_refused(tmp_path, tokenizer):
    fewer = weights.save(tiny_network(tokenizer, trained_layers=1), tmp_path / "fewer.safetensors", {})
    more = weights.save(tiny_network(tokenizer, layers=8, trained_layers=7), tmp_path / "more.safetensors", {})
    target = tiny_network(tokenizer, seed=5)
    state = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match=r"does not fit this reader \(missing \['encoder.encoder.layer.1"):
        weights.apply(target, fewer)
    with pytest.raises(ValueError, match=r"unexpected \['encoder.encoder.layer.6"):
        weights.apply(target, more)
    assert all(torch.equal(state[k], v) for k, v in target.state_dict().items()), "nothing half-applied"


# ---- dev scores and calibration ---------------------------------------------------------------
def test_dev_scores_of_the_tiny_reader_are_in_range(tokenizer, network):
    ps = some_pairs() + [P.Pair("Qui dirige la Banque de France ?", s, False, None, "d/w", "q4", "unanswerable")
                         for s in SENTENCES[:3]]
    result = devscore.score(network, tokenizer, ps)
    m = result["metrics"]
    assert m["questions"] == 4
    for signal in devscore.SIGNALS:
        assert 0.0 <= m[f"{signal}_top1"] <= 1.0
        assert 0.0 <= m[f"{signal}_auc"] <= 1.0
    assert 0.0 <= m["span_f1"] <= 1.0
    assert set(result["calibration"]) == {"a", "b"}


def test_dev_metrics_on_known_scores(monkeypatch):
    s = "Rollo agreed to swear fealty to King Charles III in 911."
    ps = [P.Pair("q1", s, True, (s.index("King"), s.index(" in")), "a", "q1", "positive"),
          P.Pair("q1", "Other words here.", False, None, "a", "q1", "paragraph"),
          P.Pair("q2", "Rouen was its capital.", True, (0, 5), "a", "q2", "positive"),
          P.Pair("q2", "Dudo wrote about it.", False, None, "a", "q2", "paragraph"),
          P.Pair("q3", "Nothing here at all.", False, None, "a", "q3", "unanswerable")]
    told = {  # (cls, mean, margin) per pair; q1's winner says "King Charles", q2's winner is the wrong sentence
        0: PairScore(3.0, 1.0, 2.0, (s.index("King"), s.index(" III"))), 1: PairScore(0.0, 2.0, 1.0, (0, 5)),
        2: PairScore(1.0, 0.0, 1.0, (0, 5)), 3: PairScore(2.0, 0.0, 0.0, (0, 4)),
        4: PairScore(-1.0, 3.0, -1.0, (0, 7))}
    monkeypatch.setattr(devscore, "score_pairs", lambda net, tok, qs, ss: [told[i] for i in range(len(qs))])
    m = devscore.score(None, None, ps)["metrics"]
    assert m["questions"] == 3
    # cls: q1 right (3 > 0), q2 wrong (2 > 1); best cls 3, 2 for the answerables, -1 for q3: AUC 1.
    assert (m["cls_top1"], m["cls_auc"]) == (0.5, 1.0)
    # mean: q1 wrong (2 > 1), q2 right (0 = 0: the first wins); best 2, 0 vs q3's 3: AUC 0.
    assert (m["mean_top1"], m["mean_auc"]) == (0.5, 0.0)
    # score: q1 (2, 1), q2 (2/3, 2/3): q1 right, q2 tie → the first, right; q3 1/3: AUC 1.
    assert (m["score_top1"], m["score_auc"]) == (1.0, 1.0)
    # span F1: q1 said "King Charles" for "King Charles III" (2/3 precision 1 → 0.8), q2 "Rouen" exactly.
    assert m["span_f1"] == pytest.approx((0.8 + 1.0) / 2)


def test_auc_and_f1_known_values():
    assert devscore.auc([True, False, True, False], [0.9, 0.1, 0.4, 0.4]) == 0.875
    assert devscore.auc([True, True, False], [3, 2, 1]) == 1.0
    assert devscore.auc([False, False, True], [3, 2, 1]) == 0.0
    assert devscore.auc([True, False], [1.0, 1.0]) == 0.5
    assert math.isnan(devscore.auc([True, True], [1.0, 2.0]))
    assert devscore.f1("in the 10th century", "10th century") == 0.8
    assert devscore.f1("The Normans", "normans") == 1.0
    assert devscore.f1("Paris", "Rouen") == 0.0
    assert devscore.f1("", "") == 1.0 and devscore.f1("", "Rouen") == 0.0
    assert devscore.f1("2,5 %", "2,5 %.") == 1.0
    assert devscore.f1("Denmark Iceland", "Denmark, Iceland and Norway") == pytest.approx(2 * 1 * 0.5 / 1.5)


def test_platt_calibration_is_monotone_and_fits_the_rate():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=200)
    labels = rng.random(200) < 1 / (1 + np.exp(-(2 * scores - 0.5)))
    cal = devscore.calibrate(scores, labels)
    assert cal["a"] > 0
    grid = np.linspace(-5, 5, 41)
    p = 1 / (1 + np.exp(-(cal["a"] * grid + cal["b"])))
    assert (np.diff(p) > 0).all()
    fitted = 1 / (1 + np.exp(-(cal["a"] * scores + cal["b"])))
    assert fitted.mean() == pytest.approx(labels.mean(), abs=0.01)     # a logistic fit's mean is the rate
    assert devscore.calibrate(scores, ~labels)["a"] < 0
    assert devscore.calibrate(scores, np.ones(200, bool)) is None


# ---- training pairs ---------------------------------------------------------------------------
EN_ARTICLE = """Normans

The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France. \
They were descended from Norse raiders and pirates from Denmark, Iceland and Norway. Their leader Rollo agreed to \
swear fealty to King Charles III. The Norman dynasty had a major political impact on France.

The Duchy of Normandy was founded in 911. It was a great fief of medieval France. Dudo of Saint-Quentin wrote \
about its dukes. Rouen.
"""
FR_ARTICLE = """L’économie

L'économie française a crû de 2,5 % en 2023, selon l’Insee. Élisabeth Borne a salué « une croissance solide ». \
Les exportations d’Airbus ont dépassé les prévisions de l'État.

Le chômage est resté stable à 7,3 % de la population active. Les régions d’outre-mer restent plus touchées. \
Les économistes attendent une baisse l’an prochain.
"""


def qa(id, lang, question, doc, paragraph, evidence=None, answer=None, must_match=None):
    return {"id": id, "lang": lang, "question": question, "doc": doc, "answerable": evidence is not None,
            "answers": [answer] if answer else [], "evidence": evidence, "paragraph": paragraph,
            "must_match": must_match, "source": f"test {id}"}


QA = {
    "en": [qa("t-en-1", "en", "In what country is Normandy located?", "normans.txt", 0,
              "gave their name to Normandy, a region in France.", "France", r"(?<!\w)France(?!\w)"),
           qa("t-en-2", "en", "When was the Duchy of Normandy founded?", "normans.txt", 1,
              "The Duchy of Normandy was founded in 911.", "911", r"(?<!\d)911(?!\d)"),
           qa("t-en-3", "en", "Who was the first king of Iceland?", "normans.txt", 0),
           # Its evidence is not in its paragraph: left out.
           qa("t-en-4", "en", "Who did Rollo swear fealty to?", "normans.txt", 1,
              "swear fealty to King Charles III", "King Charles III", r"King\s+Charles\s+III")],
    "fr": [qa("t-fr-1", "fr", "De combien l'économie française a-t-elle crû en 2023 ?", "economie.txt", 0,
              "L'économie française a crû de 2,5 % en 2023", "2,5 %", r"(?<!\d)2[,.]5\s?%"),
           qa("t-fr-2", "fr", "Quel est le taux de chômage ?", "economie.txt", 1,
              "Le chômage est resté stable à 7,3 % de la population active.", "7,3 %", r"(?<!\d)7[,.]3\s?%"),
           qa("t-fr-3", "fr", "Qui dirige la Banque de France ?", "economie.txt", 1)],
}


def write_public_qa(folder: Path) -> Path:
    """A public-qa-format folder: corpus-<lang>/<doc> (title line, blank line, paragraphs) and qa-<lang>.jsonl."""
    for lang, doc, text in (("en", "normans.txt", EN_ARTICLE), ("fr", "economie.txt", FR_ARTICLE)):
        (folder / f"corpus-{lang}").mkdir(parents=True)
        (folder / f"corpus-{lang}" / doc).write_text(text, encoding="utf-8")
        (folder / f"qa-{lang}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in QA[lang]), encoding="utf-8")
    return folder


@pytest.fixture
def public_qa_questions(tmp_path):
    return {q.qid: q for q in P.public_qa(write_public_qa(tmp_path / "public-qa"), skip=lambda row: False)}


def test_public_qa_questions(tmp_path, public_qa_questions):
    qs = public_qa_questions
    assert sorted(qs) == ["t-en-1", "t-en-2", "t-en-3", "t-fr-1", "t-fr-2", "t-fr-3"]
    q = qs["t-en-1"]
    assert (q.lang, q.article, q.answerable, q.patterns) == ("en", "public-qa/en/normans.txt", True,
                                                            [r"(?<!\w)France(?!\w)"])
    assert q.text[q.paragraph[0]:q.paragraph[1]] == EN_ARTICLE.split("\n\n")[1]
    assert [q.text[a:b] for a, b in q.answer_spans] == ["France"]
    assert q.answer_spans[0][0] == EN_ARTICLE.index("France")          # the evidence's match, not a later one
    assert qs["t-fr-2"].text[slice(*qs["t-fr-2"].paragraph)] == FR_ARTICLE.split("\n\n")[2]
    assert [qs["t-fr-1"].text[a:b] for a, b in qs["t-fr-1"].answer_spans] == ["2,5 %"]
    assert not qs["t-en-3"].answerable and qs["t-en-3"].patterns == [] and qs["t-en-3"].answer_spans == []
    skipped = P.public_qa(tmp_path / "public-qa", skip=lambda row: row["lang"] == "fr")
    assert {q.qid for q in skipped} == {"t-en-1", "t-en-2", "t-en-3"}


def test_pairs_positives_hold_the_answer_and_negatives_never_do(public_qa_questions):
    retrieved = ["It was a great fief of medieval France.",             # holds the answer: never a negative
                 "Rouen.",                                              # too short
                 "Dudo of Saint-Quentin wrote about its dukes.",
                 "The Duchy of Normandy was founded in 911."]
    for qid, q in public_qa_questions.items():
        if not q.answerable:
            continue
        ps = P.pairs_for(q, retrieved if q.lang == "en" else [])
        positives = [p for p in ps if p.kind == "positive"]
        assert len(positives) == 1 and positives[0].answerable and positives[0].qid == qid
        p = positives[0]
        assert re.fullmatch(q.patterns[0], p.sentence[slice(*p.span)], re.IGNORECASE)
        assert p.sentence in q.text and p.article == q.article
        negatives = [p for p in ps if p.kind != "positive"]
        assert negatives and all(not n.answerable and n.span is None for n in negatives)
        for n in negatives:
            assert not re.search(q.patterns[0], n.sentence, re.IGNORECASE), (qid, n.sentence)
            assert len(re.findall(r"\w+", n.sentence)) >= 3 and n.sentence != p.sentence
        paragraph = q.text[q.paragraph[0]:q.paragraph[1]]
        inside = [n for n in negatives if n.kind == "paragraph"]
        assert 1 <= len(inside) <= 2 and all(n.sentence in paragraph for n in inside)
        assert len({n.sentence for n in negatives}) == len(negatives)
        assert len([n for n in negatives if n.kind == "retrieved"]) <= 1
    en1 = P.pairs_for(public_qa_questions["t-en-1"], retrieved)
    assert "The Norman dynasty had a major political impact on France." not in {p.sentence for p in en1}
    assert [p.sentence for p in en1 if p.kind == "retrieved"] == ["Dudo of Saint-Quentin wrote about its dukes."]
    # The paragraph's negatives: most words shared with the question first.
    assert [p.sentence for p in en1 if p.kind == "paragraph"][0].startswith("They were descended")


def test_unanswerable_questions_only_give_negatives(public_qa_questions):
    for qid in ("t-en-3", "t-fr-3"):
        q = public_qa_questions[qid]
        ps = P.pairs_for(q, ["Les économistes attendent une baisse l’an prochain.", "It was a great fief."])
        assert ps and all(not p.answerable and p.span is None and p.kind == "unanswerable" for p in ps)
        assert len(ps) <= 4 and len({p.sentence for p in ps}) == len(ps)


def test_eval_format_questions(tmp_path):
    corpus = tmp_path / "seeds"
    corpus.mkdir()
    (corpus / "a.txt").write_text(FR_ARTICLE, encoding="utf-8")
    (corpus / "b.txt").write_text(EN_ARTICLE, encoding="utf-8")
    rows = [{"id": "c-1", "lang": "en", "question": "How much did the French economy grow?", "doc": "a.txt",
             "evidence": "a crû de 2,5 % en 2023", "must_match": ["2[,.]5\\s?%"], "type": "number"},
            {"id": "c-2", "lang": "fr", "question": "Et en 2024 ?", "doc": "a.txt", "evidence": "x",
             "must_match": [], "type": "followup"},
            {"id": "c-3", "lang": "fr", "question": "Qui a gagné la coupe ?", "doc": "", "evidence": "",
             "must_match": [], "type": "unanswerable"},
            {"id": "c-4", "lang": "fr", "question": "Absent ?", "doc": "a.txt", "evidence": "pas dans l'article",
             "must_match": ["x"], "type": "fact"}]
    qa_file = tmp_path / "calibration.jsonl"
    qa_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    qs = {q.qid: q for q in P.eval_file(qa_file, corpus)}
    assert sorted(qs) == ["c-1", "c-3"]
    assert [qs["c-1"].text[a:b] for a, b in qs["c-1"].answer_spans] == ["2,5 %"]
    assert qs["c-1"].article == "calibration/a.txt" and qs["c-1"].paragraph is None
    assert not qs["c-3"].answerable and FR_ARTICLE in qs["c-3"].text and EN_ARTICLE in qs["c-3"].text
    ps = P.pairs_for(qs["c-1"], ["Les économistes attendent une baisse l’an prochain.",
                                 "Le chômage est resté stable à 7,3 % de la population active.", "Oui oui oui."])
    assert [p.kind for p in ps] == ["positive", "retrieved", "retrieved", "retrieved"]


def test_retrieval_neighbours_leave_out_the_own_paragraph(public_qa_questions):
    vocab = sorted({w.lower() for t in [EN_ARTICLE, FR_ARTICLE] + [q.question for q in public_qa_questions.values()]
                    for w in re.findall(r"\w+", t)})

    def embed(texts, kind):      # bag of words
        return np.array([[float(w in {x.lower() for x in re.findall(r"\w+", t)}) for w in vocab] for t in texts])

    qs = list(public_qa_questions.values())
    near = P.retrieval_neighbours(qs, embed, k=3)
    assert set(near) == set(public_qa_questions)
    for q in qs:
        paragraph = q.text[q.paragraph[0]:q.paragraph[1]]
        assert len(near[q.qid]) <= 3 and not any(s in paragraph for s in near[q.qid])
        assert all(s in (EN_ARTICLE if q.lang == "en" else FR_ARTICLE) for s in near[q.qid])
    assert near["t-en-1"][0] == "The Duchy of Normandy was founded in 911."


def many_pairs() -> list[P.Pair]:
    return [P.Pair(f"q{i}", f"sentence {i} {j}", j == 0, (0, 8) if j == 0 else None, f"g/a{i % 5}", f"q{i}",
                   "positive" if j == 0 else "paragraph") for i in range(40) for j in range(3)]


def test_split_dev_and_subsample_are_deterministic(tmp_path):
    ps = many_pairs()
    train, dev = P.split_dev(ps, {"g/a1", "g/a3"})
    assert (train, dev) == P.split_dev(list(ps), {"g/a3", "g/a1"})
    assert {p.article for p in dev} == {"g/a1", "g/a3"} and not {p.article for p in train} & {"g/a1", "g/a3"}
    assert len(train) + len(dev) == len(ps)
    half = P.subsample(ps, 0.5, seed=29)
    assert half == P.subsample(list(ps), 0.5, seed=29)
    assert {p.qid for p in P.subsample(ps[::-1], 0.5, seed=29)} == {p.qid for p in half}, "whatever the order"
    assert len({p.qid for p in half}) == 20 and all(sum(p.qid == q for p in half) == 3 for q in {p.qid for p in half})
    assert {p.qid for p in P.subsample(ps, 0.5, seed=30)} != {p.qid for p in half}
    assert len({p.qid for p in P.subsample(ps, 0.001, seed=29)}) == 1
    assert P.subsample(ps, 1.0, seed=1) == ps
    P.save(half, tmp_path / "pairs.jsonl")
    assert P.load(tmp_path / "pairs.jsonl") == half


def test_dev_ids_are_the_seed_questions_training_keeps_out(tmp_path):
    qa_file = ROOT / "eval" / "calibration.jsonl"
    ids = [json.loads(line)["id"] for line in qa_file.read_text(encoding="utf-8").splitlines()]
    dev = training.dev_ids(qa_file)
    assert dev == training.dev_ids(qa_file, training.SEED) and dev < set(ids)
    assert 0.2 < len(dev) / len(ids) < 0.4
    assert training.dev_ids(qa_file, seed=1) != dev
    small = tmp_path / "cal.jsonl"
    small.write_text("".join(json.dumps({"id": f"x-{i}"}) + "\n" for i in range(50)) + "\n")
    assert training.dev_ids(small, seed=3) == {f"x-{i}" for i in range(50)
                                               if training._share(f"x-{i}", 3) < training.DEV_SHARE_OF_SEEDS}
    # What `rag train-reader` holds out of the seeds' questions is exactly dev_ids.
    qs, dev_articles = training.questions(training.Plan(public_qa=None, repo=ROOT, out=tmp_path / "run"))
    assert qs and {q.qid for q in qs if q.article.startswith("dev:")} == dev & {q.qid for q in qs}
    assert all((q.article in dev_articles) == (q.qid in dev) for q in qs)


# ---- a real run ---------------------------------------------------------------------------------
@pytest.mark.integration
def test_train_reader_smoke_run(tmp_path, monkeypatch, tokenizer):
    from click.testing import CliRunner
    from transformers import AutoModel

    from rag.cli import main

    data = write_public_qa(tmp_path / "public-qa")
    out = tmp_path / "run"
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["train-reader", "--data", str(data), "--out", str(out), "--max-questions",
                                       "12", "--max-steps", "2", "--batch-size", "4"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    path = out / weights.FILE_NAME
    assert path.is_file() and path.stat().st_size <= 20 * 2 ** 20
    report = weights.report(path)
    assert report["steps"] == 2 and report["batch_size"] == 4 and report["train_pairs"] > 0
    assert any("public-qa" in d for d in report["data"]) and any("calibration.jsonl" in d for d in report["data"])
    assert report["dev_curve"] and report["dev_curve"][-1]["share_of_run"] == 1.0
    assert json.loads((out / "report.json").read_text())["sha256"] == weights.sha256(path)
    assert list(out.glob("pairs-*.jsonl"))
    fresh = ReaderNetwork(AutoModel.from_pretrained(str(e5_folder()))).eval()
    assert weights.apply(fresh, path) == report
    check_scores(score_pairs(fresh, tokenizer, [QUESTION] * 2, SENTENCES[:2]), SENTENCES[:2])
