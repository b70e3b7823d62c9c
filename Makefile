# cntlab: a Linux container in C, one kernel feature per step.
#
#   make                  build bin/01-uts ... bin/08-sec
#   make run [STEP=NN] [CMD='...']   a shell (or CMD) in the newest (or NN) step
#   make test [STEP=NN] [BIN=path]   the bats suite, or one step's file against BIN
#   make diff STEP=NN     what step NN adds to step NN-1
#   make deps | rootfs | lint | bench | clean
#
# The lab needs root. As root (and in CI) everything just runs; as a regular user the
# privileged part of run, test, deps and rootfs runs through sudo, and says so.

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Ilib
PKGS    := libcap libmnl libseccomp
LIBS    := -Wl,--as-needed $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

STEPS   := $(basename $(notdir $(sort $(wildcard steps/[0-9][0-9]-*.c))))
BINS    := $(addprefix bin/,$(STEPS))
LIBOBJS := $(patsubst lib/%.c,build/%.o,$(wildcard lib/*.c))
NEWEST  := $(lastword $(STEPS))
# STEP=NN (or NN-name) names one step; the newest one by default.
step     = $(or $(filter $(STEP)-%,$(STEPS)),$(filter $(STEP),$(STEPS)),$(if $(STEP),$(error no step $(STEP) in steps/),$(NEWEST)))

# Run $(1) as root: directly when we are root, else through sudo, else explain.
as_root  = if [ "$$(id -u)" -eq 0 ]; then $(1); \
	   elif command -v sudo >/dev/null 2>&1; then echo "cntlab: this needs root; running: sudo $(1)" >&2; sudo $(1); \
	   else echo "cntlab: '$(1)' needs root and sudo is not installed: run it as root" >&2; exit 1; fi

DEBS := gcc make pkg-config libcap-dev libmnl-dev libseccomp-dev bats bats-assert bats-support \
	busybox-static iproute2 util-linux procps curl

.PHONY: all deps rootfs run test diff lint bench clean
all: $(BINS)

# Each step links only what it uses: the shared lib/ objects come from an archive, so
# the linker takes just the members a step calls, and --as-needed drops unused libraries.
bin/%: steps/%.c build/libcntlab.a | bin
	$(CC) $(CFLAGS) -o $@ $< build/libcntlab.a $(LIBS)

build/libcntlab.a: $(LIBOBJS)
	$(AR) rcs $@ $^

build/%.o: lib/%.c lib/%.h | build
	$(CC) $(CFLAGS) -c -o $@ $<

bin build:
	mkdir -p $@

deps:
	@missing=""; for p in $(DEBS); do dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "deps: all installed"; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "deps: install these (or your distribution's equivalents) by hand:$$missing" >&2; exit 1; fi; \
	echo "deps: installing$$missing"; \
	$(call as_root,env DEBIAN_FRONTEND=noninteractive apt-get update -qq) && \
	$(call as_root,env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing)

rootfs:
	@[ -e rootfs/bin/sh ] || { $(call as_root,./rootfs-fetch.sh rootfs); }

run: deps all rootfs
	@$(call as_root,bin/$(step) -r rootfs $(CMD))

test: deps all rootfs
	@$(call as_root,env $(if $(BIN),BIN=$(BIN)) tests/run $(STEP))

diff:
	@[ -n "$(STEP)" ] || { echo "usage: make diff STEP=NN" >&2; exit 2; }
	@prev=$$(printf '%s\n' $(STEPS) | grep -B1 -x '$(step)' | head -n1); \
	[ "$$prev" != '$(step)' ] || { echo "$(step) is the first step: nothing to diff" >&2; exit 2; }; \
	diff -u "steps/$$prev.c" "steps/$(step).c" || [ $$? -eq 1 ]

clean:
	rm -rf bin build
