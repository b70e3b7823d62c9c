# shellcheck shell=bash
# The variables the runners set (status, output, lines, BG_*) live in helpers.bash.
# shellcheck disable=SC2154,SC2034
#
# checks-uts-pid-ipc.bash - the checks of 01-uts (the hostname and -n), 03-pid (process
# IDs) and 04-ipc (System V IPC, POSIX queues), which every later step re-checks the
# same way. Loaded by helpers.bash.

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
	found=$(still_there 2 find_leftover_processes)
	if [[ -n $found ]]; then
		local pid comm
		while read -r pid comm; do kill -KILL "$pid" 2>/dev/null || true; done <<<"$found"
		flunk "$STEP: a process left in the background inside (sleep 100) should die when COMMAND exits;" \
			"  it was still running on the host: ${found//$'\n'/ } (the test killed it)." \
			"  When PID 1 of a PID namespace (clone flag CLONE_NEWPID, 03-pid) exits, the kernel kills the rest."
	fi
}

# A negative control: what a step does not isolate yet must still be shared with
# the host; it shows that the tests can see sharing at all, and that a step does
# not quietly do a later step's work.
check_host_pids_visible() {
	run_in sh -c "test -d /proc/$$ && echo visible"
	if [[ $output != visible ]]; then
		flunk "$STEP: negative control: the PID namespace comes in 03-pid, so this step's container still sees the" \
			"  host's processes: /proc/$$ (this test's own process) should exist inside, and it does not."
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

# A negative control: what a step does not isolate yet must still be shared with
# the host; it shows that the tests can see sharing at all, and that a step does
# not quietly do a later step's work.
check_host_ipc_visible() {
	host_queue
	run_in ipcs -q
	expect_ran "ipcs -q"
	if [[ $'\n'$(queue_ids "$output")$'\n' != *$'\n'"$QUEUE_ID"$'\n'* ]]; then
		flunk "$STEP: negative control: the IPC namespace comes in 04-ipc, so this step's container still shares the" \
			"  host's IPC objects: ipcs -q inside should list the host's message queue $QUEUE_ID, and it does not."
	fi
}
