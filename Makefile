# cntlab: a Linux container in C, one kernel feature per step.
#
#   make                  build bin/01-uts ... bin/08-sec, and the bonus bin/09-rootless, bin/10-image
#                         and bin/11-bridge (which changes the host's network: see docs/11-bridge.md)
#   make run [STEP=NN] [CMD='...']   a shell (or CMD) in the newest (or NN) step
#   make test [STEP=NN] [BIN=path] [PART=feature|earlier|contract]
#                         the bats suite, or one step's file against BIN (one part of it)
#   make exercise STEP=NN [FROM=mine]   start your own step NN in mine/NN-name.c
#   make check STEP=NN [PART=...]       build mine/NN-name.c, run step NN's tests on it
#   make progress         your steps against the three parts, from the last make checks
#   make test-exercises   each step's unmodified exercise fails exactly its feature part
#   make diff STEP=NN     what step NN adds to step NN-1
#   make lint | test-asan | memcheck   quality gates (CI runs them all)
#   make test-vm [ARCH=arm64]   the suite in a qemu VM on Debian's kernel with pure cgroup v2
#   make cross ARCH=arm64   the steps built for another architecture, into build/arm64/
#   make soak | bench     500 containers against a leak baseline | start-up cost report
#   make docs             regenerate the diffs and tables embedded in docs/
#   make doctor           is this machine ready for the workshop? (docs/setup.md)
#   make image            an OCI image of ./rootfs in image/, for 10-image (make run STEP=10)
#   make deps | rootfs | clean
#
# The lab needs root. As root (and in CI) everything just runs; as a regular user the
# privileged part of run, test and deps runs through sudo, and says so (make rootfs
# alone, as a regular user, makes a rootfs that user owns, for 09-rootless). The
# exception is 09-rootless: `make run STEP=09` runs as you, on rootfs.user, a rootfs
# you own, with no sudo at all.

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Ilib
# --as-needed (in LIBS) links jansson and nettle into 10-image and libnftables into 11-bridge
# alone: the steps before never call them.
PKGS    := libcap libmnl libseccomp jansson nettle libnftables
# 10-image's libarchive comes from its static archive: the shared library loads libxml2, ICU
# and libstdc++ for formats it never reads, ~7 ms at every start; the archive brings only the
# tar reader, gzip and zstd. --as-needed drops all of these from the steps that do not use them.
ARCHIVE := -Wl,-Bstatic -larchive -Wl,-Bdynamic -lacl -lzstd -lz
# "=", not ":=": asked when a recipe runs, after `make deps` may have installed them.
LIBS     = -Wl,--as-needed $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(ARCHIVE)
CFLAGS  += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

STEPS   := $(basename $(notdir $(sort $(wildcard steps/[0-9][0-9]-*.c))))
BINS    := $(addprefix bin/,$(STEPS))
LIBOBJS := $(patsubst lib/%.c,build/%.o,$(wildcard lib/*.c))
# The bonus steps from 10 on run only when named (STEP=10) ...
NEWEST  := $(lastword $(filter 0%,$(STEPS)))
# ... and root cannot run the bonus step 09-rootless: for root the newest is 08-sec.
ifeq ($(shell id -u),0)
NEWEST  := $(lastword $(filter-out 09-%,$(filter 0%,$(STEPS))))
endif
# STEP=NN (or NN-name) names one step; the newest one by default.
step     = $(or $(filter $(STEP)-%,$(STEPS)),$(filter $(STEP),$(STEPS)),$(if $(STEP),$(error no step $(STEP) in steps/),$(NEWEST)))

# The privileged commands run as root: directly when we are root (as in CI), through
# sudo otherwise (saying so), or not at all, with a clear message, without sudo.
ifeq ($(shell id -u),0)
SUDO :=
else ifneq ($(shell command -v sudo 2>/dev/null),)
SUDO := echo "cntlab: this needs root: running it with sudo" >&2; sudo
else
SUDO := { echo "cntlab: this needs root, and sudo is not installed: run make as root" >&2; exit 1; };
endif

DEBS := gcc make pkg-config libcap-dev libmnl-dev libseccomp-dev bats bats-assert bats-support \
	busybox-static iproute2 util-linux procps curl uidmap slirp4netns bubblewrap \
	libarchive-dev libjansson-dev nettle-dev libacl1-dev libzstd-dev zlib1g-dev umoci skopeo \
	libnftables-dev nftables

.PHONY: all deps deps-lint deps-vm deps-cross cross rootfs image run test diff lint test-asan memcheck test-vm soak bench docs doctor clean \
	exercise check progress test-exercises
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

# A test helper: runs a program with clone3() failing ENOSYS (tests/no-clone3.c).
build/no-clone3: tests/no-clone3.c | build
	$(CC) $(CFLAGS) -o $@ $< $(LIBS)

# A test helper: one system call inside a container (tests/try-call.c), static to run
# in any rootfs.
build/try-call: tests/try-call.c | build
	$(CC) $(CFLAGS) -static -o $@ $<

# make doctor's way to ask the kernel for a system call (tests/doctor-probe.c): libc only.
build/doctor-probe: tests/doctor-probe.c | build
	$(CC) $(CFLAGS) -o $@ $<

# The same steps built with AddressSanitizer and UBSan, for `make test-asan`.
ASAN_FLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
build/asan/%: steps/%.c $(wildcard lib/*.c lib/*.h) | build/asan
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $< $(wildcard lib/*.c) $(LIBS)

deps:
	@missing=""; for p in $(DEBS); do dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "deps: all installed"; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "deps: install these (or your distribution's equivalents) by hand:$$missing" >&2; exit 1; fi; \
	echo "deps: installing$$missing"; \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive sh -c \
		"apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing"

# As root the rootfs is shifted to uid 100000 (05's user namespace); as an ordinary
# user it is that user's own (09-rootless), made without sudo. The targets that run the
# steps as root ask for root's, through sudo (AS_ROOT=1).
rootfs:
	@[ -e rootfs/bin/sh ] || { $(if $(AS_ROOT),$(SUDO)) ./rootfs-fetch.sh rootfs; }

# 09-rootless's rootfs belongs to whoever runs make: no uid shift, no sudo.
rootfs.user:
	@[ -e rootfs.user/bin/sh ] || CNTLAB_UID_SHIFT=0 ./rootfs-fetch.sh rootfs.user

# An OCI image layout of ./rootfs for 10-image, made offline with umoci (docs/10-image.md):
# one layer of the rootfs, its IDs shifted back from 100000 to 0, and where the rootfs has no
# /etc/os-release (the busybox one) a second layer that adds one. Root reads the rootfs.
image: deps
	@$(MAKE) --no-print-directory -s rootfs AS_ROOT=1
	@[ -f image/index.json ] || $(SUDO) sh -ec 'tmp=$$(mktemp -d); trap "rm -rf $$tmp" EXIT; \
		umoci init --layout $$tmp/image; umoci new --image $$tmp/image:latest; \
		umoci insert --uid-map 0:100000:65536 --gid-map 0:100000:65536 --image $$tmp/image:latest rootfs /; \
		if [ ! -e rootfs/etc/os-release ]; then \
			printf "NAME=cntlab\nID=cntlab\nPRETTY_NAME=\"cntlab busybox image (make image)\"\n" >$$tmp/os-release; \
			umoci insert --image $$tmp/image:latest $$tmp/os-release /etc/os-release; fi; \
		umoci config --image $$tmp/image:latest --config.cmd /bin/sh; \
		mv $$tmp/image image; echo "image: made image/ (tag latest) from rootfs/"'

# Targets that need the packages first build in a sub-make, after `deps` has run.
BUILT = $(MAKE) --no-print-directory -s all rootfs build/no-clone3 build/try-call build/doctor-probe AS_ROOT=1

# 09 runs as you, in a rootfs of your own; the other steps as root. (In the recipe, not an
# ifeq: $(step) is checked only when make runs this target, so STEP="07 08" is no error.)
run: deps
	@$(if $(filter 09-%,$(step)),$(MAKE) --no-print-directory -s bin/$(step) rootfs.user,$(BUILT))
	@$(if $(filter 10-%,$(step)),$(MAKE) --no-print-directory -s image)
	@$(if $(filter 09-%,$(step)),bin/$(step) -r rootfs.user,$(SUDO) bin/$(step) $(if $(filter 01-%,$(step)),,$(if $(filter 10-%,$(step)),-i image,-r rootfs))) $(CMD)

test: deps
	@$(BUILT)
	@$(SUDO) env $(if $(BIN),BIN=$(BIN)) $(if $(PART),PART=$(PART)) tests/run $(STEP)

# The workshop loop (docs/README.md): start a step of your own, check it, see how far you are.
exercise:
	@exercise/loop start '$(STEP)' '$(FROM)'

# 09-rootless is tested as the ordinary user who runs make; every other step as root.
check: deps
	@$(BUILT)
	@CC='$(CC)' CFLAGS='$(CFLAGS)' LIBS='$(LIBS)' exercise/loop build '$(STEP)'
	@s=$$(exercise/loop name '$(STEP)') || exit 2; r=$$(mktemp); st=0; \
	if [ "$${s%%-*}" = 09 ]; then \
		env BIN=build/mine/$$s RESULTS=$$r $(if $(PART),PART=$(PART)) tests/run $$s || st=$$?; \
	else \
		$(SUDO) env BIN=build/mine/$$s RESULTS=$$r $(if $(PART),PART=$(PART)) tests/run $$s || st=$$?; \
	fi; \
	exercise/loop record "$$s" "$$r"; rm -f "$$r"; exit $$st

progress:
	@exercise/loop progress

# The suite's own negative control: every step's unmodified exercise must fail exactly
# its feature part (tests/exercises; the exceptions, with reasons, in tests/exercise-exceptions).
# Like the suite, it runs as root: tests/09-rootless.bats runs the program as a test user of its own.
EXERCISE_STEPS := $(STEPS)
test-exercises: deps
	@$(BUILT)
	@for s in $(EXERCISE_STEPS); do \
		mkdir -p build/exercise && exercise/make-exercise $$s build/exercise/$$s.c && \
		$(CC) $(CFLAGS) -o build/exercise/$$s build/exercise/$$s.c build/libcntlab.a $(LIBS) || exit 1; \
	done
	@$(SUDO) tests/exercises $(or $(STEP),$(EXERCISE_STEPS))

diff:
	@[ -n "$(STEP)" ] || { echo "usage: make diff STEP=NN" >&2; exit 2; }
	@prev=$$(printf '%s\n' $(STEPS) | grep -B1 -x '$(step)' | head -n1); \
	case '$(step)' in 09-* | 1[0-9]-*) prev=$$(printf '%s\n' $(STEPS) | grep -x '08-.*');; esac; \
	[ "$$prev" != '$(step)' ] || { echo "$(step) is the first step: nothing to diff" >&2; exit 2; }; \
	diff -u --label "steps/$$prev.c" --label "steps/$(step).c" "steps/$$prev.c" "steps/$(step).c" || [ $$? -eq 1 ]

# Quality gates: formatting, shell, static analysis. All must be silent.
LINT_DEBS := clang-format clang-tidy cppcheck shellcheck valgrind
SHELL_FILES := rootfs-fetch.sh .ci/run tests/run tests/exercises exercise/make-exercise exercise/loop $(wildcard tests/*.bash tests/*.bats tests/vm/run \
	tests/vm/deps tests/vm/init tests/bench tests/soak tests/doctor docs/gen tests/gen)
deps-lint:
	@$(MAKE) -s deps DEBS="$(LINT_DEBS)"

lint:
	clang-format --dry-run --Werror steps/*.c lib/*.c lib/*.h tests/*.c exercise/*.c
	shellcheck $(SHELL_FILES)
	cppcheck -q --error-exitcode=1 --enable=warning,style,performance,portability \
		--suppress=missingIncludeSystem -Ilib steps/*.c lib/*.c tests/*.c exercise/*.c
	printf '%s\n' steps/*.c lib/*.c tests/*.c exercise/*.c | xargs -P2 -I{} clang-tidy -quiet {} -- -std=gnu11 -Ilib
	@echo "lint: clean"

# The whole suite once more, against the sanitizer builds of every step.
test-asan: deps
	@$(BUILT) $(addprefix build/asan/,$(STEPS))
	@$(SUDO) env BINDIR=$(CURDIR)/build/asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run $(STEP)

# valgrind's memcheck on each supervisor (the container's own process is not
# followed: it execs, and valgrind misreads mount(2)'s NULL type argument). 09-rootless
# refuses root, so it runs as you, or as root as nobody (65534), whose rootfs is nobody's.
# 11-bridge turns forwarding on and adds nftables rules: only in a network namespace of
# its own (unshare -n), never in the machine's.
VALGRIND := valgrind -q --error-exitcode=99 --child-silent-after-fork=yes --leak-check=full --suppressions=tests/valgrind.supp \
	--errors-for-leak-kinds=definite
AS_USER := $(if $(filter 0,$(shell id -u)),setpriv --reuid=65534 --regid=65534 --clear-groups)
memcheck: deps
	@$(BUILT)
	@$(MAKE) --no-print-directory -s image
	@for s in $(STEPS); do \
		r=; [ "$$s" = 01-uts ] || r="-r rootfs"; \
		case $$s in 10-*) r="-i image" ;; esac; \
		case $$s in 09-*) as='$(AS_USER)' ;; 11-*) as='$(SUDO) unshare -n' ;; *) as='$(SUDO)' ;; esac; \
		eval "$$as" $(VALGRIND) bin/$$s $$r true || { echo "memcheck: $$s is not clean" >&2; exit 1; }; \
	done; echo "memcheck: every supervisor is clean"

# The steps and the test helpers for another Debian architecture (ARCH=arm64 or amd64;
# aarch64 and x86_64 are taken too), with its gcc and its -dev packages through
# multiarch, and the same flags, warnings as errors: into build/ARCH/.
HOST_ARCH := $(patsubst aarch64,arm64,$(patsubst x86_64,amd64,$(shell dpkg --print-architecture 2>/dev/null || uname -m)))
ARCH ?= $(HOST_ARCH)
override ARCH := $(patsubst aarch64,arm64,$(patsubst x86_64,amd64,$(ARCH)))
FOREIGN  = $(filter-out $(HOST_ARCH),$(ARCH))
TRIPLET  = $(or $(if $(filter arm64,$(ARCH)),aarch64-linux-gnu),$(if $(filter amd64,$(ARCH)),x86_64-linux-gnu),$(error ARCH=$(ARCH): expected arm64 or amd64))
XDIR    := build/$(ARCH)
XPKG     = PKG_CONFIG_LIBDIR=/usr/lib/$(TRIPLET)/pkgconfig pkg-config
XCFLAGS  = $(CFLAGS) $(shell $(XPKG) --cflags $(PKGS) 2>/dev/null)
XLIBS    = -Wl,--as-needed $(shell $(XPKG) --libs $(PKGS) 2>/dev/null) $(ARCHIVE)
XDEBS    = gcc-$(subst _,-,$(TRIPLET)) libc6-dev:$(ARCH) libcap-dev:$(ARCH) libmnl-dev:$(ARCH) libseccomp-dev:$(ARCH) \
	libarchive-dev:$(ARCH) libjansson-dev:$(ARCH) nettle-dev:$(ARCH) libacl1-dev:$(ARCH) libzstd-dev:$(ARCH) zlib1g-dev:$(ARCH) \
	libnftables-dev:$(ARCH)

deps-cross:
	@[ '$(ARCH)' = '$(HOST_ARCH)' ] || dpkg --print-foreign-architectures | grep -qx '$(ARCH)' || \
		{ echo "deps: dpkg --add-architecture $(ARCH)"; $(SUDO) dpkg --add-architecture $(ARCH); }
	@$(MAKE) -s deps DEBS="$(XDEBS)"

cross: deps-cross
	@$(MAKE) --no-print-directory -s $(addprefix $(XDIR)/bin/,$(STEPS)) $(XDIR)/no-clone3 $(XDIR)/try-call $(XDIR)/doctor-probe

$(XDIR)/bin/%: steps/%.c $(XDIR)/libcntlab.a | $(XDIR)/bin
	$(TRIPLET)-gcc $(XCFLAGS) -o $@ $< $(XDIR)/libcntlab.a $(XLIBS)

$(XDIR)/libcntlab.a: $(patsubst lib/%.c,$(XDIR)/%.o,$(wildcard lib/*.c))
	$(TRIPLET)-ar rcs $@ $^

$(XDIR)/%.o: lib/%.c lib/%.h | $(XDIR)/bin
	$(TRIPLET)-gcc $(XCFLAGS) -c -o $@ $<

$(XDIR)/no-clone3: tests/no-clone3.c | $(XDIR)/bin
	$(TRIPLET)-gcc $(XCFLAGS) -o $@ $< $(XLIBS)

$(XDIR)/try-call: tests/try-call.c | $(XDIR)/bin
	$(TRIPLET)-gcc $(XCFLAGS) -static -o $@ $<

$(XDIR)/doctor-probe: tests/doctor-probe.c | $(XDIR)/bin
	$(TRIPLET)-gcc $(XCFLAGS) -o $@ $<

$(XDIR)/bin:
	mkdir -p $@

# The same suite inside a VM whose kernel mounts only cgroup v2 (tests/vm/run); with
# ARCH=arm64 on another host, a VM of that architecture running build/arm64/.
deps-vm:
	@$(SUDO) env CNTLAB_VM_ARCH=$(ARCH) tests/vm/deps

test-vm: deps deps-vm $(if $(FOREIGN),cross)
	@$(if $(FOREIGN),,$(BUILT))
	@$(SUDO) env CNTLAB_VM_ARCH=$(ARCH) $(if $(PART),PART=$(PART)) tests/vm/run $(STEP)

soak: deps
	@$(BUILT)
	@$(SUDO) tests/soak

bench: deps
	@$(BUILT)
	@$(MAKE) --no-print-directory -s image
	@$(SUDO) tests/bench

# Before the workshop: what this machine can run (tests/doctor). No deps first: it says
# what is missing. Its probe is built when a compiler is there; it runs without it too.
doctor:
	@$(MAKE) --no-print-directory -s build/doctor-probe >/dev/null 2>&1 || true
	@DEBS='$(DEBS)' tests/doctor

docs: deps
	@$(BUILT)
	@docs/gen

clean:
	rm -rf bin build
