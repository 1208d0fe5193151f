"""Generate the C source of the `bpf._libbpf` cffi module (API mode, out-of-line).

Run by bpf/CMakeLists.txt as `python _build_ffi.py OUTPUT.c`; CMake then compiles
the emitted C with _pybpf.c against the system libbpf. Only declarations the
Pythonic layer uses are listed: cffi checks each against the real headers at
compile time, so a libbpf API change fails the build instead of crashing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cffi

CDEF = r"""
typedef uint32_t __u32;
typedef uint64_t __u64;

struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;
struct ring_buffer;

enum libbpf_print_level { LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG };

enum bpf_map_type {
    BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PROG_ARRAY,
    BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_LRU_HASH,
    BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS,
    BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, BPF_MAP_TYPE_RINGBUF,
    ...
};
enum bpf_prog_type { BPF_PROG_TYPE_UNSPEC, ... };

struct bpf_object_open_opts {
    size_t sz;
    const char *object_name;
    ...;
};

struct bpf_prog_info { __u32 type; __u32 id; ...; };

struct ring_buffer_opts { size_t sz; ...; };
typedef int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size);

/* object */
struct bpf_object *bpf_object__open_file(const char *path, const struct bpf_object_open_opts *opts);
struct bpf_object *bpf_object__open_mem(const void *obj_buf, size_t obj_buf_sz,
                                        const struct bpf_object_open_opts *opts);
int bpf_object__load(struct bpf_object *obj);
void bpf_object__close(struct bpf_object *obj);
const char *bpf_object__name(const struct bpf_object *obj);
struct bpf_program *bpf_object__next_program(const struct bpf_object *obj, struct bpf_program *prog);
struct bpf_map *bpf_object__next_map(const struct bpf_object *obj, const struct bpf_map *map);

/* programs */
const char *bpf_program__name(const struct bpf_program *prog);
const char *bpf_program__section_name(const struct bpf_program *prog);
bool bpf_program__autoload(const struct bpf_program *prog);
int bpf_program__set_autoload(struct bpf_program *prog, bool autoload);
int bpf_program__fd(const struct bpf_program *prog);
enum bpf_prog_type bpf_program__type(const struct bpf_program *prog);
struct bpf_link *bpf_program__attach(const struct bpf_program *prog);
struct bpf_link *bpf_program__attach_kprobe(const struct bpf_program *prog, bool retprobe,
                                            const char *func_name);
struct bpf_link *bpf_program__attach_tracepoint(const struct bpf_program *prog,
                                                const char *tp_category, const char *tp_name);
struct bpf_link *bpf_program__attach_raw_tracepoint(const struct bpf_program *prog,
                                                    const char *tp_name);
int bpf_link__destroy(struct bpf_link *link);

/* maps */
const char *bpf_map__name(const struct bpf_map *map);
int bpf_map__fd(const struct bpf_map *map);
enum bpf_map_type bpf_map__type(const struct bpf_map *map);
__u32 bpf_map__max_entries(const struct bpf_map *map);
int bpf_map__set_max_entries(struct bpf_map *map, __u32 max_entries);
__u32 bpf_map__key_size(const struct bpf_map *map);
__u32 bpf_map__value_size(const struct bpf_map *map);
int bpf_map__set_value_size(struct bpf_map *map, __u32 size);
int bpf_map__lookup_elem(const struct bpf_map *map, const void *key, size_t key_sz,
                         void *value, size_t value_sz, __u64 flags);
int bpf_map__update_elem(const struct bpf_map *map, const void *key, size_t key_sz,
                         const void *value, size_t value_sz, __u64 flags);
int bpf_map__delete_elem(const struct bpf_map *map, const void *key, size_t key_sz, __u64 flags);
int bpf_map__get_next_key(const struct bpf_map *map, const void *cur_key, void *next_key,
                          size_t key_sz);

/* kernel objects and features */
int bpf_obj_get_info_by_fd(int bpf_fd, void *info, __u32 *info_len);
int libbpf_num_possible_cpus(void);
int libbpf_strerror(int err, char *buf, size_t size);
int libbpf_probe_bpf_map_type(enum bpf_map_type map_type, const void *opts);
int libbpf_probe_bpf_prog_type(enum bpf_prog_type prog_type, const void *opts);

/* libbpf's callback ring buffer consumer (one Python call per record) */
struct ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn sample_cb, void *ctx,
                                     const struct ring_buffer_opts *opts);
void ring_buffer__free(struct ring_buffer *rb);
int ring_buffer__add(struct ring_buffer *rb, int map_fd, ring_buffer_sample_fn sample_cb,
                     void *ctx);
int ring_buffer__poll(struct ring_buffer *rb, int timeout_ms);
int ring_buffer__consume(struct ring_buffer *rb);
int ring_buffer__epoll_fd(const struct ring_buffer *rb);
extern "Python" int _pybpf_sample_cb(void *ctx, void *data, size_t size);

"""

SOURCE = r"""
#include <stdbool.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "_pybpf.h"
"""


HERE = Path(__file__).resolve().parent


def helper_declarations() -> str:
    """The declarations of _pybpf.h, read from the header itself (no second copy)."""
    text = (HERE / "_pybpf.h").read_text()
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def make_ffi() -> cffi.FFI:
    ffibuilder = cffi.FFI()
    ffibuilder.cdef(CDEF + helper_declarations())
    ffibuilder.set_source("bpf._libbpf", SOURCE, libraries=["bpf"])
    return ffibuilder


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUTPUT.c")
    make_ffi().emit_c_code(sys.argv[1])
