"""Score the reader on held-out pairs: per question, which sentence wins, whether any should, which words.

Every signal is scored (``cls``, ``mean``, ``margin`` and their mean ``score``), so one run compares the
first-token head with the mean-pooled one and the span margin. ``calibration`` is a logistic fit of
"the question is answerable" on the question's best sentence score: the reader's P(answerable).
"""

from __future__ import annotations

import re
import string
from collections import Counter

import numpy as np

from rag.reader.inference import score_pairs

SIGNALS = ("cls", "mean", "margin", "score")


def score(network, tokenizer, pairs) -> dict:
    """``{"metrics": {...}, "calibration": {"a": ..., "b": ...}}`` over ``pairs`` grouped by question."""
    scored = score_pairs(network, tokenizer, [p.question for p in pairs], [p.sentence for p in pairs])
    by_q: dict[str, list] = {}
    for p, s in zip(pairs, scored):
        by_q.setdefault(p.qid, []).append((p, s))
    metrics: dict[str, float] = {"questions": len(by_q)}
    for signal in SIGNALS:
        labels, best, top1, f1s = [], [], [], []
        for members in by_q.values():
            values = [getattr(s, signal) for _, s in members]
            winner = members[int(np.argmax(values))]
            answerable = any(p.answerable for p, _ in members)
            labels.append(answerable)
            best.append(max(values))
            if answerable:
                top1.append(winner[0].answerable)
                if signal == "score":
                    gold = next((p for p, _ in members if p.answerable and p.span), None)
                    if gold:
                        said = winner[0].sentence[winner[1].span[0]:winner[1].span[1]] if winner[0].answerable else ""
                        f1s.append(f1(said, gold.sentence[gold.span[0]:gold.span[1]]))
        metrics[f"{signal}_top1"] = round(float(np.mean(top1)), 4) if top1 else None
        value = auc(labels, best)
        metrics[f"{signal}_auc"] = None if value != value else round(value, 4)
        if f1s:
            metrics["span_f1"] = round(float(np.mean(f1s)), 4)
    labels = np.array([any(p.answerable for p, _ in m) for m in by_q.values()])
    best = np.array([max(s.score for _, s in m) for m in by_q.values()])
    return {"metrics": metrics, "calibration": calibrate(best, labels)}


def calibrate(scores: np.ndarray, labels: np.ndarray) -> dict | None:
    """Platt scaling: P(answerable) = sigmoid(a * score + b), fitted by logistic regression."""
    if len(set(labels.tolist())) < 2:
        return None
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=1e4).fit(scores.reshape(-1, 1), labels.astype(int))
    return {"a": round(float(fit.coef_[0][0]), 6), "b": round(float(fit.intercept_[0]), 6)}


def auc(labels, scores) -> float:
    """ROC AUC by ranks (ties count half).

    >>> auc([True, False, True, False], [0.9, 0.1, 0.4, 0.4])
    0.875
    """
    labels, scores = np.asarray(labels, bool), np.asarray(scores, float)
    pos, neg = scores[labels], scores[~labels]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def _tokens(text: str) -> list[str]:
    text = "".join(c for c in text.lower() if c not in string.punctuation)
    text = re.sub(r"\b(a|an|the|le|la|les|l|un|une|des|du|de)\b", " ", text)
    return text.split()


def f1(said: str, gold: str) -> float:
    """SQuAD's token F1 (lower case, no punctuation or articles, EN and FR).

    >>> f1("in the 10th century", "10th century")
    0.8
    """
    a, b = _tokens(said), _tokens(gold)
    common = sum((Counter(a) & Counter(b)).values())
    if not a or not b or not common:
        return float(a == b)
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)
