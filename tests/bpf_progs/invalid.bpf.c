// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* Test probe for pybpf load errors: pybpf_invalid dereferences a map lookup
 * result without the NULL check the verifier demands; pybpf_valid is correct. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* A hash map: the verifier knows constant-key array lookups cannot fail. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vals SEC(".maps");

SEC("tp_btf/sys_enter")
int BPF_PROG(pybpf_invalid, struct pt_regs *regs, long id)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&vals, &k);

	*v += 1;
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(pybpf_valid, struct pt_regs *regs, long id)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&vals, &k);

	if (v)
		*v += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
