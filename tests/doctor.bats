#!/usr/bin/env bats
# make doctor (tests/doctor): the preflight an attendee runs before the workshop. It must
# tell the truth both ways: every check ✔ on a machine that runs the lab, and a ✘ with
# its fix, a "no" in the table and exit status 1 when a requirement is taken away on
# purpose. And, like every program of the lab, it leaves nothing behind.

load helpers

setup() {
	# shellcheck disable=SC2034 # for helpers.bash's messages
	STEP=doctor
	requires root unshare setpriv
	take_lock
	DOCTOR=$ROOT/tests/doctor
}

# doctor [ENV...]: run tests/doctor, killed after CNT_TIMEOUT seconds.
doctor() {
	run timeout -k 5 "$CNT_TIMEOUT" env "$@" "$DOCTOR"
}

# The packages are what a machine without a compiler (the test VM: it runs programs
# built outside) rightly lacks; every other check must pass on a machine that runs the
# suite.
build_tools_here() {
	command -v cc >/dev/null && command -v make >/dev/null && command -v pkg-config >/dev/null
}

# host_state: what a leftover of doctor would change: mounts, network interfaces, cgroup
# directories named cntlab*, the v2 root's enabled controllers, doctor's temporary
# directories.
host_state() {
	echo "mounts:"
	host_mounts
	echo "links:"
	ip -o link show | awk -F': ' '{ print $2 }' | LC_ALL=C sort
	echo "cgroups:"
	find /sys/fs/cgroup -maxdepth 8 -type d -path '*cntlab*' 2>/dev/null | LC_ALL=C sort
	echo "subtree_control:"
	cat /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
	echo "tmp:"
	find /tmp -maxdepth 1 -name 'cntlab-doctor.*' | LC_ALL=C sort
}

# expect_check MARK TEXT: a check line starting with MARK (✔ or ✘) and containing TEXT.
expect_check() {
	if ! grep -qF -- "$1 " <<<"$(grep -F -- "$2" <<<"$output")"; then
		flunk "doctor should print a $1 line about '$2'; it printed (exit status $status):" "$output"
	fi
}

@test "doctor: every check passes here, and the table says steps 01-08 will run" {
	doctor
	if build_tools_here; then
		if ((status != 0)) || grep -q '^✘' <<<"$output"; then
			flunk "On a machine that runs this suite, make doctor should print no ✘ and exit 0; it exited $status:" "$output"
		fi
		assert_output --partial "doctor: steps 01-08 will run here"
	else
		# Only the build tools are missing: every other check still passes.
		assert_equal "$status" 1
		failing=$(grep '^✘' <<<"$output")
		if [[ $failing != "✘ packages: "* || $failing == *$'\n'* ]]; then
			flunk "Without a compiler only the packages check should fail; these did:" "$failing" "" "$output"
		fi
	fi
	for s in 01-uts 02-mnt 03-pid 04-ipc 05-user 06-net 07-cgroups 08-sec 09-rootless; do
		assert_output --regexp "  $s +(yes|no: needs packages)"
	done
	expect_check ✔ "namespace (05-user"
	expect_check ✔ "veth driver"
	expect_check ✔ "overlayfs in a user namespace"
	expect_check ✔ "rootfs:"
}

@test "doctor: leaves no mount, veth, cgroup, enabled controller or file behind" {
	before=$(host_state)
	doctor
	after=$(host_state)
	if [[ $before != "$after" ]]; then
		flunk "make doctor must remove what it made (it asks the kernel by making things):" \
			"$(diff <(echo "$before") <(echo "$after"))"
	fi
}

@test "doctor: a user.max_user_namespaces of 0 is a ✘ with its fix, and 05-08 will not run" {
	# The limit is per user namespace: lowered in a child one, it binds only doctor.
	# shellcheck disable=SC2016 # $0 is for sh
	run timeout -k 5 "$CNT_TIMEOUT" unshare --user --map-root-user sh -c \
		'echo 0 >/proc/sys/user/max_user_namespaces && exec "$0"' "$DOCTOR"
	assert_equal "$status" 1
	assert_line --regexp '^✘ user namespace .*No space left on device.*user.max_user_namespaces = 0'
	assert_line --partial "→ raise the limit: sysctl -w user.max_user_namespaces="
	assert_line --regexp '^  05-user +no: needs .*user ns'
	assert_line --regexp '^  08-sec +no: needs .*user ns'
	assert_line --regexp '^✔ uts namespace'
}

# path_without NAME...: a directory of links to every program on the usual PATH but
# NAMEs, in $bin (outside bats's directory, which an ordinary user cannot enter).
path_without() {
	bin=$(mktemp -d /tmp/cntlab-test-path.XXXXXX)
	(quick link_programs_but "$bin" "$@")
	chmod 755 "$bin"
}

# link_programs_but DIR NAME...: link into DIR the first program of each name on the
# usual PATH but NAMEs, with one ln for them all (some two thousand).
link_programs_but() {
	local dir=$1 d f name
	local -A taken=()
	local -a programs=()
	shift
	for name; do taken[$name]=1; done
	for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
		for f in "$d"/*; do
			name=${f##*/}
			if [[ -e $f && -z ${taken[$name]-} ]]; then
				taken[$name]=1
				programs+=("$f")
			fi
		done
	done
	ln -s -t "$dir" "${programs[@]}"
}

teardown() {
	if [[ -n ${bin-} ]]; then rm -rf "$bin"; fi
}

@test "doctor: without ip(8) on PATH the veth check is a ✘ naming iproute2, and 06-08 will not run" {
	path_without ip
	doctor PATH="$bin"
	assert_equal "$status" 1
	assert_line "✘ veth driver (06-net): ip(8) is not on PATH, so it cannot be asked"
	assert_line --partial "→ install iproute2"
	assert_line --regexp '^  06-net +no: needs .*ip'
	assert_line --regexp '^  05-user +(yes|no: needs packages)$'
}

@test "doctor: a rootfs for another architecture is a ✘ naming both, and 02-08 will not run" {
	fake=$BATS_TEST_TMPDIR/rootfs
	mkdir -p "$fake/bin"
	cp "$(type -P true)" "$fake/bin/busybox"
	ln -s /bin/busybox "$fake/bin/sh"
	# e_machine, two bytes at offset 18: aarch64 (0xb7) here, x86_64 (0x3e) on arm64.
	other=aarch64 byte='\0267'
	[[ $(uname -m) == aarch64 ]] && other=x86_64 byte='\0076'
	printf '%b%b' "$byte" '\0000' | dd of="$fake/bin/busybox" bs=1 seek=18 conv=notrunc status=none
	doctor ROOTFS="$fake"
	assert_equal "$status" 1
	assert_line --regexp "^✘ rootfs: .*bin/busybox is for $other, this machine is $(uname -m)\$"
	assert_line --partial "→ sudo ./rootfs-fetch.sh --force --busybox $fake (built from this machine's own busybox-static)"
	assert_line --regexp '^  02-mnt +no: needs .*rootfs'
	assert_line --regexp '^  01-uts +(yes|no: needs packages)$'
}

@test "doctor: an ordinary user without sudo gets a ✘ on root with its fix, and 01-08 will not run" {
	path_without sudo
	# shellcheck disable=SC2016 # $0 is for sh
	run timeout -k 5 "$CNT_TIMEOUT" setpriv --reuid=65534 --regid=65534 --clear-groups \
		env PATH="$bin" HOME=/ sh -c 'cd / && exec "$0"' "$DOCTOR"
	assert_equal "$status" 1
	assert_line "✘ not root, and there is no sudo: steps 01-08 need root (or CAP_SYS_ADMIN and CAP_NET_ADMIN)"
	assert_line --partial "→ install sudo and add yourself to its group"
	assert_line --regexp '^  01-uts +no: needs root'
	assert_line --regexp '^  08-sec +no: needs root'
	assert_line --regexp '^✔ 09-rootless: nobody can make a user namespace|^✘ 09-rootless: nobody cannot'
}
