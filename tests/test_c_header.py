"""The driver's C header is generated from the schema, compiles with clang for
the BPF target, and its constants agree with the Python table."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from libscap.schema import EVENTS, FLAG_TABLES, PPM_EVENT_MAX, PT, SYSCALLS_X86_64
from libscap.schema.c_header import generate

CLANG = shutil.which("clang")
needs_clang = pytest.mark.skipif(CLANG is None, reason="clang is not installed (make deps installs it)")


@pytest.fixture
def header(tmp_path):
    path = tmp_path / "ppm_events_gen.h"
    path.write_text(generate())
    return path


@needs_clang
def test_header_compiles_for_the_bpf_target(header, tmp_path):
    src = tmp_path / "probe_like.c"
    src.write_text(
        f'#include "{header}"\n'
        "struct sc { int ppm_sc; int enter; int exit; };\n"
        "const struct sc table[512] = PPM_SYSCALL_TABLE_X86_64_INIT;\n"
        "const unsigned char nparams[PPM_EVENT_MAX] = PPM_EVENT_NPARAMS_INIT;\n"
        f"_Static_assert(PPM_EVENT_MAX == {PPM_EVENT_MAX}, \"size\");\n"
        f"_Static_assert(PPM_O_CREAT == {dict(FLAG_TABLES['file_flags'])['O_CREAT']}U, \"flag\");\n"
        f"_Static_assert(PT_FSRELPATH == {PT.FSRELPATH.value}, \"pt\");\n")
    result = subprocess.run([CLANG, "-target", "bpf", "-O2", "-Wall", "-Werror", "-c", str(src),
                             "-o", str(tmp_path / "probe_like.o")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@needs_clang
def test_header_constants_agree_with_the_python_table(header, tmp_path):
    """Compile a host program that prints what the header says, compare with Python."""
    src = tmp_path / "dump.c"
    src.write_text(
        f'#include <stdio.h>\n#include "{header}"\n'
        "struct sc { int ppm_sc; int enter; int exit; };\n"
        "static const struct sc table[512] = PPM_SYSCALL_TABLE_X86_64_INIT;\n"
        "static const unsigned char nparams[PPM_EVENT_MAX] = PPM_EVENT_NPARAMS_INIT;\n"
        "int main(void) {\n"
        "  for (int i = 0; i < PPM_EVENT_MAX; i++) printf(\"E %d %d\\n\", i, nparams[i]);\n"
        "  for (int i = 0; i < 512; i++) if (table[i].exit) printf(\"S %d %d %d\\n\", i, table[i].enter, table[i].exit);\n"
        "  return 0;\n}\n")
    exe = tmp_path / "dump"
    subprocess.run([CLANG, "-O1", "-o", str(exe), str(src)], check=True, capture_output=True)
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split("\n")
    expected = [f"E {e.id} {len(e.params)}" for e in EVENTS]
    expected += [f"S {nr} {sc.enter} {sc.exit}" for nr, sc in sorted(SYSCALLS_X86_64.items()) if sc.exit]
    assert [line for line in lines if line] == expected


def test_flag_names_with_two_meanings_get_a_table_qualified_define():
    text = generate()
    assert "#define PPM_O_TRUNC 256U" in text  # open(2)'s meaning keeps the plain name
    assert "#define PPM_DELETE_MODULE_FLAGS_O_TRUNC 1U" in text


def test_header_has_every_event_code():
    text = generate()
    for e in EVENTS:
        assert f"\t{e.code} = {e.id}," in text
