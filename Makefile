# cntlab: a Linux container in C, one kernel feature per step.
#
#   make                  build bin/01-uts ... bin/08-sec, and the bonus bin/09-rootless, bin/10-image
#                         and bin/11-bridge (which changes the host's network: see docs/11-bridge.md)
#   make run [STEP=NN] [CMD='...']   a shell (or CMD) in the newest (or NN) step
#   make test [STEP=NN] [BIN=path] [PART=feature|earlier|contract] [JOBS=2]
#                         the bats suite, JOBS files at a time, or one step's file against
#                         BIN (one part of it)
#   make exercise STEP=NN [FROM=mine]   start your own step NN in mine/NN-name.c
#   make check STEP=NN [PART=...]       build mine/NN-name.c, run step NN's tests on it
#   make progress         your steps against the three parts, from the last make checks
#   make test-exercises   each step's unmodified exercise fails exactly its feature part
#   make diff STEP=NN     what step NN adds to the step it builds on (steps/list)
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
# privileged part of run, test and deps runs through sudo, and says so: every privileged
# command goes through tools/as-root, which decides that (and, without sudo, says to run
# make as root). make rootfs alone, as a regular user, makes a rootfs that user owns, for
# 09-rootless. The exception is 09-rootless: `make run STEP=09` runs as you, on
# rootfs.user, a rootfs you own, with no sudo at all.

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

# The steps, from steps/list (steps/list.bash reads it): STEPS in order, and for each
# step its facts, e.g. $(03-pid.after) = 02-mnt (empty for the first), $(03-pid.kind) = core
# or bonus, $(03-pid.as) = root or user, $(03-pid.root) = none, rootfs or image,
# $(03-pid.net) = host or netns. What each means: the top of steps/list.
STEPS   :=
$(foreach fact,$(shell steps/list.bash step_make_vars),$(eval $(fact)))
BINS    := $(addprefix bin/,$(STEPS))
IS_ROOT := $(filter 0,$(shell id -u))
# steps_where,FIELD,VALUE: the steps whose fact FIELD is VALUE.
steps_where = $(foreach s,$(STEPS),$(if $(filter $(2),$($(s).$(1))),$(s)))
# Without STEP, make run runs the last core step; the bonus steps run only when named,
# except that for an ordinary user (not root) the newest is the last step made for one
# (09-rootless), which root cannot run.
NEWEST  := $(lastword $(call steps_where,kind,core) $(if $(IS_ROOT),,$(call steps_where,as,user)))
# $(step): the step STEP names, by number or full name (03 or 03-pid); without STEP, NEWEST.
step     = $(if $(STEP),$(or $(call step_named,$(STEP)),$(error no step $(STEP) in steps/)),$(NEWEST))
step_named = $(filter $(1)-% $(1),$(STEPS))
# runs_as_user,STEP: non-empty when STEP runs as an ordinary user (steps/list's as=user).
runs_as_user = $(filter user,$($(1).as))
# root_opts,STEP,DIR: the options that give STEP its root: -r DIR, -i image, or none.
root_opts = $(if $(filter rootfs,$($(1).root)),-r $(2))$(if $(filter image,$($(1).root)),-i image)

DEBS := gcc make pkg-config libcap-dev libmnl-dev libseccomp-dev bats bats-assert bats-support \
	busybox-static iproute2 util-linux procps curl uidmap slirp4netns bubblewrap \
	libarchive-dev libjansson-dev nettle-dev libacl1-dev libzstd-dev zlib1g-dev umoci skopeo \
	libnftables-dev nftables python3

.PHONY: all deps deps-lint deps-vm deps-cross cross rootfs image run test diff lint test-asan memcheck test-vm soak bench docs doctor clean \
	exercise check progress test-exercises
all: $(BINS)

# The test helpers, built next to the steps: no-clone3 runs a program with clone3()
# failing ENOSYS (tests/no-clone3.c); try-call makes one system call inside a container
# (tests/try-call.c), static to run in any rootfs; doctor-probe is make doctor's way to
# ask the kernel for a system call (tests/doctor-probe.c), libc only; subreaper keeps
# the orphans of each of tests/run's lanes apart (tests/subreaper.c), libc only.
HELPERS := no-clone3 try-call doctor-probe subreaper

# The rules that build the steps and the helpers, written once and made twice: here for
# this machine, and under "cross" below for another architecture.
# $(call build_rules,DIR,BINDIR,CC,AR,CFLAGS,LIBS): lib/'s objects, their archive and the
# helpers in DIR, the steps in BINDIR. Each step links only what it uses: the shared lib/
# objects come from an archive, so the linker takes just the members a step calls, and
# --as-needed drops unused libraries.
define build_rules
$(2)/%: steps/%.c $(1)/libcntlab.a | $(2)
	$(3) $(5) -o $$@ $$< $(1)/libcntlab.a $(6)

$(1)/libcntlab.a: $(patsubst lib/%.c,$(1)/%.o,$(wildcard lib/*.c))
	$(4) rcs $$@ $$^

$(1)/%.o: lib/%.c lib/%.h | $(1)
	$(3) $(5) -c -o $$@ $$<

$(1)/no-clone3: tests/no-clone3.c | $(1)
	$(3) $(5) -o $$@ $$< $(6)

$(1)/try-call: tests/try-call.c | $(1)
	$(3) $(5) -static -o $$@ $$<

$(1)/doctor-probe $(1)/subreaper: $(1)/%: tests/%.c | $(1)
	$(3) $(5) -o $$@ $$<
endef
$(eval $(call build_rules,build,bin,$$(CC),$$(AR),$$(CFLAGS),$$(LIBS)))

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
	tools/as-root env DEBIAN_FRONTEND=noninteractive sh -c \
		"apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing"

# As root the rootfs is shifted to uid 100000 (05's user namespace); as an ordinary
# user it is that user's own (09-rootless), made without sudo. The targets that run the
# steps as root ask for root's (AS_ROOT=1), made through tools/as-root.
rootfs:
	@[ -e rootfs/bin/sh ] || $(if $(AS_ROOT),tools/as-root) ./rootfs-fetch.sh rootfs

# 09-rootless's rootfs belongs to whoever runs make: no uid shift, no sudo.
rootfs.user:
	@[ -e rootfs.user/bin/sh ] || CNTLAB_UID_SHIFT=0 ./rootfs-fetch.sh rootfs.user

# An OCI image layout of ./rootfs for 10-image, made offline with umoci (docs/10-image.md):
# one layer of the rootfs, its IDs shifted back from 100000 to 0, and where the rootfs has no
# /etc/os-release (the busybox one) a second layer that adds one. Root reads the rootfs.
image: deps
	@$(MAKE) --no-print-directory -s rootfs AS_ROOT=1
	@[ -f image/index.json ] || tools/as-root sh -ec 'tmp=$$(mktemp -d); trap "rm -rf $$tmp" EXIT; \
		umoci init --layout $$tmp/image; umoci new --image $$tmp/image:latest; \
		umoci insert --uid-map 0:100000:65536 --gid-map 0:100000:65536 --image $$tmp/image:latest rootfs /; \
		if [ ! -e rootfs/etc/os-release ]; then \
			printf "NAME=cntlab\nID=cntlab\nPRETTY_NAME=\"cntlab busybox image (make image)\"\n" >$$tmp/os-release; \
			umoci insert --image $$tmp/image:latest $$tmp/os-release /etc/os-release; fi; \
		umoci config --image $$tmp/image:latest --config.cmd /bin/sh; \
		mv $$tmp/image image; echo "image: made image/ (tag latest) from rootfs/"'

# Targets that need the packages first build in a sub-make, after `deps` has run.
BUILT = $(MAKE) --no-print-directory -s all rootfs $(addprefix build/,$(HELPERS)) AS_ROOT=1

# A step for an ordinary user (09-rootless) runs as you, in a rootfs of your own; the
# others as root; 10-image from the image. (In the recipe, not an ifeq: $(step) is checked
# only when make runs this target, so STEP="07 08" is no error.)
run: deps
	@$(if $(call runs_as_user,$(step)),$(MAKE) --no-print-directory -s bin/$(step) rootfs.user,$(BUILT))
	@$(if $(filter image,$($(step).root)),$(MAKE) --no-print-directory -s image)
	@$(if $(call runs_as_user,$(step)),bin/$(step) $(call root_opts,$(step),rootfs.user),tools/as-root bin/$(step) $(call root_opts,$(step),rootfs)) $(CMD)

test: deps
	@$(BUILT)
	@tools/as-root env $(if $(BIN),BIN=$(BIN)) $(if $(PART),PART=$(PART)) $(if $(JOBS),JOBS=$(JOBS)) tests/run $(STEP)

# The workshop loop (docs/README.md): start a step of your own, check it, see how far you are.
exercise:
	@exercise/loop start '$(STEP)' '$(FROM)'

# make check: exercise/loop builds mine/NN-name.c with the lab's flags, runs step NN's
# tests on it as steps/list says (09-rootless as the ordinary user who runs make, every
# other step as root) and keeps the results for make progress.
check: deps
	@$(BUILT)
	@CC='$(CC)' CFLAGS='$(CFLAGS)' LIBS='$(LIBS)' PART='$(PART)' exercise/loop check '$(STEP)'

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
	@tools/as-root tests/exercises $(or $(STEP),$(EXERCISE_STEPS))

# What step NN adds to the step it builds on (steps/list's after).
diff:
	@[ -n "$(STEP)" ] || { echo "usage: make diff STEP=NN" >&2; exit 2; }
	@$(if $($(step).after),,echo "$(step) is the first step: nothing to diff" >&2; exit 2)
	@diff -u --label steps/$($(step).after).c --label steps/$(step).c steps/$($(step).after).c steps/$(step).c || [ $$? -eq 1 ]

# Quality gates: formatting, shell, static analysis. All must be silent.
LINT_DEBS := clang-format clang-tidy cppcheck shellcheck valgrind
SHELL_FILES := rootfs-fetch.sh .ci/run steps/list.bash tools/as-root tests/run tests/exercises exercise/loop $(wildcard tests/*.bash tests/*.bats tests/vm/run \
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
	@tools/as-root env BINDIR=$(CURDIR)/build/asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run $(STEP)

# valgrind's memcheck on each supervisor (the container's own process is not
# followed: it execs, and valgrind misreads mount(2)'s NULL type argument). A step for an
# ordinary user (09-rootless) refuses root, so it runs as you, or as root as nobody
# (65534). A step that changes the host's network (steps/list's net=netns: 11-bridge turns
# forwarding on and adds nftables rules) runs only in a network namespace of its own
# (unshare -n), never in the machine's.
VALGRIND := valgrind -q --error-exitcode=99 --child-silent-after-fork=yes --leak-check=full --suppressions=tests/valgrind.supp \
	--errors-for-leak-kinds=definite
AS_USER := $(if $(IS_ROOT),setpriv --reuid=65534 --regid=65534 --clear-groups)
# memcheck_as,STEP: what runs STEP's valgrind: as the user, as root, in a netns of its own.
memcheck_as = $(if $(call runs_as_user,$(1)),$(AS_USER),tools/as-root $(if $(filter netns,$($(1).net)),unshare -n))
# One command per step, each its own recipe line.
define memcheck_step
	@$(call memcheck_as,$(1)) $(VALGRIND) bin/$(1) $(call root_opts,$(1),rootfs) true || { echo "memcheck: $(1) is not clean" >&2; exit 1; }

endef
memcheck: deps
	@$(BUILT)
	@$(MAKE) --no-print-directory -s image
	$(foreach s,$(STEPS),$(call memcheck_step,$(s)))
	@echo "memcheck: every supervisor is clean"

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
		{ echo "deps: dpkg --add-architecture $(ARCH)"; tools/as-root dpkg --add-architecture $(ARCH); }
	@$(MAKE) -s deps DEBS="$(XDEBS)"

cross: deps-cross
	@$(MAKE) --no-print-directory -s $(addprefix $(XDIR)/bin/,$(STEPS)) $(addprefix $(XDIR)/,$(HELPERS))

# The native rules (build_rules above), with the cross compiler, into build/ARCH/.
$(eval $(call build_rules,$(XDIR),$(XDIR)/bin,$$(TRIPLET)-gcc,$$(TRIPLET)-ar,$$(XCFLAGS),$$(XLIBS)))

$(XDIR) $(XDIR)/bin:
	mkdir -p $@

# The same suite inside a VM whose kernel mounts only cgroup v2 (tests/vm/run); with
# ARCH=arm64 on another host, a VM of that architecture running build/arm64/.
deps-vm:
	@tools/as-root env CNTLAB_VM_ARCH=$(ARCH) tests/vm/deps

test-vm: deps deps-vm $(if $(FOREIGN),cross)
	@$(if $(FOREIGN),,$(BUILT))
	@tools/as-root env CNTLAB_VM_ARCH=$(ARCH) $(if $(PART),PART=$(PART)) tests/vm/run $(STEP)

soak: deps
	@$(BUILT)
	@tools/as-root tests/soak

bench: deps
	@$(BUILT)
	@$(MAKE) --no-print-directory -s image
	@tools/as-root tests/bench

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
