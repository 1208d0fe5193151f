"""Calls that change a process's credentials, directory or name: set*uid/set*gid
(the effective id, as upstream's set_evt_thread_user/group), chdir/fchdir/getcwd,
chroot, setsid, capset, unshare/setns with CLONE_NEWUSER (full capabilities in
the new user namespace), prctl(PR_SET_NAME) (which upstream does not track;
comm then shows the new name, as /proc does)."""

from __future__ import annotations

from libscap.schema import FLAG_TABLES, PPME

from libsinsp.parsers._common import concatenate_paths, param

CL_CLONE_NEWUSER = dict(FLAG_TABLES["clone_flags"])["CLONE_NEWUSER"]
PR_SET_NAME = dict(FLAG_TABLES["prctl_options"])["PR_SET_NAME"]
TASK_COMM_LEN = 16


def _max_caps() -> int:
    """Every capability the running kernel knows (upstream's get_max_caps)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 40  # CAP_CHECKPOINT_RESTORE, the last one as of Linux 5.9+
    return (1 << (last + 1)) - 1


MAX_CAPS = _max_caps()


def _ok(sevt) -> bool:
    """The call succeeded (res == 0) and the thread is known."""
    return sevt.tinfo is not None and param(sevt.evt, 0) == 0


def _id_setter(index: int, real: str, effective: str):
    """A set*uid/set*gid exit: param `index` (the effective id), when the call
    succeeded, into the thread's `real` and `effective` id attributes."""
    def parse_setid_family_exit(insp, sevt) -> None:
        if _ok(sevt):
            eid = param(sevt.evt, index)
            if eid is not None:
                setattr(sevt.tinfo, effective, eid)
                setattr(sevt.tinfo, real, eid)
    return parse_setid_family_exit


def _update_cwd(t, path: str) -> None:
    t.set_cwd(concatenate_paths(t.get_cwd(), path))


def parse_chdir_exit(insp, sevt) -> None:
    res = param(sevt.evt, 0)
    path = param(sevt.evt, 1)
    if sevt.tinfo is not None and res is not None and res >= 0 and path is not None:
        _update_cwd(sevt.tinfo, path)


def parse_fchdir_exit(insp, sevt) -> None:
    res = param(sevt.evt, 0)
    fdi = sevt.fdinfo
    if sevt.tinfo is not None and res is not None and res >= 0 and fdi is not None:
        _update_cwd(sevt.tinfo, fdi.name)


def parse_chroot_exit(insp, sevt) -> None:
    path = param(sevt.evt, 1)
    if _ok(sevt) and path:
        sevt.tinfo.root = path


def parse_setsid_exit(insp, sevt) -> None:
    res = param(sevt.evt, 0)
    if sevt.tinfo is not None and res is not None and res >= 0:
        sevt.tinfo.sid = res


def parse_capset_exit(insp, sevt) -> None:
    res = param(sevt.evt, 0)
    t = sevt.tinfo
    if t is None or res is None or res < 0:
        return
    evt = sevt.evt
    t.cap_inheritable = param(evt, 1) or 0
    t.cap_permitted = param(evt, 2) or 0
    t.cap_effective = param(evt, 3) or 0


def parse_unshare_setns_exit(insp, sevt) -> None:
    res = param(sevt.evt, 0)
    t = sevt.tinfo
    if t is None or res is None or res < 0:
        return
    idx = 1 if sevt.evt[5] == PPME.SYSCALL_UNSHARE_X else 2
    if (param(sevt.evt, idx) or 0) & CL_CLONE_NEWUSER:
        t.cap_inheritable = t.cap_permitted = t.cap_effective = MAX_CAPS


def parse_prctl_exit(insp, sevt) -> None:
    res = param(sevt.evt, 0)
    t = sevt.tinfo
    if t is None or res is None or res < 0 or param(sevt.evt, 1) != PR_SET_NAME:
        return
    name = param(sevt.evt, 2)
    if name is not None:
        t.comm = name[:TASK_COMM_LEN - 1]


PARSERS = {
    PPME.SYSCALL_SETUID_X: _id_setter(1, "uid", "euid"),
    PPME.SYSCALL_SETREUID_X: _id_setter(2, "uid", "euid"),
    PPME.SYSCALL_SETRESUID_X: _id_setter(2, "uid", "euid"),
    PPME.SYSCALL_SETGID_X: _id_setter(1, "gid", "egid"),
    PPME.SYSCALL_SETREGID_X: _id_setter(2, "gid", "egid"),
    PPME.SYSCALL_SETRESGID_X: _id_setter(2, "gid", "egid"),
    PPME.SYSCALL_CHDIR_X: parse_chdir_exit,
    PPME.SYSCALL_FCHDIR_X: parse_fchdir_exit,
    PPME.SYSCALL_GETCWD_X: parse_chdir_exit,
    PPME.SYSCALL_CHROOT_X: parse_chroot_exit,
    PPME.SYSCALL_SETSID_X: parse_setsid_exit,
    PPME.SYSCALL_CAPSET_X: parse_capset_exit,
    PPME.SYSCALL_UNSHARE_X: parse_unshare_setns_exit,
    PPME.SYSCALL_SETNS_X: parse_unshare_setns_exit,
    PPME.SYSCALL_PRCTL_X: parse_prctl_exit,
}
