# shellcheck shell=bash
#
# helpers.bash - what every tests/NN-name.bats file loads.
#
# A step file is a list of one-line tests, each calling one check_* function
# from here, so an isolation is checked the same way in every step that has it.
#
# Parts. Each test names its part in square brackets right after the step:
#
#   @test "03-pid: [feature] COMMAND is PID 1" { check_command_is_pid1; }
#
#   [feature]   this step's own kernel feature, and the negative controls showing
#               that it isolates no more than it should ("... still shares ...");
#   [earlier]   what earlier steps built (their features, not their options);
#   [contract]  the command line, exit statuses, lifetime (signals, SIGKILL), -v,
#               -o, -b, the limits' option values, and the leak checks.
#
# One comment line per file names the feature for the summary: "# feature: PID
# namespace". tests/run runs a file once per part with bats's name filter (-f),
# feature first, and prints one line per part; PART=feature|earlier|contract runs
# one. make test-exercises (tests/exercises) checks the split: the step's unmodified
# exercise, the previous step renamed, must fail every [feature] test and pass the
# rest, with the exceptions and their reasons in tests/exercise-exceptions.
# A new test takes the part of the behaviour it checks; a test that needs the
# feature to pass belongs in [feature] of the step that adds it.
# A failing check says what the container should have done, what it did, and
# which kernel feature is responsible; then it shows the command it ran with
# its exit status, stdout and stderr.
#
# Every test also checks, in its teardown, that the program left nothing behind
# on the host: no mount, no process, no veth, no cgroup, no change to the rootfs
# directory or to the host's hostname. Such a failure starts "LEAK:", and tests/run
# counts it apart: the behaviour under test may have been right.
#
# Environment:
#   BIN=path      test this binary instead of bin/NN-name (your own version of a step)
#   BINDIR=dir    test dir/NN-name for every step (make test-asan: the sanitizer builds)
#   ROOTFS=dir    root filesystem for steps 02+ (default: rootfs/ at the top of the repo)
#   CNT_TIMEOUT=s how long one run of the program may take (default 30)

bats_load_library bats-support
bats_load_library bats-assert

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
ROOTFS=${ROOTFS:-$ROOT/rootfs}
[[ $ROOTFS == /* ]] || ROOTFS=$PWD/$ROOTFS
CNT_TIMEOUT=${CNT_TIMEOUT:-30}
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The devices the contract puts in /dev (02-mnt), and what else may be there.
DEVICES=(null zero full random urandom tty)
DEV_MAY_HAVE=(mqueue pts shm ptmx fd stdin stdout stderr)
# Mount points a container of steps 02-04 may have. A later step that mounts
# more (e.g. masks in /proc) adds a regular expression in EXTRA_MOUNTS_RE.
OWN_MOUNTS_RE='^/(proc|dev(/(null|zero|full|random|urandom|tty|mqueue|pts|shm|ptmx))?)?$'
EXTRA_MOUNTS_RE=${EXTRA_MOUNTS_RE:-'^$'}
# What the last run did (see capture).
status=0 output='' stderr='' lines=() stderr_lines=()
LOCK_FD=9 # see take_lock

# ---------------------------------------------------------------- set up, tear down

# requires WHAT...: skip the test, saying why, unless each requirement holds.
# WHAT is "root" or the name of a command that must be installed.
requires() {
	local need
	for need in "$@"; do
		case $need in
		root) [[ $EUID -eq 0 ]] || skip "needs root" ;;
		*) command -v "$need" >/dev/null || skip "needs $need" ;;
		esac
	done
}

# step_setup NN-name: the setup() of every step file.
step_setup() {
	STEP=$1
	STEP_NO=$((10#${STEP%%-*}))
	CNT=${BIN:-${BINDIR:-$ROOT/bin}/$STEP}
	[[ $CNT == /* ]] || CNT=$PWD/$CNT
	CLEANUPS=()
	CNT_PREFIX=() # a command that runs the program, such as build/no-clone3
	RAN=
	requires root timeout
	take_lock
	SUPERVISORS_FILE=$BATS_TEST_TMPDIR/supervisors
	: >"$SUPERVISORS_FILE"
	if [[ ! -f $CNT || ! -x $CNT ]]; then
		fail "$STEP: there is no program to test at $CNT." \
			"Build it with make, or test your own version with BIN=path/to/$STEP."
	fi
	if ((STEP_NO >= 2)) && [[ ! -x $ROOTFS/bin/sh ]]; then
		fail "$STEP: there is no root filesystem at $ROOTFS (it has no bin/sh)." \
			"Run make rootfs, or point ROOTFS= at one."
	fi
	# From 05 on root inside is uid 100000 on the host: bind sources under bats's
	# run directory (mode 700) must be reachable by it.
	((STEP_NO < 5)) || let_container_root_in
	leak_baseline
}

# Tests of this suite never overlap, even when started from two terminals or
# two checkouts: the leak checks compare the host before and after a test, and
# would take another test's containers for leftovers.
take_lock() {
	local lock=${CNTLAB_TEST_LOCK:-/tmp/cntlab-tests.lock}
	exec {LOCK_FD}>>"$lock"
	if command -v flock >/dev/null && ! flock -w 300 "$LOCK_FD"; then
		fail "$STEP: waited 5 minutes for $lock: another run of these tests holds it."
	fi
}

# step_teardown: the teardown() of every step file. Undoes what the test set up
# on the host, then fails the test if the program left anything behind.
step_teardown() {
	run_cleanups
	[[ -n ${LEAK_BASELINE_TAKEN-} ]] || return 0
	LEAK_IN_TEARDOWN=1 check_nothing_leaked "after this test"
}

# at_teardown COMMAND [ARG...]: run COMMAND in teardown, even if the test failed.
at_teardown() {
	CLEANUPS+=("$(printf '%q ' "$@")")
}

run_cleanups() {
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[i]}" >/dev/null 2>&1 || true
	done
	CLEANUPS=()
}

# ---------------------------------------------------------------- running the program

# cnt ARG...: run the program under test with ARGs, killed if it takes longer
# than CNT_TIMEOUT seconds, so that nothing can hang the suite. No stdin. The
# program's PID (a shell's $! for it) is kept in SUPERVISORS_FILE, to find
# what it may leave behind (06-net's veth cnt<PID>, 07-cgroups' cntlab/<PID>).
# Neither bats's fd 3 nor the lock's fd is passed on to the container.
cnt() {
	cnt_stdin /dev/null "$@"
}

# cnt_stdin FILE ARG...: the same, with stdin from FILE.
cnt_stdin() {
	local in=$1
	shift
	# shellcheck disable=SC2016 # $$, $0 and $@ are for the bash that becomes the program
	timeout -k 5 "$CNT_TIMEOUT" bash -c 'echo "$$" >>"$0" && exec "$@"' "$SUPERVISORS_FILE" \
		"${CNT_PREFIX[@]}" "$CNT" "$@" \
		<"$in" 3>&- {LOCK_FD}>&-
}

# cnt_r ARG...: the same with -r ROOTFS (steps 02 and later).
cnt_r() {
	cnt -r "$ROOTFS" "$@"
}

# The arguments that put a container on its root filesystem in this step.
rootfs_args() {
	ROOTFS_ARGS=()
	if ((STEP_NO >= 2)); then ROOTFS_ARGS=(-r "$ROOTFS"); fi
	# 10-image's file runs the checks it inherits on an image (checks-image.bash).
	if [[ -n ${IMAGE_ARGS-} ]]; then ROOTFS_ARGS=("${IMAGE_ARGS[@]}"); fi
}

# capture COMMAND...: run COMMAND and set status, output (its stdout), stderr,
# and lines and stderr_lines (their non-empty lines), like bats's
# run --separate-stderr, which warns about the statuses 126 and 127 tested here.
capture() {
	local errfile=$BATS_TEST_TMPDIR/capture.stderr
	status=0
	output=$("$@" 2>"$errfile") || status=$?
	stderr=$(cat "$errfile")
	split_lines lines "$output"
	split_lines stderr_lines "$stderr"
}

split_lines() { # split_lines ARRAY TEXT
	local -n into=$1
	local line
	into=()
	while IFS= read -r line; do
		if [[ -n $line ]]; then into+=("$line"); fi
	done <<<"$2"
}

# run_cnt ARG...: run the program; afterwards $status, $output (stdout) and
# $stderr hold what it did, and a failing check shows them.
run_cnt() {
	RAN=$(printf '%q ' "${CNT_PREFIX[@]}" "$CNT" "$@")
	capture cnt "$@"
}

# run_in [OPTION...] COMMAND [ARG...]: run COMMAND in this step's container
# (from 02 on, on ROOTFS).
run_in() {
	rootfs_args
	run_cnt "${ROOTFS_ARGS[@]}" "$@"
}

# ---------------------------------------------------------------- reporting

# flunk LINE...: fail the test. The lines say what should have happened, what
# happened instead and which kernel feature is responsible; then comes what the
# last run of the program did.
flunk() {
	{
		printf '%s\n' "$@"
		if [[ -n ${RAN-} ]]; then
			echo "-- ran: $RAN"
			echo "-- exit status: ${status-?}$(status_meaning "${status-}")"
			show_stream stdout "${output-}"
			show_stream stderr "${stderr-}"
		fi
	} | fail
}

status_meaning() {
	case $1 in
	124) echo " (timeout killed it after $CNT_TIMEOUT s: the program hung)" ;;
	125) echo " (the program says it could not set up the container: see stderr)" ;;
	126) echo " (COMMAND could not be executed)" ;;
	127) echo " (COMMAND was not found)" ;;
	1[3-9][0-9] | 2[0-5][0-9]) echo " (128+$(($1 - 128)): killed by SIG$(kill -l $(($1 - 128)) 2>/dev/null))" ;;
	esac
}

show_stream() { # show_stream NAME TEXT
	if [[ -z $2 ]]; then
		echo "-- $1: (nothing)"
		return
	fi
	echo "-- $1:"
	local line n=0
	while IFS= read -r line; do
		n=$((n + 1))
		if ((n > 15)); then
			echo "   | ... (more lines not shown)"
			break
		fi
		printf "   | %s\n" "${line:0:150}"
	done <<<"$2"
}

# expect_ran WHAT: the last run must have exited 0.
expect_ran() {
	((status == 0)) && return
	local why="it exited $status"
	case $status in
	125) why="the program could not set up the container (exit status 125)" ;;
	124) why="it did not finish within $CNT_TIMEOUT s" ;;
	126 | 127) why="COMMAND could not be run (exit status $status)" ;;
	esac
	flunk "$STEP: the container should have run $1 and exited 0, but $why."
}

# expect_setup_error CASE: exit status 125 and exactly one line on stderr,
# "NN-name: what: why", as the contract asks for a container that cannot be set up.
expect_setup_error() {
	local case=$1
	if ((status != 125)); then
		flunk "$STEP: $case should make the program exit 125 (the container could not be set up); it exited $status."
	fi
	if ((${#stderr_lines[@]} != 1)); then
		flunk "$STEP: $case should print exactly one line on stderr, 'NN-name: what: why'; it printed ${#stderr_lines[@]}."
	fi
	if [[ ! ${stderr_lines[0]} =~ ^[^[:space:]:]+:\ .+:\ .+ ]]; then
		flunk "$STEP: $case: the error line should read 'NN-name: what: why', e.g." \
			"  $STEP: bad hostname \"a_b\": use letters, digits, - and ." \
			"It reads: ${stderr_lines[0]}"
	fi
}

# ---------------------------------------------------------------- host-side helpers

host_hostname() {
	local name
	IFS= read -r name </proc/sys/kernel/hostname
	echo "$name"
}

# descendants PID: the PIDs of all processes below PID, one a line.
descendants() {
	(quick descendants_slowly "$@")
}

descendants_slowly() {
	local -A kids=()
	local f line rest pid ppid
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		pid=${f#/proc/}
		pid=${pid%/stat}
		rest=${line##*) } # "S PPID ..." after "PID (comm) "
		rest=${rest#* }
		ppid=${rest%% *}
		kids[$ppid]+=" $pid"
	done
	local -a todo=("$1")
	local p c
	while ((${#todo[@]} > 0)); do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		for c in ${kids[$p]-}; do
			echo "$c"
			todo+=("$c")
		done
	done
}

# wait_for_descendant PID COMM SECONDS: print the PID of a process named COMM
# below PID, waiting up to SECONDS for it to show up.
wait_for_descendant() {
	local deadline=$((SECONDS + $3))
	while ((SECONDS <= deadline)); do
		descendant_named "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}

# descendant_named PID COMM [inside]: print the PID of a process named COMM below
# PID, now; with "inside", only one in a UTS namespace other than the test's, that
# is, in a container (every step has its own UTS namespace, 01-uts), not a helper
# the program runs on the host side.
descendant_named() {
	local p comm
	for p in $(descendants "$1"); do
		{ read -r comm <"/proc/$p/comm"; } 2>/dev/null || continue
		[[ $comm == "$2" ]] || continue
		if [[ ${3-} == inside && /proc/$p/ns/uts -ef /proc/$BASHPID/ns/uts ]]; then continue; fi
		echo "$p"
		return 0
	done
	return 1
}

# kill_tree PID: SIGKILL PID and every process below it.
kill_tree() {
	local p
	for p in $(descendants "$1") "$1"; do
		kill -KILL "$p" 2>/dev/null || true
	done
}

# The mount points in the host's mount table, in its order (the last mounted last).
# Every test calls this twice: shell built-ins only, no program to start.
host_mounts() {
	(quick host_mounts_slowly)
}

host_mounts_slowly() {
	local mp
	while read -r _ _ _ _ mp _; do
		echo "$mp"
	done </proc/self/mountinfo
}

# "NS /proc/PID/ns/uts" for every process on the host.
uts_of_processes() {
	find /proc/[0-9]*/ns/uts -maxdepth 0 -printf '%l %p\n' 2>/dev/null  || true
}

# "PID COMM" for each process the program left running: every container
# process is in a UTS namespace of its own (01-uts), one made since the test
# began. A leftover hangs below one of our supervisors, or was orphaned into
# an ancestor of this test (init, or a subreaper). Another test run's container,
# still below its own program, is not ours.
leftover_processes() {
	(quick leftover_processes_slowly)
}

# quick FUNCTION: run FUNCTION without bats's DEBUG trap, which slows shell loops
# down a hundredfold. Call it in a subshell: (quick f).
quick() {
	trap - DEBUG
	set +T
	"$@"
}

leftover_processes_slowly() {
	local -A ns_of=() parent=() known=() ours=()
	local ns path pid line rest p
	while read -r ns _; do known[$ns]=1; done <<<"$LEAK_BASE_UTS"
	while read -r ns path; do
		[[ $ns == uts:* ]] || continue # a zombie has no namespaces
		pid=${path#/proc/}
		ns_of[${pid%%/*}]=$ns
	done < <(uts_of_processes)
	for pid in "${!ns_of[@]}"; do
		{ read -r line <"/proc/$pid/stat"; } 2>/dev/null || continue
		rest=${line##*) } # "S PPID ..." after "PID (comm) "
		rest=${rest#* }
		parent[$pid]=${rest%% *}
	done
	for p in $(our_supervisors); do ours[$p]=1; done
	p=$BASHPID
	while [[ -n $p && $p != 0 ]]; do
		ours[$p]=1
		p=${parent[$p]-}
	done
	for pid in "${!ns_of[@]}"; do
		[[ -z ${known[${ns_of[$pid]}]-} ]] || continue
		p=${parent[$pid]-}
		while [[ -n $p && -n ${ns_of[$p]-} && -z ${known[${ns_of[$p]}]-} ]]; do
			p=${parent[$p]-}
		done
		if [[ -n $p && -n ${ours[$p]-} ]]; then
			echo "$pid $(cat "/proc/$pid/comm" 2>/dev/null)"
		fi
	done
}

# The PIDs of every run of the program in this test.
our_supervisors() {
	local pid
	{ while IFS= read -r pid; do echo "$pid"; done <"$SUPERVISORS_FILE"; } 2>/dev/null || true
}

# Host ends of our veth pairs (06-net names them cnt<PID>).
cnt_links() {
	local pid
	for pid in $(our_supervisors); do
		if [[ -e /sys/class/net/cnt$pid ]]; then echo "cnt$pid"; fi
	done
}

# Our containers' cgroups (07-cgroups names them cntlab/<PID>), in any hierarchy,
# each one's subdirectories before it.
cnt_cgroups() {
	local -A ours=()
	local -a dirs=()
	local pid dir
	for pid in $(our_supervisors); do ours[$pid]=1; done
	((${#ours[@]} > 0)) || return 0
	while IFS= read -r dir; do
		if [[ $dir =~ /cntlab/([0-9]+)(/|$) && -n ${ours[${BASH_REMATCH[1]}]-} ]]; then dirs+=("$dir"); fi
	done < <(find /sys/fs/cgroup -maxdepth 6 -type d -path '*/cntlab/[0-9]*' 2>/dev/null)
	((${#dirs[@]} == 0)) || printf '%s\n' "${dirs[@]}" | LC_ALL=C sort -r
}

# The names in the rootfs directory (shell built-ins only: every test calls this twice).
rootfs_entries() {
	if ((STEP_NO >= 2)) && [[ -d $ROOTFS ]]; then
		(
			shopt -s nullglob dotglob
			for f in "$ROOTFS"/*; do echo "${f##*/}"; done
		)
	fi
}

# wait_for_none SECONDS FUNCTION: run FUNCTION until it prints nothing, for at most
# SECONDS. Its last output is left in the caller's $found (empty: all gone in time).
wait_for_none() {
	local deadline=$((SECONDS + $1))
	while found=$("$2") && [[ -n $found ]] && ((SECONDS < deadline)); do
		sleep 0.1
	done
}

# lines_added OLD NEW: the non-empty lines of NEW that are not in OLD, each as
# often as NEW has it more often than OLD (comm -13 of the two sorted, without
# a program to start: every test calls this twice), in NEW's order.
lines_added() {
	(quick lines_added_slowly "$@")
}

lines_added_slowly() {
	local -A times=()
	local line n
	while IFS= read -r line; do
		if [[ -n $line ]]; then times[$line]=$((${times[$line]-0} + 1)); fi
	done <<<"$1"
	while IFS= read -r line; do
		[[ -n $line ]] || continue
		n=${times[$line]-0}
		if ((n > 0)); then times[$line]=$((n - 1)); else echo "$line"; fi
	done <<<"$2"
}

leak_baseline() {
	LEAK_BASE_MOUNTS=$(host_mounts)
	LEAK_BASE_UTS=$(uts_of_processes) # "NS PATH" lines
	LEAK_BASE_ROOTFS=$(rootfs_entries)
	LEAK_BASE_HOSTNAME=$(host_hostname)
	LEAK_BASELINE_TAKEN=1
}

# check_nothing_leaked WHEN: fail, naming each leftover and the rule it breaks,
# if the program left something on the host since the baseline. Removes what
# it finds, so one leak is reported once.
check_nothing_leaked() {
	local when=$1 found mp pid comm
	local -a leaks=()

	found=$(host_hostname)
	if [[ $found != "$LEAK_BASE_HOSTNAME" ]]; then
		printf '%s' "$LEAK_BASE_HOSTNAME" >/proc/sys/kernel/hostname
		leaks+=("The host's hostname changed from '$LEAK_BASE_HOSTNAME' to '$found' (the test set it back)."
			"  sethostname() must happen inside the container's own UTS namespace (clone flag CLONE_NEWUTS, 01-uts).")
	fi

	found=$(lines_added "$LEAK_BASE_MOUNTS" "$(host_mounts)")
	if [[ -n $found ]]; then
		leaks+=("A mount was left on the host: ${found//$'\n'/ } (the test unmounted it)."
			"  The container's mounts must live in its own mount namespace (clone flag CLONE_NEWNS, 02-mnt),"
			"  made private first (mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL)) so nothing propagates back to the host.")
		while read -r mp; do
			umount -l "$(printf '%b' "${mp//\\/\\0}")" 2>/dev/null || true
		done < <(tac <<<"$found")
	fi

	wait_for_none 2 leftover_processes
	if [[ -n $found ]]; then
		leaks+=("A process of the container was still running on the host: ${found//$'\n'/ } (the test killed it)."
			"  The program must wait for the container before it returns, and from 03-pid on, when PID 1 of a"
			"  PID namespace (clone flag CLONE_NEWPID) exits, the kernel kills every other process in it.")
		while read -r pid comm; do
			kill -KILL "$pid" 2>/dev/null || true
		done <<<"$found"
	fi

	wait_for_none 3 cnt_links
	if [[ -n $found ]]; then
		leaks+=("A network interface was left on the host: ${found//$'\n'/ }."
			"  The host end of the veth pair (06-net) goes away by itself when the container's network namespace dies;"
			"  if it stays, a process still holds that namespace.")
	fi

	found=$(cnt_cgroups)
	if [[ -n $found ]]; then
		leaks+=("A cgroup was left behind: ${found//$'\n'/ } (the test removed it)."
			"  The program must rmdir its cntlab/<PID> cgroup after the container exits (07-cgroups).")
		while read -r mp; do
			echo THAWED >"$mp/freezer.state" 2>/dev/null || true # a v1 freezer holds SIGKILL
			rmdir "$mp" 2>/dev/null || true
		done <<<"$found"
	fi

	found=$(lines_added "$LEAK_BASE_ROOTFS" "$(rootfs_entries)")
	if [[ -n $found ]]; then
		leaks+=("The rootfs directory on the host has new entries: ${found//$'\n'/ } (the test removed the empty ones)."
			"  A directory made for pivot_root's old root must be removed again (rmdir after umount2(MNT_DETACH), 02-mnt).")
		while read -r mp; do rmdir "$ROOTFS/$mp" 2>/dev/null || true; done <<<"$found"
	fi

	if ((${#leaks[@]} == 0)); then return 0; fi
	if [[ -n ${LEAK_IN_TEARDOWN-} ]]; then
		# Found by the teardown: a leak, whatever the test itself checked (tests/run counts these).
		flunk "LEAK: $STEP: $when (a leak, apart from what the test checks), the program left something behind on the host;" \
			"  when it returns, nothing it created may remain:" "${leaks[@]}"
	fi
	flunk "$STEP: $when, the program left something behind on the host; when it returns, nothing it created may remain:" \
		"${leaks[@]}"
}

# ---------------------------------------------------------------- 01-uts: the hostname

check_own_hostname() {
	run_in -n cntlab-own.test hostname
	expect_ran "hostname"
	if [[ $output != cntlab-own.test ]]; then
		flunk "$STEP: inside, hostname should print the NAME given with -n, cntlab-own.test; it printed '$output'." \
			"  The container needs its own UTS namespace (clone flag CLONE_NEWUTS, 01-uts) and sethostname(NAME) in it."
	fi
}

check_host_hostname_unchanged() {
	local before after
	before=$(host_hostname)
	run_in -n cntlab-given sh -c 'hostname cntlab-renamed && hostname'
	after=$(host_hostname)
	if [[ $after != "$before" ]]; then
		printf '%s' "$before" >/proc/sys/kernel/hostname
		flunk "$STEP: the host's hostname must not change; it was '$before' and became '$after' (the test set it back)." \
			"  Without its own UTS namespace (clone flag CLONE_NEWUTS, 01-uts), sethostname() inside renames the host."
	fi
	expect_ran "sh -c 'hostname cntlab-renamed && hostname'"
	if [[ $output != cntlab-renamed ]]; then
		flunk "$STEP: root inside the container should be able to rename it: hostname printed '$output', not cntlab-renamed."
	fi
}

check_default_hostname_format() {
	run_in hostname
	expect_ran "hostname"
	if [[ ! $output =~ ^cnt-[0-9a-f]{5}$ ]]; then
		flunk "$STEP: without -n the hostname should be cnt- and 5 hex digits (like cnt-3fa9c); it is '$output'."
	fi
}

name_of_length() { # name_of_length N: a valid hostname of N characters
	local name=cnt.lab-0123456789-
	while ((${#name} < $1)); do name+=x; done
	echo "${name:0:$1}"
}

check_hostname_max_length() {
	local name
	name=$(name_of_length 64)
	run_in -n "$name" hostname
	expect_ran "hostname with a 64-character -n NAME"
	if [[ $output != "$name" ]]; then
		flunk "$STEP: a hostname of 64 characters (letters, digits, - and .) is valid, the kernel's limit;" \
			"  hostname should print $name" \
			"  but printed '$output'."
	fi
}

check_hostname_too_long() {
	run_in -n "$(name_of_length 65)" true
	expect_setup_error "a hostname of 65 characters (the kernel allows 64)"
}

check_hostname_bad_chars() {
	local name
	for name in a_b 'a b' a/b 'bad!'; do
		run_in -n "$name" true
		expect_setup_error "the hostname '$name' (only letters, digits, - and . are allowed)"
	done
}

check_hostname_empty() {
	run_in -n '' true
	expect_setup_error "an empty hostname"
}

# ---------------------------------------------------------------- the command line

# The usage must list the step's options; either the short or the long name of each will do.
check_help() {
	local -a opts=("-n|--hostname" "-v|--verbose" "-h|--help")
	if ((STEP_NO >= 2)); then opts+=("-r|--rootfs" "-o|--overlay" "-b|--bind"); fi
	if ((STEP_NO >= 7)); then opts+=("-m|--memory" "-p|--pids" "-c|--cpus"); fi
	run_cnt -h
	if ((status != 0)); then
		flunk "$STEP: -h should print the usage on stdout and exit 0; it exited $status."
	fi
	if [[ ${output,,} != *usage* ]]; then
		flunk "$STEP: -h should print the usage (a text that starts 'usage: $STEP [OPTIONS] [--] [COMMAND [ARG...]]') on stdout."
	fi
	local opt short long missing=()
	for opt in "${opts[@]}"; do
		short=${opt%|*} long=${opt#*|}
		[[ $output == *"$long"* || $output =~ (^|[^-[:alnum:]])$short([^-[:alnum:]]|$) ]] || missing+=("$short ($long)")
	done
	if ((${#missing[@]} > 0)); then
		flunk "$STEP: the usage should list every option of this step; it does not mention: ${missing[*]}"
	fi
}

check_bad_option() {
	run_cnt -Z true
	expect_setup_error "an unknown option (-Z)"
}

check_missing_option_argument() {
	run_cnt -n
	expect_setup_error "-n without its NAME"
}

# What the long options do is checked with the short ones; here, that they are
# taken as those: --hostname takes its NAME (a bad one is refused), --verbose narrates.
check_long_options() {
	local -a args=()
	local names="--hostname NAME, --verbose"
	if ((STEP_NO >= 2)); then
		args=(--rootfs "$ROOTFS")
		names+=", --rootfs DIR"
	fi
	run_cnt "${args[@]}" --hostname cntlab-long --verbose sh -c 'echo ran'
	expect_ran "sh -c 'echo ran', with ${names//NAME/cntlab-long}"
	if [[ $output != ran || $stderr != *"=> "* ]]; then
		flunk "$STEP: the long options ($names) should work like the short ones:" \
			"  sh should print ran, and stderr should narrate with '=> ' lines."
	fi
	run_cnt "${args[@]}" --hostname 'not_a_hostname' true
	expect_setup_error "--hostname not_a_hostname (like -n not_a_hostname)"
	if ((STEP_NO >= 2)); then
		run_cnt --rootfs /nonexistent/cntlab-rootfs true
		expect_setup_error "--rootfs /nonexistent/cntlab-rootfs (like -r with a missing directory)"
	fi
}

check_verbose() {
	run_in -v true
	expect_ran "true, with -v"
	local line bad=()
	for line in "${stderr_lines[@]}"; do
		[[ $line == "=> "* ]] || bad+=("$line")
	done
	if ((${#stderr_lines[@]} == 0)); then
		flunk "$STEP: with -v the program should narrate each setup action on stderr, one line each starting with '=> '; it printed nothing."
	fi
	if ((${#bad[@]} > 0)); then
		flunk "$STEP: with -v every line on stderr should start with '=> ' (one line per setup action); these do not:" \
			"${bad[@]/#/  }"
	fi
}

check_quiet() {
	run_in sh -c 'echo only-this'
	expect_ran "sh -c 'echo only-this'"
	if [[ -n $stderr || $output != only-this ]]; then
		flunk "$STEP: without -v the program should print nothing of its own when all goes well:" \
			"  only COMMAND's output (only-this), and nothing on stderr."
	fi
}

check_default_command() {
	rootfs_args
	local script=$BATS_TEST_TMPDIR/script
	echo 'echo sh-read-this; exit 7' >"$script"
	RAN="$(printf '%q ' "$CNT" "${ROOTFS_ARGS[@]}") <$script   (a script: echo sh-read-this; exit 7)"
	capture cnt_stdin "$script" "${ROOTFS_ARGS[@]}"
	if [[ $status != 7 || $output != sh-read-this ]]; then
		flunk "$STEP: with no COMMAND the container should run /bin/sh, which reads its commands from stdin:" \
			"  'echo sh-read-this; exit 7' fed to it should print sh-read-this and give exit status 7."
	fi
}

check_options_end_at_command() {
	run_in sh -c 'printf "[%s]" "$@"' sh -v -n x
	expect_ran "sh -c 'printf \"[%s]\" \"\$@\"' sh -v -n x"
	if [[ $output != '[-v][-n][x]' ]]; then
		flunk "$STEP: options after COMMAND belong to COMMAND: option parsing must stop at the first non-option word" \
			"  (getopt_long with '+' at the start of its option string). sh should have received -v -n x and printed" \
			"  [-v][-n][x]; it printed '$output'."
	fi
}

check_double_dash() {
	run_in -- sh -c 'exit 3'
	if ((status != 3)); then
		flunk "$STEP: '--' ends the options: '-- sh -c \"exit 3\"' should run sh and exit 3; the exit status was $status."
	fi
}

# ---------------------------------------------------------------- exit status

check_status_own() {
	run_in sh -c 'exit 42'
	if ((status != 42)); then
		flunk "$STEP: the program should exit with COMMAND's own exit status: sh -c 'exit 42' gives 42, not $status." \
			"  The supervisor waits for the container (waitpid) and returns WEXITSTATUS."
	fi
}

check_status_signal() {
	rootfs_args
	local err=$BATS_TEST_TMPDIR/signal.stderr bg victim
	RAN="$(printf '%q ' "$CNT" "${ROOTFS_ARGS[@]}") sleep 100   (in the background; then kill -KILL <sleep's PID> from the host)"
	cnt "${ROOTFS_ARGS[@]}" sleep 100 >/dev/null 2>"$err" &
	bg=$!
	at_teardown kill_tree "$bg"
	if ! victim=$(wait_for_descendant "$bg" sleep 10); then
		kill_tree "$bg"
		status=0
		wait "$bg" || status=$?
		output='' stderr=$(cat "$err")
		flunk "$STEP: the container's COMMAND, sleep 100, never showed up as a process below the program (waited 10 s)."
	fi
	kill -KILL "$victim"
	status=0
	wait "$bg" || status=$?
	output='' stderr=$(cat "$err")
	if ((status != 137)); then
		flunk "$STEP: COMMAND was killed by SIGKILL (signal 9), so the program should exit 128+9 = 137;" \
			"  it exited $status. When waitpid reports WIFSIGNALED, return 128 + WTERMSIG."
	fi
}

check_status_not_found() {
	local cmd
	for cmd in cntlab-no-such-command /no/such/dir/command; do
		run_in "$cmd"
		if ((status != 127)); then
			flunk "$STEP: a COMMAND that does not exist ($cmd) should give exit status 127, like a shell;" \
				"  it gave $status. execvp() fails with ENOENT: exit 127."
		fi
	done
}

check_status_not_executable() {
	local file=/etc/passwd
	if ((STEP_NO < 2)); then
		file=$BATS_TEST_TMPDIR/not-executable
		printf '#!/bin/sh\necho ran\n' >"$file"
		chmod 644 "$file"
	elif [[ ! -f $ROOTFS$file ]] || [[ -x $ROOTFS$file ]]; then
		fail "$STEP: this test needs a non-executable $file in the rootfs ($ROOTFS)."
	fi
	run_in "$file"
	if ((status != 126)); then
		flunk "$STEP: a COMMAND that exists but cannot be executed ($file, mode 644) should give exit status 126;" \
			"  it gave $status. execvp() fails with EACCES: exit 126."
	fi
}

check_not_root() {
	requires setpriv
	local cnt=$CNT dir
	local -a drop=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	if ! "${drop[@]}" test -x "$CNT"; then # e.g. under /root: give nobody a copy
		dir=$(mktemp -d /tmp/cntlab-test.XXXXXX)
		at_teardown rm -rf "$dir"
		chmod 755 "$dir"
		cp "$CNT" "$dir/"
		cnt=$dir/${CNT##*/}
	fi
	rootfs_args
	RAN=$(printf '%q ' "${drop[@]}" "$cnt" "${ROOTFS_ARGS[@]}" true)
	capture timeout -k 5 "$CNT_TIMEOUT" "${drop[@]}" "$cnt" "${ROOTFS_ARGS[@]}" true </dev/null 3>&- {LOCK_FD}>&-
	expect_setup_error "running it as an ordinary user (uid 65534, no capabilities)"
	if [[ ${stderr,,} != *root* ]]; then
		flunk "$STEP: run by an ordinary user, the program should say that it needs root."
	fi
}

# ---------------------------------------------------------------- 02-mnt: the mount table

# mountinfo_inside: run cat /proc/self/mountinfo in the container and fill
# MNT_POINT, MNT_TYPE, MNT_OPTS (arrays, one entry per mount).
mountinfo_inside() {
	run_in cat /proc/self/mountinfo
	expect_ran "cat /proc/self/mountinfo"
	MNT_POINT=() MNT_TYPE=() MNT_OPTS=()
	local line left right f
	for line in "${lines[@]}"; do
		left=${line%% - *}
		right=${line#* - }
		read -ra f <<<"$left"
		MNT_POINT+=("${f[4]}")
		MNT_OPTS+=("${f[5]}")
		MNT_TYPE+=("${right%% *}")
	done
}

check_own_mounts() {
	run_in mount
	expect_ran "mount"
	local line mp foreign=() seen=" "
	for line in "${lines[@]}"; do
		mp=$(awk '{ print $3 }' <<<"$line")
		seen+="$mp "
		[[ $mp =~ $OWN_MOUNTS_RE || $mp =~ $EXTRA_MOUNTS_RE ]] || foreign+=("$mp")
	done
	if ((${#foreign[@]} > 0)); then
		flunk "$STEP: mount inside should list only the container's mounts: / (the rootfs), /proc, /dev and its devices." \
			"  It also lists: ${foreign[*]}" \
			"  That is the host's mount table showing through. The container needs its own mount namespace" \
			"  (clone flag CLONE_NEWNS, 02-mnt), pivot_root into the rootfs, and the old root unmounted (umount2 MNT_DETACH)."
	fi
	for mp in / /proc /dev; do
		if [[ $seen != *" $mp "* ]]; then
			flunk "$STEP: mount inside should list $mp: the rootfs at /, a fresh proc at /proc, a tmpfs at /dev."
		fi
	done
}

check_rootfs_is_root() {
	local want
	want=$(stat -c %i "$ROOTFS")
	run_in ls -di /
	expect_ran "ls -di /"
	if [[ $(awk '{ print $1 }' <<<"$output") != "$want" ]]; then
		flunk "$STEP: / inside should be the rootfs directory $ROOTFS (inode $want); 'ls -di /' says '$output'." \
			"  Bind-mount the rootfs onto itself, then pivot_root into it (02-mnt)."
	fi
}

check_old_root_gone() {
	local marker=$BATS_TEST_TMPDIR/host-marker want roots=0 mp
	local how="After pivot_root, detach the old root with umount2(old, MNT_DETACH) and remove its directory if you made one (02-mnt)."
	echo host >"$marker"
	mountinfo_inside
	for mp in "${MNT_POINT[@]}"; do
		if [[ $mp == / ]]; then roots=$((roots + 1)); fi
	done
	if ((roots != 1)); then
		flunk "$STEP: exactly one filesystem should be mounted at / inside, the rootfs; /proc/self/mountinfo shows $roots." \
			"  The old root is still mounted there (pivot_root(\".\", \".\") stacks it on top of the new one)." "  $how"
	fi
	run_in sh -c "test -e '$marker' && echo host-file-visible; ls -A1 /"
	expect_ran "ls -A1 /"
	if [[ $output == *host-file-visible* ]]; then
		flunk "$STEP: a file of the host ($marker) can still be reached inside: the old root is not gone." "  $how"
	fi
	want=$(find "$ROOTFS" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort)
	if [[ $(LC_ALL=C sort <<<"$output") != "$want" ]]; then
		flunk "$STEP: 'ls -A /' inside should show exactly the rootfs directory's entries:" \
			"  ${want//$'\n'/ }" "  $how"
	fi
}

check_minimal_dev() {
	# shellcheck disable=SC2016 # $d is for the sh inside
	run_in sh -c 'ls -A1 /dev; for d in null zero full random urandom tty; do [ -c /dev/$d ] || echo "no-char-device:$d"; done'
	expect_ran "ls -A1 /dev"
	local entry extra=() missing=() d
	for entry in "${lines[@]}"; do
		case " ${DEVICES[*]} ${DEV_MAY_HAVE[*]} " in
		*" $entry "*) ;;
		*) [[ $entry == no-char-device:* ]] || extra+=("$entry") ;;
		esac
	done
	for d in "${DEVICES[@]}"; do
		if [[ " ${lines[*]} " != *" $d "* ]] || [[ " ${lines[*]} " == *" no-char-device:$d "* ]]; then
			missing+=("$d")
		fi
	done
	if ((${#missing[@]} > 0)); then
		flunk "$STEP: /dev inside should have the character devices ${DEVICES[*]};" \
			"  missing or not a character device: ${missing[*]}. Bind-mount each from the host's /dev onto" \
			"  a file in a fresh tmpfs at /dev (02-mnt)."
	fi
	if ((${#extra[@]} > 0)); then
		flunk "$STEP: /dev inside should be minimal (${DEVICES[*]}), but it also has: ${extra[*]}" \
			"  A container must not see the host's devices: mount a fresh tmpfs on /dev and put only those in it (02-mnt)."
	fi
}

check_dev_works() {
	local script='head -c 5 /dev/zero | wc -c; head -c 3 /dev/urandom | wc -c'
	script+='; if echo x >/dev/null; then echo null-ok; fi; if echo x >/dev/full; then echo full-took-it; fi'
	run_in sh -c "$script"
	expect_ran "the /dev checks"
	local got
	got=$(tr -s ' \n' ' ' <<<"$output" | sed 's/^ //; s/ $//')
	if [[ $got != "5 3 null-ok" ]]; then
		flunk "$STEP: the devices should work: 5 bytes read from /dev/zero, 3 from /dev/urandom, writing to /dev/null" \
			"  succeeds, writing to /dev/full fails. Expected '5 3 null-ok', got '$got'." \
			"  Bind mounts of the host's devices work; the tmpfs on /dev must not be mounted nodev (02-mnt)."
	fi
	if [[ $stderr != *"No space left on device"* ]]; then
		flunk "$STEP: writing to /dev/full should fail with 'No space left on device' (ENOSPC)."
	fi
}

check_proc_mount_flags() {
	mountinfo_inside
	local i
	# The last proc mounted at /proc is the one on top, the one the container sees.
	for ((i = ${#MNT_POINT[@]} - 1; i >= 0; i--)); do
		[[ ${MNT_POINT[i]} == /proc && ${MNT_TYPE[i]} == proc ]] || continue
		if [[ ,${MNT_OPTS[i]}, == *,nosuid,* && ,${MNT_OPTS[i]}, == *,nodev,* && ,${MNT_OPTS[i]}, == *,noexec,* ]]; then
			return 0
		fi
		flunk "$STEP: /proc should be mounted nosuid,nodev,noexec; its options are ${MNT_OPTS[i]}." \
			"  mount(\"proc\", \"/proc\", \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL) (02-mnt)."
	done
	flunk "$STEP: there should be a proc filesystem mounted at /proc inside (mount(\"proc\", \"/proc\", \"proc\", ...), 02-mnt)."
}

check_clean_env() {
	export TERM=cntlab-term CNTLAB_MARKER=must-not-leak
	run_in env
	expect_ran "env"
	local want got
	want=$(printf '%s\n' "HOME=/root" "PATH=$CLEAN_PATH" "TERM=cntlab-term" "container=cntlab" | LC_ALL=C sort)
	got=$(LC_ALL=C sort <<<"$output")
	if [[ $got != "$want" ]]; then
		flunk "$STEP: the container should start with a clean environment, exactly:" \
			"  ${want//$'\n'/$'\n'  }" \
			"  (TERM copied from the caller; nothing else, e.g. not CNTLAB_MARKER, which the test exported)." \
			"  Extra: $(lines_added "$want" "$got" | paste -sd' ')" \
			"  Missing: $(lines_added "$got" "$want" | paste -sd' ')" \
			"  Build the environment yourself and pass it to execve (02-mnt)."
	fi
}

check_workdir_root() {
	cd "$BATS_TEST_TMPDIR" || return
	run_in pwd
	expect_ran "pwd"
	if [[ $output != / ]]; then
		flunk "$STEP: the container's working directory should be /; pwd printed '$output'" \
			"  (chdir(\"/\") after pivot_root, 02-mnt)."
	fi
}

check_missing_rootfs() {
	local dir=/nonexistent/cntlab-rootfs
	run_cnt -r "$dir" true
	expect_setup_error "a rootfs that does not exist ($dir)"
	if [[ $stderr != *"$dir"* ]]; then
		flunk "$STEP: the error for a missing rootfs should name the directory, $dir."
	fi
}

check_default_rootfs() {
	local dir=$BATS_TEST_TMPDIR
	if [[ ${ROOTFS##*/} == rootfs ]]; then
		dir=${ROOTFS%/*}
	else
		ln -s "$ROOTFS" "$dir/rootfs"
	fi
	cd "$dir" || return
	run_cnt -n cntlab-default hostname
	expect_ran "hostname, with no -r, from $dir (which has rootfs/ in it)"
	if [[ $output != cntlab-default ]]; then
		flunk "$STEP: without -r the program should use ./rootfs; hostname printed '$output'."
	fi
}

# A directory of the rootfs to bind-mount a host directory onto.
bind_target() {
	local d
	for d in /mnt /srv /opt /home /tmp; do
		if [[ -d $ROOTFS$d && ! -L $ROOTFS$d ]]; then
			echo "$d"
			return
		fi
	done
	fail "$STEP: the rootfs ($ROOTFS) has none of /mnt /srv /opt /home /tmp to bind-mount onto."
}

make_bind_source() {
	BIND_SRC=$(mktemp -d "$BATS_TEST_TMPDIR/bind.XXXXXX")
	chmod 777 "$BIND_SRC" # from 05-user on, root inside is not root on the host
	echo from-the-host >"$BIND_SRC/file"
	chmod 644 "$BIND_SRC/file"
	BIND_DST=$(bind_target)
}

check_bind() {
	make_bind_source
	run_in -b "$BIND_SRC:$BIND_DST" sh -c "cat $BIND_DST/file && echo from-inside >$BIND_DST/new"
	expect_ran "-b $BIND_SRC:$BIND_DST, reading and writing $BIND_DST"
	if [[ $output != from-the-host ]]; then
		flunk "$STEP: with -b SRC:DST the host directory SRC should be seen at DST inside:" \
			"  cat $BIND_DST/file should print from-the-host; it printed '$output'." \
			"  Bind-mount SRC onto the rootfs's DST before pivot_root (mount(SRC, DST, NULL, MS_BIND|MS_REC, NULL))."
	fi
	if [[ $(cat "$BIND_SRC/new" 2>/dev/null) != from-inside ]]; then
		flunk "$STEP: with -b SRC:DST a file written at DST inside should appear in SRC on the host."
	fi
}

check_bind_ro() {
	make_bind_source
	run_in -b "$BIND_SRC:$BIND_DST:ro" sh -c "cat $BIND_DST/file || exit 3; if echo x >$BIND_DST/new; then echo write-worked; fi"
	expect_ran "-b $BIND_SRC:$BIND_DST:ro, reading and writing $BIND_DST"
	if [[ $output != from-the-host ]] || [[ -e $BIND_SRC/new ]]; then
		flunk "$STEP: with -b SRC:DST:ro the container should read SRC at DST but not write to it." \
			"  A bind mount is made read-only by a second mount: mount(NULL, DST, NULL, MS_REMOUNT|MS_BIND|MS_RDONLY, NULL)."
	fi
}

# :ro reaches every mount below SRC too, as with Docker 25+: a remount of the bind
# alone (MS_REMOUNT|MS_RDONLY) makes only its top read-only.
check_bind_ro_recursive() {
	if ((EUID != 0)); then skip "needs root to mount a tmpfs below the bind source on the host"; fi
	make_bind_source
	mkdir "$BIND_SRC/sub"
	mount -t tmpfs -o mode=777,size=64k cntlab-nested "$BIND_SRC/sub"
	at_teardown umount "$BIND_SRC/sub"
	run_in -b "$BIND_SRC:$BIND_DST:ro" sh -c "if echo x >$BIND_DST/sub/new; then echo nested-write-worked; fi
		grep -c ' $BIND_DST/sub ' /proc/self/mountinfo"
	if [[ $output == *nested-write-worked* || -e $BIND_SRC/sub/new || ${lines[-1]-} != 1 ]]; then
		flunk "$STEP: with -b SRC:DST:ro, a mount below SRC (here a tmpfs on SRC/sub) should be read-only inside too:" \
			"  writing $BIND_DST/sub/new should fail. A remount reaches only the top mount of the bind; mount_setattr(2)" \
			"  with AT_RECURSIVE and MOUNT_ATTR_RDONLY (Linux 5.12) reaches them all (docs/02-mnt.md, Bind mounts)."
	fi
}

# A DST missing from the rootfs is created there (the contract allows it), and must
# belong to the rootfs's owner like everything else in it: from 05-user on, a user
# namespace maps that one owner to root and shows anyone else's files as nobody's.
check_bind_creates_dst_owned_like_rootfs() {
	local dir=/cntlab-dst-$$-$BATS_TEST_NUMBER want got
	make_bind_source
	at_teardown rm -rf "$ROOTFS$dir"
	run_in -b "$BIND_SRC:$dir/sub" cat "$dir/sub/file"
	expect_ran "-b $BIND_SRC:$dir/sub, where $dir does not exist in the rootfs"
	want=$(stat -c %u:%g "$ROOTFS")
	got=$(stat -c %u:%g "$ROOTFS$dir" "$ROOTFS$dir/sub" 2>&1 | LC_ALL=C sort -u)
	if [[ $got != "$want" ]]; then
		flunk "$STEP: with -b SRC:$dir/sub the program creates $dir and $dir/sub in the rootfs; they should belong to" \
			"  the rootfs's owner, $want, as its / does. On the host they are: ${got//$'\n'/, }." \
			"  A user namespace (05-user) maps only that owner to root, so anyone else's file shows as nobody's there:" \
			"  chown what you create to the owner of the new root (fchownat(2); docs/02-mnt.md, Bind mounts)."
	fi
}

check_overlay() {
	local new=cntlab-overlay-$$-$BATS_TEST_NUMBER victim=cntlab-victim-$$-$BATS_TEST_NUMBER
	echo victim >"$ROOTFS/$victim"
	at_teardown rm -f "$ROOTFS/$victim" "$ROOTFS/$new"
	run_in -o sh -c "echo written >/$new && cat /$new && rm /$victim && test ! -e /$victim && echo removed"
	expect_ran "-o, writing /$new and removing /$victim"
	if [[ $output != $'written\nremoved' ]]; then
		flunk "$STEP: with -o the container should be able to write and delete files (they change only its overlay)."
	fi
	if [[ -e $ROOTFS/$new ]]; then
		flunk "$STEP: with -o, /$new written inside appeared in the rootfs directory on the host." \
			"  The writes must go to the overlay's upper directory, in a tmpfs that vanishes with the container."
	fi
	if [[ ! -e $ROOTFS/$victim ]]; then
		echo victim >"$ROOTFS/$victim"
		flunk "$STEP: with -o, deleting /$victim inside deleted it from the rootfs directory on the host." \
			"  The rootfs must be the overlay's read-only lower directory; deletions become whiteouts in the upper one."
	fi
}

# A bind DST of / would cover the whole new root, and one longer than PATH_MAX
# would be cut short, silently, into another path: both are refused.
check_bind_bad_destination() {
	local long dst
	make_bind_source
	long=/cntlab-long-$$$(printf '/a%.0s' {1..2100}) # 4200 characters of short names
	for dst in / "$long"; do
		run_in -b "$BIND_SRC:$dst" true
		expect_setup_error "-b SRC:DST with DST '${dst:0:40}' (${#dst} characters)"
	done
	if [[ -e $ROOTFS/cntlab-long-$$ ]]; then
		rm -rf "${ROOTFS:?}/cntlab-long-$$"
		flunk "$STEP: a bind destination longer than PATH_MAX should be refused before anything is made; the program" \
			"  created /cntlab-long-$$ in the rootfs (the test removed it): it cut DST short and went on."
	fi
}

# A descriptor the caller left open on a host directory must not cross into the
# container: through it COMMAND would reach the host's files (runc's CVE-2024-21626).
check_only_std_fds_cross() {
	local dir
	dir=$(mktemp -d /tmp/cntlab-fd.XXXXXX) # not below BATS_TEST_TMPDIR: uid 100000 must reach it (05-user)
	at_teardown rm -rf "$dir"
	chmod 755 "$dir"
	echo host-secret >"$dir/secret"
	chmod 644 "$dir/secret"
	run_in sh -c 'ls /proc/self/fd | tr "\n" " "; echo; cat /proc/self/fd/7/secret 2>/dev/null || true' 7<"$dir"
	expect_ran "ls /proc/self/fd and cat /proc/self/fd/7/secret, with fd 7 open on a host directory"
	if [[ ${lines[0]-} != "0 1 2 3 " || $output == *host-secret* ]]; then
		flunk "$STEP: the caller held fd 7 open on the host directory $dir; inside, only 0, 1 and 2 should be open" \
			"  (and the 3 that ls opens itself): ls /proc/self/fd should print '0 1 2 3'. It printed '${lines[0]-}'" \
			"  and cat /proc/self/fd/7/secret printed '${lines[1]-}'. A leaked descriptor leads COMMAND out of its" \
			"  root (runc's CVE-2024-21626): mark every descriptor above 2 close-on-exec before execve," \
			"  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) (docs/02-mnt.md, Descriptors)."
	fi
}

# ---------------------------------------------------------------- 03-pid: process IDs

check_command_is_pid1() {
	run_in sh -c 'echo $$'
	expect_ran "sh -c 'echo \$\$'"
	if [[ $output != 1 ]]; then
		flunk "$STEP: COMMAND should be PID 1 of a new PID namespace (clone flag CLONE_NEWPID, 03-pid);" \
			"  it ran as PID $output."
	fi
}

check_ps_only_container() {
	run_in ps
	expect_ran "ps"
	local procs=("${lines[@]:1}")
	if ((${#procs[@]} == 0 || ${#procs[@]} > 2)); then
		flunk "$STEP: ps should list only the container's processes (here just ps itself); it lists ${#procs[@]}." \
			"  The container needs its own PID namespace (clone flag CLONE_NEWPID, 03-pid), and a /proc mounted" \
			"  from inside it: ps reads /proc, and a proc mount shows the PID namespace of whoever mounted it."
	fi
}

check_proc_is_containers() {
	run_in sh -c "cat /proc/1/comm; if test -e /proc/$$; then echo host-pid-$$-visible; fi"
	expect_ran "cat /proc/1/comm"
	if [[ $output != sh ]]; then
		flunk "$STEP: /proc inside should be the container's: /proc/1 should be the container's sh, and this test's" \
			"  process ($$) should not be there. Expected 'sh', got '${output//$'\n'/ }'." \
			"  Mount a fresh proc from inside the new PID namespace (CLONE_NEWPID, 03-pid)."
	fi
}

check_background_killed_with_pid1() {
	local found
	run_in sh -c 'sleep 100 </dev/null >/dev/null 2>&1 & echo started'
	expect_ran "sh -c 'sleep 100 & ...'"
	if [[ $output != started ]]; then
		flunk "$STEP: sh inside should have started sleep in the background and printed 'started'."
	fi
	wait_for_none 2 leftover_processes
	if [[ -n $found ]]; then
		local pid comm
		while read -r pid comm; do kill -KILL "$pid" 2>/dev/null || true; done <<<"$found"
		flunk "$STEP: a process left in the background inside (sleep 100) should die when COMMAND exits;" \
			"  it was still running on the host: ${found//$'\n'/ } (the test killed it)." \
			"  When PID 1 of a PID namespace (clone flag CLONE_NEWPID, 03-pid) exits, the kernel kills the rest."
	fi
}

# ---------------------------------------------------------------- 04-ipc: System V IPC, POSIX queues

# host_queue: make a System V message queue on the host (removed in teardown); its id in QUEUE_ID.
host_queue() {
	requires ipcmk ipcrm
	local out
	out=$(ipcmk -Q) || fail "$STEP: ipcmk -Q failed on the host: $out"
	QUEUE_ID=${out##*: }
	at_teardown ipcrm -q "$QUEUE_ID"
}

# queue_ids TEXT: the msqid column of ipcs -q output.
queue_ids() {
	awk '$1 ~ /^0x/ { print $2 }' <<<"$1"
}

check_own_ipc() {
	host_queue
	run_in ipcs
	expect_ran "ipcs"
	if [[ $output != *msqid* ]]; then
		flunk "$STEP: ipcs inside should print its (empty) tables of message queues, shared memory and semaphores."
	fi
	local found
	found=$(awk '$1 ~ /^0x/ { print "  " $0 }' <<<"$output")
	if [[ -n $found ]]; then
		flunk "$STEP: ipcs inside should list no IPC object at all (the host has message queue $QUEUE_ID); it lists:" \
			"$found" \
			"  The container needs its own IPC namespace (clone flag CLONE_NEWIPC, 04-ipc)."
	fi
}

check_ipc_vanishes() {
	requires ipcs ipcrm
	local before after id
	before=$(queue_ids "$(ipcs -q)" | sort)
	run_in ipcmk -Q
	expect_ran "ipcmk -Q"
	if [[ $output != *"queue id"* ]]; then
		flunk "$STEP: ipcmk -Q inside should make a message queue and print its id."
	fi
	after=$(queue_ids "$(ipcs -q)" | sort)
	local new
	new=$(lines_added "$before" "$after")
	if [[ -n $new ]]; then
		for id in $new; do ipcrm -q "$id" 2>/dev/null || true; done
		flunk "$STEP: a message queue made inside should vanish with the container; the host now has queue ${new//$'\n'/ }" \
			"  (the test removed it). In its own IPC namespace (clone flag CLONE_NEWIPC, 04-ipc), a container's" \
			"  IPC objects are destroyed when the namespace dies."
	fi
}

check_mqueue_mounted() {
	mountinfo_inside
	local i
	for i in "${!MNT_POINT[@]}"; do
		[[ ${MNT_POINT[i]} == /dev/mqueue && ${MNT_TYPE[i]} == mqueue ]] && return 0
	done
	flunk "$STEP: an mqueue filesystem should be mounted at /dev/mqueue inside, for POSIX message queues" \
		"  (mount(\"mqueue\", \"/dev/mqueue\", \"mqueue\", ...) from inside the new IPC namespace, 04-ipc)."
}

# host_posix_queue: make a POSIX message queue on the host (removed in teardown).
host_posix_queue() {
	local dir
	dir=$(awk '$0 ~ / - mqueue / { print $5; exit }' /proc/self/mountinfo)
	if [[ -z $dir ]]; then
		dir=$BATS_TEST_TMPDIR/mqueue
		mkdir "$dir"
		mount -t mqueue cntlab-test "$dir"
		at_teardown umount "$dir"
	fi
	POSIX_QUEUE=$dir/cntlab-test-$$
	: >"$POSIX_QUEUE" || fail "$STEP: could not make a POSIX message queue on the host at $POSIX_QUEUE"
	at_teardown rm -f "$POSIX_QUEUE"
}

check_own_posix_mq() {
	host_posix_queue
	run_in sh -c 'ls -A /dev/mqueue && echo end-of-list'
	expect_ran "ls -A /dev/mqueue"
	if [[ $output != end-of-list ]]; then
		flunk "$STEP: /dev/mqueue inside should be empty (the host has the POSIX queue ${POSIX_QUEUE##*/}); it lists: ${output//$'\n'/ }" \
			"  Mount mqueue from inside the container's own IPC namespace (clone flag CLONE_NEWIPC, 04-ipc):" \
			"  an mqueue mount shows the queues of the IPC namespace of whoever mounted it."
	fi
}

# ---------------------------------------------------------------- negative controls
# What a step does not isolate yet must still be shared with the host. These
# make sure the tests above can see sharing at all, and that a step does not
# quietly do a later step's work.

check_host_pids_visible() {
	run_in sh -c "test -d /proc/$$ && echo visible"
	if [[ $output != visible ]]; then
		flunk "$STEP: negative control: the PID namespace comes in 03-pid, so this step's container still sees the" \
			"  host's processes: /proc/$$ (this test's own process) should exist inside, and it does not."
	fi
}

check_host_files_visible() {
	local marker=$BATS_TEST_TMPDIR/host-file
	echo shared >"$marker"
	run_in cat "$marker"
	if [[ $output != shared ]]; then
		flunk "$STEP: negative control: the mount namespace comes in 02-mnt, so this step's container still sees the" \
			"  host's files: it should read $marker, and it cannot."
	fi
}

check_host_ipc_visible() {
	host_queue
	run_in ipcs -q
	expect_ran "ipcs -q"
	if [[ $'\n'$(queue_ids "$output")$'\n' != *$'\n'"$QUEUE_ID"$'\n'* ]]; then
		flunk "$STEP: negative control: the IPC namespace comes in 04-ipc, so this step's container still shares the" \
			"  host's IPC objects: ipcs -q inside should list the host's message queue $QUEUE_ID, and it does not."
	fi
}

check_host_users_shared() {
	run_in cat /proc/self/uid_map
	expect_ran "cat /proc/self/uid_map"
	local -a map
	read -ra map <<<"$output"
	if [[ ${map[*]} != "0 0 4294967295" ]]; then
		flunk "$STEP: negative control: the user namespace comes in 05-user, so root inside is still the host's root:" \
			"  /proc/self/uid_map should be the identity map '0 0 4294967295'; it is '${map[*]}'."
	fi
}

net_devices() { # net_devices TEXT: interface names in /proc/net/dev output
	awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' <<<"$1" | LC_ALL=C sort
}

check_host_net_shared() {
	local want
	want=$(net_devices "$(cat /proc/net/dev)")
	run_in cat /proc/net/dev
	expect_ran "cat /proc/net/dev"
	if [[ $(net_devices "$output") != "$want" ]]; then
		flunk "$STEP: negative control: the network namespace comes in 06-net, so this step's container still shares" \
			"  the host's network: /proc/net/dev inside should list the host's interfaces (${want//$'\n'/ })."
	fi
}

# ---------------------------------------------------------------- everything at once

# check_nothing_left_behind: run a plain container (no option but -n), then look
# for anything it left on the host.
check_nothing_left_behind() {
	run_in -n cntlab-leaks sh -c 'ps >/dev/null; echo ran'
	expect_ran "a plain container (only -n)"
	if [[ $output != ran ]]; then
		flunk "$STEP: the container should have run sh, which prints ran."
	fi
	check_nothing_leaked "once a plain container exited"
}

# check_nothing_left_with_every_option: the same with every option of this step that
# makes something on the host (from 02 on -o and -b; from 07 on the limits).
check_nothing_left_with_every_option() {
	local -a opts=(-v -n cntlab-leaks)
	if ((STEP_NO >= 2)); then
		make_bind_source
		opts+=(-o -b "$BIND_SRC:$BIND_DST:ro")
	fi
	if ((STEP_NO >= 7)); then opts+=(-m 64M -p 32 -c 0.5); fi
	run_in "${opts[@]}" sh -c 'ps >/dev/null; echo ran'
	expect_ran "a container with every option of this step (${opts[*]})"
	if [[ $output != ran ]]; then
		flunk "$STEP: the container should have run sh, which prints ran."
	fi
	check_nothing_leaked "once a container with every option exited"
}

# ---------------------------------------------------------------- programs in the background

# let_container_root_in: the setup() of steps 05 and later calls this after step_setup.
# From 05-user on, root inside is uid 100000 on the host, and it is the container that
# bind-mounts a -b SRC: SRC must be reachable by uid 100000. Under BATS_TEST_TMPDIR it
# is not, since bats makes its run directory mode 700: let others through it (search
# only, they cannot list it).
let_container_root_in() {
	chmod o+x "$BATS_RUN_TMPDIR"
}

# cnt_background ARG...: start this step's container with ARGs in the background,
# stdout and stderr to files. Sets BG (the shell's $! for it), SUP (the program's
# PID, the supervisor: cnt<SUP> is its veth) and BG_OUT, BG_ERR, BG_RAN. Whatever
# happens to the test, teardown kills what is left of it.
cnt_background() {
	rootfs_args
	local before deadline
	BG_OUT=$(mktemp "$BATS_TEST_TMPDIR/bg.XXXXXX")
	BG_ERR=$BG_OUT.stderr
	BG_RAN="$(printf '%q ' "$CNT" "${ROOTFS_ARGS[@]}" "$@")  (in the background)"
	before=$(wc -l <"$SUPERVISORS_FILE")
	cnt "${ROOTFS_ARGS[@]}" "$@" >"$BG_OUT" 2>"$BG_ERR" &
	BG=$!
	at_teardown end_background "$BG"
	deadline=$((SECONDS + 10))
	SUP=
	while [[ -z $SUP ]] && ((SECONDS <= deadline)); do
		SUP=$(sed -n "$((before + 1))p" "$SUPERVISORS_FILE")
		[[ -n $SUP ]] || sleep 0.05
	done
	[[ -n $SUP ]] || fail "$STEP: the program did not start within 10 s ($BG_RAN)."
}

# end_background BG: end what is left of a background run. SIGTERM first, so
# that the program can clean up after its container (from 07-cgroups on, only
# a living program removes its cgroup); SIGKILL what is still there 5 s later.
# Returns the run's exit status.
end_background() {
	local p i
	local -A ours=()
	if kill -0 "$1" 2>/dev/null; then
		for p in $(our_supervisors); do ours[$p]=1; done
		for p in $(descendants "$1"); do
			if [[ -n ${ours[$p]-} ]]; then kill -TERM "$p"; fi
		done
		for ((i = 0; i < 50; i++)); do
			kill -0 "$1" 2>/dev/null || break
			sleep 0.1
		done
	fi
	kill_tree "$1"
	wait "$1" 2>/dev/null
}

# bg_wait: wait for the background run to end (the timeout in cnt bounds this),
# then set status, output and stderr as run_in does.
bg_wait() {
	local st=0
	wait "$BG" 2>/dev/null || st=$? # no "Killed" notice from the shell
	bg_show "$st"
}

# bg_show [STATUS]: make flunk show the background run: its command line, what
# it printed so far, and STATUS (default: still running).
# shellcheck disable=SC2034 # RAN is read by flunk (helpers.bash)
bg_show() {
	RAN=$BG_RAN
	status=${1:-"(still running)"}
	output=$(cat "$BG_OUT" 2>/dev/null) || true
	stderr=$(cat "$BG_ERR" 2>/dev/null) || true
	split_lines lines "$output"
	split_lines stderr_lines "$stderr"
}

# The checks of later steps live in files of their own, one per group of steps.
for checks in "$BATS_TEST_DIRNAME"/checks-*.bash; do
	if [[ -e $checks ]]; then
		# shellcheck source=/dev/null
		source "$checks"
	fi
done
