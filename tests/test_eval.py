import json

import pytest
from conftest import FakeReader

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
    pipe = make_pipeline("91 entreprises [1].", reader=FakeReader(p=0.9))
    out = tmp_path / "out"
    summary = run(pipe.settings, qa, out, pipeline=pipe)
    report = json.loads((out / "report.json").read_text())
    assert report["overall"]["n"] == 2 and report["overall"]["accuracy"] == 1.0
    assert report["overall"]["refusal_rate_unanswerable"] == 1.0, "'91' is not in Fuzhou's evidence: withdrawn"
    assert (out / "accuracy.png").stat().st_size > 1000 and (out / "latency.png").exists()
    md = (out / "report.md").read_text()
    assert "## Failures (0)" in md and "| accuracy |" in md
    assert "reader `fake-reader`, LLM `fake-llm`" in md
    # The headline measure: wrong answers shown against answerable questions answered, per gate threshold.
    assert md.count("| 0.50 (in use) | 1.00 | 1.00 | 0.00 | 1.00 |") == 1, "Fuzhou's '91' is refused by a check"
    assert "| 0.95 | 0.00 | 0.00 | 0.00 | 1.00 |" in md, "above the reader's 0.9 the gate lets nothing through"
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
    from rag.answer.gate import Gate
    from rag.settings import Settings

    class Named:
        def __init__(self, model_id):
            self.model_id = model_id

    class Pipe:
        embedder, reader, gate_model = Named("e"), Named("r"), Gate(0.4)
        store = type("Store", (), {"manifest": {"docs": 5}})
        asked_for_the_llm = 0

        @property
        def generator(self):
            Pipe.asked_for_the_llm += 1
            return Named("g")

    pipe, settings = Pipe(), Settings.load(env={})
    before = evaluation._fingerprint(settings, pipe)
    monkeypatch.setitem(prompts.TEXT["en"], "refused", "another wording shown to the user: {why}.")
    assert evaluation._fingerprint(settings, pipe) == before
    monkeypatch.setattr(prompts, "SYSTEM", prompts.SYSTEM + " Be brief.")
    assert evaluation._fingerprint(settings, pipe) != before
    monkeypatch.undo()
    for changed in ({"gate_model": Gate(0.6)}, {"reader": Named("r2")}):     # a refitted gate, other reader weights
        other = Pipe()
        other.__dict__.update(changed)
        assert evaluation._fingerprint(settings, other) != before, changed
    Pipe.asked_for_the_llm = 0
    extract = evaluation._fingerprint(settings.replace(answer="extract"), pipe)
    assert extract != before and Pipe.asked_for_the_llm == 0, "extract mode never loads the LLM"


def test_extract_eval_scores_the_reader_per_language_and_its_curve_tries_every_threshold(make_pipeline, tmp_path):
    from rag.evaluation import extract

    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in [
        {"id": "a", "lang": "fr", "question": "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?",
         "doc": "000_00be9f381121e8cb.txt", "answer": "91", "must_match": ["91"], "type": "number",
         "evidence": "Actuellement, 91 entreprises basées dans la province du Zhejiang ont rejoint l’association"},
        {"id": "b", "lang": "fr", "question": "Quelle est la population de Fuzhou ?", "doc": None, "evidence": None,
         "answer": "", "must_match": [], "type": "unanswerable"}]), encoding="utf-8")
    pipe = make_pipeline(reader=FakeReader(p=0.3))        # below the gate's 0.5: both refused
    table = extract.run(pipe.settings, qa, tmp_path / "out", pipeline=pipe)
    assert pipe.generator.prompts == [], "no LLM"
    report = json.loads((tmp_path / "out" / "extract.json").read_text())
    everything = report["groups"]["all"]
    assert (everything["n"], everything["top1"], everything["em"], everything["answered_right"]) == (2, 1.0, 1.0, 0.0)
    assert everything["unanswerable_refused"] == 1.0 and everything["wrong_shown"] == 0.0
    assert "| fr | 2 | 1.00 | 1.00 |" in table and "| en |" not in table, "a group with no question is left out"
    # Refused at the gate in use, but the curve tries every threshold: at 0.3 the reader's "91" was right.
    assert report["curve"][0] == {"threshold": 0.3, "coverage": 1.0, "wrong_shown": 0.5}
    assert (report["curve"][-1]["coverage"], report["curve"][-1]["wrong_shown"]) == (0.0, 0.0), "ends refusing all"
