# falco-rs: the two commands of the README, and the steps they are made of.
#   make live   build and run the daemon live (default config, upstream rules)
#   make test   install what the tests need, then run every test
SHELL := /bin/bash
APT_PACKAGES := clang llvm libbpf-dev libelf-dev zlib1g-dev pkg-config bpftool make curl sysdig prometheus python3-yaml openssl
SHARED ?= $(abspath ../shared)
RULES_CACHE := $(CURDIR)/.cache/upstream-rules

.PHONY: deps mounts rules build live test lint unit conformance

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@$(MAKE) --no-print-directory mounts

# tracefs, debugfs and bpffs are not mounted at boot on every machine.
mounts:
	@if [ "$$(id -u)" = 0 ]; then \
	  mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing || true; \
	  mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug || true; \
	  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || true; \
	fi

rules:
	@upstream-rules/sync $(RULES_CACHE) >/dev/null

build: deps
	cargo build --release

live: build rules
	./target/release/falco -c $(RULES_CACHE)/falco.yaml -o load_plugins[]=container \
	  -r $(RULES_CACHE)/falco_rules.yaml

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

unit:
	cargo test

conformance: rules
	cargo build --release
	conformance/run --selftest
	conformance/run --falco target/release/falco --shared $(SHARED)

test: deps rules lint unit conformance
