# Developer entry points. Both targets do all set-up on a fresh Debian 12 machine
# (as root): system packages, Python dependencies and the build.
#   make run   falco with the default rules: live on this host, or replaying
#              a capture with CAPTURE=path/to/file.scap
#   make test  run the whole test suite
PYTHON ?= python3
CAPTURE ?=
APT_PACKAGES = clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool cmake make gcc pkg-config sysdig openssl

.PHONY: deps install run test bench

deps:
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi

install: deps
	$(PYTHON) -m pip install -q -e '.[test]'

run: install
	$(PYTHON) -m falco $(if $(CAPTURE),-o engine.kind=replay -o engine.replay.capture_file=$(CAPTURE))

test: install
	$(PYTHON) -m pytest -q

bench: install
	$(PYTHON) -m pytest -q benchmarks --benchmark-enable
