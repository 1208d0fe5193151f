// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * falco-py modern probe: a CO-RE eBPF object (clang -target bpf, types from the
 * running kernel's BTF) that writes PPM wire-format exit events into BPF ring
 * buffers. libscap/engine/modern_bpf.py loads it.
 *
 * Flow:
 *  - tp_btf/sys_enter saves the arguments of an interesting syscall in the
 *    thread's entry in thread_state, then tail-calls enter_progs[nr] when the
 *    syscall has values that must be read at entry (paths, sockaddrs, execve's
 *    filename): `<syscall>_e` programs copy them into the same entry.
 *  - tp_btf/sys_exit tail-calls exit_progs[nr], a small `<syscall>_x` program
 *    that writes the exit event with every parameter of the current libs table;
 *    with no program for nr it emits the generic event.
 *  - tp_btf/sched_process_exec emits the execve exit event of every successful
 *    exec (execve and execveat, as upstream); the sys_exit programs of execve and
 *    execveat emit only failures. Clone-family children emit their own exit
 *    event when they return from the syscall (the child's sys_exit).
 *  - tp_btf/sched_process_exit emits procexit and forgets the thread.
 *
 * Adding a syscall: write `SEC("tp_btf/sys_exit") int BPF_PROG(<syscall>_x, ...)`
 * (and `SEC("tp_btf/sys_enter") int BPF_PROG(<syscall>_e, ...)` if it needs
 * entry-time values). User space registers programs by these names.
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
#define SCRATCH_SIZE (64 * 1024)
#define HALF (SCRATCH_SIZE / 2)
#define SAFE(off) ((off) & (HALF - 1))
#define MAX_WRITE 4096
#define MAX_PATH 4096
#define MAX_EXE 1024
#define MAX_ARGS 4096
#define MAX_ARGV 64            /* argv/envp entries read on a failed execve */
#define SAVED_MAX 4096         /* bytes saved per entry-time value */
#define SOCKADDR_MAX 128
#define PATH_COMPONENTS 48
#define PATHBUF_END 4096
#define KERNFS_DEPTH 16
#define MAX_IOVS 8
#define DEFAULT_SNAPLEN 80
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
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define MINORBITS 20
#define PF_KTHREAD 0x00200000
#define RLIMIT_NOFILE 7
#define CAP_DAC_OVERRIDE 1
#define EINPROGRESS 115
#define PR_SET_NAME 15
#define PR_GET_NAME 16
#define PAGE_SHIFT 12
#define MM_FILEPAGES 0
#define MM_ANONPAGES 1
#define MM_SWAPENTS 2
#define MM_SHMEMPAGES 3

/* Saved at sys_enter, read by the exit program of the same thread: the raw
 * arguments and up to two entry-time values (strings or sockaddr bytes). */
struct thread_state {
	__u64 nr;
	__u64 a[6];
	__u32 len[2];
	__u8 buf[2][SAVED_MAX];
};

/* The state of the event being built on this CPU (kept across tail calls). */
struct scratch {
	__u8 data[SCRATCH_SIZE];
	__u64 pos;     /* next payload byte */
	__u64 len_pos; /* next u16 parameter length */
	__s64 ret;     /* for later stages of a tail-called event */
	__u64 flags;
	__u32 from_exec; /* stage programs: event started by sched_process_exec */
	__u64 left;      /* loop budget kept in memory: the verifier need not track it */
};

struct pathbuf {
	__u8 d[2 * PATHBUF_END];
};

/* Per-CPU counters, read by user space (ModernBpfEngine.stats()). */
struct counters {
	__u64 events;
	__u64 drops_buffer_full; /* the ring buffer had no room */
	__u64 drops_too_large;   /* the event outgrew the scratch space */
	__u64 drops_no_ring;     /* no ring buffer is assigned to this CPU */
};

/* Set by user space: the epoch time of boot, so event times are epoch ns, and
 * the data snaplen of I/O events (0: the upstream default of 80 bytes). */
struct settings {
	__u64 boot_time;
	__u32 snaplen;
	__u32 pad;
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

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SYSCALL_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} enter_progs SEC(".maps");

/* One entry per thread that made an interesting syscall, allocated on first
 * use (no preallocation: the values are 8 KiB) and deleted when it exits. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct thread_state);
} thread_state SEC(".maps");

/* A zeroed value to create thread_state entries from. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct thread_state);
} state_template SEC(".maps");

/* One scratch per CPU (a plain array: per-CPU values are limited to 32 KiB);
 * user space sets max_entries to the number of possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pathbuf);
} pathbuf_map SEC(".maps");

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

/* Older kernel layouts, read through CO-RE when the current one is absent. */
struct kernfs_node___old {
	struct kernfs_node___old *parent;
} __attribute__((preserve_access_index));

struct inode___old {
	struct timespec64 i_ctime;
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

/* ------------------------------------------------------------------------ */
/* Event building                                                           */

static __always_inline struct scratch *scratch_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&scratch_map, &cpu);
}

static __always_inline struct counters *counters_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&counters_map, &zero);
}

static __always_inline __u32 snaplen(void)
{
	__u32 zero = 0;
	struct settings *cfg = bpf_map_lookup_elem(&settings_map, &zero);
	__u32 n = cfg ? cfg->snaplen : 0;
	if (n == 0)
		n = DEFAULT_SNAPLEN;
	return n > MAX_WRITE ? MAX_WRITE : n;
}

/* Start event `type` with `nparams` parameters, as thread `tid` (the current
 * thread when 0). */
static __always_inline struct scratch *ev_begin_tid(__u16 type, __u32 nparams, __u64 tid)
{
	struct scratch *s = scratch_get();
	__u32 zero = 0;
	struct settings *cfg = bpf_map_lookup_elem(&settings_map, &zero);
	if (!s || !cfg)
		return NULL;
	__u64 ts = cfg->boot_time + bpf_ktime_get_boot_ns();
	if (!tid)
		tid = (__u32)bpf_get_current_pid_tgid();
	__builtin_memcpy(&s->data[0], &ts, 8);
	__builtin_memcpy(&s->data[8], &tid, 8);
	__builtin_memcpy(&s->data[20], &type, 2);
	__builtin_memcpy(&s->data[22], &nparams, 4);
	s->len_pos = PPM_EVENT_HEADER_LEN;
	s->pos = PPM_EVENT_HEADER_LEN + 2 * nparams;
	return s;
}

static __always_inline struct scratch *ev_begin(__u16 type, __u32 nparams)
{
	return ev_begin_tid(type, nparams, 0);
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
DEFINE_PUSH(push_u16, __u16)
DEFINE_PUSH(push_u32, __u32)
DEFINE_PUSH(push_s32, __s32)
DEFINE_PUSH(push_u64, __u64)
DEFINE_PUSH(push_s64, __s64)

static __always_inline void push_empty(struct scratch *s)
{
	push_len(s, 0);
}

/* An fd argument: the int the caller passed, sign-extended (PT_FD is 64-bit). */
static __always_inline void push_fd(struct scratch *s, __u64 raw)
{
	push_s64(s, (__s32)raw);
}

/* A dirfd: AT_FDCWD as PPM_AT_FDCWD. */
static __always_inline void push_dirfd(struct scratch *s, __u64 raw)
{
	__s32 fd = raw;
	push_s64(s, fd == AT_FDCWD ? PPM_AT_FDCWD : fd);
}

/* Append a NUL-terminated string (no length entry); returns bytes written. */
static __always_inline long put_str(struct scratch *s, const void *ptr, __u32 max, bool user)
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
	return n;
}

/* A NUL-terminated string from user or kernel memory; empty if unreadable. */
static __always_inline void push_str(struct scratch *s, const void *ptr, __u32 max, bool user)
{
	push_len(s, put_str(s, ptr, max, user));
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
	/* No wakeup per event (a wakeup is an irq_work plus waking the reader:
	 * microseconds on the traced syscall); the reader looks at the rings
	 * every few ms anyway and is woken only when the unread data crosses an
	 * eighth of the ring, so a burst cannot fill it unseen. */
	__u64 avail = bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA);
	__u64 mark = bpf_ringbuf_query(rb, BPF_RB_RING_SIZE) / 8;
	__u64 wake = avail < mark && avail + len + 8 >= mark ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(rb, s->data, len, wake))
		c->drops_buffer_full++;
	else
		c->events++;
}

/* ------------------------------------------------------------------------ */
/* Per-thread entry state                                                   */

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

/* Syscall arguments from the user registers (the tp_btf pointer is trusted). */
#if defined(__TARGET_ARCH_x86)
#define SYSCALL_ARGS(r) {r->di, r->si, r->dx, r->r10, r->r8, r->r9}
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_ARGS(r) {r->orig_x0, r->regs[1], r->regs[2], r->regs[3], r->regs[4], r->regs[5]}
#endif

static __always_inline struct thread_state *state_lookup(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	return bpf_map_lookup_elem(&thread_state, &tid);
}

/* The entry this thread saved for syscall nr, or NULL (e.g. in a new child,
 * which returns from a syscall it never entered). */
static __always_inline struct thread_state *saved_args(struct pt_regs *regs)
{
	struct thread_state *st = state_lookup();
	return st && st->nr == (__u64)syscall_nr(regs) ? st : NULL;
}

/* Argument i of the syscall, from the registers it was called with (exit
 * programs read them there, as upstream: the syscall does not change them;
 * only values the call itself could change are saved at entry). */
static __always_inline __u64 arg(const __u64 *args, int i)
{
	if (i < 0 || i > 5)
		return 0;
	return args[i];
}

/* The thread's entry, created on first use, set up for syscall `id`. */
static __always_inline struct thread_state *state_enter(struct pt_regs *regs, long id)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct thread_state *st = bpf_map_lookup_elem(&thread_state, &tid);
	if (!st) {
		__u32 zero = 0;
		struct thread_state *tmpl = bpf_map_lookup_elem(&state_template, &zero);
		if (!tmpl)
			return NULL;
		bpf_map_update_elem(&thread_state, &tid, tmpl, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&thread_state, &tid);
		if (!st)
			return NULL;
	}
	__u64 a[6] = SYSCALL_ARGS(regs);
	st->nr = id;
	__builtin_memcpy(st->a, a, sizeof(a));
	st->len[0] = 0;
	st->len[1] = 0;
	return st;
}

/* Entry-time values: a string or bytes from user memory into slot 0 or 1. */
static __always_inline void save_str(struct thread_state *st, int slot, __u64 ptr)
{
	long n = bpf_probe_read_user_str(st->buf[slot & 1], SAVED_MAX, (const void *)ptr);
	st->len[slot & 1] = n > 0 ? n : 0;
}

static __always_inline void save_bytes(struct thread_state *st, int slot, __u64 ptr, __u64 n)
{
	if (n > SOCKADDR_MAX)
		n = SOCKADDR_MAX;
	if (n == 0 || bpf_probe_read_user(st->buf[slot & 1], n, (const void *)ptr))
		n = 0;
	st->len[slot & 1] = n;
}

/* A saved value as a parameter (empty if nothing was saved). */
static __always_inline void push_saved(struct scratch *s, struct thread_state *st, int slot)
{
	__u32 n = st ? st->len[slot & 1] : 0;
	if (n == 0 || n > SAVED_MAX) {
		push_empty(s);
		return;
	}
	if (bpf_probe_read_kernel(&s->data[SAFE(s->pos)], n, st->buf[slot & 1])) {
		push_empty(s);
		return;
	}
	s->pos += n;
	push_len(s, n);
}

/* Both saved values: the two paths of rename, link, symlink and mount. */
static __always_inline void push_saved_paths(struct scratch *s, struct thread_state *st)
{
	push_saved(s, st, 0);
	push_saved(s, st, 1);
}

/* renameat, renameat2, linkat: olddirfd (arg 0), the saved oldpath, newdirfd (arg 2),
 * the saved newpath. */
static __always_inline void push_at_paths(struct scratch *s, const __u64 *args,
                                          struct thread_state *st)
{
	push_dirfd(s, arg(args, 0));
	push_saved(s, st, 0);
	push_dirfd(s, arg(args, 2));
	push_saved(s, st, 1);
}

/* ------------------------------------------------------------------------ */
/* Kernel data                                                              */

/* task is a BTF pointer (bpf_get_current_task_btf): the walk to the fd table
 * is plain loads the verifier checks (no helper call per field). */
static __always_inline struct file *fd_to_file(struct task_struct *task, long fd)
{
	struct files_struct *files = task->files;
	if (!files)
		return NULL;
	struct fdtable *fdt = files->fdt;
	if (!fdt)
		return NULL;
	struct file **fds = fdt->fd;
	unsigned int max = fdt->max_fds;
	struct file *f = NULL;
	if (fd < 0 || fd >= max || !fds)
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

/* O_NONBLOCK / O_CLOEXEC only (SOCK_*, EFD_*, IN_*, SFD_*, dup3, pipe2 ...). */
static __always_inline __u32 fd_flags_to_ppm(__u32 flags)
{
	__u32 res = 0;
	if (flags & O_NONBLOCK) res |= PPM_O_NONBLOCK;
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

static __always_inline __u32 clone_flags_to_ppm(__u64 f)
{
	__u32 r = 0;
	if (f & 0x00000400) r |= PPM_CLONE_FILES;
	if (f & 0x00000200) r |= PPM_CLONE_FS;
	if (f & 0x80000000) r |= PPM_CLONE_IO;
	if (f & 0x08000000) r |= PPM_CLONE_NEWIPC;
	if (f & 0x40000000) r |= PPM_CLONE_NEWNET;
	if (f & 0x00020000) r |= PPM_CLONE_NEWNS;
	if (f & 0x20000000) r |= PPM_CLONE_NEWPID;
	if (f & 0x04000000) r |= PPM_CLONE_NEWUTS;
	if (f & 0x00008000) r |= PPM_CLONE_PARENT;
	if (f & 0x00100000) r |= PPM_CLONE_PARENT_SETTID;
	if (f & 0x00002000) r |= PPM_CLONE_PTRACE;
	if (f & 0x00000800) r |= PPM_CLONE_SIGHAND;
	if (f & 0x00040000) r |= PPM_CLONE_SYSVSEM;
	if (f & 0x00010000) r |= PPM_CLONE_THREAD;
	if (f & 0x00800000) r |= PPM_CLONE_UNTRACED;
	if (f & 0x00000100) r |= PPM_CLONE_VM;
	if (f & 0x10000000) r |= PPM_CLONE_NEWUSER;
	if (f & 0x00200000) r |= PPM_CLONE_CHILD_CLEARTID;
	if (f & 0x01000000) r |= PPM_CLONE_CHILD_SETTID;
	if (f & 0x00080000) r |= PPM_CLONE_SETTLS;
	if (f & 0x00004000) r |= PPM_CLONE_VFORK;
	if (f & 0x02000000) r |= PPM_CLONE_NEWCGROUP;
	return r;
}

static __always_inline __u32 prot_to_ppm(__u64 p)
{
	__u32 r = p & 0xf; /* READ WRITE EXEC SEM: same bits */
	if (p & 0x01000000) r |= PPM_PROT_GROWSDOWN;
	if (p & 0x02000000) r |= PPM_PROT_GROWSUP;
	return r;
}

static __always_inline __u32 mmap_flags_to_ppm(__u64 f)
{
	__u32 r = f & 3; /* SHARED PRIVATE */
	if (f & 0x10) r |= PPM_MAP_FIXED;
	if (f & 0x20) r |= PPM_MAP_ANONYMOUS;
	if (f & 0x40) r |= PPM_MAP_32BIT;
	if (f & 0x4000) r |= PPM_MAP_NORESERVE;
	if (f & 0x8000) r |= PPM_MAP_POPULATE;
	if (f & 0x10000) r |= PPM_MAP_NONBLOCK;
	if (f & 0x100) r |= PPM_MAP_GROWSDOWN;
	if (f & 0x800) r |= PPM_MAP_DENYWRITE;
	if (f & 0x1000) r |= PPM_MAP_EXECUTABLE;
	if (f & 0x2000) r |= PPM_MAP_LOCKED;
	return r;
}

static __always_inline __u8 fcntl_cmd_to_ppm(__u64 cmd)
{
	switch (cmd) {
	case 0: return 1;     /* F_DUPFD */
	case 1: return 2;     /* F_GETFD */
	case 2: return 3;     /* F_SETFD */
	case 3: return 4;     /* F_GETFL */
	case 4: return 5;     /* F_SETFL */
	case 5: return 6;     /* F_GETLK */
	case 6: return 8;     /* F_SETLK */
	case 7: return 9;     /* F_SETLKW */
	case 8: return 10;    /* F_SETOWN */
	case 9: return 12;    /* F_GETOWN */
	case 10: return 13;   /* F_SETSIG */
	case 11: return 15;   /* F_GETSIG */
	case 15: return 21;   /* F_SETOWN_EX */
	case 16: return 22;   /* F_GETOWN_EX */
	case 36: return 30;   /* F_OFD_GETLK */
	case 37: return 31;   /* F_OFD_SETLK */
	case 38: return 32;   /* F_OFD_SETLKW */
	case 1024: return 23; /* F_SETLEASE */
	case 1025: return 24; /* F_GETLEASE */
	case 1026: return 27; /* F_NOTIFY */
	case 1029: return 25; /* F_CANCELLK */
	case 1030: return 26; /* F_DUPFD_CLOEXEC */
	case 1031: return 28; /* F_SETPIPE_SZ */
	case 1032: return 29; /* F_GETPIPE_SZ */
	default: return 0;
	}
}

static __always_inline __u16 ptrace_req_to_ppm(__u64 r)
{
	if (r <= 9)
		return r + 1;                     /* TRACEME .. SINGLESTEP */
	if (r >= 0x4200 && r <= 0x420b)
		return r - 0x4200 + 14;           /* SETOPTIONS .. SETSIGMASK */
	if (r >= 12 && r <= 15)
		return r - 12 + 26;               /* GETREGS .. SETFPREGS */
	if (r >= 30 && r <= 33)
		return r - 30 + 35;               /* ARCH_PRCTL .. SINGLEBLOCK */
	switch (r) {
	case 16: return PPM_PTRACE_ATTACH;
	case 17: return PPM_PTRACE_DETACH;
	case 18: return PPM_PTRACE_GETFPXREGS;
	case 19: return PPM_PTRACE_SETFPXREGS;
	case 21: return PPM_PTRACE_OLDSETOPTIONS;
	case 24: return PPM_PTRACE_SYSCALL;
	case 25: return PPM_PTRACE_GET_THREAD_AREA;
	case 26: return PPM_PTRACE_SET_THREAD_AREA;
	default: return PPM_PTRACE_UNKNOWN;
	}
}

/* pid numbers: global (level 0) and as seen from the pid's own namespace. */
static __always_inline __s64 pid_nr_global(struct pid *pid)
{
	return pid ? BPF_CORE_READ(pid, numbers[0].nr) : 0;
}

static __always_inline __s64 pid_nr_ns(struct pid *pid)
{
	if (!pid)
		return 0;
	unsigned int level = BPF_CORE_READ(pid, level);
	return BPF_CORE_READ(pid, numbers[level].nr);
}

static __always_inline struct pid_namespace *pid_ns(struct pid *pid)
{
	if (!pid)
		return NULL;
	unsigned int level = BPF_CORE_READ(pid, level);
	return BPF_CORE_READ(pid, numbers[level].ns);
}

static __always_inline struct pid *task_tgid_pid(struct task_struct *task)
{
	return BPF_CORE_READ(task, group_leader, thread_pid);
}

static __always_inline struct pid *task_pgrp(struct task_struct *task)
{
	return BPF_CORE_READ(task, signal, pids[PIDTYPE_PGID]);
}

/* The tid/pid/ptid triple shared by execve and the clone family. */
static __always_inline void push_ids(struct scratch *s, struct task_struct *task)
{
	push_s64(s, BPF_CORE_READ(task, pid));
	push_s64(s, BPF_CORE_READ(task, tgid));
	push_s64(s, BPF_CORE_READ(task, real_parent, tgid));
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

/* A user array of string pointers (argv, envp) as NUL-separated strings, from
 * entry `from` on, at most MAX_ARGS bytes; returns nothing (no length entry). */
static __always_inline __u64 put_str_array(struct scratch *s, const void *const *arr, int from)
{
	__u64 total = 0;
	for (int i = 0; i < MAX_ARGV; i++) {
		const void *p = NULL;
		if (i < from)
			continue;
		if (!arr || bpf_probe_read_user(&p, sizeof(p), &arr[i]) || !p)
			break;
		if (total >= MAX_ARGS)
			break;
		long n = put_str(s, p, MAX_ARGS - total, true);
		if (n <= 0)
			break;
		total += n;
	}
	return total;
}

/* The path of (dentry, vfsmount), walked up to the root across mounts. */
static __always_inline void push_dpath(struct scratch *s, struct dentry *dentry, struct vfsmount *vfsmnt)
{
	__u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbuf_map, &zero);
	if (!pb || !dentry || !vfsmnt) {
		push_empty(s);
		return;
	}
	struct mount *mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	__u32 pos = PATHBUF_END;

	for (int i = 0; i < PATH_COMPONENTS; i++) {
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		if (dentry == mnt_root || dentry == parent) {
			struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
			if (dentry != mnt_root || up == mnt)
				break; /* the root */
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = up;
			mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
			continue;
		}
		__u32 n = BPF_CORE_READ(dentry, d_name.len);
		const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
		if (n > 255)
			n = 255;
		if (pos < n + 1)
			break;
		pos -= n + 1;
		pos &= PATHBUF_END - 1;
		bpf_probe_read_kernel(&pb->d[pos + 1], n, name);
		pb->d[pos] = '/';
		dentry = parent;
	}
	if (pos >= PATHBUF_END) {
		pos = PATHBUF_END - 1;
		pb->d[pos] = '/';
	}
	__u32 len = PATHBUF_END - pos;
	if (len > PATHBUF_END - 1)
		len = PATHBUF_END - 1;
	if (len == 0 || bpf_probe_read_kernel(&s->data[SAFE(s->pos)], len, &pb->d[pos & (PATHBUF_END - 1)])) {
		push_empty(s);
		return;
	}
	s->data[SAFE(s->pos + len)] = 0;
	s->pos += len + 1;
	push_len(s, len + 1);
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node, __parent))
		return BPF_CORE_READ(kn, __parent);
	return (struct kernfs_node *)BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

/* cgroups: "subsys=/path" entries, NUL-separated, as upstream. */
static __always_inline void push_cgroups(struct scratch *s, struct task_struct *task)
{
	struct css_set *cgs = BPF_CORE_READ(task, cgroups);
	__u64 before = s->pos;
	if (!cgs) {
		push_empty(s);
		return;
	}
	for (int i = 0; i < 16; i++) {
		if (i >= bpf_core_enum_value(enum cgroup_subsys_id, CGROUP_SUBSYS_COUNT))
			break;
		struct cgroup_subsys_state *css = BPF_CORE_READ(cgs, subsys[i]);
		if (!css)
			continue;
		const char *ss_name = BPF_CORE_READ(css, ss, name);
		struct kernfs_node *kn = BPF_CORE_READ(css, cgroup, kn);
		struct kernfs_node *chain[KERNFS_DEPTH] = {};
		int depth = 0;
		for (int j = 0; j < KERNFS_DEPTH; j++) {
			if (!kn)
				break;
			chain[j] = kn;
			depth = j + 1;
			kn = kn_parent(kn);
		}
		if (s->pos - before > HALF / 2)
			break;
		long n = put_str(s, ss_name, 64, false);
		if (n <= 0)
			continue;
		s->data[SAFE(s->pos - 1)] = '=';
		/* chain[depth - 1] is the root (name ""): skip it */
		bool any = false;
		for (int j = KERNFS_DEPTH - 2; j >= 0; j--) {
			if (j > depth - 2)
				continue;
			s->data[SAFE(s->pos)] = '/';
			s->pos++;
			long m = put_str(s, BPF_CORE_READ(chain[j & (KERNFS_DEPTH - 1)], name), 256, false);
			if (m > 0)
				s->pos--; /* drop the NUL: the next component follows */
			any = true;
		}
		if (!any) {
			s->data[SAFE(s->pos)] = '/';
			s->pos++;
		}
		s->data[SAFE(s->pos)] = 0;
		s->pos++;
	}
	push_len(s, s->pos - before);
}

static __always_inline __u64 inode_time_ns(struct inode *inode, bool ctime)
{
	__s64 sec = 0;
	__u32 nsec = 0;
	if (!inode)
		return 0;
	if (bpf_core_field_exists(struct inode, i_ctime_sec)) {
		if (ctime) {
			sec = BPF_CORE_READ(inode, i_ctime_sec);
			nsec = BPF_CORE_READ(inode, i_ctime_nsec);
		} else {
			sec = BPF_CORE_READ(inode, i_mtime_sec);
			nsec = BPF_CORE_READ(inode, i_mtime_nsec);
		}
	} else {
		struct inode___old *old = (void *)inode;
		if (ctime) {
			sec = BPF_CORE_READ(old, i_ctime.tv_sec);
			nsec = BPF_CORE_READ(old, i_ctime.tv_nsec);
		} else {
			sec = BPF_CORE_READ(old, i_mtime.tv_sec);
			nsec = BPF_CORE_READ(old, i_mtime.tv_nsec);
		}
	}
	/* multigrain timestamps (6.13+) keep a flag in bit 31 of i_ctime_nsec */
	return sec * 1000000000ULL + (nsec & 0x3fffffff);
}

static __always_inline __u64 task_cap(struct task_struct *task, int which)
{
	__u64 v = 0;
	const struct cred *c = BPF_CORE_READ(task, cred);
	/* kernel_cap_t is 64 bits in either layout ({u64 val} or {u32 cap[2]}) */
	if (which == 0)
		bpf_core_read(&v, sizeof(v), &c->cap_inheritable);
	else if (which == 1)
		bpf_core_read(&v, sizeof(v), &c->cap_permitted);
	else
		bpf_core_read(&v, sizeof(v), &c->cap_effective);
	return v;
}

static __always_inline __u64 rss_pages(struct mm_struct *mm, int i)
{
	__s64 v = BPF_CORE_READ(mm, rss_stat[i & 3].count);
	return v > 0 ? v : 0;
}

/* vm_size, vm_rss, vm_swap (kB) of mm; zeros without one (a kernel thread). */
static __always_inline void push_mm_sizes(struct scratch *s, struct mm_struct *mm)
{
	if (mm) {
		push_u32(s, BPF_CORE_READ(mm, total_vm) << (PAGE_SHIFT - 10));
		push_u32(s, (rss_pages(mm, MM_FILEPAGES) + rss_pages(mm, MM_ANONPAGES) +
		             rss_pages(mm, MM_SHMEMPAGES)) << (PAGE_SHIFT - 10));
		push_u32(s, rss_pages(mm, MM_SWAPENTS) << (PAGE_SHIFT - 10));
	} else {
		push_u32(s, 0);
		push_u32(s, 0);
		push_u32(s, 0);
	}
}

/* cwd, fdlimit, pgft_maj, pgft_min, vm_size, vm_rss, vm_swap, comm. */
static __always_inline void push_task_stats(struct scratch *s, struct task_struct *task)
{
	push_dpath(s, BPF_CORE_READ(task, fs, pwd.dentry), BPF_CORE_READ(task, fs, pwd.mnt));
	push_u64(s, BPF_CORE_READ(task, signal, rlim[RLIMIT_NOFILE].rlim_cur));
	push_u64(s, BPF_CORE_READ(task, maj_flt));
	push_u64(s, BPF_CORE_READ(task, min_flt));
	push_mm_sizes(s, BPF_CORE_READ(task, mm));
	push_str(s, task->comm, TASK_COMM_LEN, false);
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
	/* Only syscalls with entry-time values have work to do here: their
	 * `<syscall>_e` program saves them (state_enter); the others cost this
	 * check and a tail call into an empty slot. */
	if (!interesting(id))
		return 0;
	bpf_tail_call(ctx, &enter_progs, id);
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
	push_u16(s, sc ? *sc : 0);
	push_u16(s, nr);
	ev_submit(s);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *task)
{
	__u32 tid = task->pid;
	bpf_map_delete_elem(&thread_state, &tid);

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

/* Entry programs: copy what the exit event needs as it was at entry. */
#define ENTER_PROG(name) \
	SEC("tp_btf/sys_enter") int BPF_PROG(name, struct pt_regs *regs, long id)
#define ENTER_SAVE_STR(name, i)                                                  \
	ENTER_PROG(name) {                                                           \
		struct thread_state *st = state_enter(regs, id);                          \
		if (st)                                                                  \
			save_str(st, 0, st->a[i]);                                           \
		return 0;                                                                \
	}
#define ENTER_SAVE_2STR(name, i, j)                                              \
	ENTER_PROG(name) {                                                           \
		struct thread_state *st = state_enter(regs, id);                          \
		if (st) {                                                                \
			save_str(st, 0, st->a[i]);                                           \
			save_str(st, 1, st->a[j]);                                           \
		}                                                                        \
		return 0;                                                                \
	}
#define ENTER_SAVE_SOCKADDR(name, i, len_i)                                      \
	ENTER_PROG(name) {                                                           \
		struct thread_state *st = state_enter(regs, id);                          \
		if (st)                                                                  \
			save_bytes(st, 0, st->a[i], st->a[len_i]);                           \
		return 0;                                                                \
	}

ENTER_SAVE_STR(open_e, 0)
ENTER_SAVE_STR(openat_e, 1)
ENTER_SAVE_STR(creat_e, 0)
ENTER_SAVE_STR(execve_e, 0)
ENTER_SAVE_STR(execveat_e, 1)
ENTER_SAVE_STR(unlink_e, 0)
ENTER_SAVE_STR(unlinkat_e, 1)
ENTER_SAVE_2STR(rename_e, 0, 1)
ENTER_SAVE_2STR(renameat_e, 1, 3)
ENTER_SAVE_2STR(renameat2_e, 1, 3)
ENTER_SAVE_STR(mkdir_e, 0)
ENTER_SAVE_STR(mkdirat_e, 1)
ENTER_SAVE_STR(rmdir_e, 0)
ENTER_SAVE_2STR(link_e, 0, 1)
ENTER_SAVE_2STR(linkat_e, 1, 3)
ENTER_SAVE_2STR(symlink_e, 0, 1)
ENTER_SAVE_2STR(symlinkat_e, 0, 2)
ENTER_SAVE_STR(chmod_e, 0)
ENTER_SAVE_STR(fchmodat_e, 1)
ENTER_SAVE_STR(chown_e, 0)
ENTER_SAVE_STR(lchown_e, 0)
ENTER_SAVE_STR(fchownat_e, 1)
ENTER_SAVE_STR(chdir_e, 0)
ENTER_SAVE_STR(chroot_e, 0)
ENTER_SAVE_2STR(mount_e, 0, 1)
ENTER_SAVE_STR(umount2_e, 0)
ENTER_SAVE_SOCKADDR(connect_e, 1, 2)
ENTER_SAVE_SOCKADDR(bind_e, 1, 2)
ENTER_SAVE_SOCKADDR(sendto_e, 4, 5)

/* openat2: the path, and the open_how the kernel will use. */
ENTER_PROG(openat2_e)
{
	struct thread_state *st = state_enter(regs, id);
	if (!st)
		return 0;
	save_str(st, 0, st->a[1]);
	save_bytes(st, 1, st->a[2], st->a[3] < 24 ? st->a[3] : 24);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Sockets                                                                  */

static __always_inline struct sock *fd_to_sock(struct task_struct *task, long fd)
{
	struct file *f = fd_to_file(task, fd);
	if (!f)
		return NULL;
	/* only socket files carry a struct socket in private_data */
	__u16 mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & 0170000) != 0140000)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

/* The connection tuple of a socket. Outbound (connect, send): local then
 * remote; inbound (accept, recv): remote then local. Addresses in network
 * order, ports in host order; unix: the two sock pointers and a path. */
static __always_inline void push_socktuple(struct scratch *s, struct task_struct *task, long fd,
                                           bool inbound)
{
	struct sock *sk = fd_to_sock(task, fd);
	if (!sk) {
		push_empty(s);
		return;
	}
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__u64 p = SAFE(s->pos);
	if (family == AF_INET) {
		__u32 laddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 raddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		s->data[p] = PPM_AF_INET;
		__builtin_memcpy(&s->data[SAFE(p + 1)], inbound ? &raddr : &laddr, 4);
		__builtin_memcpy(&s->data[SAFE(p + 5)], inbound ? &rport : &lport, 2);
		__builtin_memcpy(&s->data[SAFE(p + 7)], inbound ? &laddr : &raddr, 4);
		__builtin_memcpy(&s->data[SAFE(p + 11)], inbound ? &lport : &rport, 2);
		s->pos += 13;
		push_len(s, 13);
	} else if (family == AF_INET6) {
		struct in6_addr laddr = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
		struct in6_addr raddr = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);
		s->data[p] = PPM_AF_INET6;
		__builtin_memcpy(&s->data[SAFE(p + 1)], inbound ? &raddr : &laddr, 16);
		__builtin_memcpy(&s->data[SAFE(p + 17)], inbound ? &rport : &lport, 2);
		__builtin_memcpy(&s->data[SAFE(p + 19)], inbound ? &laddr : &raddr, 16);
		__builtin_memcpy(&s->data[SAFE(p + 35)], inbound ? &lport : &rport, 2);
		s->pos += 37;
		push_len(s, 37);
	} else if (family == AF_UNIX) {
		struct unix_sock *local = (struct unix_sock *)sk;
		struct unix_sock *peer = (struct unix_sock *)BPF_CORE_READ(local, peer);
		__u64 lp = (__u64)local, pp = (__u64)peer;
		struct unix_address *ua = inbound || !peer ? BPF_CORE_READ(local, addr)
		                                            : BPF_CORE_READ(peer, addr);
		s->data[p] = PPM_AF_UNIX;
		__builtin_memcpy(&s->data[SAFE(p + 1)], inbound ? &lp : &pp, 8);
		__builtin_memcpy(&s->data[SAFE(p + 9)], inbound ? &pp : &lp, 8);
		s->pos += 17;
		long n = 0;
		if (ua) {
			char *path = (char *)ua + bpf_core_field_offset(struct unix_address, name) +
			             bpf_core_field_offset(struct sockaddr_un, sun_path);
			char first = 0;
			bpf_probe_read_kernel(&first, 1, path);
			n = put_str(s, first ? path : path + 1, 108, false);
		}
		if (n == 0) {
			s->data[SAFE(s->pos)] = 0;
			s->pos++;
			n = 1;
		}
		push_len(s, 17 + n);
	} else {
		push_empty(s);
	}
}

/* The tuple of fd when `ok` (the call succeeded), else an empty parameter. */
static __always_inline void push_socktuple_if(struct scratch *s, bool ok, struct task_struct *task,
                                              long fd, bool inbound)
{
	if (ok)
		push_socktuple(s, task, fd, inbound);
	else
		push_empty(s);
}

/* A sockaddr saved at entry (kernel copy), as PPM SOCKADDR. */
static __always_inline void push_sockaddr(struct scratch *s, struct thread_state *st, int slot)
{
	__u32 len = st ? st->len[slot & 1] : 0;
	__u8 *raw = st ? st->buf[slot & 1] : NULL;
	__u64 p = SAFE(s->pos);
	if (!raw || len < 2) {
		push_empty(s);
		return;
	}
	__u16 family = *(__u16 *)raw;
	if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in *in = (void *)raw;
		__u16 port = bpf_ntohs(in->sin_port);
		s->data[p] = PPM_AF_INET;
		__builtin_memcpy(&s->data[SAFE(p + 1)], &in->sin_addr.s_addr, 4);
		__builtin_memcpy(&s->data[SAFE(p + 5)], &port, 2);
		s->pos += 7;
		push_len(s, 7);
	} else if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 *in6 = (void *)raw;
		__u16 port = bpf_ntohs(in6->sin6_port);
		s->data[p] = PPM_AF_INET6;
		__builtin_memcpy(&s->data[SAFE(p + 1)], &in6->sin6_addr, 16);
		__builtin_memcpy(&s->data[SAFE(p + 17)], &port, 2);
		s->pos += 19;
		push_len(s, 19);
	} else if (family == AF_UNIX) {
		/* sun_path; an abstract name's leading NUL is skipped, as upstream */
		__u32 off = raw[2] ? 2 : 3;
		s->data[p] = PPM_AF_UNIX;
		s->pos += 1;
		long n = 0;
		if (len > off) {
			__u32 max = len - off;
			if (max > 108)
				max = 108;
			n = bpf_probe_read_kernel_str(&s->data[SAFE(s->pos)], max + 1, raw + off);
			if (n < 0)
				n = 0;
		}
		if (n == 0) {
			s->data[SAFE(s->pos)] = 0;
			n = 1;
		}
		s->data[SAFE(s->pos + n - 1)] = 0;
		s->pos += n;
		push_len(s, 1 + n);
	} else {
		push_empty(s);
	}
}

/* I/O data: up to the snaplen from a user buffer. */
static __always_inline void push_io_data(struct scratch *s, __u64 ptr, __s64 n)
{
	__u32 max = snaplen();
	if (n <= 0) {
		push_empty(s);
		return;
	}
	push_user_bytes(s, (const void *)ptr, n < max ? n : max);
}

/* I/O data from an iovec array (readv/writev/sendmsg/recvmsg), up to the
 * snaplen and `total` bytes; returns nothing. Also computes the sum of lengths. */
static __always_inline __u64 iov_total(__u64 iov_ptr, __u64 iovcnt)
{
	__u64 total = 0;
	const struct iovec *iov = (const void *)iov_ptr;
	for (int i = 0; i < MAX_IOVS; i++) {
		struct iovec v;
		if (i >= iovcnt || bpf_probe_read_user(&v, sizeof(v), &iov[i]))
			break;
		total += v.iov_len;
	}
	return total;
}

static __always_inline void push_iov_data(struct scratch *s, __u64 iov_ptr, __u64 iovcnt, __s64 n)
{
	__u32 max = snaplen();
	__u64 before = s->pos;
	const struct iovec *iov = (const void *)iov_ptr;
	s->left = n > 0 ? (n < max ? n : max) : 0;
	for (int i = 0; i < MAX_IOVS; i++) {
		struct iovec v;
		__u64 left = s->left;
		if (!left || i >= iovcnt || bpf_probe_read_user(&v, sizeof(v), &iov[i]))
			break;
		__u64 k = v.iov_len < left ? v.iov_len : left;
		if (k > MAX_WRITE)
			k = MAX_WRITE;
		if (k && bpf_probe_read_user(&s->data[SAFE(s->pos)], k, v.iov_base))
			break;
		s->pos += k;
		s->left = left - k;
	}
	push_len(s, s->pos - before);
}

/* ------------------------------------------------------------------------ */
/* execve / clone family: the process-info exit events                      */

/* Stage programs of the multi-part events, reached through tail calls so no
 * single program is too large for the verifier. */
int exec_stage2_sx(unsigned long long *ctx);
int clone_stage2_sx(unsigned long long *ctx);
int exec_stage2_px(unsigned long long *ctx);

enum { STAGE_EXEC, STAGE_CLONE };

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} exit_stages SEC(".maps") = {
	.values = {
		[STAGE_EXEC] = (void *)&exec_stage2_sx,
		[STAGE_CLONE] = (void *)&clone_stage2_sx,
	},
};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} exec_stages SEC(".maps") = {
	.values = {
		[STAGE_EXEC] = (void *)&exec_stage2_px,
	},
};

/* Parameters 1-14 of execve/execveat and clone-family exit events: res, exe,
 * args, tid, pid, ptid, cwd, fdlimit, pgft_maj, pgft_min, vm_size, vm_rss,
 * vm_swap, comm. exe/args come from the image (argv_user NULL) or, for a
 * failed execve, from the argv the caller passed. */
static __always_inline void push_proc_head(struct scratch *s, struct task_struct *task, long ret,
                                           const void *const *argv_user)
{
	push_s64(s, ret);
	if (!argv_user) {
		push_exe_args(s, task);
	} else {
		const void *p0 = NULL;
		bpf_probe_read_user(&p0, sizeof(p0), &argv_user[0]);
		push_len(s, p0 ? put_str(s, p0, MAX_EXE, true) : 0);
		push_len(s, put_str_array(s, argv_user, 1));
	}
	push_ids(s, task);
	push_task_stats(s, task);
}

/* execve parameters 15-31 (30 for execveat). */
static __always_inline int exec_tail(struct scratch *s, struct task_struct *task,
                                     struct linux_binprm *bprm)
{
	push_cgroups(s, task);
	if (s->from_exec) {
		unsigned long start = BPF_CORE_READ(task, mm, env_start);
		unsigned long end = BPF_CORE_READ(task, mm, env_end);
		push_user_bytes(s, (const void *)start, end > start ? end - start : 0);
	} else {
		struct thread_state *st = state_lookup();
		const void *const *envp = st ? (const void *const *)st->a[s->flags ? 3 : 2] : NULL;
		push_len(s, put_str_array(s, envp, 0));
	}
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	__u32 ttynr = 0;
	if (tty) {
		__u32 major = BPF_CORE_READ(tty, driver, major);
		__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
		ttynr = encode_dev((major << MINORBITS) | minor);
	}
	push_u32(s, ttynr);
	push_s64(s, pid_nr_ns(task_pgrp(task)));            /* vpgid */
	push_u32(s, BPF_CORE_READ(task, loginuid.val));

	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct inode *inode = exe ? BPF_CORE_READ(exe, f_inode) : NULL;
	__u32 euid = BPF_CORE_READ(task, cred, euid.val);
	__u32 egid = BPF_CORE_READ(task, cred, egid.val);
	__u64 cap_eff = task_cap(task, 2);
	__u32 flags = 0;
	if (inode) {
		__u16 mode = BPF_CORE_READ(inode, i_mode);
		__u32 iuid = BPF_CORE_READ(inode, i_uid.val), igid = BPF_CORE_READ(inode, i_gid.val);
		if ((cap_eff & (1ULL << CAP_DAC_OVERRIDE)) || (mode & 0002) ||
		    (iuid == euid && (mode & 0200)) || (igid == egid && (mode & 0020)))
			flags |= PPM_EXE_WRITABLE;
		char pfx[6] = {};
		bpf_probe_read_kernel(pfx, sizeof(pfx), BPF_CORE_READ(exe, f_path.dentry, d_name.name));
		if (pfx[0] == 'm' && pfx[1] == 'e' && pfx[2] == 'm' && pfx[3] == 'f' && pfx[4] == 'd' &&
		    pfx[5] == ':')
			flags |= PPM_EXE_FROM_MEMFD;
	}
	push_u32(s, flags);
	push_u64(s, task_cap(task, 0));
	push_u64(s, task_cap(task, 1));
	push_u64(s, cap_eff);
	push_u64(s, inode ? BPF_CORE_READ(inode, i_ino) : 0);
	push_u64(s, inode_time_ns(inode, true));
	push_u64(s, inode_time_ns(inode, false));
	push_u32(s, euid);
	if (exe)
		push_dpath(s, BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt));
	else
		push_empty(s);
	push_s64(s, pid_nr_global(task_pgrp(task)));        /* pgid */
	push_u32(s, egid);
	if (s->from_exec) {                                 /* filename */
		const char *fn = bprm ? BPF_CORE_READ(bprm, filename) : NULL;
		if (fn)
			push_str(s, fn, MAX_PATH, false);
		else
			push_empty(s);
	} else if (!s->flags) {                             /* execve (not execveat) */
		push_saved(s, state_lookup(), 0);
	}
	ev_submit(s);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exec_stage2_sx, struct pt_regs *regs, long ret)
{
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	return exec_tail(s, bpf_get_current_task_btf(), NULL);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_stage2_px, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	return exec_tail(s, bpf_get_current_task_btf(), bprm);
}

/* A failed execve/execveat (a successful one is sched_process_exec's). */
static __always_inline int exec_failed(void *ctx, struct pt_regs *regs, long ret, bool at)
{
	if (ret == 0)
		return 0;
	__u64 args[6] = SYSCALL_ARGS(regs);
	struct task_struct *task = bpf_get_current_task_btf();
	struct scratch *s = at ? ev_begin(PPME_SYSCALL_EXECVEAT_X, 30)
	                       : ev_begin(PPME_SYSCALL_EXECVE_19_X, 31);
	if (!s)
		return 0;
	s->from_exec = 0;
	s->flags = at;
	push_proc_head(s, task, ret, (const void *const *)arg(args, at ? 2 : 1));
	bpf_tail_call(ctx, &exit_stages, STAGE_EXEC);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(execve_x, struct pt_regs *regs, long ret)
{
	return exec_failed(ctx, regs, ret, false);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(execveat_x, struct pt_regs *regs, long ret)
{
	return exec_failed(ctx, regs, ret, true);
}

/* Every successful exec, whichever syscall (execve, execveat) made it. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return 0;
	struct thread_state *st = state_lookup();
	/* the thread's saved syscall says which exec it is; both must be wanted */
	if (st && !interesting(st->nr))
		return 0;
	struct scratch *s = ev_begin(PPME_SYSCALL_EXECVE_19_X, 31);
	if (!s)
		return 0;
	s->from_exec = 1;
	s->flags = 0;
	push_proc_head(s, task, 0, NULL);
	bpf_tail_call(ctx, &exec_stages, STAGE_EXEC);
	return 0;
}

/* clone-family parameters 15-21. */
SEC("tp_btf/sys_exit")
int BPF_PROG(clone_stage2_sx, struct pt_regs *regs, long ret)
{
	struct scratch *s = scratch_get();
	struct task_struct *task = bpf_get_current_task_btf();
	if (!s)
		return 0;
	push_cgroups(s, task);
	/* flags: the caller's, plus CHILD_IN_PIDNS when the child is (or will be)
	 * in a pid namespace other than the initial one */
	__u32 flags = clone_flags_to_ppm(s->flags);
	struct pid_namespace *ns = pid_ns(BPF_CORE_READ(task, thread_pid));
	if (BPF_CORE_READ(ns, level) != 0 || BPF_CORE_READ(task, nsproxy, pid_ns_for_children) != ns)
		flags |= PPM_CLONE_CHILD_IN_PIDNS;
	push_u32(s, flags);
	push_u32(s, BPF_CORE_READ(task, cred, euid.val));
	push_u32(s, BPF_CORE_READ(task, cred, egid.val));
	push_s64(s, pid_nr_ns(BPF_CORE_READ(task, thread_pid)));  /* vtid */
	push_s64(s, pid_nr_ns(task_tgid_pid(task)));              /* vpid */
	/* in the child: start time of its pid namespace's init */
	push_u64(s, s->ret == 0 ? BPF_CORE_READ(pid_ns(task_tgid_pid(task)), child_reaper, start_time) : 0);
	ev_submit(s);
	return 0;
}

/* clone/fork/vfork/clone3 exit, in the parent (res = child tid) and in the
 * child (res = 0). */
static __always_inline int clone_family_x(void *ctx, __u16 type, long ret, __u64 flags)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct scratch *s = ev_begin(type, 21);
	if (!s)
		return 0;
	s->ret = ret;
	s->flags = flags;
	push_proc_head(s, task, ret, NULL);
	bpf_tail_call(ctx, &exit_stages, STAGE_CLONE);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(clone_x, struct pt_regs *regs, long ret)
{
	/* a child never entered the syscall: its flags are the parent's args,
	 * still in its registers */
	__u64 a[6] = SYSCALL_ARGS(regs);
	return clone_family_x(ctx, PPME_SYSCALL_CLONE_20_X, ret, a[0]);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fork_x, struct pt_regs *regs, long ret)
{
	return clone_family_x(ctx, PPME_SYSCALL_FORK_20_X, ret, 0);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(vfork_x, struct pt_regs *regs, long ret)
{
	return clone_family_x(ctx, PPME_SYSCALL_VFORK_20_X, ret, 0);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(clone3_x, struct pt_regs *regs, long ret)
{
	__u64 a[6] = SYSCALL_ARGS(regs);
	__u64 flags = 0;
	bpf_probe_read_user(&flags, sizeof(flags), (const void *)a[0]); /* clone_args.flags */
	return clone_family_x(ctx, PPME_SYSCALL_CLONE3_X, ret, flags);
}

/* ------------------------------------------------------------------------ */
/* Per-syscall exit programs (tail-called through exit_progs)               */

#define EXIT_PROG(name) \
	SEC("tp_btf/sys_exit") int BPF_PROG(name, struct pt_regs *regs, long ret)
/* Begin an exit program: st = saved entry, task, s = event of `type`. */
#define BEGIN(type, n)                                                           \
	__u64 args[6] = SYSCALL_ARGS(regs);                                          \
	struct task_struct *task = bpf_get_current_task_btf();                       \
	struct scratch *s = ev_begin(type, n);                                       \
	(void)args; (void)task;                                                      \
	if (!s)                                                                      \
		return 0;
/* The same, with st = what the thread's `<syscall>_e` program saved. */
#define BEGIN_SAVED(type, n)                                                     \
	struct thread_state *st = saved_args(regs);                                  \
	BEGIN(type, n)
#define END() do { ev_submit(s); return 0; } while (0)

/* dev and ino of the file an fd refers to (0 when it does not exist). */
static __always_inline void fd_dev_ino(struct task_struct *task, long fd, __u32 *dev, __u64 *ino,
                                       __u32 *created)
{
	*dev = 0;
	*ino = 0;
	*created = 0;
	if (fd < 0)
		return;
	struct file *f = fd_to_file(task, fd);
	if (!f)
		return;
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	if (inode) {
		*dev = encode_dev(BPF_CORE_READ(inode, i_sb, s_dev));
		*ino = BPF_CORE_READ(inode, i_ino);
	}
	if (BPF_CORE_READ(f, f_mode) & FMODE_CREATED)
		*created = PPM_O_F_CREATED;
}

EXIT_PROG(open_x)
{
	BEGIN_SAVED(PPME_SYSCALL_OPEN_X, 6)
	__u32 dev, created;
	__u64 ino;
	fd_dev_ino(task, ret, &dev, &ino, &created);
	__u32 flags = arg(args, 1);
	push_s64(s, ret);
	push_saved(s, st, 0);
	push_u32(s, open_flags_to_ppm(flags) | created);
	push_u32(s, open_mode_to_ppm(flags, arg(args, 2)));
	push_u32(s, dev);
	push_u64(s, ino);
	END();
}

EXIT_PROG(openat_x)
{
	BEGIN_SAVED(PPME_SYSCALL_OPENAT_2_X, 7)
	__u32 dev, created;
	__u64 ino;
	fd_dev_ino(task, ret, &dev, &ino, &created);
	__u32 flags = arg(args, 2);
	push_s64(s, ret);
	push_dirfd(s, arg(args, 0));
	push_saved(s, st, 0);
	push_u32(s, open_flags_to_ppm(flags) | created);
	push_u32(s, open_mode_to_ppm(flags, arg(args, 3)));
	push_u32(s, dev);
	push_u64(s, ino);
	END();
}

/* RESOLVE_* (uapi openat2.h) -> PPM_RESOLVE_*: the bit orders differ. */
static __always_inline __u32 resolve_to_ppm(__u64 r)
{
	__u32 res = 0;
	if (r & 0x01) res |= PPM_RESOLVE_NO_XDEV;
	if (r & 0x02) res |= PPM_RESOLVE_NO_MAGICLINKS;
	if (r & 0x04) res |= PPM_RESOLVE_NO_SYMLINKS;
	if (r & 0x08) res |= PPM_RESOLVE_BENEATH;
	if (r & 0x10) res |= PPM_RESOLVE_IN_ROOT;
	if (r & 0x20) res |= PPM_RESOLVE_CACHED;
	return res;
}

EXIT_PROG(openat2_x)
{
	BEGIN_SAVED(PPME_SYSCALL_OPENAT2_X, 8)
	__u32 dev, created;
	__u64 ino;
	struct open_how how = {};
	fd_dev_ino(task, ret, &dev, &ino, &created);
	if (st && st->len[1] >= 24)
		__builtin_memcpy(&how, st->buf[1], 24);
	push_s64(s, ret);
	push_dirfd(s, arg(args, 0));
	push_saved(s, st, 0);
	push_u32(s, open_flags_to_ppm(how.flags) | created);
	push_u32(s, open_mode_to_ppm(how.flags, how.mode));
	push_u32(s, resolve_to_ppm(how.resolve));
	push_u32(s, dev);
	push_u64(s, ino);
	END();
}

EXIT_PROG(creat_x)
{
	BEGIN_SAVED(PPME_SYSCALL_CREAT_X, 6)
	__u32 dev, created;
	__u64 ino;
	fd_dev_ino(task, ret, &dev, &ino, &created);
	push_s64(s, ret);
	push_saved(s, st, 0);
	push_u32(s, arg(args, 1) & 07777);
	push_u32(s, dev);
	push_u64(s, ino);
	push_u16(s, 0); /* creat_flags: overlayfs layers not detected */
	END();
}

EXIT_PROG(close_x)
{
	BEGIN(PPME_SYSCALL_CLOSE_X, 2)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	END();
}

EXIT_PROG(dup_x)
{
	BEGIN(PPME_SYSCALL_DUP_1_X, 2)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	END();
}

EXIT_PROG(dup2_x)
{
	BEGIN(PPME_SYSCALL_DUP2_X, 3)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	push_fd(s, arg(args, 1));
	END();
}

EXIT_PROG(dup3_x)
{
	BEGIN(PPME_SYSCALL_DUP3_X, 4)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	push_fd(s, arg(args, 1));
	push_u32(s, fd_flags_to_ppm(arg(args, 2)));
	END();
}

EXIT_PROG(fcntl_x)
{
	BEGIN(PPME_SYSCALL_FCNTL_X, 4)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	push_u8(s, fcntl_cmd_to_ppm(arg(args, 1)));
	push_u64(s, arg(args, 2));
	END();
}

static __always_inline int pipe_common(struct scratch *s, const __u64 *args,
                                       struct task_struct *task, long ret, bool two)
{
	__s32 fds[2] = {-1, -1};
	__u64 ino = 0;
	if (ret == 0 && !bpf_probe_read_user(fds, sizeof(fds), (const void *)arg(args, 0))) {
		struct file *f = fd_to_file(task, fds[0]);
		if (f)
			ino = BPF_CORE_READ(f, f_inode, i_ino);
	}
	push_s64(s, ret);
	push_s64(s, fds[0]);
	push_s64(s, fds[1]);
	push_u64(s, ino);
	if (two)
		push_u32(s, fd_flags_to_ppm(arg(args, 1)));
	ev_submit(s);
	return 0;
}

EXIT_PROG(pipe_x)
{
	BEGIN(PPME_SYSCALL_PIPE_X, 4)
	return pipe_common(s, args, task, ret, false);
}

EXIT_PROG(pipe2_x)
{
	BEGIN(PPME_SYSCALL_PIPE2_X, 5)
	return pipe_common(s, args, task, ret, true);
}

EXIT_PROG(socket_x)
{
	BEGIN(PPME_SOCKET_SOCKET_X, 5)
	__u32 type = arg(args, 1);
	push_s64(s, ret);
	push_u32(s, arg(args, 0)); /* domain: the PPM_AF values are the kernel's */
	push_u32(s, type);
	push_u32(s, arg(args, 2));
	push_u32(s, fd_flags_to_ppm(type));
	END();
}

EXIT_PROG(socketpair_x)
{
	BEGIN(PPME_SOCKET_SOCKETPAIR_X, 8)
	__s32 fds[2] = {-1, -1};
	__u64 src = 0, peer = 0;
	if (ret == 0 && !bpf_probe_read_user(fds, sizeof(fds), (const void *)arg(args, 3))) {
		struct sock *sk = fd_to_sock(task, fds[0]);
		src = (__u64)sk;
		if (sk && BPF_CORE_READ(sk, __sk_common.skc_family) == AF_UNIX)
			peer = (__u64)BPF_CORE_READ((struct unix_sock *)sk, peer);
	}
	push_s64(s, ret);
	push_s64(s, fds[0]);
	push_s64(s, fds[1]);
	push_u64(s, src);
	push_u64(s, peer);
	push_u32(s, arg(args, 0));
	push_u32(s, arg(args, 1));
	push_u32(s, arg(args, 2));
	END();
}

EXIT_PROG(connect_x)
{
	BEGIN_SAVED(PPME_SOCKET_CONNECT_X, 4)
	long fd = (__s32)arg(args, 0);
	push_s64(s, ret);
	/* A tuple only for a connection that exists (or is in progress). */
	push_socktuple_if(s, ret == 0 || ret == -EINPROGRESS, task, fd, false);
	push_s64(s, fd);
	push_sockaddr(s, st, 0);
	END();
}

static __always_inline int accept_common(struct scratch *s, const __u64 *args,
                                         struct task_struct *task, long ret, bool four)
{
	__u32 qlen = 0, qmax = 0;
	__u8 pct = 0;
	push_s64(s, ret);
	push_socktuple_if(s, ret >= 0, task, ret, true);
	/* the listener's queue, only for a successful accept (as upstream) */
	struct sock *lsk = ret >= 0 ? fd_to_sock(task, (__s32)arg(args, 0)) : NULL;
	if (lsk) {
		qlen = BPF_CORE_READ(lsk, sk_ack_backlog);
		qmax = BPF_CORE_READ(lsk, sk_max_ack_backlog);
		if (qlen && qmax)
			pct = (__u64)qlen * 100 / qmax;
	}
	push_u8(s, pct);
	push_u32(s, qlen);
	push_u32(s, qmax);
	if (four)
		push_s32(s, fd_flags_to_ppm(arg(args, 3)));
	ev_submit(s);
	return 0;
}

EXIT_PROG(accept_x)
{
	BEGIN(PPME_SOCKET_ACCEPT_5_X, 5)
	return accept_common(s, args, task, ret, false);
}

EXIT_PROG(accept4_x)
{
	BEGIN(PPME_SOCKET_ACCEPT4_6_X, 6)
	return accept_common(s, args, task, ret, true);
}

EXIT_PROG(bind_x)
{
	BEGIN_SAVED(PPME_SOCKET_BIND_X, 3)
	push_s64(s, ret);
	push_sockaddr(s, st, 0);
	push_fd(s, arg(args, 0));
	END();
}

EXIT_PROG(listen_x)
{
	BEGIN(PPME_SOCKET_LISTEN_X, 3)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	push_s32(s, arg(args, 1));
	END();
}

EXIT_PROG(sendto_x)
{
	BEGIN(PPME_SOCKET_SENDTO_X, 5)
	long fd = (__s32)arg(args, 0);
	push_s64(s, ret);
	push_io_data(s, arg(args, 1), ret > 0 ? ret : (__s64)arg(args, 2));
	push_s64(s, fd);
	push_u32(s, arg(args, 2));
	push_socktuple_if(s, ret >= 0, task, fd, false);
	END();
}

EXIT_PROG(recvfrom_x)
{
	BEGIN(PPME_SOCKET_RECVFROM_X, 5)
	long fd = (__s32)arg(args, 0);
	push_s64(s, ret);
	push_io_data(s, arg(args, 1), ret);
	push_socktuple_if(s, ret >= 0, task, fd, true);
	push_s64(s, fd);
	push_u32(s, arg(args, 2));
	END();
}

EXIT_PROG(sendmsg_x)
{
	BEGIN(PPME_SOCKET_SENDMSG_X, 5)
	long fd = (__s32)arg(args, 0);
	struct user_msghdr mh = {};
	bpf_probe_read_user(&mh, sizeof(mh), (const void *)arg(args, 1));
	__u64 size = iov_total((__u64)mh.msg_iov, mh.msg_iovlen);
	push_s64(s, ret);
	push_iov_data(s, (__u64)mh.msg_iov, mh.msg_iovlen, ret > 0 ? ret : (__s64)size);
	push_s64(s, fd);
	push_u32(s, size);
	push_socktuple_if(s, ret >= 0, task, fd, false);
	END();
}

EXIT_PROG(recvmsg_x)
{
	BEGIN(PPME_SOCKET_RECVMSG_X, 6)
	long fd = (__s32)arg(args, 0);
	struct user_msghdr mh = {};
	bpf_probe_read_user(&mh, sizeof(mh), (const void *)arg(args, 1));
	push_s64(s, ret);
	push_u32(s, iov_total((__u64)mh.msg_iov, mh.msg_iovlen));
	push_iov_data(s, (__u64)mh.msg_iov, mh.msg_iovlen, ret);
	push_socktuple_if(s, ret >= 0, task, fd, true);
	push_empty(s); /* msgcontrol: not captured */
	push_s64(s, fd);
	END();
}

EXIT_PROG(read_x)
{
	BEGIN(PPME_SYSCALL_READ_X, 4)
	push_s64(s, ret);
	push_io_data(s, arg(args, 1), ret);
	push_fd(s, arg(args, 0));
	push_u32(s, arg(args, 2));
	END();
}

EXIT_PROG(write_x)
{
	BEGIN(PPME_SYSCALL_WRITE_X, 4)
	push_s64(s, ret);
	push_io_data(s, arg(args, 1), ret > 0 ? ret : (__s64)arg(args, 2));
	push_fd(s, arg(args, 0));
	push_u32(s, arg(args, 2));
	END();
}

EXIT_PROG(eventfd_x)
{
	BEGIN(PPME_SYSCALL_EVENTFD_X, 3)
	push_s64(s, ret);
	push_u64(s, (__u32)arg(args, 0));
	push_u32(s, 0);
	END();
}

EXIT_PROG(eventfd2_x)
{
	BEGIN(PPME_SYSCALL_EVENTFD2_X, 3)
	push_s64(s, ret);
	push_u16(s, fd_flags_to_ppm(arg(args, 1)));
	push_u64(s, (__u32)arg(args, 0));
	END();
}

static __always_inline __u32 user_u32(__u64 ptr)
{
	__u32 v = 0;
	bpf_probe_read_user(&v, sizeof(v), (const void *)ptr);
	return v;
}

EXIT_PROG(signalfd_x)
{
	BEGIN(PPME_SYSCALL_SIGNALFD_X, 4)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	push_u32(s, user_u32(arg(args, 1)));
	push_u8(s, 0);
	END();
}

EXIT_PROG(signalfd4_x)
{
	BEGIN(PPME_SYSCALL_SIGNALFD4_X, 4)
	push_s64(s, ret);
	push_u16(s, fd_flags_to_ppm(arg(args, 3)));
	push_fd(s, arg(args, 0));
	push_u32(s, user_u32(arg(args, 1)));
	END();
}

EXIT_PROG(timerfd_create_x)
{
	BEGIN(PPME_SYSCALL_TIMERFD_CREATE_X, 3)
	push_s64(s, ret);
	push_u8(s, arg(args, 0));
	push_u8(s, arg(args, 1));
	END();
}

EXIT_PROG(inotify_init_x)
{
	BEGIN(PPME_SYSCALL_INOTIFY_INIT_X, 2)
	push_s64(s, ret);
	push_u8(s, 0);
	END();
}

EXIT_PROG(inotify_init1_x)
{
	BEGIN(PPME_SYSCALL_INOTIFY_INIT1_X, 2)
	push_s64(s, ret);
	push_u16(s, fd_flags_to_ppm(arg(args, 0)));
	END();
}

EXIT_PROG(memfd_create_x)
{
	BEGIN(PPME_SYSCALL_MEMFD_CREATE_X, 3)
	push_s64(s, ret);
	push_str(s, (const void *)arg(args, 0), 256, true);
	push_u32(s, arg(args, 1) & 7); /* MFD_CLOEXEC|ALLOW_SEALING|HUGETLB: same bits */
	END();
}

EXIT_PROG(userfaultfd_x)
{
	BEGIN(PPME_SYSCALL_USERFAULTFD_X, 2)
	push_s64(s, ret);
	push_u32(s, arg(args, 0)); /* the raw flags, as both upstream drivers send them */
	END();
}

/* ------------------------------------------------------------------------ */
/* Filesystem                                                               */

EXIT_PROG(unlink_x)
{
	BEGIN_SAVED(PPME_SYSCALL_UNLINK_2_X, 2)
	push_s64(s, ret);
	push_saved(s, st, 0);
	END();
}

EXIT_PROG(unlinkat_x)
{
	BEGIN_SAVED(PPME_SYSCALL_UNLINKAT_2_X, 4)
	push_s64(s, ret);
	push_dirfd(s, arg(args, 0));
	push_saved(s, st, 0);
	push_u32(s, arg(args, 2) & 0x200); /* AT_REMOVEDIR: same bit */
	END();
}

EXIT_PROG(rename_x)
{
	BEGIN_SAVED(PPME_SYSCALL_RENAME_X, 3)
	push_s64(s, ret);
	push_saved_paths(s, st);
	END();
}

EXIT_PROG(renameat_x)
{
	BEGIN_SAVED(PPME_SYSCALL_RENAMEAT_X, 5)
	push_s64(s, ret);
	push_at_paths(s, args, st);
	END();
}

EXIT_PROG(renameat2_x)
{
	BEGIN_SAVED(PPME_SYSCALL_RENAMEAT2_X, 6)
	push_s64(s, ret);
	push_at_paths(s, args, st);
	push_u32(s, arg(args, 4) & 7); /* RENAME_*: same bits */
	END();
}

EXIT_PROG(mkdir_x)
{
	BEGIN_SAVED(PPME_SYSCALL_MKDIR_2_X, 3)
	push_s64(s, ret);
	push_saved(s, st, 0);
	push_u32(s, arg(args, 1));
	END();
}

EXIT_PROG(mkdirat_x)
{
	BEGIN_SAVED(PPME_SYSCALL_MKDIRAT_X, 4)
	push_s64(s, ret);
	push_dirfd(s, arg(args, 0));
	push_saved(s, st, 0);
	push_u32(s, arg(args, 2));
	END();
}

EXIT_PROG(rmdir_x)
{
	BEGIN_SAVED(PPME_SYSCALL_RMDIR_2_X, 2)
	push_s64(s, ret);
	push_saved(s, st, 0);
	END();
}

EXIT_PROG(link_x)
{
	BEGIN_SAVED(PPME_SYSCALL_LINK_2_X, 3)
	push_s64(s, ret);
	push_saved_paths(s, st);
	END();
}

EXIT_PROG(linkat_x)
{
	BEGIN_SAVED(PPME_SYSCALL_LINKAT_2_X, 6)
	push_s64(s, ret);
	push_at_paths(s, args, st);
	push_u32(s, arg(args, 4) & 0x1400); /* AT_SYMLINK_FOLLOW|AT_EMPTY_PATH: same bits */
	END();
}

EXIT_PROG(symlink_x)
{
	BEGIN_SAVED(PPME_SYSCALL_SYMLINK_X, 3)
	push_s64(s, ret);
	push_saved_paths(s, st);
	END();
}

EXIT_PROG(symlinkat_x)
{
	BEGIN_SAVED(PPME_SYSCALL_SYMLINKAT_X, 4)
	push_s64(s, ret);
	push_saved(s, st, 0);
	push_dirfd(s, arg(args, 1));
	push_saved(s, st, 1);
	END();
}

EXIT_PROG(chmod_x)
{
	BEGIN_SAVED(PPME_SYSCALL_CHMOD_X, 3)
	push_s64(s, ret);
	push_saved(s, st, 0);
	push_u32(s, arg(args, 1) & 07777);
	END();
}

EXIT_PROG(fchmod_x)
{
	BEGIN(PPME_SYSCALL_FCHMOD_X, 3)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	push_u32(s, arg(args, 1) & 07777);
	END();
}

EXIT_PROG(fchmodat_x)
{
	BEGIN_SAVED(PPME_SYSCALL_FCHMODAT_X, 4)
	push_s64(s, ret);
	push_dirfd(s, arg(args, 0));
	push_saved(s, st, 0);
	push_u32(s, arg(args, 2) & 07777);
	END();
}

static __always_inline int chown_path(struct scratch *s, struct thread_state *st, const __u64 *args, long ret)
{
	push_s64(s, ret);
	push_saved(s, st, 0);
	push_u32(s, arg(args, 1));
	push_u32(s, arg(args, 2));
	ev_submit(s);
	return 0;
}

EXIT_PROG(chown_x)
{
	BEGIN_SAVED(PPME_SYSCALL_CHOWN_X, 4)
	return chown_path(s, st, args, ret);
}

EXIT_PROG(lchown_x)
{
	BEGIN_SAVED(PPME_SYSCALL_LCHOWN_X, 4)
	return chown_path(s, st, args, ret);
}

EXIT_PROG(fchown_x)
{
	BEGIN(PPME_SYSCALL_FCHOWN_X, 4)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	push_u32(s, arg(args, 1));
	push_u32(s, arg(args, 2));
	END();
}

EXIT_PROG(fchownat_x)
{
	BEGIN_SAVED(PPME_SYSCALL_FCHOWNAT_X, 6)
	__u32 f = arg(args, 4), flags = 0;
	if (f & 0x100) flags |= PPM_FCHOWNAT_FLAGS_AT_SYMLINK_NOFOLLOW;
	if (f & 0x1000) flags |= PPM_AT_EMPTY_PATH;
	push_s64(s, ret);
	push_dirfd(s, arg(args, 0));
	push_saved(s, st, 0);
	push_u32(s, arg(args, 2));
	push_u32(s, arg(args, 3));
	push_u32(s, flags);
	END();
}

EXIT_PROG(chdir_x)
{
	BEGIN_SAVED(PPME_SYSCALL_CHDIR_X, 2)
	push_s64(s, ret);
	push_saved(s, st, 0);
	END();
}

EXIT_PROG(fchdir_x)
{
	BEGIN(PPME_SYSCALL_FCHDIR_X, 2)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	END();
}

EXIT_PROG(chroot_x)
{
	BEGIN_SAVED(PPME_SYSCALL_CHROOT_X, 2)
	push_s64(s, ret);
	push_saved(s, st, 0);
	END();
}

EXIT_PROG(mount_x)
{
	BEGIN_SAVED(PPME_SYSCALL_MOUNT_X, 5)
	__u32 flags = arg(args, 3);
	if ((flags & 0xffff0000) == 0xc0ed0000) /* MS_MGC_VAL: a legacy magic, not flags */
		flags &= 0xffff;
	push_s64(s, ret);
	push_saved_paths(s, st);
	push_str(s, (const void *)arg(args, 2), 256, true);
	push_u32(s, flags);
	END();
}

EXIT_PROG(umount2_x)
{
	BEGIN_SAVED(PPME_SYSCALL_UMOUNT2_X, 3)
	push_s64(s, ret);
	push_saved(s, st, 0);
	push_u32(s, arg(args, 1) & 0xf); /* MNT_FORCE DETACH EXPIRE UMOUNT_NOFOLLOW */
	END();
}

/* ------------------------------------------------------------------------ */
/* Credentials, namespaces, processes, memory                               */

#define EXIT_IDS(name, type, n)                                                  \
	EXIT_PROG(name) {                                                            \
		BEGIN(type, n + 1)                                                       \
		push_s64(s, ret);                                                        \
		for (int i = 0; i < n; i++)                                              \
			push_u32(s, arg(args, i));                                             \
		END();                                                                   \
	}
EXIT_IDS(setuid_x, PPME_SYSCALL_SETUID_X, 1)
EXIT_IDS(setgid_x, PPME_SYSCALL_SETGID_X, 1)
EXIT_IDS(setresuid_x, PPME_SYSCALL_SETRESUID_X, 3)
EXIT_IDS(setresgid_x, PPME_SYSCALL_SETRESGID_X, 3)
EXIT_IDS(setreuid_x, PPME_SYSCALL_SETREUID_X, 2)
EXIT_IDS(setregid_x, PPME_SYSCALL_SETREGID_X, 2)

EXIT_PROG(setns_x)
{
	BEGIN(PPME_SYSCALL_SETNS_X, 3)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	push_u32(s, clone_flags_to_ppm(arg(args, 1)));
	END();
}

EXIT_PROG(unshare_x)
{
	BEGIN(PPME_SYSCALL_UNSHARE_X, 2)
	push_s64(s, ret);
	push_u32(s, clone_flags_to_ppm(arg(args, 0)));
	END();
}

/* PT_DYN parameters of ptrace: an index into ptrace_dynamic_param, then the value. */
#define PTRACE_IDX_UINT64 0
#define PTRACE_IDX_SIGTYPE 1

static __always_inline void push_dyn_u64(struct scratch *s, __u64 v)
{
	s->data[SAFE(s->pos)] = PTRACE_IDX_UINT64;
	__builtin_memcpy(&s->data[SAFE(s->pos + 1)], &v, 8);
	s->pos += 9;
	push_len(s, 9);
}

static __always_inline void push_dyn_sig(struct scratch *s, __u8 sig)
{
	s->data[SAFE(s->pos)] = PTRACE_IDX_SIGTYPE;
	s->data[SAFE(s->pos + 1)] = sig;
	s->pos += 2;
	push_len(s, 2);
}

/* As upstream: a failed call carries 0 for addr and data; PEEK* requests carry
 * the word the kernel stored at *data; CONT/SINGLESTEP/DETACH/SYSCALL carry
 * data as the signal to deliver; any other request the data argument. */
EXIT_PROG(ptrace_x)
{
	BEGIN(PPME_SYSCALL_PTRACE_X, 5)
	__u16 req = ptrace_req_to_ppm(arg(args, 0));
	__u64 data = arg(args, 3);
	push_s64(s, ret);
	if (ret < 0) {
		push_dyn_u64(s, 0);
		push_dyn_u64(s, 0);
	} else {
		push_dyn_u64(s, arg(args, 2));
		switch (req) {
		case PPM_PTRACE_PEEKTEXT:
		case PPM_PTRACE_PEEKDATA:
		case PPM_PTRACE_PEEKUSR: {
			__u64 w = 0;
			bpf_probe_read_user(&w, sizeof(w), (const void *)data);
			push_dyn_u64(s, w);
			break;
		}
		case PPM_PTRACE_CONT:
		case PPM_PTRACE_SINGLESTEP:
		case PPM_PTRACE_DETACH:
		case PPM_PTRACE_SYSCALL:
			push_dyn_sig(s, data);
			break;
		default:
			push_dyn_u64(s, data);
		}
	}
	push_u16(s, req);
	push_s64(s, (__s32)arg(args, 1));
	END();
}

EXIT_PROG(prctl_x)
{
	BEGIN(PPME_SYSCALL_PRCTL_X, 4)
	__u64 option = arg(args, 0);
	push_s64(s, ret);
	push_u32(s, option); /* PPM_PR_* are the kernel's values */
	if (option == PR_SET_NAME || option == PR_GET_NAME) {
		push_str(s, (const void *)arg(args, 1), TASK_COMM_LEN, true);
		push_s64(s, 0);
	} else {
		push_empty(s);
		push_s64(s, arg(args, 1));
	}
	END();
}

EXIT_PROG(capset_x)
{
	BEGIN(PPME_SYSCALL_CAPSET_X, 4)
	push_s64(s, ret);
	push_u64(s, task_cap(task, 0));
	push_u64(s, task_cap(task, 1));
	push_u64(s, task_cap(task, 2));
	END();
}

EXIT_PROG(init_module_x)
{
	BEGIN(PPME_SYSCALL_INIT_MODULE_X, 4)
	push_s64(s, ret);
	/* the image, up to MAX_WRITE bytes (not the I/O snaplen) */
	push_user_bytes(s, (const void *)arg(args, 0), arg(args, 1));
	push_u64(s, arg(args, 1));
	push_str(s, (const void *)arg(args, 2), 1024, true);
	END();
}

EXIT_PROG(finit_module_x)
{
	BEGIN(PPME_SYSCALL_FINIT_MODULE_X, 4)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	push_str(s, (const void *)arg(args, 1), 1024, true);
	push_u32(s, arg(args, 2) & 7);
	END();
}

EXIT_PROG(bpf_x)
{
	BEGIN(PPME_SYSCALL_BPF_2_X, 2)
	push_s64(s, ret);
	push_u32(s, arg(args, 0)); /* PPM_BPF_* are the kernel's command numbers */
	END();
}

EXIT_PROG(mmap_x)
{
	BEGIN(PPME_SYSCALL_MMAP_X, 10)
	push_s64(s, ret);
	push_mm_sizes(s, BPF_CORE_READ(task, mm));
	push_u64(s, arg(args, 0));
	push_u64(s, arg(args, 1));
	push_u32(s, prot_to_ppm(arg(args, 2)));
	push_u32(s, mmap_flags_to_ppm(arg(args, 3)));
	push_fd(s, arg(args, 4));
	push_u64(s, arg(args, 5));
	END();
}

EXIT_PROG(mprotect_x)
{
	BEGIN(PPME_SYSCALL_MPROTECT_X, 4)
	push_s64(s, ret);
	push_u64(s, arg(args, 0));
	push_u64(s, arg(args, 1));
	push_u32(s, prot_to_ppm(arg(args, 2)));
	END();
}

EXIT_PROG(kill_x)
{
	BEGIN(PPME_SYSCALL_KILL_X, 3)
	push_s64(s, ret);
	push_s64(s, (__s32)arg(args, 0));
	push_u8(s, arg(args, 1));
	END();
}

EXIT_PROG(tgkill_x)
{
	BEGIN(PPME_SYSCALL_TGKILL_X, 4)
	push_s64(s, ret);
	push_s64(s, (__s32)arg(args, 0));
	push_s64(s, (__s32)arg(args, 1));
	push_u8(s, arg(args, 2));
	END();
}

/* process_vm_readv/writev: data is the local side (what was read or written). */
static __always_inline int process_vm_common(struct scratch *s, const __u64 *args, long ret)
{
	push_s64(s, ret);
	push_s64(s, (__s32)arg(args, 0));
	push_iov_data(s, arg(args, 1), arg(args, 2), ret);
	ev_submit(s);
	return 0;
}

EXIT_PROG(process_vm_readv_x)
{
	BEGIN(PPME_SYSCALL_PROCESS_VM_READV_X, 3)
	return process_vm_common(s, args, ret);
}

EXIT_PROG(process_vm_writev_x)
{
	BEGIN(PPME_SYSCALL_PROCESS_VM_WRITEV_X, 3)
	return process_vm_common(s, args, ret);
}

/* IORING_SETUP_* -> PPM_IORING_SETUP_*: PPM has SQ_NEED_WAKEUP at bit 2, so the
 * bits from SQ_AFF on are shifted by one. */
static __always_inline __u32 io_uring_setup_flags_to_ppm(__u32 f)
{
	__u32 r = f & 3;            /* IOPOLL SQPOLL */
	if (f & 0x04) r |= PPM_IORING_SETUP_SQ_AFF;
	if (f & 0x08) r |= PPM_IORING_SETUP_CQSIZE;
	if (f & 0x10) r |= PPM_IORING_SETUP_CLAMP;
	if (f & 0x20) r |= PPM_IORING_SETUP_ATTACH_RW;
	if (f & 0x40) r |= PPM_IORING_SETUP_R_DISABLED;
	return r;
}

EXIT_PROG(io_uring_setup_x)
{
	BEGIN(PPME_SYSCALL_IO_URING_SETUP_X, 8)
	struct io_uring_params p = {};
	bpf_probe_read_user(&p, sizeof(p), (const void *)arg(args, 1));
	push_s64(s, ret);
	push_u32(s, arg(args, 0));
	push_u32(s, p.sq_entries);
	push_u32(s, p.cq_entries);
	push_u32(s, io_uring_setup_flags_to_ppm(p.flags));
	push_u32(s, p.sq_thread_cpu);
	push_u32(s, p.sq_thread_idle);
	push_u32(s, p.features & 0x7ff); /* IORING_FEAT_*: same bits */
	END();
}

EXIT_PROG(sendfile_x)
{
	BEGIN(PPME_SYSCALL_SENDFILE_X, 5)
	__u64 off = 0;
	if (arg(args, 2))
		bpf_probe_read_user(&off, sizeof(off), (const void *)arg(args, 2));
	push_s64(s, ret);
	push_u64(s, off);
	push_fd(s, arg(args, 0));
	push_fd(s, arg(args, 1));
	push_u64(s, arg(args, 3));
	END();
}

EXIT_PROG(splice_x)
{
	BEGIN(PPME_SYSCALL_SPLICE_X, 5)
	push_s64(s, ret);
	push_fd(s, arg(args, 0));
	push_fd(s, arg(args, 2));
	push_u64(s, arg(args, 4));
	push_u32(s, arg(args, 5) & 0xf);
	END();
}

char LICENSE[] SEC("license") = "GPL";
