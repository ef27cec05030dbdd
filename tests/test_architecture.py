"""The layout's rules, checked on the source: no import cycles, a thin UI, one set of text rules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from interviewer.config import REPO_ROOT

PACKAGE = REPO_ROOT / "interviewer"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every interviewer module a file imports, at module level or inside functions."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("interviewer"):
            out.add(node.module)
            # "from interviewer import export" imports the module interviewer.export
            for alias in node.names:
                if (PACKAGE.parent / (node.module + "." + alias.name).replace(".", "/")).with_suffix(".py").exists():
                    out.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("interviewer"))
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in files and m != name} for name, path in files.items()}


def test_no_import_cycles_between_modules():
    graph = _graph()
    # A package's __init__ re-exporting its own modules is not a cycle of meaning.
    graph = {n: {m for m in deps if not n.startswith(m + ".")} for n, deps in graph.items()}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if seen.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep not in seen:
                visit(dep)
        stack.pop()
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node)


def test_ui_imports_only_the_service_the_models_and_itself():
    for name, deps in _graph().items():
        if name.startswith("interviewer.ui"):
            bad = {d for d in deps if not (d in {"interviewer.service", "interviewer.models", "interviewer"}
                                           or d.startswith("interviewer.ui"))}
            assert not bad, f"{name} imports {sorted(bad)}: go through interviewer.service"


def test_app_and_cli_share_one_wiring():
    cli_engine = (PACKAGE / "cli" / "engine.py").read_text(encoding="utf-8")
    assert "build_services" in cli_engine and "build_engine" not in cli_engine
    assert "build_services" in (PACKAGE / "ui" / "app.py").read_text(encoding="utf-8")


def test_one_tokenizer_and_one_dont_know_rule():
    """jieba is loaded, and "I don't know" is defined, in interviewer/text.py only."""
    for path in PACKAGE.rglob("*.py"):
        if path.name == "text.py" and path.parent == PACKAGE:
            continue
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*import jieba|lcut_for_search|_DONT_KNOW\s*=", source, re.M), path
        assert "不知道|" not in source, f"{path} has its own 'I don't know' pattern"


def test_no_machine_paths_or_stdlib_shadowing_module_names():
    import sys

    for path in PACKAGE.rglob("*.py"):
        assert "/work/" not in path.read_text(encoding="utf-8"), f"{path} names a machine path"
        if path.parent != PACKAGE:
            continue
        assert path.stem not in sys.stdlib_module_names, f"{path} shadows the standard library"
