// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* Test probe for pybpf: on sys_enter of one process (cfg.pid), write a record to
 * `events` (cfg.mode bit 0) and/or alternately to the two ring buffers held by
 * the array-of-maps `rings` (cfg.mode bit 1), so merged reads can be checked. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct record {
	__u64 ts;
	__u32 pid;
	__u32 cpu;
	__s64 id;
	__u64 seq;
};

struct cfg {
	__u32 pid;
	__u32 mode;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cfg);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct ringbuf_map {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
};

struct ringbuf_map rb0 SEC(".maps");
struct ringbuf_map rb1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct ringbuf_map);
} rings SEC(".maps");

__u64 seq;

SEC("tp_btf/sys_enter")
int BPF_PROG(pybpf_records, struct pt_regs *regs, long id)
{
	__u32 zero = 0;
	struct cfg *c = bpf_map_lookup_elem(&cfg, &zero);
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (!c || pid != c->pid)
		return 0;
	struct record r = {
		.ts = bpf_ktime_get_ns(),
		.pid = pid,
		.cpu = bpf_get_smp_processor_id(),
		.id = id,
		.seq = __sync_fetch_and_add(&seq, 1),
	};
	if (c->mode & 1)
		bpf_ringbuf_output(&events, &r, sizeof(r), 0);
	if (c->mode & 2) {
		__u32 idx = r.seq & 1;
		void *rb = bpf_map_lookup_elem(&rings, &idx);
		if (rb)
			bpf_ringbuf_output(rb, &r, sizeof(r), 0);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
