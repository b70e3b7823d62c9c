# shellcheck shell=bash
#
# helpers.bash - what every tests/NN-name.bats file loads: the shared machinery
# (set up and tear down, running the program, in the foreground or in the
# background, reporting, and the leak checks), then every tests/checks-*.bash.
#
# A step file is a list of one-line tests, each calling one check_* function,
# so an isolation is checked the same way in every step that has it. The checks
# live in files named for what they check:
#
#   checks-lifecycle.bash    signals, a killed program, a failed setup, exit statuses, leaks (every step)
#   checks-cmdline.bash      the command line: -h, -v, long options, --, COMMAND by default
#   checks-uts-pid-ipc.bash  01-uts (the hostname), 03-pid, 04-ipc
#   checks-mounts.bash       02-mnt: the mount table, /dev, the environment, -r, -b, -o
#   checks-user-net.bash     05-user and 06-net
#   checks-limits-sec.bash   07-cgroups and 08-sec
#   checks-rootless.bash     09-rootless
#   checks-image.bash        10-image
#   checks-bridge.bash       11-bridge
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
# What the last run did (see capture).
# shellcheck disable=SC2034 # lines and stderr_lines are for the checks (checks-*.bash)
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

# wait_for_command COMM: wait (at most 10 s) until a process named COMM runs
# below the program, the sign that the container is set up; FIRST is its PID.
# shellcheck disable=SC2034 # FIRST is for the checks (checks-*.bash)
wait_for_command() {
	local deadline=$((SECONDS + 10)) p why="waited 10 s"
	FIRST=
	while ((SECONDS <= deadline)); do
		for p in $(descendants "$SUP"); do
			if [[ $(cat "/proc/$p/comm" 2>/dev/null) == "$1" ]]; then
				FIRST=$p
				return 0
			fi
		done
		if gone "$SUP"; then
			why="the program ended first"
			break
		fi
		sleep 0.1
	done
	kill_tree "$BG"
	bg_wait
	flunk "$STEP: the container's COMMAND ($1) never showed up as a process below the program ($why)."
}

now_ms() {
	local us=${EPOCHREALTIME//[!0-9]/}
	echo $((us / 1000))
}

# gone PID: PID has exited. A zombie counts as gone: it runs nothing, and the
# init of some hosts reaps orphaned zombies late.
gone() {
	local line rest
	{ read -r line <"/proc/$1/stat"; } 2>/dev/null || return 0
	rest=${line##*) }
	[[ ${rest%% *} == Z ]]
}

# wait_gone MS PID...: wait at most MS milliseconds until every PID is gone.
# Prints "PID (comm)" for each one still there, and fails, if some stay.
wait_gone() {
	local deadline=$(($(now_ms) + $1)) p
	local -a left
	shift
	while :; do
		left=()
		for p in "$@"; do
			gone "$p" || left+=("$p ($(cat "/proc/$p/comm" 2>/dev/null))")
		done
		if ((${#left[@]} == 0)); then return 0; fi
		if (($(now_ms) >= deadline)); then break; fi
		sleep 0.05
	done
	echo "${left[*]}"
	return 1
}

# wait_link_gone SECONDS NAME: wait until the network interface NAME is gone.
wait_link_gone() {
	local deadline=$(($(now_ms) + $1 * 1000))
	while [[ -e /sys/class/net/$2 ]]; do
		if (($(now_ms) >= deadline)); then return 1; fi
		sleep 0.05
	done
}

# end_process PID: kill a process the test started in the background, and reap it.
end_process() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# stop_cnt: SIGTERM the supervisor, which passes it on to the container, and
# wait for it to end. Status as bg_wait.
stop_cnt() {
	kill -TERM "$SUP" 2>/dev/null || true
	bg_wait
}

# The checks live in files of their own, each named for what it checks (checks-*.bash).
for checks in "$BATS_TEST_DIRNAME"/checks-*.bash; do
	if [[ -e $checks ]]; then
		# shellcheck source=/dev/null
		source "$checks"
	fi
done
