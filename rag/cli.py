"""The ``rag`` command: index, articles, ask, serve, users, feedback export, eval, calibrate, bench,
llm-server, models.

Every error a user can cause ends as one line on stderr and a non-zero exit;
``RAG_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click

from rag.errors import RagError
from rag.models.llm_server import SERVERS
from rag.settings import RANGES, Settings

EXAMPLES = """\b
Examples:
  rag index --corpus ~/my-articles --index ~/my-articles/.rag
  rag ask "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"
  rag ask "How much were the investment projects signed in Fuzhou worth?" --json
  rag serve --corpus ~/my-articles --index ~/my-articles/.rag
"""


def _friendly(func):
    """Turn RagError (and other failures) into one line on stderr."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except RagError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except click.Abort:     # end of input at a prompt: click's own "Aborted!"
            raise
        except MemoryError:
            click.echo("error: not enough memory: close other programs or use a smaller model (see models/README.md)",
                       err=True)
            sys.exit(1)
        except Exception as e:  # noqa: BLE001 - last resort, still one line
            if os.environ.get("RAG_DEBUG"):
                raise
            click.echo(f"error: unexpected {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
                       f"(run with RAG_DEBUG=1 for details)", err=True)
            sys.exit(2)
    return wrapper


def _setting_option(*decls, name: str, **kwargs):
    """An option that overrides one setting; accepted before the command (``rag --corpus X ask``)
    and after it (``rag ask --corpus X``), the later one winning."""
    def remember(ctx: click.Context, _param, value):
        if value is not None:
            ctx.meta.setdefault("rag.settings", {})[name] = value
    return click.option(*decls, expose_value=False, callback=remember, **kwargs)


CORPUS = _setting_option("--corpus", name="corpus", type=click.Path(path_type=Path),
                         help="Folder of articles (default: the one the index was built from, else seeds/).")
INDEX = _setting_option("--index", name="index", type=click.Path(path_type=Path),
                        help="Index folder (default: .rag/).")
EMBED_MODEL = _setting_option("--embed-model", name="embed_model",
                              help="Sentence-transformers folder (default: packaged multilingual-e5-small).")
LLM_MODEL = _setting_option("--llm-model", name="llm_model",
                            help="GGUF file (default: packaged Qwen2.5-Coder-1.5B-Instruct Q4_K_M).")
THREADS = _setting_option("--threads", name="n_threads", type=click.IntRange(*RANGES["n_threads"]),
                          help="CPU threads for the LLM (default: physical cores).")
EVERYTHING = (CORPUS, INDEX, EMBED_MODEL, LLM_MODEL, THREADS)
AUTH_FILE = _setting_option("--auth-file", name="auth_file", type=click.Path(path_type=Path, dir_okay=False),
                            help="The web chat's users file (default: ~/.config/rag/users.txt).")


def _options(*options):
    def apply(func):
        for option in reversed(options):
            func = option(func)
        return func
    return apply


def _settings(ctx: click.Context, **overrides) -> Settings:
    given = {name: value for name, value in overrides.items() if value is not None}
    return Settings.load(**{**ctx.meta.get("rag.settings", {}), **given})


@click.group(epilog=EXAMPLES)
@_options(*EVERYTHING)
@click.version_option(package_name="rag")
def main():
    """Ask questions about a folder of news articles, offline, with verified citations.

    Every command that reads articles takes --corpus, every command that reads or writes
    an index takes --index (before or after the command name).
    """


@main.command()
@_options(EMBED_MODEL, LLM_MODEL)
@click.pass_context
@_friendly
def models(ctx):
    """Prepare the models once (join / convert the packaged ones) and show where they are."""
    from rag.models.files import embed_model_path, llm_path
    from rag.reader import weights

    s = _settings(ctx)
    emb = embed_model_path(s.embed_model, s.cache_dir)
    llm = llm_path(s.llm_model, s.cache_dir)
    click.echo(f"embedding model: {emb}")
    reader = Path(s.reader_weights).expanduser() if s.reader_weights else weights.SHIPPED
    if not reader.is_file():
        raise RagError(f"no reader weights at {reader}: set RAG_READER_WEIGHTS to a file made by rag train-reader")
    click.echo(f"reader: {reader} ({reader.stat().st_size / 2**20:.1f} MB, sha256 {weights.sha256(reader)[:12]}…, "
               f"on top of the embedding model)")
    click.echo(f"LLM: {llm} ({llm.stat().st_size / 2**30:.2f} GiB)")


@main.command("index")
@_options(CORPUS, INDEX, EMBED_MODEL)
@click.pass_context
@_friendly
def index_cmd(ctx):
    """(Re)build the index from --corpus (default: the folder it was built from); unchanged
    articles are not re-embedded."""
    from rag.pipeline import parts
    from rag.store import storage

    s = storage.bind(_settings(ctx), rebuild=True)
    report = storage.build(s, parts.embedder(s), progress=sys.stderr.isatty())
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"indexed {len(report.added) + len(report.changed) + len(report.unchanged)} articles "
               f"({len(report.added)} new, {len(report.changed)} changed, {len(report.removed)} removed, "
               f"{len(report.unchanged)} unchanged), {report.passages} passages, "
               f"{report.embedded} texts embedded in {report.seconds:.1f}s → {storage.describe(s)}")
    click.echo("formats: " + ", ".join(f"{n} {fmt}" for fmt, n in report.formats.items())
               + (f"; {len(report.warnings)} skipped" if report.warnings else "")
               + (f"; {len(report.duplicates)} near-duplicate copies grouped" if report.duplicates else ""))


SINCE = click.option("--since", default="", help="Only articles dated on or after DATE (2024-04, 12 avril 2024…).")
UNTIL = click.option("--until", default="", help="Only articles dated on or before DATE.")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON array of articles.")
@SINCE
@UNTIL
@_options(INDEX)
@click.pass_context
@_friendly
def articles(ctx, as_json, since, until):
    """List the indexed articles: title, date, source, passages (newest first)."""
    from rag.retrieval.scope import chosen
    from rag.store import storage

    scope = chosen(None, since, until)
    rows = [r for r in storage.load(_settings(ctx)).articles() if not scope or scope.admits(r["id"], r["date"])]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    click.echo(_table(rows))


def _table(rows: list[dict]) -> str:
    """A plain-text table sized to the terminal, long titles cut."""
    import shutil

    width = shutil.get_terminal_size((120, 20)).columns
    fixed = 10 + 22 + 8 + 6
    title_w = max(20, width - fixed)
    lines = [f"{'date':<10}  {'title':<{title_w}}  {'source':<20}  {'passages':>8}"]
    for r in rows:
        title = r["title"] if len(r["title"]) <= title_w else r["title"][:title_w - 1] + "…"
        source = (r["source"] or r["id"])[:20]
        also = f"  (also: {', '.join(r['also'])})" if r["also"] else ""
        lines.append(f"{r['date'] or '—':<10}  {title:<{title_w}}  {source:<20}  {r['passages']:>8}{also}")
    lines.append(f"{len(rows)} articles")
    return "\n".join(lines)


@main.group()
def feedback():
    """Readers' 👍/👎 from the web chat."""


@feedback.command("export")
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-", show_default=True,
              help="Output file in the eval/qa.jsonl format ('-' for stdout).")
@_options(INDEX)
@click.pass_context
@_friendly
def feedback_export(ctx, out):
    """Write the rated answers as eval cases: run them with `rag eval --qa FILE`."""
    from rag.evaluation import feedback as fb

    s = _settings(ctx)
    entries = fb.load(s.index)
    if not entries:
        raise RagError(f"no feedback in '{s.index}': rate answers with 👍/👎 in the web chat first")
    cases, skipped = fb.to_eval_cases(entries)
    for case in cases:
        out.write(json.dumps(case, ensure_ascii=False) + "\n")
    click.echo(f"{len(cases)} cases written"
               + (f"; {skipped} disliked answers without a comment left out (the comment is the right answer)"
                  if skipped else ""), err=True)


def _print_source(c: dict, mark: str) -> None:
    about = " — ".join(x for x in [c.get("title", ""), c.get("date", ""), c.get("source", "")] if x)
    page = f", p. {c['page']}" if c.get("page") else ""
    click.secho(f"{mark} {about or c['doc']}  ({c['doc']}, chars {c['start']}–{c['end']}{page})", bold=True)
    if c.get("also"):
        click.echo(f"    also published by {', '.join(c['also'])}")
    click.echo(f"    {' '.join(c['text'].split())}")


def _print_sources(answer) -> None:
    """The citations, or for a refusal the sentence that came closest (so the reader can judge)."""
    from rag.answer.prompts import TEXT

    if answer.refused and answer.closest:
        click.echo()
        click.secho(TEXT[answer.lang]["closest"], dim=True)
        _print_source(answer.closest, "→")
    if not answer.citations:
        return
    click.echo()
    for c in answer.citations:
        _print_source(c, f"[{c['n']}]")


def _stream_to_terminal(pipe, question: str, lang: str | None, scope=None):
    from rag.pipeline import Done, Restart, Retrieved, Status, Token

    streamed = ""
    for event in pipe.ask_stream(question, lang=lang, scope=scope):
        if isinstance(event, Status):
            click.secho(event.text, err=True, dim=True)
        elif isinstance(event, Retrieved) and event.query != question:
            click.secho(f"(searching for: {event.query})", err=True, dim=True)
        elif isinstance(event, Token):
            streamed += event.text
            click.echo(event.text, nl=False)
        elif isinstance(event, Restart):
            click.echo()
            click.secho(f"({event.reason}: answering again)", err=True, dim=True)
            streamed = ""
        elif isinstance(event, Done):
            answer = event.answer
            if streamed and answer.refused:
                click.echo()
                click.secho("(withdrawn: not supported by the articles)", err=True, fg="yellow")
            if not streamed or answer.refused:
                click.echo(answer.answer, nl=False)
            elif answer.answer != streamed.strip():
                click.echo()
                click.secho(f"(checked: {answer.answer})", dim=True)
            click.echo()
            _print_sources(answer)
            return answer


@main.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question (see README for the fields).")
@click.option("--batch", type=click.File("r", encoding="utf-8"),
              help="JSONL file with one {\"question\", \"id\"?, ...} per line ('-' for stdin).")
@click.option("--lang", type=click.Choice(["auto", "fr", "en"]), help="Answer language (default: the question's).")
@click.option("--extract", is_flag=True, default=None,
              help="Answer with the reader alone (its span, cited; no LLM; as RAG_ANSWER=extract).")
@click.option("--article", "chosen_ids", multiple=True, metavar="ID",
              help="Answer only from this article (repeatable; ids as `rag articles --json` lists them).")
@SINCE
@UNTIL
@_options(*EVERYTHING)
@click.pass_context
@_friendly
def ask(ctx, question, as_json, batch, lang, extract, chosen_ids, since, until):
    """Answer QUESTION from the articles, citing them as [n]."""
    from rag.pipeline import builder
    from rag.retrieval.scope import chosen

    if (question is None) == (batch is None):
        raise RagError("give a QUESTION or --batch FILE (not both)")
    scope = chosen(chosen_ids, since, until)
    pipe = builder.build(_settings(ctx, lang=lang, answer="extract" if extract else None))
    unknown = sorted(set(chosen_ids) - {r["id"] for r in pipe.store.articles()}) if chosen_ids else []
    if unknown:
        raise RagError(f"no article '{unknown[0]}' in the index: `rag articles --json` lists their ids")
    if batch is None:
        if as_json:
            click.echo(json.dumps(pipe.ask(question, scope=scope).to_json(), ensure_ascii=False))
        else:
            _stream_to_terminal(pipe, question, None, scope)
        return
    from rag.text.jsonl import records

    for _, item in records(batch, batch.name):
        q = item["question"]
        answer = pipe.ask(q, history=item.get("history"), lang=item.get("answer_lang"), scope=scope)
        record = {**{k: v for k, v in item.items() if k != "question"}, **answer.to_json()}
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False), nl=True)
        else:
            click.echo(f"Q: {q}\nA: {answer.answer}\n")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (127.0.0.1: this machine only).")
@click.option("--port", default=7860, show_default=True, type=int)
@click.option("--lang", type=click.Choice(["auto", "fr", "en"]), help="Answer language (default: the question's).")
@click.option("--ui-lang", type=click.Choice(["auto", "fr", "en"]),
              help="The page's language (default: the browser's, French or English; a switch on the page).")
@_options(*EVERYTHING, AUTH_FILE)
@click.pass_context
@_friendly
def serve(ctx, host, port, lang, ui_lang):
    """Open the web chat on http://HOST:PORT (sign-in required once rag users add made a user,
    and beyond 127.0.0.1 / ::1 / localhost)."""
    from rag.web.app import serve as run

    run(_settings(ctx, lang=lang, ui_lang=ui_lang), host=host, port=port)


@main.group()
def users():
    """The web chat's users: rag serve asks them to sign in (names and salted scrypt hashes, one a line)."""


def _users(ctx: click.Context):
    from rag.web.auth import Users, users_file

    return Users(users_file(_settings(ctx).auth_file))


def _users_command(name: str, *params):
    """A ``rag users NAME`` command: its parameters, --auth-file, one-line errors."""
    def apply(func):
        return users.command(name)(_options(*params, AUTH_FILE)(click.pass_context(_friendly(func))))
    return apply


@_users_command("add", click.argument("name"))
def users_add(ctx, name):
    """Add user NAME, or give it a new password (asked twice, not shown)."""
    found = _users(ctx)
    password = click.prompt(f"Password for {name}", hide_input=True)
    if click.prompt("The same password again", hide_input=True) != password:
        raise RagError(f"the two passwords differ: nothing changed, run rag users add {name} again")
    new = found.add(name, password)
    click.echo(f"{'added' if new else 'new password for'} {name} in {found.path}")


@_users_command("list")
def users_list(ctx):
    """The user names, one a line."""
    for name in _users(ctx).names():
        click.echo(name)


@_users_command("remove", click.argument("name"))
def users_remove(ctx, name):
    """Remove user NAME: it can no longer sign in (a page already open keeps its session until rag serve restarts)."""
    found = _users(ctx)
    found.remove(name)
    click.echo(f"removed {name} from {found.path}")


@main.command("llm-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0: the network).")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--parallel", default=4, show_default=True, type=int, help="Requests answered at once (slots).")
@_options(LLM_MODEL, THREADS)
@click.pass_context
@_friendly
def llm_server(ctx, host, port, parallel):
    """Serve the LLM over HTTP (OpenAI protocol) for RAG_LLM_BACKEND=openai; needs .[server]."""
    from rag.models.llm_server import run
    from rag.models.files import llm_path

    s = _settings(ctx)
    run(llm_path(s.llm_model, s.cache_dir), host, port, parallel, s.n_ctx, s.threads, s.extra_buffers)


@main.command("eval")
@click.option("--qa", type=click.Path(path_type=Path, exists=True), default=Path("eval/qa.jsonl"), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("eval/out"), show_default=True)
@click.option("--limit", type=int, help="Only the first N questions.")
@click.option("--ids", help="Comma-separated ids to run.")
@click.option("--fresh", is_flag=True, help="Ignore cached answers.")
@click.option("--retrieval-only", is_flag=True, help="Score retrieval only (fast: no answers generated).")
@click.option("--extract", is_flag=True,
              help="Retrieval and the reader only, no LLM: sentence top-1/3, answerability AUC, span EM/F1, "
                   "the risk–coverage curve, per language.")
@_options(*EVERYTHING)
@click.pass_context
@_friendly
def eval_cmd(ctx, qa, out, limit, ids, fresh, retrieval_only, extract):
    """Score retrieval, answers, citations, language and refusals on a Q/A file."""
    from rag.evaluation.eval import retrieval, run

    if retrieval_only:
        click.echo(retrieval(_settings(ctx), qa))
        return
    if extract:
        from rag.evaluation import extract as reader_eval

        click.echo(reader_eval.run(_settings(ctx), qa, out, limit=limit, ids=ids.split(",") if ids else None,
                                   fresh=fresh))
        return
    summary = run(_settings(ctx), qa, out, limit=limit, ids=ids.split(",") if ids else None, fresh=fresh)
    click.echo(summary)


@main.command()
@click.option("--qa", type=click.Path(path_type=Path, exists=True), default=Path("eval/calibration.jsonl"),
              show_default=True, help="Calibration questions of --corpus/--index (never a test set).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("eval/out/calibration"), show_default=True,
              help="Where the answers are cached (the public part's beside it, in <out>-public).")
@click.option("--docs", type=click.Path(path_type=Path), default=Path("docs"), show_default=True,
              help="Where the report (calibration.md, gate-curve.png) goes.")
@click.option("--gate-file", type=click.Path(path_type=Path), help="Where the fitted gate goes (default: rag/answer/gate.json).")
@click.option("--risk", type=click.FloatRange(0, 1),
              help="Wrong answers shown the gate may let through, as a share of all questions (default: RAG_GATE_RISK, "
                   "0.05): the threshold written; RAG_GATE_RISK reads another one at run time.")
@click.option("--limit", type=click.IntRange(min=1), help="Only N questions of each calibration part.")
@click.option("--public/--no-public", default=True, show_default=True,
              help="Fit on the public set's calibration part too (eval/public), its index in --public-index.")
@click.option("--public-index", type=click.Path(path_type=Path), default=Path("eval/out/public/.rag"),
              show_default=True, help="The index of eval/public/corpus (built there if missing).")
@_options(*EVERYTHING)
@click.pass_context
@_friendly
def calibrate(ctx, qa, out, docs, gate_file, risk, limit, public, public_index):
    """Fit the gate's threshold on the reader's P(answerable) on both corpora's calibration parts
    (retrieval and the reader only, no LLM) → rag/answer/gate.json, docs/calibration.md."""
    import dataclasses

    from rag.answer.gate import MODEL_FILE
    from rag.evaluation.calibrate import Corpus, run
    from rag.reader import training
    from rag.store import storage

    s = _settings(ctx)
    # The seeds' calibration questions the reader trained on would flatter it: only its dev split counts.
    corpora = [Corpus(storage.bind(s).corpus.name, s, qa, out, training.dev_ids(qa))]
    if public:
        if not training.PUBLIC["calibration"].exists():
            raise RagError(f"no {training.PUBLIC['calibration']} here: run from the project's folder, or pass --no-public")
        # An existing index answers from the folder it records; a new one is built from the public corpus.
        public_settings = dataclasses.replace(s, index=public_index,
                                              corpus=None if public_index.exists() else training.PUBLIC["corpus"])
        corpora.append(Corpus("public", public_settings, training.PUBLIC["calibration"], out.with_name(out.name + "-public")))
    click.echo(run(corpora, docs, gate_file or MODEL_FILE, s.gate_risk if risk is None else risk, limit))


@main.command("train-reader")
@click.option("--data", type=click.Path(path_type=Path, file_okay=False), default=Path("../shared/datasets/public-qa"),
              show_default=True, help="The public-qa folder (SQuAD 2.0 dev + PIAF); missing: the seeds' calibration "
                                      "questions alone.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("eval/out/reader"), show_default=True,
              help="Where the run writes its pairs, report and weights file.")
@click.option("--epochs", default=1.0, show_default=True, type=click.FloatRange(min=0.01))
@click.option("--fraction", default=1.0, show_default=True, type=click.FloatRange(0.01, 1.0),
              help="Share of the training questions (the learning curve: 0.25, 0.5).")
@click.option("--seed", default=29, show_default=True, type=int)
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--max-steps", default=-1, type=int, help="Stop after N optimiser steps (a smoke run).")
@click.option("--max-questions", default=0, type=click.IntRange(min=0), help="Only N questions (a smoke run).")
@click.option("--install", is_flag=True, help="Copy the weights file to rag/reader/ (the shipped reader).")
@_options(EMBED_MODEL)
@click.pass_context
@_friendly
def train_reader(ctx, data, out, epochs, fraction, seed, batch_size, max_steps, max_questions, install):
    """Train the reader (which sentence answers, whether any does, the exact words) on labelled questions."""
    import shutil

    from rag.models.files import embed_model_path
    from rag.reader import training, weights

    s = _settings(ctx)
    repo = Path(__file__).resolve().parent.parent
    if not (repo / "eval/calibration.jsonl").exists():
        raise RagError("train-reader needs the project's checkout (eval/, seeds/): run it from a git clone")
    plan = training.Plan(public_qa=data if (data / "qa-en.jsonl").exists() else None, repo=repo, out=out,
                         epochs=epochs, fraction=fraction, seed=seed, batch_size=batch_size, max_steps=max_steps,
                         max_questions=max_questions)
    if plan.public_qa is None:
        click.secho(f"no public-qa data at {data}: training on the seeds' calibration questions alone", err=True)
    report = training.train(plan, embed_model_path(s.embed_model, s.cache_dir))
    click.echo(json.dumps({k: report[k] for k in ("train_pairs", "dev_pairs", "steps", "seconds", "weights",
                                                  "sha256")}, indent=1))
    click.echo(json.dumps(report["dev_curve"][-1], indent=1))
    if install:
        shutil.copyfile(report["weights"], weights.SHIPPED)
        click.echo(f"installed {weights.SHIPPED}")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("eval/bench"), show_default=True)
@click.option("--repeats", default=3, show_default=True, type=int)
@click.option("--questions", type=click.IntRange(min=1),
              help="Answer only the first N of the benchmark's 6 questions: a quicker, rougher run.")
@click.option("--sizes", default="10000,100000,1000000", show_default=True, help="FAISS corpus sizes to simulate.")
@click.option("--kinds", default="hnsw,ivf", show_default=True,
              help="With --retrieval: the approximate indexes measured beside exact search.")
@click.option("--concurrency", help="Only this: users at once, e.g. 1,2,4,8 (in-process vs an LLM server).")
@click.option("--server", "server_name", type=click.Choice(list(SERVERS)), default="llama.cpp",
              show_default=True, help="With --concurrency: `rag llm-server` (llama.cpp) or llama-cpp-python's server.")
@click.option("--max-tokens", default=48, show_default=True, type=int, help="Answer length for --concurrency.")
@click.option("--retrieval", is_flag=True,
              help="Only vector search at --sizes: FAISS, and pgvector too when RAG_STORE is postgresql://… "
                   "(in a scratch table, dropped afterwards).")
@_options(*EVERYTHING)
@click.pass_context
@_friendly
def bench(ctx, out, repeats, questions, sizes, kinds, concurrency, server_name, max_tokens, retrieval):
    """Measure latency, throughput and FAISS scaling on this machine (medians, one process)."""
    from rag.evaluation import bench as measure
    from rag.store import storage

    if retrieval:
        s = _settings(ctx)
        pg_url = s.store if storage.location(s)[0] == "rag.store.pgstore" else ""
        unknown = set(kinds.split(",")) - {"hnsw", "ivf"}
        if unknown:
            raise click.BadParameter(f"{', '.join(sorted(unknown))}: use hnsw, ivf or both", param_hint="--kinds")
        rows = measure.retrieval_scaling([int(x) for x in sizes.split(",")], pg_url=pg_url,
                                         kinds=tuple(kinds.split(",")))
        out.mkdir(parents=True, exist_ok=True)
        (out / "retrieval.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
        click.echo(measure.retrieval_markdown(rows))
        return
    if concurrency:
        levels = [int(x) for x in concurrency.split(",")]
        click.echo(measure.concurrency(_settings(ctx), levels, out, rounds=repeats, max_tokens=max_tokens,
                                       server=server_name))
        return
    click.echo(measure.run(_settings(ctx), out, repeats=repeats, sizes=[int(x) for x in sizes.split(",")],
                           questions=questions))


if __name__ == "__main__":
    main()
