// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * falco-py modern probe: a CO-RE eBPF object (clang -target bpf, types from the
 * running kernel's BTF) that writes PPM wire-format exit events into BPF ring
 * buffers. libscap/engine/modern_bpf.py loads it.
 *
 * Flow: tp_btf/sys_enter saves the syscall arguments of interesting syscalls in
 * a per-thread map (so the exit event can carry entry-time values);
 * tp_btf/sys_exit tail-calls exit_progs[nr] (a small per-syscall program), or
 * emits the generic event when no program is registered for nr.
 * tp_btf/sched_process_exit emits procexit and forgets the thread.
 *
 * Adding a syscall: write `SEC("tp_btf/sys_exit") int BPF_PROG(<name>_x, ...)`
 * that fills the exit event's parameters in table order, and register it in
 * libscap/engine/modern_bpf.py (EXIT_PROGRAMS).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "ppm_events_gen.h"

#define SYSCALL_TABLE_SIZE 512
#define MAX_RINGS 16
/* Event scratch space: parameters are written at offsets masked to HALF - 1 and
 * no single write exceeds MAX_WRITE, so every access is provably in bounds. */
#define SCRATCH_SIZE (16 * 1024)
#define HALF (SCRATCH_SIZE / 2)
#define SAFE(off) ((off) & (HALF - 1))
#define MAX_WRITE 4096
#define MAX_PATH 4096
#define MAX_EXE 1024
#define MAX_ARGS 4096
#define TASK_COMM_LEN 16
#define PPM_AT_FDCWD -100

/* uapi values: the probe needs no kernel headers, only BTF types. */
#define AT_FDCWD -100
#define O_ACCMODE 00000003
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_EXCL 00000200
#define O_TRUNC 00001000
#define O_APPEND 00002000
#define O_NONBLOCK 00004000
#define O_DSYNC 00010000
#define O_DIRECT 00040000
#define O_LARGEFILE 00100000
#define O_DIRECTORY 00200000
#define O_CLOEXEC 02000000
#define __O_SYNC 04000000
#define O_TMPFILE (020000000 | O_DIRECTORY)
#define FMODE_CREATED 0x100000
#define AF_INET 2
#define AF_INET6 10
#define MINORBITS 20

/* Saved at sys_enter, read by the exit program of the same thread. */
struct syscall_args {
	__u64 nr;
	__u64 a[6];
};

/* The state of the event being built on this CPU. */
struct scratch {
	__u8 data[SCRATCH_SIZE];
	__u64 pos;     /* next payload byte */
	__u64 len_pos; /* next u16 parameter length */
};

/* Per-CPU counters, read by user space (ModernBpfEngine.stats()). */
struct counters {
	__u64 events;
	__u64 drops_buffer_full; /* the ring buffer had no room */
	__u64 drops_too_large;   /* the event outgrew the scratch space */
	__u64 drops_no_ring;     /* no ring buffer is assigned to this CPU */
};

/* Set by user space: the epoch time of boot, so event times are epoch ns. */
struct settings {
	__u64 boot_time;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct settings);
} settings_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SYSCALL_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u8);
} interesting_syscalls SEC(".maps");

/* Native syscall nr -> ppm_sc code, for the generic event. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SYSCALL_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u16);
} ppm_sc_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SYSCALL_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} exit_progs SEC(".maps");

/* LRU so that a thread we never saw exit cannot fill the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct syscall_args);
} thread_args SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters_map SEC(".maps");

struct ringbuf_map {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096); /* resized by user space before load */
};

/* Ring buffers rb0..rb15 (user space sizes the ones it uses); rings[cpu] says
 * which one a CPU writes to, so several CPUs can share a buffer. */
struct ringbuf_map rb0 SEC(".maps"), rb1 SEC(".maps"), rb2 SEC(".maps"), rb3 SEC(".maps"),
	rb4 SEC(".maps"), rb5 SEC(".maps"), rb6 SEC(".maps"), rb7 SEC(".maps"),
	rb8 SEC(".maps"), rb9 SEC(".maps"), rb10 SEC(".maps"), rb11 SEC(".maps"),
	rb12 SEC(".maps"), rb13 SEC(".maps"), rb14 SEC(".maps"), rb15 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* set to the number of possible CPUs by user space */
	__type(key, __u32);
	__array(values, struct ringbuf_map);
} rings SEC(".maps");

/* ------------------------------------------------------------------------ */
/* Event building                                                           */

static __always_inline struct scratch *scratch_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch_map, &zero);
}

static __always_inline struct counters *counters_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&counters_map, &zero);
}

static __always_inline struct scratch *ev_begin(__u16 type, __u32 nparams)
{
	struct scratch *s = scratch_get();
	__u32 zero = 0;
	struct settings *cfg = bpf_map_lookup_elem(&settings_map, &zero);
	if (!s || !cfg)
		return NULL;
	__u64 ts = cfg->boot_time + bpf_ktime_get_boot_ns();
	__u64 tid = (__u32)bpf_get_current_pid_tgid();
	__builtin_memcpy(&s->data[0], &ts, 8);
	__builtin_memcpy(&s->data[8], &tid, 8);
	__builtin_memcpy(&s->data[20], &type, 2);
	__builtin_memcpy(&s->data[22], &nparams, 4);
	s->len_pos = PPM_EVENT_HEADER_LEN;
	s->pos = PPM_EVENT_HEADER_LEN + 2 * nparams;
	return s;
}

static __always_inline void push_len(struct scratch *s, __u16 len)
{
	__builtin_memcpy(&s->data[SAFE(s->len_pos)], &len, 2);
	s->len_pos += 2;
}

#define DEFINE_PUSH(name, ctype)                                               \
	static __always_inline void name(struct scratch *s, ctype v)               \
	{                                                                          \
		__builtin_memcpy(&s->data[SAFE(s->pos)], &v, sizeof(v));             \
		s->pos += sizeof(v);                                                   \
		push_len(s, sizeof(v));                                                \
	}
DEFINE_PUSH(push_u8, __u8)
DEFINE_PUSH(push_u32, __u32)
DEFINE_PUSH(push_u64, __u64)
DEFINE_PUSH(push_s64, __s64)

static __always_inline void push_empty(struct scratch *s)
{
	push_len(s, 0);
}

/* A NUL-terminated string from user or kernel memory; empty if unreadable. */
static __always_inline void push_str(struct scratch *s, const void *ptr, __u32 max, bool user)
{
	long n;
	if (max > MAX_WRITE)
		max = MAX_WRITE;
	if (user)
		n = bpf_probe_read_user_str(&s->data[SAFE(s->pos)], max, ptr);
	else
		n = bpf_probe_read_kernel_str(&s->data[SAFE(s->pos)], max, ptr);
	if (n < 0)
		n = 0;
	s->pos += n;
	push_len(s, n);
}

/* Raw bytes from user memory; empty if unreadable. */
static __always_inline void push_user_bytes(struct scratch *s, const void *ptr, __u64 n)
{
	if (n > MAX_WRITE)
		n = MAX_WRITE;
	if (n == 0 || bpf_probe_read_user(&s->data[SAFE(s->pos)], n, ptr)) {
		push_len(s, 0);
		return;
	}
	s->pos += n;
	push_len(s, n);
}

static __always_inline void ev_submit(struct scratch *s)
{
	struct counters *c = counters_get();
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 len = s->pos;
	void *rb;

	if (!c)
		return;
	if (len > HALF) {
		c->drops_too_large++;
		return;
	}
	__u32 len32 = len;
	__builtin_memcpy(&s->data[16], &len32, 4);
	rb = bpf_map_lookup_elem(&rings, &cpu);
	if (!rb) {
		c->drops_no_ring++;
		return;
	}
	if (bpf_ringbuf_output(rb, s->data, len, 0))
		c->drops_buffer_full++;
	else
		c->events++;
}

/* ------------------------------------------------------------------------ */
/* Kernel data                                                              */

static __always_inline long syscall_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return regs->orig_ax;
#elif defined(__TARGET_ARCH_arm64)
	return regs->syscallno;
#else
#error "syscall_nr: unsupported architecture"
#endif
}

/* The arguments this thread passed to syscall nr at entry, or NULL (e.g. in a
 * new child, which returns from a syscall it never entered). */
/* Syscall arguments from the user registers (the tp_btf pointer is trusted). */
#if defined(__TARGET_ARCH_x86)
#define SYSCALL_ARGS(r) {r->di, r->si, r->dx, r->r10, r->r8, r->r9}
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_ARGS(r) {r->orig_x0, r->regs[1], r->regs[2], r->regs[3], r->regs[4], r->regs[5]}
#endif

static __always_inline struct syscall_args *saved_args(struct pt_regs *regs)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct syscall_args *a = bpf_map_lookup_elem(&thread_args, &tid);
	return a && a->nr == (__u64)syscall_nr(regs) ? a : NULL;
}

static __always_inline __u64 arg(struct syscall_args *a, int i)
{
	return a ? a->a[i] : 0;
}

static __always_inline struct file *fd_to_file(struct task_struct *task, long fd)
{
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	struct file *f = NULL;
	if (fd < 0 || !fds)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* The dev_t encoding user space sees (glibc makedev for 12-bit majors). */
static __always_inline __u32 encode_dev(__u32 dev)
{
	__u32 major = dev >> MINORBITS, minor = dev & ((1U << MINORBITS) - 1);
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

static __always_inline __u32 open_flags_to_ppm(__u32 flags)
{
	__u32 res;
	switch (flags & O_ACCMODE) {
	case O_WRONLY: res = PPM_O_WRONLY; break;
	case O_RDWR: res = PPM_O_RDWR; break;
	default: res = PPM_O_RDONLY; break;
	}
	if (flags & O_CREAT) res |= PPM_O_CREAT;
	if ((flags & O_TMPFILE) == O_TMPFILE) res |= PPM_O_TMPFILE;
	if (flags & O_APPEND) res |= PPM_O_APPEND;
	if (flags & O_DSYNC) res |= PPM_O_DSYNC;
	if (flags & O_EXCL) res |= PPM_O_EXCL;
	if (flags & O_NONBLOCK) res |= PPM_O_NONBLOCK;
	if (flags & __O_SYNC) res |= PPM_O_SYNC;
	if (flags & O_TRUNC) res |= PPM_O_TRUNC;
	if (flags & O_DIRECT) res |= PPM_O_DIRECT;
	if (flags & O_DIRECTORY) res |= PPM_O_DIRECTORY;
	if (flags & O_LARGEFILE) res |= PPM_O_LARGEFILE;
	if (flags & O_CLOEXEC) res |= PPM_O_CLOEXEC;
	return res;
}

/* The mode bits mean something only when the call may create the file; the
 * PPM_S_I* values equal the POSIX permission bits. */
static __always_inline __u32 open_mode_to_ppm(__u32 flags, __u32 mode)
{
	if (!(flags & (O_CREAT | O_TMPFILE)))
		return 0;
	return mode & 07777;
}

/* The tid/pid/ptid triple shared by execve and the clone family. */
static __always_inline void push_ids(struct scratch *s, struct task_struct *task)
{
	push_s64(s, BPF_CORE_READ(task, pid));
	push_s64(s, BPF_CORE_READ(task, tgid));
	push_s64(s, BPF_CORE_READ(task, real_parent, pid));
}

/* exe (argv[0]) and args (the rest, NUL-separated) from the current image. */
static __always_inline void push_exe_args(struct scratch *s, struct task_struct *task)
{
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	__u64 before = s->pos;

	push_str(s, (const void *)start, MAX_EXE, true);
	__u64 exe_len = s->pos - before;
	if (end <= start + exe_len) {
		push_empty(s);
		return;
	}
	push_user_bytes(s, (const void *)(start + exe_len), end - start - exe_len);
}

/* ------------------------------------------------------------------------ */
/* Dispatchers                                                              */

static __always_inline bool interesting(long nr)
{
	__u32 key = nr;
	__u8 *on;
	if (nr < 0 || nr >= SYSCALL_TABLE_SIZE)
		return false;
	on = bpf_map_lookup_elem(&interesting_syscalls, &key);
	return on && *on;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	if (!interesting(id))
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct syscall_args a = {
		.nr = id,
		.a = SYSCALL_ARGS(regs),
	};
	bpf_map_update_elem(&thread_args, &tid, &a, BPF_ANY);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	long nr = syscall_nr(regs);
	if (!interesting(nr))
		return 0;
	bpf_tail_call(ctx, &exit_progs, nr);

	/* No program for this syscall: the generic event. */
	__u32 key = nr;
	__u16 *sc = bpf_map_lookup_elem(&ppm_sc_table, &key);
	struct scratch *s = ev_begin(PPME_GENERIC_X, 2);
	if (!s)
		return 0;
	__u16 id = sc ? *sc : 0, native = nr;
	__builtin_memcpy(&s->data[SAFE(s->pos)], &id, 2);
	s->pos += 2;
	push_len(s, 2);
	__builtin_memcpy(&s->data[SAFE(s->pos)], &native, 2);
	s->pos += 2;
	push_len(s, 2);
	ev_submit(s);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *task)
{
	__u32 tid = task->pid;
	bpf_map_delete_elem(&thread_args, &tid);

	struct scratch *s = ev_begin(PPME_PROCEXIT_1_E, 5);
	if (!s)
		return 0;
	__s32 code = task->exit_code;
	push_s64(s, code);                       /* status: the raw wait status */
	push_s64(s, (code >> 8) & 0xff);          /* ret: the exit status */
	push_u8(s, code & 0x7f);                  /* sig: the terminating signal */
	push_u8(s, (code & 0x80) ? 1 : 0);        /* core */
	push_s64(s, 0);                           /* reaper_tid: not computed yet */
	ev_submit(s);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Per-syscall exit programs (tail-called through exit_progs)               */

SEC("tp_btf/sys_exit")
int BPF_PROG(openat_x, struct pt_regs *regs, long ret)
{
	struct syscall_args *a = saved_args(regs);
	struct task_struct *task = bpf_get_current_task_btf();
	struct scratch *s = ev_begin(PPME_SYSCALL_OPENAT_2_X, 7);
	__u32 dev = 0, created = 0;
	__u64 ino = 0;

	if (!s)
		return 0;
	if (ret >= 0) {
		struct file *f = fd_to_file(task, ret);
		if (f) {
			dev = encode_dev(BPF_CORE_READ(f, f_inode, i_sb, s_dev));
			ino = BPF_CORE_READ(f, f_inode, i_ino);
			if (BPF_CORE_READ(f, f_mode) & FMODE_CREATED)
				created = PPM_O_F_CREATED;
		}
	}
	__s32 dirfd = arg(a, 0);
	__u32 flags = arg(a, 2);
	push_s64(s, ret);
	push_s64(s, dirfd == AT_FDCWD ? PPM_AT_FDCWD : dirfd);
	push_str(s, (const void *)arg(a, 1), MAX_PATH, true);
	push_u32(s, open_flags_to_ppm(flags) | created);
	push_u32(s, open_mode_to_ppm(flags, arg(a, 3)));
	push_u32(s, dev);
	push_u64(s, ino);
	ev_submit(s);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(close_x, struct pt_regs *regs, long ret)
{
	struct syscall_args *a = saved_args(regs);
	struct scratch *s = ev_begin(PPME_SYSCALL_CLOSE_X, 2);
	if (!s)
		return 0;
	push_s64(s, ret);
	push_s64(s, (__s32)arg(a, 0));
	ev_submit(s);
	return 0;
}

/* execve exit: on success the new image's argv is read from its mm; on failure
 * exe and args are empty. Filled: res, exe, args, tid, pid, ptid, comm; the
 * others are empty (listed in libscap/engine/modern_bpf.py EMPTY_PARAMS). */
SEC("tp_btf/sys_exit")
int BPF_PROG(execve_x, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct scratch *s = ev_begin(PPME_SYSCALL_EXECVE_19_X, 31);
	if (!s)
		return 0;
	push_s64(s, ret);
	if (ret == 0) {
		push_exe_args(s, task);
	} else {
		push_empty(s);
		push_empty(s);
	}
	push_ids(s, task);
	push_empty(s);                          /* cwd: from /proc, as upstream */
	for (int i = 0; i < 6; i++)             /* fdlimit .. vm_swap */
		push_empty(s);
	push_str(s, task->comm, TASK_COMM_LEN, false);
	for (int i = 0; i < 17; i++)            /* cgroups .. filename */
		push_empty(s);
	ev_submit(s);
	return 0;
}

/* clone/fork/vfork/clone3 exit, in the parent (res = child tid) and in the
 * child (res = 0). Filled: res, exe, args, tid, pid, ptid, comm; rest empty. */
static __always_inline int clone_family_x(__u16 type, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct scratch *s = ev_begin(type, 21);
	if (!s)
		return 0;
	push_s64(s, ret);
	push_exe_args(s, task);
	push_ids(s, task);
	for (int i = 0; i < 7; i++)             /* cwd .. vm_swap */
		push_empty(s);
	push_str(s, task->comm, TASK_COMM_LEN, false);
	for (int i = 0; i < 7; i++)             /* cgroups .. pidns_init_start_ts */
		push_empty(s);
	ev_submit(s);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(clone_x, struct pt_regs *regs, long ret)
{
	return clone_family_x(PPME_SYSCALL_CLONE_20_X, ret);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fork_x, struct pt_regs *regs, long ret)
{
	return clone_family_x(PPME_SYSCALL_FORK_20_X, ret);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(vfork_x, struct pt_regs *regs, long ret)
{
	return clone_family_x(PPME_SYSCALL_VFORK_20_X, ret);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(clone3_x, struct pt_regs *regs, long ret)
{
	return clone_family_x(PPME_SYSCALL_CLONE3_X, ret);
}

/* The connection tuple of a socket: local then remote, addresses in network
 * order, ports in host order (as the PPM SOCKTUPLE layout wants). */
static __always_inline void push_socktuple(struct scratch *s, struct task_struct *task, long fd)
{
	struct file *f = fd_to_file(task, fd);
	struct socket *sock = f ? BPF_CORE_READ(f, private_data) : NULL;
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	if (!sk) {
		push_empty(s);
		return;
	}
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__u64 p = SAFE(s->pos);
	if (family == AF_INET) {
		__u32 saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		s->data[p] = PPM_AF_INET;
		__builtin_memcpy(&s->data[SAFE(p + 1)], &saddr, 4);
		__builtin_memcpy(&s->data[SAFE(p + 5)], &sport, 2);
		__builtin_memcpy(&s->data[SAFE(p + 7)], &daddr, 4);
		__builtin_memcpy(&s->data[SAFE(p + 11)], &dport, 2);
		s->pos += 13;
		push_len(s, 13);
	} else if (family == AF_INET6) {
		s->data[p] = PPM_AF_INET6;
		BPF_CORE_READ_INTO(&s->data[SAFE(p + 1)], sk, __sk_common.skc_v6_rcv_saddr);
		__builtin_memcpy(&s->data[SAFE(p + 17)], &sport, 2);
		BPF_CORE_READ_INTO(&s->data[SAFE(p + 19)], sk, __sk_common.skc_v6_daddr);
		__builtin_memcpy(&s->data[SAFE(p + 35)], &dport, 2);
		s->pos += 37;
		push_len(s, 37);
	} else {
		push_empty(s);  /* unix and other families: not yet */
	}
}

/* The sockaddr the caller passed, as PPM SOCKADDR (inet families only). */
static __always_inline void push_sockaddr(struct scratch *s, const void *uaddr, __u32 addrlen)
{
	struct sockaddr_in6 sa = {};
	__u64 p = SAFE(s->pos);
	/* Constant read sizes: the inet4 or the inet6 layout. */
	long err = addrlen >= sizeof(sa) ? bpf_probe_read_user(&sa, sizeof(sa), uaddr)
	                                 : bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), uaddr);
	if (!uaddr || addrlen < sizeof(struct sockaddr_in) || err) {
		push_empty(s);
		return;
	}
	__u16 port = bpf_ntohs(sa.sin6_port);
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;
		s->data[p] = PPM_AF_INET;
		__builtin_memcpy(&s->data[SAFE(p + 1)], &in->sin_addr.s_addr, 4);
		__builtin_memcpy(&s->data[SAFE(p + 5)], &port, 2);
		s->pos += 7;
		push_len(s, 7);
	} else if (sa.sin6_family == AF_INET6 && addrlen >= sizeof(sa)) {
		s->data[p] = PPM_AF_INET6;
		__builtin_memcpy(&s->data[SAFE(p + 1)], &sa.sin6_addr, 16);
		__builtin_memcpy(&s->data[SAFE(p + 17)], &port, 2);
		s->pos += 19;
		push_len(s, 19);
	} else {
		push_empty(s);
	}
}

SEC("tp_btf/sys_exit")
int BPF_PROG(connect_x, struct pt_regs *regs, long ret)
{
	struct syscall_args *a = saved_args(regs);
	struct task_struct *task = bpf_get_current_task_btf();
	struct scratch *s = ev_begin(PPME_SOCKET_CONNECT_X, 4);
	long fd = (__s32)arg(a, 0);
	if (!s)
		return 0;
	push_s64(s, ret);
	/* A tuple only for a connection that exists (or is in progress). */
	if (ret == 0 || ret == -115 /* EINPROGRESS */)
		push_socktuple(s, task, fd);
	else
		push_empty(s);
	push_s64(s, fd);
	push_sockaddr(s, (const void *)arg(a, 1), arg(a, 2));
	ev_submit(s);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
