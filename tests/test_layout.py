"""The code's layout holds: packages by stage, imports only running down the stages, no import
cycle. Read from the source (every import a module runs, at its top or inside a function; the
``if TYPE_CHECKING:`` ones, which never run, are left out)."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

RAG = Path(__file__).resolve().parents[1] / "rag"
# Bottom to top; a module may import its own stage and those below it. settings sits above the
# models (it lists their backends) and below every stage that reads it; the reader reads what
# retrieval found, before any answer is written.
STAGES = ["errors", "text", "ingest", "models", "settings", "store", "retrieval", "reader", "answer", "pipeline",
          "evaluation", "web", "cli"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(RAG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(path: Path, known: set[str]) -> set[str]:
    """The ``rag`` modules ``path`` imports when it runs (``from rag.x import y`` counts as rag.x.y when
    that is a module of its own, else rag.x)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("rag."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "rag":
            assert node.level == 0, f"{path}: relative import of {node.module}"
            for a in node.names:
                found.add(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found - {"rag"}


@lru_cache(maxsize=1)
def graph() -> dict[str, set[str]]:
    files = sorted(RAG.rglob("*.py"))
    known = {module_name(p) for p in files}
    return {module_name(p): imports(p, known) for p in files}


def stage(module: str) -> int:
    return STAGES.index(module.split(".")[1])


def test_every_module_lives_in_a_stage():
    loose = [m for m in graph() if m != "rag" and m.split(".")[1] not in STAGES]
    assert not loose, f"modules outside the stages {STAGES}: {loose}"


def test_imports_only_run_down_the_stages():
    upward = [f"{m} → {i}" for m, deps in graph().items() if m != "rag" for i in sorted(deps) if stage(i) > stage(m)]
    assert not upward, "imports running up the stages:\n" + "\n".join(upward)


def test_no_import_cycle():
    edges = graph()
    cycles, state = [], {}

    def walk(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" → ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                walk(nxt, path + [nxt])
        state[node] = "done"

    for start in sorted(edges):
        if start not in state:
            walk(start, [start])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_reader_of_imports_sees_the_stages():
    """The check itself: it finds the imports the pipeline really runs, and none of a TYPE_CHECKING block."""
    edges = graph()
    assert {"rag.retrieval.search", "rag.answer.grounding", "rag.store.storage"} <= edges["rag.pipeline.ask"]
    assert "rag.settings" not in edges["rag.models.llamacpp"]        # only for type hints
