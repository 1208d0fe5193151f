"""Lower layers never import higher ones (DESIGN.md: imports only point down)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

# Each layer with the layers it may import (its own package included).
LAYERS = ["bpf", "libscap", "libsinsp", "falco_engine", "falco"]
ALLOWED = {
    "bpf": {"bpf"},
    "libscap": {"bpf", "libscap"},
    "libsinsp": {"bpf", "libscap", "libsinsp"},
    "falco_engine": {"bpf", "libscap", "libsinsp", "falco_engine"},
    "falco": set(LAYERS),
}


def imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & set(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_point_down(layer):
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, f"layer {layer} has no Python files"
    offending = {str(f.relative_to(ROOT)): sorted(imported_layers(f) - ALLOWED[layer])
                 for f in files if imported_layers(f) - ALLOWED[layer]}
    assert not offending, f"{layer} imports higher layers: {offending}"


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_imports_alone_with_a_docstring(layer):
    module = __import__(layer)
    assert module.__doc__ and len(module.__doc__.strip()) > 20


def test_checker_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom falco_engine.x import y\nimport libsinsp.state\n")
    assert imported_layers(bad) == {"falco_engine", "libsinsp"}
