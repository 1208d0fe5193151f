"""Shared test fixtures: paths to the project and to ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CAPTURES = SHARED / "captures"
#: Event counts `sysdig -r` prints for each shared capture (../shared/README.md).
CAPTURE_EVENT_COUNTS = {
    "cat_write": 85,
    "curl_google": 1221,
    "single_ipv6_conn": 28,
    "test_ipv6_client": 68,
    "syscall": 12,
    "empty": 0,
}


@pytest.fixture(params=sorted(CAPTURE_EVENT_COUNTS))
def shared_capture(request) -> Path:
    """Each capture of ../shared/captures in turn."""
    path = CAPTURES / f"{request.param}.scap"
    assert path.exists(), f"missing shared capture {path}"
    return path
