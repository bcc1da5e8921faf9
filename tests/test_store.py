import numpy as np
import pytest

import rag.store.vector_index
import rag.store.folder
from rag.errors import RagError
from rag.store.folder import Store, build

from conftest import FakeEmbedder


def test_build_then_load_keeps_exact_offsets(corpus, tmp_path, fake_embedder):
    report = build(corpus, tmp_path / "idx", fake_embedder)
    store = Store.load(tmp_path / "idx")
    assert report.passages == len(store.passages) > 30 and len(report.added) == 5
    for p in store.passages:
        assert store.docs[p.doc].text[p.start:p.end] == p.text
    for doc, s, e in store.sentences:
        assert store.docs[doc].text[s:e].strip()
    assert store.manifest["embed_model"] == "fake-embedder" and store.manifest["dim"] == 256
    assert set(store.manifest["docs"]) == {p.name for p in corpus.iterdir()}


def test_rebuild_embeds_only_what_changed(corpus, tmp_path):
    emb = FakeEmbedder()
    build(corpus, tmp_path / "idx", emb)
    first = emb.texts
    report = build(corpus, tmp_path / "idx", emb)
    assert emb.texts == first and not report.touched and report.embedded == 0

    changed = sorted(corpus.iterdir())[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\nUne phrase ajoutée à la fin.", encoding="utf-8")
    sorted(corpus.iterdir())[1].unlink()
    (corpus / "new.txt").write_text("Un nouvel article sur Shenzhen. Il compte deux phrases.", encoding="utf-8")
    report = build(corpus, tmp_path / "idx", emb)
    assert report.changed == [changed.name] and len(report.removed) == 1 and report.added == ["new.txt"]
    assert 0 < report.embedded < first
    store = Store.load(tmp_path / "idx")
    ids = [p.passage_id for p in store.passages]
    assert len(ids) == len(set(ids)), "no duplicate passages after an incremental update"
    assert report.removed[0] not in store.docs
    # Reused vectors are the very ones a full rebuild computes.
    fresh = FakeEmbedder().encode([p.text for p in store.passages], "passage")
    assert np.allclose(fresh, store.vectors, atol=1e-6)


def test_a_build_killed_midway_leaves_the_previous_index_usable(corpus, tmp_path, monkeypatch):
    build(corpus, tmp_path / "idx", FakeEmbedder())
    before = Store.load(tmp_path / "idx").passages
    (corpus / "new.txt").write_text("Un nouvel article.", encoding="utf-8")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rag.store.vector_index.FaissIndex, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        build(corpus, tmp_path / "idx", FakeEmbedder())
    assert Store.load(tmp_path / "idx").passages == before
    monkeypatch.undo()
    assert build(corpus, tmp_path / "idx", FakeEmbedder()).added == ["new.txt"]
    assert len([d for d in (tmp_path / "idx").iterdir() if d.is_dir()]) == 1, "old versions are cleaned up"


@pytest.mark.parametrize("damage", ["truncate_faiss", "drop_manifest", "garble_passages"])
def test_corrupt_index_is_a_clear_error(corpus, tmp_path, damage):
    build(corpus, tmp_path / "idx", FakeEmbedder())
    version = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text()
    if damage == "truncate_faiss":
        f = version / "dense.faiss"
        f.write_bytes(f.read_bytes()[:100])
    elif damage == "drop_manifest":
        (version / "manifest.json").unlink()
    else:
        (version / "passages.jsonl").write_text("{not json", encoding="utf-8")
    with pytest.raises(RagError, match="rag index"):
        Store.load(tmp_path / "idx")


def test_missing_index_says_how_to_build_it(tmp_path):
    with pytest.raises(RagError, match="no index .* run `rag index`"):
        Store.load(tmp_path / "nothing")


def test_index_from_another_model_is_refused_then_rebuilt(corpus, tmp_path):
    build(corpus, tmp_path / "idx", FakeEmbedder())
    other = FakeEmbedder()
    other.model_id = "another-model"
    with pytest.raises(RagError, match="built with embedding model 'fake-embedder'"):
        Store.load(tmp_path / "idx").check_model(other)
    report = build(corpus, tmp_path / "idx", other)
    assert len(report.changed) == 0 and len(report.added) == 5, "a model change re-embeds everything"
    Store.load(tmp_path / "idx").check_model(other)


def test_stale_detects_changed_articles(corpus, tmp_path):
    build(corpus, tmp_path / "idx", FakeEmbedder())
    store = Store.load(tmp_path / "idx")
    assert not store.stale(corpus)
    (corpus / "new.txt").write_text("Nouveau.", encoding="utf-8")
    assert store.stale(corpus)


def test_a_second_build_of_the_same_index_is_refused_while_the_first_runs(corpus, tmp_path):
    class BuildsAgainMidway(FakeEmbedder):
        """Starts a second build of the same index while the first one is embedding."""

        def _encode(self, texts, kind, batch_size, progress):
            with pytest.raises(RagError, match="another `rag index` is writing .*: wait for it to finish"):
                build(corpus, tmp_path / "idx", FakeEmbedder())
            self.refused = True
            return super()._encode(texts, kind, batch_size, progress)

    embedder = BuildsAgainMidway()
    report = build(corpus, tmp_path / "idx", embedder)
    assert embedder.refused and len(report.added) == 5
    assert len(Store.load(tmp_path / "idx").docs) == 5
    assert build(corpus, tmp_path / "idx", FakeEmbedder()).unchanged, "the lock is released after the build"

