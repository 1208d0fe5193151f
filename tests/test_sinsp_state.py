"""State helpers: container ids from cgroup paths, path normalization, the thread
table's structure (sharing, reparenting, limits) and the users/groups tables."""

from __future__ import annotations

import pytest

from libscap.savefile import GroupInfo, UserInfo

from libsinsp.containers import HOST_ID, container_id, container_id_from_cgroup
from libsinsp.parsers import concatenate_paths
from libsinsp.threadinfo import ThreadInfo
from libsinsp.threadtable import ThreadTable
from libsinsp.users import GroupTable, UserTable

ID64 = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"


@pytest.mark.parametrize("cgroup, expected", [
    (f"/docker/{ID64}", ID64[:12]),
    (f"/system.slice/docker-{ID64}.scope", ID64[:12]),
    (f"/kubepods/besteffort/pod1/crio-{ID64}", ID64[:12]),
    (f"/kubepods.slice/kubepods-pod1.slice/cri-containerd-{ID64}.scope", ID64[:12]),
    (f"/kubepods/pod1:cri-containerd:{ID64}", ID64[:12]),
    (f"/machine.slice/libpod-{ID64}.scope/container", ID64[:12]),
    (f"/user.slice/user-1000.slice/user@1000.service/libpod-{ID64}.scope", ID64[:12]),
    ("/default/my-container", "my-container"),  # containerd namespace, free-form id
    ("/user.slice/user-1000.slice/session-1.scope", None),
    ("/system.slice/ssh.service", None),
    ("/", None),
])
def test_container_ids_from_cgroups(cgroup, expected):
    assert container_id_from_cgroup(cgroup) == expected


def test_container_id_of_a_thread_or_host():
    assert container_id((("cpuset", "/"), ("cpu", f"/docker/{ID64}"))) == ID64[:12]
    assert container_id((("cpu", "/user.slice"),)) == HOST_ID == "host"


@pytest.mark.parametrize("base, path, expected", [
    ("/home/u/", "a.txt", "/home/u/a.txt"),
    ("/home/u/", "../../../etc/./passwd", "/etc/passwd"),
    ("/home/u/", "/abs//dir/", "/abs/dir"),
    ("/", "..", "/"),
    ("/a/", ".", "/a"),
    ("", "foo/../a", "a"),
    ("/a/", "...", "/a/..."),
    ("/a/", "", ""),
    ("/x/", "/etc/ld.so.cache", "/etc/ld.so.cache"),  # already normal: returned as is
    ("/x/", "/a/.hidden/.b", "/a/.hidden/.b"),
    ("/x/", "/a/b/..", "/a"),
    ("/x/", "/a/b/.", "/a/b"),
    ("/x/", "/a/b/", "/a/b"),
    ("/x/", "/", "/"),
    ("/" + "x" * 4096, "y", "/DIR_TOO_LONG/FILENAME_TOO_LONG"),
])
def test_concatenate_paths_as_upstream(base, path, expected):
    assert concatenate_paths(base, path) == expected


def test_threads_share_the_leader_fd_table_and_cwd():
    table = ThreadTable()
    leader = ThreadInfo(10, 10, 1)
    leader.set_cwd("/tmp")
    table.add(leader)
    thread = ThreadInfo(11, 10, 1)
    table.add(thread)
    assert thread.fdtable is leader.fdtable and thread.get_cwd() == "/tmp/"
    assert table.thread_count(10) == 2 and table.main_thread(thread) is leader


def test_remove_reparents_to_ancestor_and_keeps_leader_while_threads_live():
    table = ThreadTable()
    for tid, pid, ptid in [(1, 1, 0), (10, 10, 1), (11, 10, 1), (20, 20, 10)]:
        table.add(ThreadInfo(tid, pid, ptid))
    table.remove(10)  # the leader: thread 11 still lives
    assert table.get(10) is not None and table.get(10).dead
    assert table.get(20).ptid == 11  # another live thread of the process adopts the child
    table.remove(11)
    assert table.get(10) is None and table.get(11) is None
    assert table.get(20).ptid == 1 and 20 in table.get(1).children
    assert [a.tid for a in table.ancestors(table.get(20))] == [1]


def test_ancestors_stop_on_loops():
    table = ThreadTable()
    table.add(ThreadInfo(5, 5, 6))
    table.add(ThreadInfo(6, 6, 5))
    assert [a.tid for a in table.ancestors(table.get(5))] == [6]


def test_table_limit_and_bad_size():
    table = ThreadTable(max_size=1)
    assert table.add(ThreadInfo(1)) and not table.add(ThreadInfo(2)) and table.failed_adds == 1
    with pytest.raises(ValueError, match="at least one"):
        ThreadTable(max_size=0)


def test_users_and_groups():
    users = UserTable([UserInfo(0, 0, "root", "/root", "/bin/bash")])
    groups = GroupTable([GroupInfo(0, "root")])
    assert (users.get(0).name, users.get(0).homedir, users.get(0).shell) == ("root", "/root", "/bin/bash")
    assert groups.get(0).name == "root" and users.get(1) is None
    users.replace([UserInfo(1, 1, "daemon")])
    assert users.get(0) is None and len(users) == 1
