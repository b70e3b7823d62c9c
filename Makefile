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

.PHONY: all deps deps-lint rootfs run test diff lint test-asan memcheck bench clean
all: $(BINS)

# Each step links only what it uses: the shared lib/ objects come from an archive, so
# the linker takes just the members a step calls, and --as-needed drops unused libraries.
bin/%: steps/%.c build/libcntlab.a | bin
	$(CC) $(CFLAGS) -o $@ $< build/libcntlab.a $(LIBS)

build/libcntlab.a: $(LIBOBJS)
	$(AR) rcs $@ $^

build/%.o: lib/%.c lib/%.h | build
	$(CC) $(CFLAGS) -c -o $@ $<

bin build build/asan:
	mkdir -p $@

# The same steps built with AddressSanitizer and UBSan, for `make test-asan`.
ASAN_FLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
build/asan/%: steps/%.c $(wildcard lib/*.c lib/*.h) | build/asan
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $< $(wildcard lib/*.c) $(LIBS)

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

# Quality gates: formatting, shell, static analysis. All must be silent.
LINT_DEBS := clang-format clang-tidy cppcheck shellcheck valgrind
SHELL_FILES := rootfs-fetch.sh .ci/run tests/run $(wildcard tests/*.bash tests/*.bats tests/vm/run tests/vm/deps tests/vm/init tests/bench)
deps-lint:
	@$(MAKE) -s deps DEBS="$(LINT_DEBS)"

lint:
	clang-format --dry-run --Werror steps/*.c lib/*.c lib/*.h
	shellcheck $(SHELL_FILES)
	cppcheck -q --error-exitcode=1 --enable=warning,style,performance,portability \
		--suppress=missingIncludeSystem -Ilib steps/*.c lib/*.c
	printf '%s\n' steps/*.c lib/*.c | xargs -P2 -I{} clang-tidy -quiet {} -- -std=gnu11 -Ilib
	@echo "lint: clean"

# The whole suite once more, against the sanitizer builds of every step.
test-asan: deps all rootfs $(addprefix build/asan/,$(STEPS))
	@$(call as_root,env BINDIR=$(CURDIR)/build/asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run $(STEP))

# valgrind's memcheck on each supervisor (the container's own process is not
# followed: it execs, and valgrind misreads mount(2)'s NULL type argument).
memcheck: all rootfs
	@for s in $(STEPS); do \
		r=; [ "$$s" = 01-uts ] || r="-r rootfs"; \
		$(call as_root,valgrind -q --error-exitcode=99 --child-silent-after-fork=yes --leak-check=full \
			--errors-for-leak-kinds=definite bin/$$s $$r true) || { echo "memcheck: $$s is not clean" >&2; exit 1; }; \
	done; echo "memcheck: every supervisor is clean"

clean:
	rm -rf bin build
