"""Compile the C test plugins of this directory into shared objects.

Built with the system C compiler into a pytest tmp dir rather than by CMake:
the plugins are test data, each test session builds exactly the variants it
uses (some are built twice with different -D flags), and the tests do not
depend on a CMake build directory being present.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INCLUDE = HERE.parent.parent / "libsinsp" / "plugin"  # plugin_api.h, the project's one header


def build_plugin(source: str, out_dir: Path, *defines: str, name: str | None = None) -> Path:
    """``<source>.c`` compiled (with ``-D`` ``defines``) to ``out_dir/lib<name>.so``."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler (cc) found to build the test plugins")
    out = out_dir / f"lib{name or source}.so"
    if not out.exists():
        cmd = [cc, "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-pthread", f"-I{INCLUDE}",
               *(f"-D{d}" for d in defines), str(HERE / f"{source}.c"), "-o", str(out)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this session's test plugins are built."""
    return tmp_path_factory.mktemp("plugins")
