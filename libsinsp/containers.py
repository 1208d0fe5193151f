"""Container ids from cgroup paths, as the upstream container plugin's matchers find them.

Without a container runtime to ask, the id is all libsinsp can know: it is read
from the process's cgroup paths. Each runtime leaves a recognisable
``<prefix><id><suffix>`` at the end of the path (docker, cri-o, containerd
with and without systemd, podman/libpod); a 64-hex-digit id is reported as
its first 12 characters, as upstream does. Host processes get ``HOST_ID``.
"""

from __future__ import annotations

from functools import lru_cache
import re

#: What container.id reports for processes that are not in a container.
HOST_ID = "host"
_ID_LEN = 64
_REPORTED_LEN = 12
_HEX = frozenset("0123456789abcdefABCDEF")

# (prefix, suffix) layouts, in the order upstream's matchers try them:
# podman first, then docker, then cri (cri-o, containerd, cri-dockerd, nerdctl).
_LAYOUTS: tuple[tuple[str, str], ...] = (
    ("/libpod-", ".scope"), ("/libpod-", ".scope/container"), ("/libpod-", ""),
    ("/libpod-payload-", ".scope"), ("/libpod-payload-", ".scope/container"), ("/libpod-payload-", ""),
    ("/", ""), ("/docker-", ".scope"),
    ("/crio-", ""), ("/cri-containerd-", ".scope"), ("/crio-", ".scope"), (":cri-containerd:", ""),
    ("/nerdctl-", ".scope"),
)  # fmt: skip
# containerd without systemd: /<namespace>/<id> with a free-form id.
_CONTAINERD_NS = re.compile(r"/([A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*)/")
_SYSTEMD_UNITS = (".service", ".slice", ".scope")


def _match(cgroup: str, prefix: str, suffix: str, containerd: bool = False) -> str | None:
    """The id if ``cgroup`` ends with ``prefix<id>suffix`` (upstream's match_one_container_id)."""
    start = cgroup.rfind(prefix)
    if start < 0:
        return None
    start += len(prefix)
    if suffix:
        end = cgroup.rfind(suffix)
        if end < 0:
            return None
    else:
        end = len(cgroup)
    length = end - start
    if length == _ID_LEN and all(c in _HEX for c in cgroup[start:end]):
        return cgroup[start:start + _REPORTED_LEN]
    if length <= 0 or length > _ID_LEN:
        return None
    if containerd and not cgroup.endswith(_SYSTEMD_UNITS):
        return cgroup[start:start + min(length, _REPORTED_LEN)]
    return None


@lru_cache(maxsize=4096)
def container_id_from_cgroup(cgroup: str) -> str | None:
    """The container id one cgroup path names, or None."""
    for prefix, suffix in _LAYOUTS:
        cid = _match(cgroup, prefix, suffix)
        if cid is not None:
            return cid
    m = _CONTAINERD_NS.search(cgroup)
    if m is not None:
        return _match(cgroup, m.group(0), "", containerd=True)
    return None


def container_id(cgroups: tuple[tuple[str, str], ...]) -> str:
    """The container id of a thread from its ``(subsystem, path)`` cgroups; HOST_ID if none matches."""
    for _subsys, path in cgroups:
        cid = container_id_from_cgroup(path)
        if cid is not None:
            return cid
    return HOST_ID
