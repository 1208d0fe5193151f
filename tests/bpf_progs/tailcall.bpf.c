// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* Test probe for pybpf prog arrays: pybpf_tail_ent tail-calls jmp[0]; counts[1]
 * counts fall-throughs (empty slot), counts[2] runs of the tail-called program.
 * counts[0] holds the pid to watch. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} jmp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void bump(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline int watched(void)
{
	__u32 k = 0;
	__u64 *pid = bpf_map_lookup_elem(&counts, &k);
	return pid && *pid == (bpf_get_current_pid_tgid() >> 32);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(pybpf_tail_tgt, struct pt_regs *regs, long id)
{
	bump(2);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(pybpf_tail_ent, struct pt_regs *regs, long id)
{
	if (!watched())
		return 0;
	bpf_tail_call(ctx, &jmp, 0);
	bump(1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
