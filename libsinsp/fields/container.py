"""container.* and k8s.*: what can be known about a container without asking its runtime.

In current Falco these fields come from the container plugin. Without a runtime
connection only the id (from the cgroup paths, see libsinsp.containers) is
known; for host processes the plugin reports ``host`` as id, name and type.
Every other field is registered with its upstream name and type, so rules using
it load, and answers "missing" (``<NA>``) for container processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from libsinsp.containers import HOST_ID
from libsinsp.fields import readers
from libsinsp.fields.registry import FieldClass, spec
from libsinsp.filter.fields import ArgRule

if TYPE_CHECKING:
    from libsinsp.event import SinspEvent


def container_id(sevt: "SinspEvent") -> str | None:
    t = sevt.tinfo
    if t is None:
        return None
    return t.container_id or HOST_ID


def _host_only(sevt: "SinspEvent") -> str | None:
    """``host`` for host processes; unknown for containers (needs the runtime)."""
    return HOST_ID if container_id(sevt) == HOST_ID else None


def _unknown(sevt: "SinspEvent") -> None:
    return None


def _C(name: str, ptype: str, desc: str, fn: Callable[["SinspEvent"], Any] = _unknown, cls: str = "container",
       **kw: Any):  # noqa: N802
    return spec(cls, name, ptype, desc, lambda arg: fn, **kw)


_KEY = dict(arg=ArgRule.REQUIRED_KEY)
_IDX_KEY = dict(arg=ArgRule.REQUIRED_INDEX_OR_KEY)

CONTAINER = FieldClass("container", "Container of the process (id from cgroups; the rest needs a runtime).", (
    _C("container.id", "CHARBUF", "container id (12 characters) from the cgroups; 'host' for host processes",
       readers.thread_attr(container_id, "container_id", HOST_ID)),
    _C("container.full_id", "CHARBUF", "full container id (from the runtime)"),
    _C("container.name", "CHARBUF", "container name; 'host' for host processes", _host_only),
    _C("container.image", "CHARBUF", "container image name (e.g. falcosecurity/falco:latest)"),
    _C("container.image.id", "CHARBUF", "container image id"),
    _C("container.type", "CHARBUF", "container type (docker, cri-o, containerd...)", _host_only),
    _C("container.privileged", "BOOL", "true for privileged containers"),
    _C("container.mounts", "CHARBUF", "mounts as source:dest:mode:rdrw:propagation, space separated"),
    _C("container.mount", "CHARBUF", "one mount, by index or source", **_IDX_KEY),
    _C("container.mount.source", "CHARBUF", "mount source, by index or destination", **_IDX_KEY),
    _C("container.mount.dest", "CHARBUF", "mount destination, by index or source", **_IDX_KEY),
    _C("container.mount.mode", "CHARBUF", "mount mode, by index or source", **_IDX_KEY),
    _C("container.mount.rdwr", "CHARBUF", "mount read/write flag, by index or source", **_IDX_KEY),
    _C("container.mount.propagation", "CHARBUF", "mount propagation, by index or source", **_IDX_KEY),
    _C("container.image.repository", "CHARBUF", "container image repository (e.g. falcosecurity/falco)"),
    _C("container.image.tag", "CHARBUF", "container image tag"),
    _C("container.image.digest", "CHARBUF", "container image registry digest"),
    _C("container.healthcheck", "CHARBUF", "container health check command"),
    _C("container.liveness_probe", "CHARBUF", "container liveness probe command"),
    _C("container.readiness_probe", "CHARBUF", "container readiness probe command"),
    _C("container.start_ts", "ABSTIME", "container start time (ns since the epoch)", fmt="DEC"),
    _C("container.duration", "RELTIME", "ns since the container started", fmt="DEC"),
    _C("container.ip", "CHARBUF", "container IP address"),
    _C("container.cni.json", "CHARBUF", "CNI result of the container, as JSON"),
    _C("container.host_pid", "BOOL", "true when the container shares the host pid namespace"),
    _C("container.host_network", "BOOL", "true when the container shares the host network namespace"),
    _C("container.host_ipc", "BOOL", "true when the container shares the host IPC namespace"),
    _C("container.label", "CHARBUF", "one container label (container.label.foo)", **_KEY),
    _C("container.labels", "CHARBUF", "container labels as key:value, comma separated"),
))  # fmt: skip

K8S = FieldClass("k8s", "Kubernetes metadata of the container (needs a runtime).", tuple(
    _C(name, "CHARBUF", desc, cls="k8s", **kw) for name, desc, kw in (
        ("k8s.pod.name", "pod name", {}), ("k8s.ns.name", "namespace name", {}),
        ("k8s.pod.id", "pod id (deprecated alias of k8s.pod.uid)", {}), ("k8s.pod.uid", "pod UID", {}),
        ("k8s.pod.sandbox_id", "pod sandbox id (12 characters)", {}),
        ("k8s.pod.full_sandbox_id", "full pod sandbox id", {}),
        ("k8s.pod.label", "one pod label (k8s.pod.label.foo)", _KEY),
        ("k8s.pod.labels", "pod labels as key:value, comma separated", {}),
        ("k8s.pod.ip", "pod IP address", {}), ("k8s.pod.cni.json", "pod CNI result, as JSON", {}),
    )
))  # fmt: skip

CLASSES = (CONTAINER, K8S)
