"""The web chat in headless Chromium, on the real models (slow: run with ``-m browser``).

One ``rag serve`` for the module, over the seeds plus one hostile article, with a
temporary index. Timings are measured in the page: from the click on Send to the
first evidence card, and to the first streamed word of the answer.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
START_TIMEOUT = 300        # first start: load both models and index the articles
ANSWER_TIMEOUT = 300_000   # ms (generous: CI machines are shared)

HOSTILE = (
    'Le musée de Lyon expose des automates <script>window.__xss=1</script> '
    '<img src=x onerror="window.__xss=2">\n'
    "Le musée des Confluences de Lyon expose depuis mardi 37 automates anciens, dont un robot écrivain qui "
    "affiche sur son écran le texte <script>window.__xss=1</script> pour amuser les visiteurs.\n"
    'L\'exposition <img src=x onerror="window.__xss=2"> restera ouverte jusqu\'au mois de mars.\n'
)

# Set in the page before the click: performance.now() at Send, at the first evidence card, at the
# first streamed word.
TIMER_JS = """() => {
  window.__t = {};
  document.querySelector('#send').addEventListener('click', () => { window.__t = {send: performance.now()}; }, true);
  new MutationObserver(() => {
    const t = window.__t;
    if (t.send === undefined) return;
    if (t.evidence === undefined && document.querySelector('#sources .src-card')) t.evidence = performance.now();
    const bot = document.querySelector('#chat [data-testid="bot"]');
    if (t.token === undefined && bot && /\\w/.test(bot.innerText)) t.token = performance.now();
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""
FINISHED = "#status .rag-status.done, #status .rag-status.refused, #status .rag-status.error"
SERVER: dict = {}     # the running server's folders (index, corpus)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    tmp = tmp_path_factory.mktemp("browser")
    corpus = tmp / "corpus"
    shutil.copytree(ROOT / "seeds", corpus)
    (corpus / "zz_hostile.txt").write_text(HOSTILE, encoding="utf-8")
    port = _free_port()
    log = tmp / "serve.log"
    # The page is under test, not the gate: every answer the other checks pass is shown (the reader's gate refuses
    # most answerable questions even at the other tests' 0.3, docs/calibration.md); off-topic questions are still
    # refused by the retrieval floor.
    env = {**os.environ, "RAG_CORPUS": str(corpus), "RAG_INDEX": str(tmp / "index"), "PYTHONUNBUFFERED": "1",
           "RAG_GATE_RISK": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"rag serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"rag serve did not answer within {START_TIMEOUT}s:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    # The page answers a moment before serve prints its line: wait for both.
                    if r.status == 200 and f"ready on http://127.0.0.1:{port}" in log.read_text():
                        break
            except OSError:
                pass
            time.sleep(1)
        assert "loading models…" in log.read_text()
        SERVER.update(index=tmp / "index", corpus=corpus, tmp=tmp)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def ask(browser, url: str, question: str):
    """Open a fresh chat, ask, wait for the final answer; → (page, seconds to evidence, to first token)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.wait_for_selector("#question textarea")
    page.wait_for_selector("#send")
    page.evaluate(TIMER_JS)
    page.fill("#question textarea", question)
    page.click("#send")
    page.wait_for_selector("#sources .src-card", timeout=ANSWER_TIMEOUT)
    page.wait_for_selector(FINISHED, timeout=ANSWER_TIMEOUT)
    t = page.evaluate("window.__t")
    evidence = (t["evidence"] - t["send"]) / 1000
    token = (t["token"] - t["send"]) / 1000 if "token" in t else float("nan")
    return page, evidence, token


def test_french_question_streams_a_cited_answer(server, browser):
    page, evidence, token = ask(browser, server, "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?")
    print(f"\nsend → first evidence: {evidence:.2f} s, send → first answer token: {token:.2f} s")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps({"send_to_evidence_s": round(evidence, 2),
                                                        "send_to_first_token_s": round(token, 2)}))
    status = page.inner_text("#status")
    answer = page.locator('#chat [data-testid="bot"]').last.inner_text()
    assert page.locator("#status .rag-status.done").count() == 1, f"not answered: {status} / {answer}"
    assert "91" in answer
    assert evidence < token, "the evidence must be shown before the answer streams"
    cite = page.locator("#chat a.cite").first
    n = cite.get_attribute("href").removeprefix("#src-")
    assert n == "1", "the first source the answer names is [1]"
    card = page.locator(f'#sources .src-card[data-cites~="{n}"]')       # a card may hold several cited sentences
    assert "91 entreprises" in card.locator(f'.src-text mark[data-cite="{n}"]').inner_text()
    assert "000_00be9f381121e8cb.txt" in card.inner_text()
    cite.click()                                     # [n] opens the whole article at the cited span
    page.wait_for_function(f"() => document.querySelector('#art-{n}').closest('details.article').open")
    assert page.locator(f"#art-{n}").is_visible()
    page.close()


def test_article_markup_is_shown_as_text(server, browser):
    page, _, _ = ask(browser, server, "Combien d'automates anciens le musée des Confluences de Lyon expose-t-il ?")
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__xss") == "undefined"
    sources = page.inner_text("#sources")
    assert "<script>window.__xss=1</script>" in sources             # shown as text, not run
    assert page.locator("#sources img, #sources script, #chat img").count() == 0
    page.close()


def test_upload_restrict_to_an_article_and_rate_the_answer(server, browser):
    """Issue 13: add an article by upload, find it in the corpus panel, ask only about it, rate the
    answer and comment; the page is in the browser's language (English) throughout."""
    from fixtures_news import HTML

    upload = SERVER["tmp"] / "ningbo.html"
    upload.write_text(HTML, encoding="utf-8")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US",
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector("#question textarea")
    page.wait_for_function("() => document.querySelector('#send').innerText.trim() === 'Send'")
    page.click("#corpus button")                                    # open the corpus panel
    page.set_input_files("#upload input[type=file]", [str(upload)])
    page.wait_for_function("() => document.querySelector('#corpus-note').innerText.includes('1 file(s) added')",
                           timeout=ANSWER_TIMEOUT)
    assert (SERVER["corpus"] / "uploads" / "ningbo.html").exists()
    page.fill("#corpus-search textarea", "ningbo")
    page.wait_for_function("() => !document.querySelector('#corpus-table').innerText.includes('Alliance')")
    assert "Le Courrier du Port" in page.inner_text("#corpus-table")

    page.click("#restrict input")
    page.keyboard.type("Ningbo")
    page.click("li[data-testid=dropdown-option]")
    page.keyboard.press("Escape")
    # Asked in the article's language: the reader's P(answerable) is weakest across languages (docs/reader.md).
    page.fill("#question textarea", "Combien de conteneurs le port de Ningbo a-t-il traités en 2023 ?")
    page.click("#send")
    page.wait_for_selector(FINISHED, timeout=ANSWER_TIMEOUT)
    assert "Search restricted: 1 chosen article(s)" in page.inner_text("#status")
    # The cards shown (the other evidence sentences sit folded under "other passages").
    cards = page.locator("#sources .src-card:visible")
    assert cards.count() >= 1
    for i in range(cards.count()):
        text = cards.nth(i).inner_text()
        assert "uploads/ningbo.html" in text and "2024-01-15 · Le Courrier du Port" in text
    page.click("#copy-md")                                          # "copy as Markdown": a button, no text area
    page.wait_for_function("() => document.querySelector('#feedback-note').innerText.includes('copied as Markdown')")
    markdown = page.evaluate("navigator.clipboard.readText()")
    assert "**Sources**" in markdown and "Ningbo bat son record de conteneurs — 2024-01-15" in markdown

    assert page.locator("#comment-box").count() == 0 or not page.locator("#comment-box").is_visible()
    page.locator('#chat button[aria-label="Dislike"]').last.click()
    page.wait_for_selector("#comment textarea", state="visible")    # a 👎 opens the comment box
    assert "What is wrong?" in page.inner_text("#feedback-note")
    page.fill("#comment textarea", "35 million containers in 2023")
    page.click("#send-comment")
    page.wait_for_function("() => document.querySelector('#feedback-note').innerText.includes('Comment saved')")
    page.wait_for_selector("#comment textarea", state="hidden")     # and closes once saved
    stored = [json.loads(line) for line in (SERVER["index"] / "feedback.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [e["liked"] for e in stored] == [False, False] and stored[-1]["comment"] == "35 million containers in 2023"
    assert stored[-1]["question"] == "Combien de conteneurs le port de Ningbo a-t-il traités en 2023 ?"
    assert stored[-1]["scope"]["docs"] == ["uploads/ningbo.html"]
    context.close()


# ---- one language on screen (issue 23) ---------------------------------------------------------
# The page's own words, and the articles' words the page quotes (left out of the walk: an English
# page shows French articles as they are).
QUOTED = "#chat [data-testid=bot], #chat [data-testid=user], #sources .src-text, #sources .src-title, #sources .article-text, #sources .src-doc, " \
         "#sources .banner p, #corpus-table, #restrict, #status q"
PAGE_TEXT_JS = """(skip) => {
  const out = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { if (node.textContent.trim()) out.push(node.textContent.trim()); return; }
    if (node.nodeType !== Node.ELEMENT_NODE || node.matches(skip) || ['SCRIPT', 'STYLE'].includes(node.tagName)) return;
    for (const a of ['placeholder', 'aria-label', 'title']) if (node.getAttribute(a)) out.push(node.getAttribute(a));
    if (node.tagName === 'BUTTON' || node.tagName === 'INPUT') out.push(node.value || '');
    node.childNodes.forEach(walk);
  };
  walk(document.querySelector('.gradio-container'));
  return out.join('\\n');
}"""
STATUSES_JS = """() => {
  window.__statuses = [];
  new MutationObserver(() => {
    const line = document.querySelector('#status .line');
    const text = line ? line.innerText.trim() : '';
    if (text && window.__statuses[window.__statuses.length - 1] !== text) window.__statuses.push(text);
  }).observe(document.querySelector('#status'), {childList: true, subtree: true, characterData: true});
}"""
WALK = {
    "fr": {"locale": "fr-FR", "answer": ("Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?",
                                         "91"),
           "refusal": "Quel est le prix d'un billet de train entre Paris et Lyon ?",
           "comment": "Il manque la date de création de l'association.",
           "dislike": "Je n'aime pas"},       # Gradio's own words follow the browser's language
    "en": {"locale": "en-US", "answer": ("How many companies joined the Zhejiang metaverse association?", "91"),
           "refusal": "What does a train ticket from Paris to Lyon cost?",
           "comment": "The answer should say when the association was founded.", "dislike": "Dislike"},
}


def other_language_strings(lang: str) -> set[str]:
    """The other table's words that this one never uses: the parts of its strings around each
    ``{placeholder}``, at least 4 characters long."""
    from rag.web.strings import UI

    other = "en" if lang == "fr" else "fr"

    def pieces(table):
        values = [v for v in table.values() if isinstance(v, str)] + [c for v in table.values()
                                                                     if isinstance(v, list) for c in v]
        return {p.strip(" :.…()") for v in values for p in re.split(r"\{[^}]*\}", v)}

    mine = " ".join(pieces(UI[lang]))
    return {p for p in pieces(UI[other]) if len(p) >= 4 and p not in mine}


def assert_one_language(page, lang: str, moment: str) -> None:
    text = page.evaluate(PAGE_TEXT_JS, QUOTED)
    found = sorted(p for p in other_language_strings(lang) if p in text)
    assert not found, f"{moment}: strings of the other language on a {lang} page: {found}"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_page_speaks_one_language(server, browser, lang):
    """First screen, an answer, a 👎 with its comment and a refusal, all in the browser's language
    (its Accept-Language); a screenshot of each for docs/."""
    from rag.web.strings import EXAMPLES, UI

    t, walk = UI[lang], WALK[lang]
    shots = ARTIFACTS / "screens"
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale=walk["locale"])
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector("#send")
    page.wait_for_function(f"() => document.querySelector('#send').innerText.trim() === {json.dumps(t['send'])}")
    page.wait_for_function("() => document.querySelectorAll('.examples button').length > 0")
    assert t["title"] in page.inner_text(".gradio-container")
    examples = [b.inner_text().strip() for b in page.locator(".examples button").all()]
    assert examples == [q for q, _ in EXAMPLES[lang]], "the examples in the page's language"
    assert_one_language(page, lang, "first screen")
    page.screenshot(path=str(shots / f"{lang}-1-first-screen.png"))

    question, expected = walk["answer"]
    page.evaluate(STATUSES_JS)
    page.fill("#question textarea", question)
    page.click("#send")
    page.wait_for_selector("#status .rag-status.done", timeout=ANSWER_TIMEOUT)
    statuses = page.evaluate("window.__statuses")
    assert any(s.startswith(t["writing"]) for s in statuses), statuses
    assert any(s.startswith(t["reading"].split("{")[0]) for s in statuses), statuses
    assert any(re.search(r"\d+\.\d s$", s) for s in statuses), f"no elapsed time: {statuses}"
    assert expected in page.locator('#chat [data-testid="bot"]').last.inner_text()
    assert page.locator("#chat a.cite").first.inner_text() == "[1]"
    assert page.is_visible("#copy-md") and not page.is_visible("#markdown"), "a button, no standing text area"
    assert_one_language(page, lang, "answer")
    page.screenshot(path=str(shots / f"{lang}-2-answer.png"))

    page.locator(f'#chat button[aria-label="{walk["dislike"]}"]').last.click()
    page.wait_for_selector("#comment textarea", state="visible")
    page.fill("#comment textarea", walk["comment"])
    assert_one_language(page, lang, "dislike")
    page.screenshot(path=str(shots / f"{lang}-3-dislike-comment.png"))
    page.click("#send-comment")
    page.wait_for_selector("#comment textarea", state="hidden")
    assert t["comment_saved"] in page.inner_text("#feedback-note")

    page.fill("#question textarea", walk["refusal"])
    page.click("#send")
    page.wait_for_selector("#status .rag-status.refused", timeout=ANSWER_TIMEOUT)
    assert t["refused"] in page.inner_text("#sources")
    assert_one_language(page, lang, "refusal")
    page.screenshot(path=str(shots / f"{lang}-4-refusal.png"))

    page.click("#ui-lang label:nth-of-type(2)" if lang == "fr" else "#ui-lang label:nth-of-type(1)")
    other = "en" if lang == "fr" else "fr"
    page.wait_for_function(f"() => document.querySelector('#send').innerText.trim() === "
                           f"{json.dumps(UI[other]['send'])}")
    assert_one_language(page, other, "after the switch")
    context.close()


def test_stop_stops_the_answer_at_once(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page.goto(server)
    page.wait_for_selector("#question textarea")
    page.fill("#question textarea", "Why did Zhejiang set up a metaverse industry association, and what does it plan?")
    page.click("#send")
    page.wait_for_function("() => /\\w/.test((document.querySelector('#chat [data-testid=\"bot\"]') || "
                           "{innerText: ''}).innerText)", timeout=ANSWER_TIMEOUT)
    t0 = time.monotonic()
    page.click("#stop")
    page.wait_for_selector("#status .rag-status.stopped", timeout=5000)
    stopped_after = time.monotonic() - t0
    bot = page.locator('#chat [data-testid="bot"]').last
    text = bot.inner_text()
    page.wait_for_timeout(2500)
    assert bot.inner_text() == text, "nothing more is written after Stop"
    assert "(stopped)" in text and stopped_after < 2, stopped_after
    page.close()
