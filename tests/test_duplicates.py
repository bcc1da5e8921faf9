"""Near-duplicate wire copies: found at indexing, shown once, never repeated in the evidence."""

from __future__ import annotations

import itertools
import re

from conftest import SEEDS, TEST_GATE, FakeGenerator, FakeReader

from rag.ingest import duplicates
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.store.folder import Store, build


def wire_copies(text: str) -> list[str]:
    """How a wire story reappears on other sites: a dateline and a footer added, a sentence
    dropped, a few words changed, paragraphs re-cut, one word in ten replaced."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(paragraphs))
    edited = " ".join(sentences[:-1]).replace(" a annoncé", " a déclaré").replace("selon", "d'après")
    return [
        "PÉKIN (Agence) — " + text + "\n© Agence de presse 2024. Tous droits réservés.",
        "Lire aussi : nos autres articles sur la Chine\n" + edited,
        "\n\n".join(" ".join(sentences[i:i + 2]) for i in range(0, len(sentences), 2)) + "\nPublicité",
        " ".join("modifié" if i % 10 == 9 else w for i, w in enumerate(text.split(" "))),
    ]


def seeds() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}


def test_minhash_separates_wire_copies_from_different_articles_on_the_same_subject():
    texts = seeds()
    copies = [duplicates.similarity(t, c) for t in texts.values() for c in wire_copies(t)]
    different = [duplicates.similarity(a, b) for a, b in itertools.combinations(texts.values(), 2)]
    print(f"\ncopies: min {min(copies):.2f} max {max(copies):.2f}; "
          f"different articles: max {max(different):.2f}")
    assert min(copies) >= duplicates.THRESHOLD > max(different)


def _corpus_with_copies(tmp_path):
    folder = tmp_path / "wire"
    folder.mkdir()
    original = seeds()["000_00be9f381121e8cb.txt"]
    (folder / "a_original.txt").write_text("date 2024-01-10\nsource: Xinhua\n" + original, encoding="utf-8")
    for n, copy in enumerate(wire_copies(original)):
        (folder / f"copy{n}.txt").write_text(f"date 2024-01-1{n + 1}\nsource: Site {n}\n" + copy, encoding="utf-8")
    for name, text in seeds().items():
        if not name.startswith("000"):
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_copies_are_grouped_under_the_earliest_and_listed_once(tmp_path, fake_embedder):
    folder = _corpus_with_copies(tmp_path)
    report = build(folder, tmp_path / "idx", fake_embedder)
    assert report.duplicates == {f"copy{n}.txt": "a_original.txt" for n in range(4)}
    store = Store.load(tmp_path / "idx")
    listed = store.articles()
    assert [a["id"] for a in listed].count("a_original.txt") == 1
    assert not any(a["id"].startswith("copy") for a in listed) and len(listed) == 5
    original = next(a for a in listed if a["id"] == "a_original.txt")
    assert original["also"] == ["Site 0", "Site 1", "Site 2", "Site 3"] and original["source"] == "Xinhua"


def test_copies_never_fill_the_evidence_with_the_same_sentence(tmp_path, fake_embedder):
    folder = _corpus_with_copies(tmp_path)
    settings = Settings.load(env={}, corpus=folder, index=tmp_path / "idx", min_score=0.0)
    pipe = Pipeline(settings, embedder=fake_embedder, generator=FakeGenerator("91 entreprises [1]."), gate_model=TEST_GATE,
                    reader=FakeReader())
    events = list(pipe.ask_stream("Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"))
    evidence = next(e for e in events if type(e).__name__ == "Retrieved").evidence
    texts = [" ".join(e.text.split()) for e in evidence]
    assert len(texts) == len(set(texts)) and {e.doc for e in evidence} & {f"copy{n}.txt" for n in range(4)} == set()
    answer = events[-1].answer
    assert answer.citations[0]["doc"] == "a_original.txt"
    assert answer.citations[0]["also"] == ["Site 0", "Site 1", "Site 2", "Site 3"]
