"""The READMEs stay true: every ``rag …`` command they show is run by a test, and the test
counts in README.md's "Tests" section are what pytest collects.

Commands are the ``rag`` lines of the fenced code blocks and the inline code spans that start
with ``rag`` (after ``VAR=value`` assignments) in README.md, eval/README.md and models/README.md,
and the examples of ``rag --help``. A test runs one by calling ``rag("<the line>")`` (fast, fake
models: tests/test_cli.py) or ``rag_real("<the line>", …)`` (real models:
tests/test_integration.py) with the line exactly as shown.

Not run by pytest, on purpose:

- ``bash scripts/install.sh``, ``.venv/bin/rag serve`` and ``bash scripts/test.sh``: CI runs
  them itself (``.ci/run`` = scripts/test.sh = install.sh, whose last step prints the
  ``.venv/bin/rag serve`` line, then pytest); tests/test_browser.py starts that same ``rag serve``
  entry point on a free port and chats with it in Chromium.
- ``NOT_RUN`` below: measurements that take longer than the whole suite.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from rag.cli import EXAMPLES

pytestmark = pytest.mark.data

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "eval" / "README.md", ROOT / "models" / "README.md"]
RUNNERS = {"rag", "rag_real"}
CI_RUNS = {".venv/bin/rag serve"}
NOT_RUN = {   # command → why no test runs it
    "rag train-reader": "trains the reader on ~33,000 pairs (about an hour on 2 cores); test_reader.py runs "
                        "rag train-reader on a handful of questions for two steps",
    "rag bench": "its default --sizes go up to a million vectors (the 1M HNSW build alone took 5 min); "
                 "test_integration.py runs rag bench --repeats 1 --questions 1 --sizes 10000",
    "rag bench --sizes 10000,100000,1000000": "the same million-vector measurement",
    "rag bench --repeats 2 --sizes 10000": "10 minutes of answers; test_integration.py runs the same measurement "
                                           "on 1 of its 6 questions: rag bench --repeats 1 --questions 1 --sizes 10000",
}
_COMMAND = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S+ +)*(?:/usr/bin/time -v +)?(?:\.venv/bin/)?rag +[-\w]")


def canonical(line: str) -> str:
    """A command line without its comment and with normalised quoting and spacing."""
    return shlex.join(shlex.split(line, comments=True))


def shown_commands() -> dict[str, str]:
    """canonical command → where it is shown."""
    found: dict[str, str] = {}
    sources = [(p.relative_to(ROOT).as_posix(), p.read_text(encoding="utf-8")) for p in DOCS]
    sources.append(("rag --help", f"```\n{EXAMPLES}\n```"))
    for name, text in sources:
        blocks = [re.sub(r"\\\n\s*", " ", block)        # a line continued with "\" is one command
                  for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)]
        lines = [part.strip() for block in blocks for line in block.splitlines() for part in line.split("&&")]
        inline = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
        lines += re.findall(r"`([^`\n]+)`", inline)
        for line in lines:
            if _COMMAND.match(line):
                found.setdefault(canonical(line), name)
    return found


def run_commands() -> dict[str, str]:
    """canonical command → the test that runs it: a literal ``rag("…")`` / ``rag_real("…")`` call,
    or a line of the test's ``@pytest.mark.parametrize`` when the test calls one of them."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for test in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(test, ast.FunctionDef) and test.name.startswith("test_")):
                continue
            calls = [n for n in ast.walk(test) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Name) and n.func.id in RUNNERS]
            literals = [c.args[0] for c in calls if c.args]
            if calls:
                literals += [n for d in test.decorator_list if isinstance(d, ast.Call)
                             and getattr(d.func, "attr", "") == "parametrize" for n in ast.walk(d)]
            for node in literals:
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and _COMMAND.match(node.value):
                    found.setdefault(canonical(node.value), f"{path.name}::{test.name}")
    return found


def test_every_command_the_readmes_show_is_run_by_a_test():
    shown, run = shown_commands(), run_commands()
    assert len(shown) >= 10, f"the README parser found only {sorted(shown)}"
    missing = [f"  {cmd}    (shown in {where})" for cmd, where in sorted(shown.items())
               if cmd not in run and cmd not in CI_RUNS and cmd not in NOT_RUN]
    assert not missing, ("commands shown but run by no test: add a test calling rag(\"<line>\") in "
                         "tests/test_cli.py (fake models) or rag_real(\"<line>\", …) in tests/test_integration.py:\n"
                         + "\n".join(missing))
    stale = sorted(set(NOT_RUN) - set(shown))
    assert not stale, f"NOT_RUN lists commands no README shows any more: {stale}"


# ---- the counts in README.md's "Tests" section ----------------------------------------------
KINDS = {  # row label in the README table → kind (see conftest.kind_of)
    "behaviour": "behaviour", "doctests": "doctest", "data checks": "data",
    "integration, real models": "integration", "browser, real models": "browser",
}


def collected_kinds(tmp_path) -> Counter:
    """What a plain ``pytest`` run collects, counted by kind (a separate pytest process)."""
    out = tmp_path / "kinds.json"
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                          cwd=ROOT, env={**os.environ, "RAG_TEST_KINDS": str(out)}, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return Counter(json.loads(out.read_text()).values())


def readme_table() -> tuple[list[str], dict[str, int]]:
    """The table's lines, and its count per kind."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Tests\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    counts = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in KINDS:
            counts[KINDS[cells[0]]] = int(cells[2])
    return lines, counts


def test_readme_test_counts_match_what_pytest_collects(tmp_path):
    lines, shown = readme_table()
    actual = collected_kinds(tmp_path)
    if shown != dict(actual):
        fixed = lines[:2]
        for line in lines[2:]:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0] in KINDS:
                cells[2] = str(actual[KINDS[cells[0]]])
            elif cells[0].startswith("**total"):
                cells[2] = f"**{sum(actual.values())}**"
            fixed.append("| " + " | ".join(cells) + " |")
        pytest.fail("README.md's Tests table does not match what pytest collects; replace it with:\n\n"
                    + "\n".join(fixed) + "\n\n(update the time column too if you measured it)")
    assert set(shown) == set(KINDS.values())
