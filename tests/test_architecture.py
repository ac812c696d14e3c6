"""The dependency rules of DEVELOPING.md, checked with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "coder"
LEAVES = {"coder.records", "coder.errors", "coder.config", "coder.schema", "coder"}
STAGES = {
    "coder.ingest",
    "coder.segment",
    "coder.nlp",
    "coder.actors",
    "coder.actors.dictionary",
    "coder.actors.extract",
    "coder.actors.parse",
    "coder.actors.roles",
    "coder.geo",
    "coder.geo.names",
    "coder.geo.rules",
    "coder.geo.index",
    "coder.geo.context",
    "coder.geo.resolve",
    "coder.dates",
    "coder.casualties",
    "coder.casualties_frames",
    "coder.casualties_gate",
    "coder.tables",
    "coder.clusters",
    "coder.clusters.rules",
    "coder.clusters.linkage",
    "coder.clusters.columns",
    "coder.clusters.grid",
    "coder.classify.rules",
    "coder.classify.modality",
    "coder.classify.first_pass",
    "coder.classify.vetoes",
    "coder.classify.model",
    "coder.classify.corpora",
    "coder.classify.evaluate",
}
# Who else each module may import from coder (beyond the leaves).
ALLOWED = {
    "coder": {"coder.store"},
    "coder.actors": {"coder.actors.dictionary", "coder.actors.extract"},
    "coder.actors.extract": {"coder.actors.dictionary", "coder.actors.parse", "coder.actors.roles"},
    "coder.actors.parse": {"coder.actors.dictionary"},
    "coder.actors.roles": {"coder.actors.dictionary", "coder.actors.parse"},
    "coder.casualties": {"coder.casualties_frames", "coder.casualties_gate"},
    "coder.clusters": {"coder.clusters.rules", "coder.clusters.linkage", "coder.clusters.columns"},
    "coder.clusters.linkage": {"coder.clusters.rules", "coder.clusters.columns", "coder.clusters.grid"},
    "coder.clusters.grid": {"coder.clusters.rules", "coder.clusters.columns"},
    "coder.clusters.columns": {"coder.clusters.rules"},
    "coder.nlp": {"coder.fast_attrs"},
    "coder.geo": {
        "coder.geo.names",
        "coder.geo.rules",
        "coder.geo.index",
        "coder.geo.context",
        "coder.geo.resolve",
    },
    "coder.geo.rules": {"coder.geo.names"},
    "coder.geo.index": {"coder.geo.names", "coder.geo.rules"},
    "coder.geo.context": {"coder.geo.names", "coder.geo.rules", "coder.geo.index"},
    "coder.geo.resolve": {"coder.geo.names", "coder.geo.rules", "coder.geo.index", "coder.geo.context"},
    "coder.ingest": {"coder.ingest.boilerplate", "coder.ingest.readers", "coder.ingest.text"},
    "coder.ingest.readers": {"coder.ingest.boilerplate", "coder.ingest.text"},
    "coder.ingest.boilerplate": {"coder.ingest.text"},
    "coder.classify.decide": {
        "coder.classify.rules",
        "coder.classify.model",
        "coder.classify.modality",
        "coder.classify.first_pass",
        "coder.classify.vetoes",
    },
    "coder.classify.first_pass": {"coder.classify.rules"},
    "coder.classify.vetoes": {"coder.classify.modality"},
    "coder.classify.train": {"coder.classify.model", "coder.classify.corpora", "coder.classify.evaluate"},
    "coder.validate": {"coder.tables"},
    "coder.store": {"coder.tables", "coder.validate", "coder.release_files", "coder.release_read"},
    "coder.diff": {"coder.store"},
    "coder.report": {"coder.store"},
    "coder.pipeline": STAGES | {"coder.classify.decide", "coder.classify"},
    "coder.build": {
        "coder.pipeline",
        "coder.tables",
        "coder.validate",
        "coder.store",
        "coder.dask_engine",
        "coder.diff",
        "coder.local_pool",
        "coder.build_tables",
    },
    "coder.build_tables": {
        "coder.pipeline",
        "coder.clusters",
        "coder.store",
        "coder.tables",
        "coder.validate",
    },
    "coder.dask_engine": {"coder.pipeline"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _coder_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("coder"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("coder"))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _known(imported: set[str]) -> set[str]:
    """Keep only names that are modules of the package (drop imported classes and functions)."""
    modules = {_module_name(p) for p in _modules()}
    return {name for name in imported if name in modules}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: _module_name(p))
def test_imports_point_one_way(path: Path) -> None:
    name = _module_name(path)
    imported = _known(_coder_imports(path)) - {name}
    if name == "coder.cli":
        assert "coder.cli" not in imported
        return
    if name == "coder.records":
        assert imported <= {"coder"}, "records is a leaf"
        return
    allowed = LEAVES | ALLOWED.get(name, set())
    assert imported <= allowed, f"{name} imports {sorted(imported - allowed)}"


def test_nothing_imports_cli() -> None:
    for path in _modules():
        assert "coder.cli" not in _coder_imports(path) or _module_name(path) == "coder.cli"


def test_great_expectations_only_in_validate() -> None:
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        if "great_expectations" in text and _module_name(path) != "coder.validate":
            tree = ast.parse(text)
            names = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
            for node in names:
                mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                assert not (mod or "").startswith("great_expectations"), _module_name(path)


def test_no_print_or_exit_in_library() -> None:
    for path in _modules():
        if _module_name(path) == "coder.cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"print() in {_module_name(path)}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert not (node.func.attr == "exit" and getattr(node.func.value, "id", "") == "sys")


def test_no_bare_except() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler):
                assert node.type is not None, f"bare except in {_module_name(path)}"


def test_modules_stay_small() -> None:
    for path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 450, f"{_module_name(path)} has {lines} lines; split it by responsibility"
