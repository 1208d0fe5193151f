"""ThreadInfo: what libsinsp knows about one thread (the thread table's rows).

This is the contract between the parsers (which fill it) and the field classes
(which read it). Attribute names follow upstream's ``sinsp_threadinfo``. Values
that belong to the whole process (fd table, cwd) live in objects shared by every
thread of the process, as upstream keeps them on the main thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from libsinsp.fdinfo import FdInfo


class ThreadInfo:
    """One thread. Defaults are upstream's "unknown" values.

    * ids: ``tid``, ``pid`` (thread group leader), ``ptid`` (parent tid, -1 unknown),
      ``sid``, ``pgid``, ``vpgid``, ``vtid``, ``vpid`` (namespace-local ids, -1 unknown);
    * image: ``comm`` (task name), ``exe`` (argv[0] as given to exec), ``exepath``
      (resolved executable path), ``args`` (tuple of argv[1:]), ``env`` (tuple of
      "K=V"), ``fdlimit``, ``flags`` (PPM_CL_* clone/exec flags from the event);
    * credentials: ``uid``, ``gid``, ``euid``, ``egid``, ``loginuid`` (0xFFFFFFFF
      unknown, reported as -1 by fields as upstream does), ``cap_permitted``,
      ``cap_effective``, ``cap_inheritable`` (bit masks);
    * ``cgroups``: tuple of ``(subsystem, path)``; ``container_id`` ("" for host);
    * ``tty`` (device number, 0 none), ``clone_ts`` (ns, when created),
      ``lastexec_ts`` (ns of the last successful exec, 0 none),
      ``pidns_init_start_ts``;
    * executable file: ``exe_ino``, ``exe_ino_ctime``, ``exe_ino_mtime``,
      ``exe_writable``, ``exe_upper_layer``, ``exe_lower_layer``, ``exe_from_memfd``;
    * memory: ``vmsize_kb``, ``vmrss_kb``, ``vmswap_kb``, ``pfmajor``, ``pfminor``;
    * ``fdtable``: dict fd -> FdInfo, the same dict object for every thread
      that shares the fd table (threads of a process, CLONE_FILES);
    * ``cwd``: read through ``get_cwd()``/``set_cwd()`` because it is shared by
      the threads of a process (kept in ``_fs``, a one-element list shared like
      the fd table); always ends with "/" as upstream's;
    * ``dead``: set when procexit was seen (the row may stay while children
      reference it);
    * ``root``: the process root directory ("/" normally);
    * ``children``: tids of the threads whose ``ptid`` is this thread (kept by
      the thread table; children are reparented when this thread is removed);
    * ``reaper_tid``: the reaper procexit named (-1 unknown, 0 none);
    * ``lastaccess_ts``: ns of the last event of this thread (for pruning).

    A placeholder for a thread first seen in an event without a table entry
    has ``pid`` -1, ``comm``/``exe`` "<NA>" and uid/gid/loginuid 0xFFFFFFFF
    (``is_invalid``), as upstream's.
    """

    __slots__ = (
        "tid", "pid", "ptid", "sid", "pgid", "vpgid", "vtid", "vpid",
        "comm", "exe", "exepath", "args", "env", "fdlimit", "flags",
        "uid", "gid", "euid", "egid", "loginuid",
        "cap_permitted", "cap_effective", "cap_inheritable",
        "cgroups", "container_id", "tty", "clone_ts", "lastexec_ts", "pidns_init_start_ts",
        "exe_ino", "exe_ino_ctime", "exe_ino_mtime", "exe_writable", "exe_upper_layer",
        "exe_lower_layer", "exe_from_memfd",
        "vmsize_kb", "vmrss_kb", "vmswap_kb", "pfmajor", "pfminor",
        "fdtable", "_fs", "dead", "root", "children", "reaper_tid", "lastaccess_ts",
    )  # fmt: skip

    def __init__(self, tid: int, pid: int | None = None, ptid: int = -1) -> None:
        self.tid = tid
        self.pid = tid if pid is None else pid
        self.ptid = ptid
        self.sid = self.pgid = self.vpgid = self.vtid = self.vpid = -1
        self.comm = self.exe = self.exepath = ""
        self.args: tuple[str, ...] = ()
        self.env: tuple[str, ...] = ()
        self.fdlimit = self.flags = 0
        self.uid = self.gid = self.euid = self.egid = 0
        self.loginuid = 0xFFFFFFFF
        self.cap_permitted = self.cap_effective = self.cap_inheritable = 0
        self.cgroups: tuple[tuple[str, str], ...] = ()
        self.container_id = ""
        self.tty = self.clone_ts = self.lastexec_ts = self.pidns_init_start_ts = 0
        self.exe_ino = self.exe_ino_ctime = self.exe_ino_mtime = 0
        self.exe_writable = self.exe_upper_layer = self.exe_lower_layer = self.exe_from_memfd = False
        self.vmsize_kb = self.vmrss_kb = self.vmswap_kb = self.pfmajor = self.pfminor = 0
        self.fdtable: dict[int, FdInfo] = {}
        self._fs: list[str] = ["/"]
        self.dead = False
        self.root = "/"
        self.children: set[int] = set()
        self.reaper_tid = -1
        self.lastaccess_ts = 0

    @property
    def is_invalid(self) -> bool:
        """A placeholder (or a thread whose ids are unknown), as upstream's is_invalid()."""
        return self.tid < 0 or self.pid < 0 or self.ptid < 0

    def get_cwd(self) -> str:
        return self._fs[0]

    def set_cwd(self, path: str) -> None:
        self._fs[0] = path if path.endswith("/") else path + "/"

    def __repr__(self) -> str:
        return f"ThreadInfo(tid={self.tid}, pid={self.pid}, ptid={self.ptid}, comm={self.comm!r})"
