"""The ``rag`` command: index, ask, serve, eval, bench.

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

from .errors import RagError
from .settings import RANGES, Settings

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
                         help="Folder of articles (default: seeds/).")
INDEX = _setting_option("--index", name="index", type=click.Path(path_type=Path),
                        help="Index folder (default: .rag/).")
EMBED_MODEL = _setting_option("--embed-model", name="embed_model",
                              help="Sentence-transformers folder (default: packaged multilingual-e5-small).")
LLM_MODEL = _setting_option("--llm-model", name="llm_model",
                            help="GGUF file (default: packaged Qwen2.5-Coder-1.5B-Instruct Q4_K_M).")
THREADS = _setting_option("--threads", name="n_threads", type=click.IntRange(*RANGES["n_threads"]),
                          help="CPU threads for the LLM (default: physical cores).")
EVERYTHING = (CORPUS, INDEX, EMBED_MODEL, LLM_MODEL, THREADS)


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
    from .models import embed_model_path, llm_path

    s = _settings(ctx)
    emb = embed_model_path(s.embed_model, s.cache_dir)
    llm = llm_path(s.llm_model, s.cache_dir)
    click.echo(f"embedding model: {emb}")
    click.echo(f"LLM: {llm} ({llm.stat().st_size / 2**30:.2f} GiB)")


@main.command("index")
@_options(CORPUS, INDEX, EMBED_MODEL)
@click.pass_context
@_friendly
def index_cmd(ctx):
    """(Re)build the index; unchanged articles are not re-embedded."""
    from .pipeline import Pipeline
    from .store import build

    s = _settings(ctx)
    report = build(s.corpus, s.index, Pipeline(s).embedder, progress=sys.stderr.isatty())
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"indexed {len(report.added) + len(report.changed) + len(report.unchanged)} articles "
               f"({len(report.added)} new, {len(report.changed)} changed, {len(report.removed)} removed, "
               f"{len(report.unchanged)} unchanged), {report.passages} passages, "
               f"{report.embedded} texts embedded in {report.seconds:.1f}s → {s.index}")


def _print_sources(answer) -> None:
    if not answer.citations:
        return
    click.echo()
    for c in answer.citations:
        text = " ".join(c["text"].split())
        click.secho(f"[{c['n']}] {c['doc']}  (chars {c['start']}–{c['end']})", bold=True)
        click.echo(f"    {text}")


def _stream_to_terminal(pipe, question: str, lang: str | None):
    from .pipeline import Done, Restart, Retrieved, Status, Token

    streamed = ""
    for event in pipe.ask_stream(question, lang=lang):
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
@_options(*EVERYTHING)
@click.pass_context
@_friendly
def ask(ctx, question, as_json, batch, lang):
    """Answer QUESTION from the articles, citing them as [n]."""
    from .pipeline import Pipeline

    if (question is None) == (batch is None):
        raise RagError("give a QUESTION or --batch FILE (not both)")
    pipe = Pipeline(_settings(ctx, lang=lang))
    if batch is None:
        if as_json:
            click.echo(json.dumps(pipe.ask(question).to_json(), ensure_ascii=False))
        else:
            _stream_to_terminal(pipe, question, None)
        return
    for lineno, line in enumerate(batch, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            q = item["question"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise RagError(f"{batch.name}:{lineno}: expected a JSON object with a \"question\" field") from None
        answer = pipe.ask(q, history=item.get("history"), lang=item.get("answer_lang"))
        record = {**{k: v for k, v in item.items() if k != "question"}, **answer.to_json()}
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False), nl=True)
        else:
            click.echo(f"Q: {q}\nA: {answer.answer}\n")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (127.0.0.1: this machine only).")
@click.option("--port", default=7860, show_default=True, type=int)
@click.option("--lang", type=click.Choice(["auto", "fr", "en"]), help="Default answer language.")
@_options(*EVERYTHING)
@click.pass_context
@_friendly
def serve(ctx, host, port, lang):
    """Open the web chat on http://HOST:PORT."""
    from .app import serve as run

    run(_settings(ctx, lang=lang), host=host, port=port)


@main.command("eval")
@click.option("--qa", type=click.Path(path_type=Path, exists=True), default=Path("eval/qa.jsonl"), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("eval/out"), show_default=True)
@click.option("--limit", type=int, help="Only the first N questions.")
@click.option("--ids", help="Comma-separated ids to run.")
@click.option("--fresh", is_flag=True, help="Ignore cached answers.")
@click.option("--retrieval-only", is_flag=True, help="Score retrieval only (fast: no answers generated).")
@_options(*EVERYTHING)
@click.pass_context
@_friendly
def eval_cmd(ctx, qa, out, limit, ids, fresh, retrieval_only):
    """Score retrieval, answers, citations, language and refusals on a Q/A file."""
    from .eval import retrieval, run

    if retrieval_only:
        click.echo(retrieval(_settings(ctx), qa))
        return
    summary = run(_settings(ctx), qa, out, limit=limit, ids=ids.split(",") if ids else None, fresh=fresh)
    click.echo(summary)


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("eval/bench"), show_default=True)
@click.option("--repeats", default=3, show_default=True, type=int)
@click.option("--sizes", default="10000,100000,1000000", show_default=True, help="FAISS corpus sizes to simulate.")
@_options(*EVERYTHING)
@click.pass_context
@_friendly
def bench(ctx, out, repeats, sizes):
    """Measure latency, throughput and FAISS scaling on this machine (medians, one process)."""
    from .bench import run

    click.echo(run(_settings(ctx), out, repeats=repeats, sizes=[int(x) for x in sizes.split(",")]))


if __name__ == "__main__":
    main()
