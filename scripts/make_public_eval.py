"""Build eval/public/, a second evaluation corpus nobody tuned to, from the public-qa folder
(SQuAD 2.0 dev + PIAF v1.0 over Wikipedia articles; its README describes the files).

    python3 scripts/make_public_eval.py ../shared/datasets/public-qa

writes, deterministically (a fixed article list, a fixed seed):

- ``eval/public/corpus/en/*.txt``, ``eval/public/corpus/fr/*.txt``: the chosen articles, copied as given;
- ``eval/public/calibration.jsonl`` and ``eval/public/test.jsonl``: questions in the format of
  ``eval/qa.jsonl`` plus ``source`` (the dataset's own id), split by article, never by question;

and prints the counts table of ``eval/public/README.md``. Worked example: the SQuAD record

    {"id": "56ddde6b9a695914005b9628", "question": "In what country is Normandy located?",
     "doc": "normans.txt", "answers": ["France"], "evidence": "The Normans (...) gave their name
     to Normandy, a region in France.", "must_match": "(?<!\\w)France(?!\\w)", ...}

becomes the row

    {"id": "pub-en-fact-001", "lang": "en", "question": "In what country is Normandy located?",
     "doc": "en/normans.txt", "evidence": "The Normans (...) a region in France.", "answer": "France",
     "must_match": ["(?<!\\w)France(?!\\w)"], "type": "fact", "source": "SQuAD 2.0 dev 56ddde6b9a695914005b9628"}

Four kinds of questions:

- answerable, in the article's language (SQuAD, PIAF): kept only when the evidence fits in one passage
  of ``rag.chunking.split_passages`` and the regex matches the evidence and the gold answer;
- English unanswerable: SQuAD's adversarial ones on the included English articles;
- French unanswerable: PIAF questions on an article left out of the corpus (a neighbour of an included
  one), kept only when neither the gold answer nor any capitalised word of the question occurs in the corpus;
- English over French: PIAF questions translated by hand in ``eval/public/translations.jsonl``.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rag.ingest.chunking import split_passages  # noqa: E402  (the eval finds the gold passage with it)

OUT = ROOT / "eval" / "public"
SEED = 22           # issue #22
MIN_QUESTION_WORDS = 6   # PIAF's terse ones ("Combien d'employeurs") are ambiguous over a whole corpus
MAX_ANSWER_WORDS = 5     # must_match is the gold span: a long one is rarely reproduced word for word
PER_ARTICLE = {"en": 12, "en_unanswerable": 8, "fr": 3, "fr_left_out": 3}

EN_ARTICLES = ["computational_complexity_theory", "ctenophora", "fresno_california", "harvard_university",
               "intergovernmental_panel_on_climate_change", "normans", "pharmacy", "rhine", "scottish_parliament"]
FR_ARTICLES = [
    # history
    "bataille_de_bannockburn", "bataille_de_savenay", "camp_de_concentration_du_stutthof",
    "conquete_normande_de_l_italie_du_sud", "expansionnisme_du_japon_showa", "ferdinand_ier_roi_des_bulgares",
    "guerre_anglo_zouloue", "madame_de_maintenon", "massacres_de_septembre", "siege_de_gibraltar_1779_1783",
    "troisieme_dynastie_d_ur",
    # places
    "berlin", "canada", "mayotte", "mexique", "moscou", "norvege", "pakistan", "rome", "saint_paul_ile",
    "transnistrie_etat",
    # science
    "antoine_lavoisier", "bronzage", "chelidonium_majus", "haut_fourneau", "henrietta_swan_leavitt", "m87",
    "mycelium", "rhinoceros_blanc", "virus_coxsackie_b",
    # arts and culture
    "bruce_nauman", "la_mort_et_l_ecuyer_du_roi", "looney_tunes", "mahabharata", "moonraker_film", "surrealisme",
    "symphonie_no_9_mahler", "terminator_2_le_jugement_dernier",
    # sport
    "6_heures_de_shanghai_2017", "hans_herrmann", "jean_stablinski", "jeux_olympiques_d_ete_de_2016",
    "martin_brodeur",
    # people and institutions
    "calendrier_hegirien", "ecole_nationale_de_l_aviation_civile", "institut_d_etudes_politiques",
    "la_republique_en_marche", "oliver_sacks", "satoru_iwata", "yoweri_museveni",
]
# Left out of the corpus, each a neighbour of an included article, so that its questions are near misses
# rather than plainly off topic. Its questions are asked against the corpus as unanswerables.
FR_LEFT_OUT = {   # left-out article: its included neighbour
    "6_heures_du_castellet_2011": "6_heures_de_shanghai_2017",
    "camp_d_extermination_de_treblinka": "camp_de_concentration_du_stutthof",
    "guerre_d_independance_des_etats_unis": "siege_de_gibraltar_1779_1783",
    "guerre_d_independance_espagnole": "bataille_de_savenay",
    "guerre_russo_turque_de_1828_1829": "ferdinand_ier_roi_des_bulgares",
    "empire_ottoman": "ferdinand_ier_roi_des_bulgares",
    "royaume_de_france": "madame_de_maintenon",
    "dynastie_qin": "troisieme_dynastie_d_ur",
    "seleucides": "troisieme_dynastie_d_ur",
    "danemark": "norvege",
    "hongrie": "transnistrie_etat",
    "algerie": "mayotte",
    "lyon": "rome",
    "minneapolis": "canada",
    "nouveau_brunswick": "canada",
    "elaphomyces": "mycelium",
    "glucosinolate": "chelidonium_majus",
    "leopard_de_mer": "rhinoceros_blanc",
    "eclipse": "m87",
    "captain_america_first_avenger": "terminator_2_le_jugement_dernier",
    "pirates_des_caraibes_la_malediction_du_black_pearl": "moonraker_film",
    "patrick_kane": "martin_brodeur",
    "equipe_cycliste_vacansoleil_dcm": "jean_stablinski",
    "universite_d_aix_marseille": "institut_d_etudes_politiques",
    "tung_chee_hwa": "yoweri_museveni",
    "ernest_charles_lasegue": "oliver_sacks",
    "clark_art_institute": "bruce_nauman",
    "fils_prodigue": "mahabharata",
    "sefarade": "calendrier_hegirien",
}

EN_REFUSAL = "The articles do not say."
# The gold answer and the article it came from stay readable in the reference answer, so the data check
# (tests/test_public_set.py) can grep the corpus for them without the dataset at hand.
LEFT_OUT_ANSWER = ("Les articles ne le précisent pas. "
                   "(PIAF répond « {gold} » d'après l'article « {title} », absent du corpus.)")
SHORT = {"fact": "fact", "number": "num", "unanswerable": "unans"}


def load(src: Path, lang: str) -> list[dict]:
    return [json.loads(line) for line in (src / f"qa-{lang}.jsonl").read_text(encoding="utf-8").splitlines()]


def spread(rows: list[dict], n: int, rng: random.Random) -> list[dict]:
    """``n`` rows in a seeded order, one per paragraph before a second one on any (questions on one
    paragraph are strongly correlated)."""
    rows = sorted(rows, key=lambda r: r["id"])
    rng.shuffle(rows)
    seen = Counter()
    ranked = []
    for r in rows:
        ranked.append((seen[r["paragraph"]], r))
        seen[r["paragraph"]] += 1
    return [r for _, r in sorted(ranked, key=lambda x: x[0])][:n]


def sample(records: list[dict], doc: str, texts: dict[str, str], n: int, rng: random.Random) -> list[dict]:
    """``n`` answerable rows of ``doc``, a third of them numbers when there are enough (a plain sample
    gives few: most gold spans are names)."""
    rows = {r["id"]: row for r in records if r["answerable"] and (row := answerable_row(r, doc, texts))}
    numbers = [r for r in records if r["id"] in rows and rows[r["id"]]["type"] == "number"]
    chosen = spread(numbers, n // 3, rng)
    facts = [r for r in records if r["id"] in rows and rows[r["id"]]["type"] == "fact"]
    chosen += spread(facts, n - len(chosen), rng)
    return [rows[r["id"]] for r in chosen]


def gold(record: dict) -> str:
    return record["answers"][0].strip(" .,;:!?")


def answerable_row(record: dict, doc: str, texts: dict[str, str]) -> dict | None:
    """The row for a SQuAD/PIAF answerable record, or None when it breaks a rule of the eval set."""
    answer, regex = gold(record), record["must_match"]
    if (len(record["question"].split()) < MIN_QUESTION_WORDS or len(answer.split()) > MAX_ANSWER_WORDS
            or not re.search(regex, record["evidence"], re.I) or not re.search(regex, answer, re.I)
            or re.search(regex, EN_REFUSAL, re.I) or re.search(regex, LEFT_OUT_ANSWER, re.I)
            or not fits_one_passage(doc, texts[doc], record["evidence"])):
        return None
    return {"lang": record["lang"], "question": record["question"], "doc": doc, "evidence": record["evidence"],
            "answer": answer, "must_match": [regex], "type": type_of(answer), "source": record["source"]}


def unanswerable_row(record: dict, lang: str, answer: str) -> dict:
    return {"lang": lang, "question": record["question"], "doc": None, "evidence": None, "answer": answer,
            "must_match": [], "type": "unanswerable", "source": record["source"]}


def translated_row(t: dict, record: dict, texts: dict[str, str]) -> dict:
    """An English question over a French article, from a hand translation of a PIAF record. Its regexes
    accept the English answer and the French evidence (alternations such as ``Chine|China``)."""
    doc = f"fr/{record['doc']}"
    row = {"lang": "en", "question": t["question"], "doc": doc, "evidence": record["evidence"], "answer": t["answer"],
           "must_match": t["must_match"], "type": type_of(t["answer"]), "source": record["source"]}
    # A hand-made row that breaks a rule is a typo to fix, not a row to drop quietly.
    if not (all(re.search(rx, row[key], re.I) for rx in row["must_match"] for key in ("evidence", "answer"))
            and fits_one_passage(doc, texts[doc], row["evidence"])):
        raise SystemExit(f"translations.jsonl: {t['id']}: a regex misses the evidence or the answer, "
                         f"or the evidence spans two passages")
    return row


def type_of(answer: str) -> str:
    """``number`` when the gold answer holds a digit ("1781", "22 000", "O(n2)"), else ``fact``."""
    return "number" if re.search(r"\d", answer) else "fact"


def fits_one_passage(doc: str, text: str, evidence: str) -> bool:
    return any(evidence in p.text for p in split_passages(doc, text))


def absent(record: dict, corpus: str, words: set[str]) -> bool:
    """Neither the gold answer (its regex, number variants included) nor a capitalised word of the
    question (its key entities) occurs in the corpus, and the question names at least one."""
    names = {w.casefold() for w in re.findall(r"(?<!^)\b[A-ZÀ-Ý][\w-]{2,}", record["question"])}
    return bool(names) and not names & words and gold(record).casefold() not in corpus.casefold() \
        and not re.search(record["must_match"], corpus, re.I)


def build(src: Path) -> dict[str, list[dict]]:
    if FR_LEFT_OUT.keys() & set(FR_ARTICLES):
        raise SystemExit(f"in the corpus and left out: {sorted(FR_LEFT_OUT.keys() & set(FR_ARTICLES))}")
    rng = random.Random(SEED)
    docs = {f"en/{a}.txt": src / "corpus-en" / f"{a}.txt" for a in EN_ARTICLES}
    docs |= {f"fr/{a}.txt": src / "corpus-fr" / f"{a}.txt" for a in FR_ARTICLES}
    texts = {doc: path.read_text(encoding="utf-8") for doc, path in docs.items()}
    corpus = "\n".join(texts.values())
    words = {w.casefold() for w in re.findall(r"[\w-]+", corpus)}
    en, fr = load(src, "en"), load(src, "fr")
    translations = [json.loads(line) for line in (OUT / "translations.jsonl").read_text(encoding="utf-8").splitlines()
                    if line.strip()]
    translated = {t["id"] for t in translations}

    # Split by article: a seeded half of each language's articles calibrates, the other half tests.
    part = {}
    for names, prefix in ((EN_ARTICLES, "en"), (FR_ARTICLES, "fr"), (sorted(FR_LEFT_OUT), "left-out")):
        shuffled = sorted(names)
        rng.shuffle(shuffled)
        part |= {(prefix, a): "calibration" if i < len(shuffled) // 2 else "test" for i, a in enumerate(shuffled)}

    rows: list[tuple[str, dict]] = []
    for a in EN_ARTICLES:
        mine = [r for r in en if r["doc"] == f"{a}.txt"]
        bad = [r for r in mine if not r["answerable"] and len(r["question"].split()) >= MIN_QUESTION_WORDS]
        rows += [(part["en", a], row) for row in sample(mine, f"en/{a}.txt", texts, PER_ARTICLE["en"], rng)]
        rows += [(part["en", a], unanswerable_row(r, "en", EN_REFUSAL))
                 for r in spread(bad, PER_ARTICLE["en_unanswerable"], rng)]
    for a in FR_ARTICLES:
        mine = [r for r in fr if r["doc"] == f"{a}.txt" and r["id"] not in translated]
        rows += [(part["fr", a], row) for row in sample(mine, f"fr/{a}.txt", texts, PER_ARTICLE["fr"], rng)]
    by_id = {r["id"]: r for r in fr}
    for t in translations:
        row = translated_row(t, by_id[t["id"]], texts)
        rows.append((part["fr", row["doc"][3:-4]], row))
    for a in sorted(FR_LEFT_OUT):
        title = (src / "corpus-fr" / f"{a}.txt").read_text(encoding="utf-8").splitlines()[0]
        pool = [r for r in fr if r["doc"] == f"{a}.txt" and len(r["question"].split()) >= MIN_QUESTION_WORDS
                and absent(r, corpus, words)]
        rows += [(part["left-out", a], unanswerable_row(r, "fr", LEFT_OUT_ANSWER.format(gold=gold(r), title=title)))
                 for r in spread(pool, PER_ARTICLE["fr_left_out"], rng)]

    # A question asked twice in the dataset (or in both parts) is kept once: the first in this order.
    seen: set[str] = set()
    out = {"calibration": [], "test": []}
    for name, row in rows:
        key = row["question"].casefold().strip()
        if key not in seen:
            seen.add(key)
            out[name].append(row)
    counters = Counter()
    for name in ("calibration", "test"):
        for i, row in enumerate(out[name]):
            key = (row["lang"], SHORT[row["type"]])
            counters[key] += 1
            out[name][i] = {"id": f"pub-{key[0]}-{key[1]}-{counters[key]:03d}", **row}
    return {"docs": docs, **out}


def kind(row: dict) -> str:
    """The README's row label: language of the question over language of the article."""
    if row["type"] == "unanswerable":
        return f"{row['lang']} unanswerable" + (" (article left out)" if row["lang"] == "fr" else "")
    return f"{row['lang']} over {row['doc'][:2]} {row['type']}"


def table(parts: dict[str, list[dict]]) -> str:
    counts = {name: Counter(map(kind, rows)) for name, rows in parts.items()}
    kinds = sorted(set().union(*counts.values()))
    lines = ["| questions | calibration | test | total |", "|---|---:|---:|---:|"]
    for k in kinds:
        c, t = counts["calibration"][k], counts["test"][k]
        lines.append(f"| {k} | {c} | {t} | {c + t} |")
    c, t = (sum(counts[n].values()) for n in ("calibration", "test"))
    lines.append(f"| **total** | **{c}** | **{t}** | **{c + t}** |")
    return "\n".join(lines)


def main(src: Path) -> None:
    built = build(src)
    corpus = OUT / "corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    for doc, path in built["docs"].items():
        (corpus / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, corpus / doc)
    for name in ("calibration", "test"):
        (OUT / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in built[name]),
                                           encoding="utf-8")
    print(table({n: built[n] for n in ("calibration", "test")}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    main(Path(sys.argv[1]))
