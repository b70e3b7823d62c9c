# shellcheck shell=bash
# The variables the runners set (status, output, lines, BG_*) live in helpers.bash.
# shellcheck disable=SC2154,SC2034
#
# checks-lifecycle.bash - the lifecycle checks that every step runs: what a signal to
# the program, its death, or a setup that fails half-way leave behind, the exit status
# on each of those paths, and nothing left on the host after a container. Loaded by
# helpers.bash.
#
# A lifecycle check adapts to the step it tests: no rootfs before 02-mnt, no
# veth before 06-net, no cgroup before 07-cgroups.

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

# ---------------------------------------------------------------- the lifecycle, every step

# signal_ends_container SIG: SIG (TERM or INT) sent to the program while its
# container runs a shell that traps SIG must reach that shell: it prints
# "received SIG" and exits 70, and the program returns 70, within 4 s. A program
# that forwards nothing and dies of SIG takes its container with it (the kernel's
# parent-death signal) and returns 128+N: that is not forwarding. Then, for TERM,
# a container that ignores the signal is killed 3 s later (137), and nothing is left.
signal_ends_container() {
	local sig=$1 t0 ms
	cnt_background sh -c "sleep 1000 & trap 'kill \$!; echo received $sig; exit 70' $sig; wait"
	wait_for_command sleep
	t0=$(now_ms)
	kill "-$sig" "$SUP"
	if ! wait_gone 4000 "$SUP" >/dev/null; then
		kill_tree "$BG"
		bg_wait
		flunk "$STEP: SIG$sig sent to the program (PID $SUP) while its container's shell waited should end it within" \
			"  4 s; it was still running (the test killed it). The program passes SIGINT, SIGTERM, SIGHUP and SIGQUIT on" \
			"  to the container (docs/cli.md, Lifetime)."
	fi
	ms=$(($(now_ms) - t0))
	bg_wait
	if ((status != 70)) || [[ $output != "received $sig" ]]; then
		flunk "$STEP: SIG$sig sent to the program should be passed on to the container: its shell traps SIG$sig, prints" \
			"  'received $sig' and exits 70, so the program should return 70 (COMMAND's own status) after printing that." \
			"  It returned $status after $ms ms and the shell printed '${output//$'\n'/ }'. $(forwarding_hint "$sig")"
	fi
	check_nothing_leaked "after SIG$sig to the program"
	if [[ $sig == TERM ]] && ((STEP_NO >= 3)); then
		# PID 1 of a PID namespace gets only the signals it has a handler for: sleep
		# ignores the forwarded SIGTERM, so the program has to kill it 3 s later.
		cnt_background sleep 1000
		wait_for_command sleep
		kill -TERM "$SUP"
		if ! wait_gone 5000 "$SUP" >/dev/null; then
			kill_tree "$BG"
			bg_wait
			flunk "$STEP: sleep as PID 1 ignores a forwarded SIGTERM (it has no handler), so the program should kill the" \
				"  container 3 s later; 5 s after SIGTERM it still ran (the test killed it). After forwarding a signal," \
				"  set a 3-second deadline (e.g. alarm(3)) and SIGKILL the container when it passes (docs/cli.md, Lifetime)."
		fi
		bg_wait
		if ((status != 137)); then
			flunk "$STEP: sleep as PID 1 ignores the forwarded SIGTERM, so 3 s later the program should SIGKILL the" \
				"  container and return 137 (128+9); it returned $status."
		fi
		check_nothing_leaked "after SIGTERM to a container that ignores it"
	fi
}

# forwarding_hint SIG: what a given exit status says about the program's signal handling.
forwarding_hint() {
	case $status in
	$((128 + $(kill -l "$1")))) echo "128+$(kill -l "$1") means the program itself died of SIG$1 without passing it on: block the signals it forwards and wait for them (sigwaitinfo), then kill() the container with each." ;;
	137) echo "137: the container was SIGKILLed instead of getting SIG$1 first." ;;
	*) echo "" ;;
	esac
}

check_sigterm_ends_container() { signal_ends_container TERM; }
check_sigint_ends_container() { signal_ends_container INT; }

# sigkill_program PROC...: SIGKILL the program and reap it, then give the container's
# processes PROC... 2 s to die with it. Status 1 if some outlive that: they are in
# OUTLIVED ("PID (comm) ..."), and killed, so that no test leaves them running.
sigkill_program() {
	local p
	kill -KILL "$SUP"
	bg_wait
	OUTLIVED=$(wait_gone 2000 "$@") && return 0
	for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
	return 1
}

check_sigkill_kills_container() {
	local p link=
	local -a procs dirs=() remaining=() found=()
	if ((STEP_NO >= 3)); then
		cnt_background sh -c 'sleep 1000 & wait' # PID 1 and one more process
	else
		cnt_background sleep 1000
	fi
	wait_for_command sleep
	mapfile -t procs < <(descendants "$SUP")
	if ((STEP_NO >= 6)); then link=cnt$SUP; fi
	if ((STEP_NO >= 7)); then mapfile -t dirs < <(cgroup_dirs "$SUP"); fi
	if ! sigkill_program "${procs[@]}"; then
		flunk "$STEP: when the program is killed by SIGKILL, its container must die with it within 2 s; these processes" \
			"  of the container still ran: $OUTLIVED (the test killed them). SIGKILL cannot be caught, so the container has" \
			"  to take care of it: its first process asks for prctl(PR_SET_PDEATHSIG, SIGKILL) (again after changing" \
			"  its user IDs, 05-user), and from 03-pid on the kernel kills a PID namespace with its PID 1."
	fi
	if [[ -n $link ]] && ! wait_link_gone 3 "$link"; then
		flunk "$STEP: 3 s after the program was killed by SIGKILL, the host end $link of its veth should be gone: the kernel" \
			"  removes it when the container's network namespace dies. It is still there: something holds the namespace."
	fi
	for p in "${dirs[@]}"; do
		if [[ -d $p ]]; then remaining+=("$p"); fi
	done
	if ((${#remaining[@]} > 0)); then
		run_in true
		expect_ran "true (the run after the killed one)"
		for p in "${remaining[@]}"; do
			if [[ -d $p ]]; then found+=("  $p"); fi
		done
		if ((${#found[@]} > 0)); then
			flunk "$STEP: a program killed by SIGKILL cannot remove its cgroup, so the next run must: it should rmdir every" \
				"  cntlab/<PID> whose program is gone (kill(PID, 0) fails with ESRCH; rmdir only removes an empty cgroup," \
				"  so a living container's is safe). After the next run these are still there:" "${found[@]}" \
				"  (07-cgroups)"
		fi
	fi
	check_nothing_leaked "after SIGKILL to the program"
}

# The kernel clears PR_SET_PDEATHSIG when a process changes its user IDs (prctl(2)),
# as su, setpriv and su-exec do: the container must die with the program all the same.
check_dies_with_program_after_setuid() {
	local deadline
	local -a procs args
	try_call_helper
	args=("$TRY_CALL")
	if ((STEP_NO >= 2)); then args=(-o -b "$TRY_CALL:/try-call:ro" /try-call); fi
	cnt_background "${args[@]}" setuid-sleep 1 1000
	wait_for_command try-call
	deadline=$((SECONDS + 5))
	until grep -q . "$BG_OUT" || ((SECONDS > deadline)); do sleep 0.1; done
	if [[ $(cat "$BG_OUT") != ok ]]; then
		bg_show
		flunk "$STEP: the test's COMMAND, try-call setuid-sleep, should have changed its user IDs to 1 and said ok."
	fi
	mapfile -t procs < <(descendants "$SUP")
	if ! sigkill_program "${procs[@]}"; then
		flunk "$STEP: when the program is killed by SIGKILL, its container must die with it within 2 s, also after COMMAND" \
			"  changed its user IDs (setresuid(1, 1, 1), as su and setpriv do). These still ran: $OUTLIVED (the test killed them)." \
			"  The kernel clears PR_SET_PDEATHSIG on such a change (prctl(2)), so the container needs a tie of the program's:" \
			"  a watchdog process holding a pidfd of the container that kills it when the program is gone, and exits then" \
			"  too (lib/watchdog.h, docs/01-uts.md)."
	fi
	if ((STEP_NO >= 6)); then wait_link_gone 3 "cnt$SUP" || true; fi
	if ((STEP_NO >= 7)); then run_in true; fi # a killed program's cgroup goes at the next run
	check_nothing_leaked "after SIGKILL to the program of a COMMAND that changed its user IDs"
}

check_setup_failure_without_proc() {
	if ((STEP_NO < 2)); then skip "$STEP has no root filesystem: it comes in 02-mnt"; fi
	local copy before added
	copy=$(mktemp -d /tmp/cntlab-noproc.XXXXXX) # not below BATS_TEST_TMPDIR: uid 100000 must reach it (05-user)
	at_teardown rm -rf "$copy"
	chmod 755 "$copy"
	cp -a "$ROOTFS/." "$copy/"
	rm -rf "${copy:?}/proc"
	before=$(ls -A "$copy")
	run_cnt -r "$copy" true
	expect_setup_error "a rootfs without a /proc directory ($copy)"
	if [[ $stderr != *proc* ]]; then
		flunk "$STEP: the error for a rootfs without /proc should name what failed: mounting proc on /proc."
	fi
	added=$(lines_added "$before" "$(ls -A "$copy")")
	if [[ -n $added ]]; then
		flunk "$STEP: the failed setup changed the rootfs directory: it now has ${added//$'\n'/ }."
	fi
	check_nothing_leaked "after a setup that failed half-way (no /proc in the rootfs)"
}

check_address_taken() {
	if ((STEP_NO < 6)); then skip "$STEP makes no veth: it comes in 06-net"; fi
	rootfs_args
	local pid ours
	# shellcheck disable=SC2034 # RAN is for flunk
	RAN="bash -c 'ip link add cnt\$\$ type veth peer name cnt\$\$x && exec $(printf '%q ' "$CNT" "${ROOTFS_ARGS[@]}") true'"
	# A veth of the test's takes the name cnt<PID> before bash becomes the program.
	# shellcheck disable=SC2016 # $$, $0 and $@ are for the bash that becomes the program
	capture timeout -k 5 "$CNT_TIMEOUT" bash -c 'echo "$$" >>"$0" && ip link add "cnt$$" type veth peer name "cnt$$"x && exec "$@"' \
		"$SUPERVISORS_FILE" "$CNT" "${ROOTFS_ARGS[@]}" true </dev/null 3>&- {LOCK_FD}>&-
	pid=$(tail -n 1 "$SUPERVISORS_FILE")
	at_teardown ip link del "cnt$pid"
	ours=$(ip -o link show "cnt$pid" 2>/dev/null | grep -o "cnt$pid@cnt${pid}x" || true)
	ip link del "cnt$pid" 2>/dev/null || true
	expect_setup_error "a host end name cnt$pid that is already taken (by a veth pair of the test's)"
	if [[ $stderr != *"File exists"* || $stderr != *"cnt$pid"* ]]; then
		flunk "$STEP: the error should name the interface cnt$pid and pass on the kernel's answer, 'File exists' (EEXIST)," \
			"  e.g. '$STEP: netlink RTM_NEWLINK veth cnt$pid: File exists'."
	fi
	if [[ -z $ours ]]; then
		flunk "$STEP: the program removed or replaced the interface cnt$pid, which the test had made, not the program."
	fi
	check_nothing_leaked "after the veth could not be created"
}

check_exit_status_paths() {
	rootfs_args
	local sig=KILL want=137 file=/etc/passwd
	if ((STEP_NO < 3)); then sig=USR1 want=138; fi

	run_in sh -c 'exit 42'
	if ((status != 42)); then
		flunk "$STEP: sh -c 'exit 42' should give 42, COMMAND's own status (WEXITSTATUS); it gave $status."
	fi
	check_nothing_leaked "after COMMAND exited 42"

	cnt_background sh -c 'sleep 1000 & trap "kill \$!; exit 7" TERM; wait'
	wait_for_command sleep
	kill -TERM "$SUP"
	wait_gone 4000 "$SUP" >/dev/null || kill_tree "$BG"
	bg_wait
	if ((status != 7)); then
		flunk "$STEP: SIGTERM to the program should be passed on to the container, whose sh traps it and exits 7;" \
			"  the program should then return 7, COMMAND's own status; it returned $status. (143 means the program" \
			"  itself was killed by SIGTERM: it must catch the signals it forwards, e.g. block them and sigwaitinfo.)"
	fi
	check_nothing_leaked "after SIGTERM to a COMMAND that traps it"

	cnt_background sleep 1000
	wait_for_command sleep
	kill "-$sig" "$FIRST"
	bg_wait
	if ((status != want)); then
		flunk "$STEP: COMMAND killed by SIG$sig from the host should give 128+$((want - 128)) = $want (WIFSIGNALED:" \
			"  128 + WTERMSIG); it gave $status."
	fi
	check_nothing_leaked "after COMMAND was killed by SIG$sig"

	run_in -n 'not a hostname' true
	if ((status != 125)); then
		flunk "$STEP: a bad -n NAME should give 125 (the container could not be set up); it gave $status."
	fi

	run_in cntlab-no-such-command
	if ((status != 127)); then
		flunk "$STEP: a COMMAND that does not exist should give 127; it gave $status."
	fi
	check_nothing_leaked "after a COMMAND that does not exist"

	if ((STEP_NO < 2)); then
		file=$BATS_TEST_TMPDIR/not-executable
		printf '#!/bin/sh\necho ran\n' >"$file"
		chmod 644 "$file"
	fi
	run_in "$file"
	if ((status != 126)); then
		flunk "$STEP: a COMMAND that cannot be executed ($file, mode 644) should give 126; it gave $status."
	fi
	check_nothing_leaked "after a COMMAND that cannot be executed"
}
