import json

import pytest

from rag.errors import RagError
from rag.evaluation.eval import aggregate, load_qa, run, score_item

ITEM = {"id": "fr-1", "lang": "fr", "question": "Combien ?", "doc": "a.txt", "evidence": "91 entreprises",
        "answer": "91 entreprises.", "must_match": [r"\b91\b"], "type": "number"}


def _answer(text="91 entreprises [1].", refused=False, cited_doc="a.txt", passages=("b.txt", "a.txt"), dangling=()):
    return {"answer": text, "refused": refused, "lang": "fr", "dangling": list(dangling),
            "citations": [] if refused else [{"n": 1, "doc": cited_doc}],
            "passages": [{"doc": d, "text": "Déjà 91 entreprises." if d == "a.txt" else "autre"} for d in passages],
            "timings": {"retrieve_s": 0.1, "first_token_s": 1.0, "total_s": 2.0}, "prompt_tokens": 100}


def test_a_correct_answer_scores_on_every_axis():
    s = score_item(ITEM, _answer())
    assert s["correct"] and s["doc_rank"] == 2 and s["passage_rank"] == 2
    assert s["good_citations"] == s["citations"] == 1 and s["lang_ok"]


def test_wrong_number_wrong_citation_and_dangling_count_against():
    s = score_item(ITEM, _answer("9 entreprises [1].", cited_doc="b.txt", dangling=[7]))
    assert not s["correct"] and s["good_citations"] == 0 and s["citations"] == 2


def test_refusal_of_an_unanswerable_is_right_and_of_an_answerable_is_wrong():
    unanswerable = {**ITEM, "id": "fr-2", "doc": None, "evidence": None, "must_match": [], "type": "unanswerable"}
    refusal = _answer("Les articles ne le disent pas.", refused=True)
    rows = [{"item": item, "answer": refusal, "score": score_item(item, refusal)} for item in (ITEM, unanswerable)]
    report = aggregate(rows)
    assert report["refusal_rate_unanswerable"] == 1.0 and report["false_refusal_rate"] == 1.0
    assert report["accuracy"] == 0.0 and (report["answerable"], report["unanswerable"]) == (1, 1)


def test_answer_in_the_wrong_language_is_flagged():
    assert not score_item(ITEM, _answer("In total, 91 companies joined the association [1]."))["lang_ok"]


def test_bad_qa_file_is_a_clear_error(tmp_path):
    f = tmp_path / "qa.jsonl"
    f.write_text('{"question": "x", "lang": "fr"}\nnot json\n', encoding="utf-8")
    with pytest.raises(RagError, match="qa.jsonl:2"):
        load_qa(f)


def test_run_writes_reports_and_resumes_from_cache(make_pipeline, tmp_path):
    qa = tmp_path / "qa.jsonl"
    items = [
        {"id": "a", "lang": "fr", "question": "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?",
         "doc": "000_00be9f381121e8cb.txt", "evidence": "91 entreprises", "answer": "91", "must_match": ["91"],
         "type": "number"},
        {"id": "b", "lang": "fr", "question": "Quelle est la population de Fuzhou ?", "doc": None, "evidence": None,
         "answer": "", "must_match": [], "type": "unanswerable"},
    ]
    qa.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items), encoding="utf-8")
    pipe = make_pipeline("91 entreprises [1].")
    out = tmp_path / "out"
    summary = run(pipe.settings, qa, out, pipeline=pipe)
    report = json.loads((out / "report.json").read_text())
    assert report["overall"]["n"] == 2 and report["overall"]["accuracy"] == 1.0
    assert report["overall"]["refusal_rate_unanswerable"] == 1.0, "'91' is not in Fuzhou's evidence: withdrawn"
    assert (out / "accuracy.png").stat().st_size > 1000 and (out / "latency.png").exists()
    md = (out / "report.md").read_text()
    assert "## Failures (0)" in md and "| accuracy |" in md
    # The headline measure: wrong answers shown against answerable questions answered, per gate threshold.
    assert md.count("| 0.50 (in use) | 1.00 | 1.00 | 0.00 | 1.00 |") == 1, "Fuzhou's '91' is refused by a rule"
    assert "| 1.00 | 0.00 | 0.00 | 0.00 | 1.00 |" in md, "at 1 the gate lets nothing through"
    assert (out / "risk_coverage.png").stat().st_size > 1000
    assert "accuracy 1.00" in summary
    prefill = report["by_lang"]["fr"]["prefill_tokens_median"]     # per language, as the first token's time
    assert prefill > 0 and f"| prompt tokens computed before the first token (median) | {prefill}" in md
    assert f"({round(prefill)} prompt tokens computed)" in summary
    calls = len(pipe.generator.prompts)
    run(pipe.settings, qa, out, pipeline=pipe)
    assert len(pipe.generator.prompts) == calls, "a second run answers from the cache"
    run(pipe.settings, qa, out, pipeline=pipe, ids=["a"])
    with pytest.raises(RagError, match="no question with id zz"):
        run(pipe.settings, qa, out, pipeline=pipe, ids=["zz"])


def test_retrieval_only_scores_without_asking_the_model(tmp_path, make_pipeline):
    from rag.evaluation.eval import retrieval

    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in [
        {"id": "1", "lang": "fr", "question": "Combien d'entreprises ont rejoint l'association du métavers ?",
         "doc": "000_00be9f381121e8cb.txt", "evidence": None, "must_match": ["91"], "type": "number"},
        {"id": "2", "lang": "fr", "question": "Quelle est la population de Fuzhou ?", "doc": None,
         "evidence": None, "must_match": [], "type": "unanswerable"}]), encoding="utf-8")
    pipe = make_pipeline("91 [1].")
    text = retrieval(pipe.settings, qa, pipeline=pipe)
    assert pipe.generator.prompts == []
    assert "all: doc hit@1 1.00" in text and "min_score 0.80" in text


def test_cached_answers_are_keyed_by_what_the_model_reads_not_by_the_apps_own_sentences(monkeypatch):
    from rag.evaluation import eval as evaluation
    from rag.answer import prompts

    class Pipe:
        class embedder:
            model_id = "e"

        class generator:
            model_id = "g"

        class store:
            manifest = {"docs": 5}

        class gate_model:
            source_weight, coef, threshold = 30.0, [1.0], 0.1

    from rag.settings import Settings
    settings = Settings.load(env={})
    before = evaluation._fingerprint(settings, Pipe)
    monkeypatch.setitem(prompts.TEXT["en"]["why"], "restated", "another wording shown to the user")
    assert evaluation._fingerprint(settings, Pipe) == before
    monkeypatch.setattr(prompts, "SYSTEM", prompts.SYSTEM + " Be brief.")
    assert evaluation._fingerprint(settings, Pipe) != before
    monkeypatch.undo()
    Pipe.gate_model.source_weight = 5.0
    assert evaluation._fingerprint(settings, Pipe) != before
