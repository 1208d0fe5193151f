// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* Test probe for pybpf attach kinds: each program counts the watched pid's
 * getppid() calls (raw syscall id or dedicated hook) into hits[its index].
 * hits[0] holds the pid to watch. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

/* Not used by the programs: user-space map operation tests. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} kv SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

static __always_inline void hit(__u32 k)
{
	__u32 zero = 0;
	__u64 *pid = bpf_map_lookup_elem(&hits, &zero);
	__u64 *v = bpf_map_lookup_elem(&hits, &k);

	if (pid && v && *pid == (bpf_get_current_pid_tgid() >> 32))
		__sync_fetch_and_add(v, 1);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(pybpf_tp_btf, struct pt_regs *regs, long id)
{
	if (id == GETPPID_NR)
		hit(1);
	return 0;
}

SEC("raw_tp/sys_enter")
int pybpf_raw_tp(struct bpf_raw_tracepoint_args *args)
{
	if (args->args[1] == GETPPID_NR)
		hit(2);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int pybpf_tracepoint(void *args)
{
	hit(3);
	return 0;
}

SEC("kprobe")
int pybpf_kprobe(struct pt_regs *regs)
{
	hit(4);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
