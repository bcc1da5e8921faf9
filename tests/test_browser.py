"""The web chat in headless Chromium, on the real models (slow: run with ``-m browser``).

One ``rag serve`` for the module, over the seeds plus one hostile article, with a
temporary index. Timings are measured in the page: from the click on Send to the
first evidence card, and to the first streamed word of the answer.
"""

from __future__ import annotations

import json
import os
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
    env = {**os.environ, "RAG_CORPUS": str(corpus), "RAG_INDEX": str(tmp / "index"), "PYTHONUNBUFFERED": "1"}
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
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
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
    page.fill("#question textarea", "How many containers did the port handle?")
    page.click("#send")
    page.wait_for_selector(FINISHED, timeout=ANSWER_TIMEOUT)
    assert "Search restricted: 1 chosen article(s)" in page.inner_text("#status")
    # The cards shown (the other evidence sentences sit folded under "other passages").
    cards = page.locator("#sources .src-card:visible")
    assert cards.count() >= 1
    for i in range(cards.count()):
        text = cards.nth(i).inner_text()
        assert "uploads/ningbo.html" in text and "2024-01-15 · Le Courrier du Port" in text
    markdown = page.input_value("#markdown textarea")
    assert "**Sources**" in markdown and "Ningbo bat son record de conteneurs — 2024-01-15" in markdown

    page.locator('#chat button[aria-label="Dislike"]').last.click()
    page.wait_for_function("() => document.querySelector('#feedback-note').innerText.includes('rating saved')")
    page.fill("#comment textarea", "35 million containers in 2023")
    page.click("#send-comment")
    page.wait_for_function("() => document.querySelector('#feedback-note').innerText.includes('Comment saved')")
    stored = [json.loads(line) for line in (SERVER["index"] / "feedback.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [e["liked"] for e in stored] == [False, False] and stored[-1]["comment"] == "35 million containers in 2023"
    assert stored[-1]["question"] == "How many containers did the port handle?"
    assert stored[-1]["scope"]["docs"] == ["uploads/ningbo.html"]
    page.close()
