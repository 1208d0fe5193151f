"""libscap: the capture layer.

The PPM event schema (as data), lazy event decoding, .scap capture files (read,
convert, write) and the capture engines (savefile replay, live modern eBPF).
"""
