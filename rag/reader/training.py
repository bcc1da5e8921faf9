"""``rag train-reader``: build the pairs, train the reader with transformers' ``Trainer``, score it on the
dev articles, calibrate its probability there and write the one shipped file.

Seeded and deterministic on one machine (one thread order: CPU). Training data (``pairs.py``):

- public-qa (SQuAD 2.0 dev, PIAF v1.0), every article but those of the public test part
  (``eval/public/test.jsonl``: its articles, and the articles its French unanswerables were taken from);
- the seeds' ``eval/calibration.jsonl`` (``eval/qa.jsonl`` is never read).

Dev (for the epochs, the learning curve and the calibration): the articles of the public calibration part
(``eval/public/calibration.jsonl``) and a seeded 30 % of the seeds' calibration questions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from rag.reader import pairs as P
from rag.reader.encoding import encode, pad, token_span

log = logging.getLogger(__name__)

DEV_SHARE_OF_SEEDS = 0.3
SEED = 29
# The public set (eval/public): its calibration part is the reader's dev split, its test part is never read.
PUBLIC = {"corpus": Path("eval/public/corpus"), "calibration": Path("eval/public/calibration.jsonl"),
          "test": Path("eval/public/test.jsonl")}
CURVE_DEV_SHARE = 0.25      # the dev questions scored mid-run (all of them at the end)


@dataclass(frozen=True)
class Plan:
    """What one training run does."""

    public_qa: Path | None          # the public-qa folder (None: the eval-format files alone)
    repo: Path                      # the checkout: eval/ and seeds/
    out: Path                       # where the run writes (pairs, checkpoints, the weights file, metrics)
    epochs: float = 1.0
    fraction: float = 1.0           # share of the training questions (the learning curve's quarter, half)
    batch_size: int = 32
    learning_rate: float = 1e-4
    seed: int = SEED
    max_steps: int = -1             # a smoke run's few steps
    max_questions: int = 0          # 0: all (a smoke run's handful)
    curve_points: tuple[float, ...] = (0.25, 0.5)   # shares of the run after which the dev set is scored


def _public_test(repo: Path) -> tuple[set[str], set[str]]:
    """The public test part's articles (``en/normans.txt``) and dataset question ids."""
    docs, sources = set(), set()
    for line in (repo / "eval/public/test.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("doc"):
            docs.add(row["doc"])
        sources.add(row["source"].rsplit(" ", 1)[-1])
    return docs, sources


def _public_part_articles(repo: Path, part: str, folder: Path | None) -> set[str]:
    """Articles of a public part, as ``lang/file``: those of its questions and, for its French unanswerables
    (questions on an article left out of the corpus), the article the question came from."""
    docs, sources = set(), set()
    for line in (repo / f"eval/public/{part}.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("doc"):
            docs.add(row["doc"])
        sources.add(row["source"].rsplit(" ", 1)[-1])
    if folder:
        for lang in ("en", "fr"):
            for line in (folder / f"qa-{lang}.jsonl").read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if row["id"] in sources:
                    docs.add(f"{lang}/{row['doc']}")
    return docs


def questions(plan: Plan) -> tuple[list[P.Question], set[str]]:
    """Every training and dev question, and the dev articles."""
    test = _public_part_articles(plan.repo, "test", plan.public_qa)
    dev = {"public-qa/" + d for d in _public_part_articles(plan.repo, "calibration", plan.public_qa)}
    out: list[P.Question] = []
    if plan.public_qa:
        out += P.public_qa(plan.public_qa, skip=lambda row: f"{row['lang']}/{row['doc']}" in test)
    seeds = P.eval_file(plan.repo / "eval/calibration.jsonl", plan.repo / "seeds")
    for q in seeds:
        if _share(q.qid, plan.seed) < DEV_SHARE_OF_SEEDS:
            q.article = "dev:" + q.article
            dev.add(q.article)
    out += seeds
    if plan.max_questions:
        random.Random(plan.seed).shuffle(out)
        out = out[: plan.max_questions]
    return out, dev


def dev_ids(qa: Path, seed: int = SEED) -> frozenset[str]:
    """The question ids of an eval-format calibration file that the reader keeps out of training (its dev split):
    the questions ``rag calibrate`` may fit the gate on."""
    ids = (json.loads(line)["id"] for line in Path(qa).read_text(encoding="utf-8").splitlines() if line.strip())
    return frozenset(i for i in ids if _share(i, seed) < DEV_SHARE_OF_SEEDS)


def _share(key: str, seed: int) -> float:
    """A stable number in [0, 1) for ``key``."""
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:8], 16) / 16 ** 8


class PairDataset:
    """Tokenised pairs with their labels, as ``Trainer`` reads them."""

    def __init__(self, tokenizer, pairs: list[P.Pair]):
        enc = encode(tokenizer, [p.question for p in pairs], [p.sentence for p in pairs])
        self.rows = []
        for i, p in enumerate(pairs):
            span = token_span(enc.offsets[i], *p.span) if p.span else None
            self.rows.append({
                "input_ids": enc.input_ids[i], "attention_mask": enc.attention_mask[i],
                "start_positions": span[0] if span else 0, "end_positions": span[1] if span else 0,
                "answerable": int(p.answerable),
                # The span head learns "no answer here" from negatives, and the words from positives whose
                # answer survived truncation.
                "has_span": int(bool(span) or not p.answerable)})

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.rows[i]


def collate(rows: list[dict], pad_id: int) -> dict:
    import torch

    ids, mask = pad([r["input_ids"] for r in rows], [r["attention_mask"] for r in rows], pad_id)
    batch = {"input_ids": ids, "attention_mask": mask}
    for key in ("start_positions", "end_positions", "answerable", "has_span"):
        batch[key] = torch.tensor([r[key] for r in rows])
    return batch


def build_pairs(plan: Plan, embed_path: str) -> tuple[list[P.Pair], list[P.Pair]]:
    """(train, dev) pairs, cached in ``plan.out/pairs-*.jsonl`` (the dense neighbours cost minutes)."""
    cache = plan.out / f"pairs-{plan.seed}-{plan.max_questions}.jsonl"
    qs, dev_articles = questions(plan)
    if cache.exists():
        everything = P.load(cache)
    else:
        from rag.models.embedding import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder(embed_path)
        neighbours = P.retrieval_neighbours(qs, lambda texts, kind: embedder.encode(texts, kind, batch_size=64))
        everything = [pair for q in qs for pair in P.pairs_for(q, neighbours.get(q.qid, []))]
        P.save(everything, cache)
    train, dev = P.split_dev(everything, dev_articles)
    if plan.fraction < 1:
        train = P.subsample(train, plan.fraction, plan.seed)
    return train, dev


def train(plan: Plan, embed_path: str) -> dict:
    """Run the plan; returns the report (also written to ``plan.out/report.json``)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")     # the base model is a local folder: never ask the hub
    import torch
    from transformers import AutoModel, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments, set_seed

    from rag.reader import devscore, weights
    from rag.reader.network import ReaderNetwork

    plan.out.mkdir(parents=True, exist_ok=True)
    set_seed(plan.seed)
    torch.set_num_threads(os.cpu_count() or 2)
    started = time.time()
    train_pairs, dev_pairs = build_pairs(plan, embed_path)
    tokenizer = AutoTokenizer.from_pretrained(embed_path)
    network = ReaderNetwork(AutoModel.from_pretrained(embed_path))
    dataset = PairDataset(tokenizer, train_pairs)
    steps_per_epoch = math.ceil(len(dataset) / plan.batch_size)
    total = plan.max_steps if plan.max_steps > 0 else math.ceil(steps_per_epoch * plan.epochs)
    curve: list[dict] = []

    class Curve(TrainerCallback):
        """Scores the dev set after a quarter and half of the run (the learning curve)."""

        marks = {max(1, round(total * share)): share for share in plan.curve_points}

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step in self.marks and dev_pairs:
                network.eval()
                with torch.no_grad():
                    scored = devscore.score(network, tokenizer, P.subsample(dev_pairs, CURVE_DEV_SHARE, plan.seed))
                network.train()
                row = {"share_of_run": self.marks[state.global_step], "pairs_seen": state.global_step * plan.batch_size,
                       **scored["metrics"]}
                curve.append(row)
                log.info("dev after %s of the run: %s", self.marks[state.global_step], row)

    args = TrainingArguments(
        output_dir=str(plan.out / "trainer"), per_device_train_batch_size=plan.batch_size,
        learning_rate=plan.learning_rate, num_train_epochs=plan.epochs, max_steps=plan.max_steps,
        warmup_steps=max(1, round(0.06 * total)), weight_decay=0.01, lr_scheduler_type="linear",
        logging_steps=25, save_strategy="no", report_to=[], seed=plan.seed, data_seed=plan.seed,
        use_cpu=True, dataloader_num_workers=0, train_sampling_strategy="group_by_length",
        remove_unused_columns=False, disable_tqdm=True)
    trainer = Trainer(model=network, args=args, train_dataset=dataset,
                      data_collator=lambda rows: collate(rows, tokenizer.pad_token_id), callbacks=[Curve()])
    trainer.train()
    trained_s = time.time() - started
    network.eval()
    with torch.no_grad():
        final = devscore.score(network, tokenizer, dev_pairs) if dev_pairs else {"metrics": {}, "calibration": None}
    curve.append({"share_of_run": 1.0, "pairs_seen": total * plan.batch_size, **final["metrics"]})
    report = {
        "seed": plan.seed, "epochs": plan.epochs, "fraction": plan.fraction, "steps": total,
        "batch_size": plan.batch_size, "learning_rate": plan.learning_rate,
        "train_pairs": len(train_pairs), "dev_pairs": len(dev_pairs),
        "train_questions": len({p.qid for p in train_pairs}), "dev_questions": len({p.qid for p in dev_pairs}),
        "pair_kinds": _count(p.kind for p in train_pairs), "seconds": round(trained_s),
        "threads": torch.get_num_threads(), "dev_curve": curve, "calibration": final["calibration"],
        "data": ["public-qa (SQuAD 2.0 dev, PIAF v1.0) without the public test part's articles",
                 "eval/calibration.jsonl (seeds)"],
    }
    path = weights.save(network, plan.out / weights.FILE_NAME, report)
    report["weights"] = str(path)
    report["sha256"] = weights.sha256(path)
    (plan.out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out
