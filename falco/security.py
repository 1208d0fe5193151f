"""Warnings about files whose permissions let non-root users change what falco does:
a configuration or rules file (or its directory) writable by a user other than root
(owned by one, or group/world writable) can silence rules or redirect outputs."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable

log = logging.getLogger("falco")


def writable_by_non_root(path: str) -> str | None:
    """Why ``path`` can be modified by a non-root user, or None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_uid != 0 and st.st_mode & stat.S_IWUSR:
        return f"owned by uid {st.st_uid}"
    if st.st_mode & stat.S_IWOTH:
        return "writable by all users"
    if st.st_mode & stat.S_IWGRP and st.st_gid != 0:
        return f"writable by group {st.st_gid}"
    return None


def warn_writable(paths: Iterable[str], what: str) -> list[str]:
    """Log one warning per file writable by non-root users; the warnings."""
    out = []
    for p in paths:
        why = writable_by_non_root(p)
        if why:
            out.append(f"{what} file {p} is {why}: a non-root user can change what falco does")
            log.warning("%s", out[-1])
    return out
