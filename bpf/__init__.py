"""pybpf: a thin cffi binding to the system libbpf and a small Pythonic API above it.

Generic BPF plumbing (open an object, size maps, load, attach, maps, ring buffers);
nothing Falco-specific lives here.
"""
