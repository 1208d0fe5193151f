"""Differential test: rendered parameters against sysdig 0.29's ``%evt.args``.

sysdig resolves fds, pids and fd lists from its state tables (``fd=3(<f>/etc/x)``);
those are libsinsp's job and skipped here. Generic syscall events are skipped too:
sysdig prints no arguments for them, we print their raw ID/nativeID.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import CAPTURES
from libscap.render import event_name, render_params
from libscap.savefile import open_capture
from libscap.schema import EC, PPME, PT

pytestmark = [pytest.mark.sysdig,
              pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig not installed")]

STATEFUL = {PT.FD, PT.PID, PT.FDLIST}


def sysdig_lines(name: str) -> dict[int, str]:
    out = subprocess.run(["sysdig", "-r", str(CAPTURES / f"{name}.scap"), "-p",
                          "%evt.num %evt.dir %evt.type %evt.args"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    lines = {}
    for line in out.splitlines():
        num, rest = line.split(" ", 1)
        lines[int(num)] = rest
    return lines


@pytest.mark.parametrize("name", ["cat_write", "curl_google", "single_ipv6_conn", "syscall",
                                  "test_ipv6_client"])
def test_params_render_as_sysdig_prints_them(name):
    sysdig = sysdig_lines(name)
    compared, mismatches = 0, []
    for evt in open_capture(CAPTURES / f"{name}.scap").events():
        if evt.info.category & EC.INTERNAL:
            continue
        direction, etype, *args = sysdig[evt.num].split(" ", 2)
        assert (direction, etype) == (evt.direction, event_name(evt).replace("unknown", "<unknown>"))
        if evt.type in (PPME.GENERIC_E, PPME.GENERIC_X):
            continue
        padded = " " + (args[0] if args else "") + " "
        for i, (pname, text) in enumerate(render_params(evt)):
            if evt.param_info(i).type in STATEFUL:
                continue
            compared += 1
            if f" {pname}={text} " not in padded:
                mismatches.append((evt.num, pname, text, padded))
    assert mismatches == []
    assert compared > 10
