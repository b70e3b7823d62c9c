# shellcheck shell=bash
# The variables the runners set (status, output, lines, BG_*) live in helpers.bash.
# shellcheck disable=SC2154,SC2034
#
# checks-limits-sec.bash - the checks of 07-cgroups (limits) and 08-sec (least
# privilege), loaded by helpers.bash, so that every later step re-checks them the
# same way. The lifecycle checks, which find cgroups with cgroup_dirs from here,
# are in checks-lifecycle.bash.

# ---------------------------------------------------------------- cgroups on the host

cgroup_v2() {
	[[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]
}

# cgroup_dir PID CONTROLLER: where the contract puts the cgroup cntlab/PID of
# the running program PID for CONTROLLER (memory, pids or cpu). On a pure v2
# host that is /sys/fs/cgroup/cntlab/PID; on a v1 or hybrid host it is below
# the program's own cgroup in that controller's hierarchy (e.g. cpu,cpuacct).
cgroup_dir() {
	local pid=$1 controller=$2 own mountpoint
	if cgroup_v2; then
		echo "/sys/fs/cgroup/cntlab/$pid"
		return
	fi
	own=$(awk -F: -v c="$controller" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) { print $3; exit } }' "/proc/$pid/cgroup")
	mountpoint=$(awk -v c="$controller" '{
		split($0, halves, " - "); split(halves[2], right, " ")
		if (right[1] != "cgroup") next
		n = split(right[3], opts, ",")
		for (i = 1; i <= n; i++) if (opts[i] == c) { print $5; exit }
	}' /proc/self/mountinfo)
	echo "$mountpoint${own%/}/cntlab/$pid"
}

# cgroup_dirs PID: every directory of cntlab/PID, one a line (one on v2, three on v1).
cgroup_dirs() {
	if cgroup_v2; then
		cgroup_dir "$1" memory
	else
		cgroup_dir "$1" memory
		cgroup_dir "$1" pids
		cgroup_dir "$1" cpu
	fi
}

# cgroup_dirs_anywhere PID: the directories named cntlab/PID wherever they are.
cgroup_dirs_anywhere() {
	find /sys/fs/cgroup -maxdepth 7 -type d -path "*/cntlab/$1" 2>/dev/null || true
}

# The files the limits are written to, on v2 and on v1.
memory_limit_file() { if cgroup_v2; then echo memory.max; else echo memory.limit_in_bytes; fi; }
cpu_limit_file() { if cgroup_v2; then echo cpu.max; else echo cpu.cfs_quota_us; fi; }

# ---------------------------------------------------------------- 07-cgroups: limits

check_cgroup_ns_root() {
	run_in cat /proc/self/cgroup
	expect_ran "cat /proc/self/cgroup"
	local line bad=()
	for line in "${lines[@]}"; do
		[[ $line == *:/ ]] || bad+=("  $line")
	done
	if ((${#lines[@]} == 0)); then
		flunk "$STEP: /proc/self/cgroup inside should list the container's cgroups; it is empty."
	fi
	if ((${#bad[@]} > 0)); then
		flunk "$STEP: inside, every line of /proc/self/cgroup should end in ':/': the container's own cgroup is the" \
			"  root of what it sees. These lines show the host's cgroup paths:" "${bad[@]}" \
			"  The container needs its own cgroup namespace (cgroup_namespaces(7), 07-cgroups), made after it joined its" \
			"  cgroup: the namespace's root is the cgroup the process is in when it calls unshare(CLONE_NEWCGROUP)."
	fi
}

check_cgroup_dir_lifecycle() {
	local d
	local -a dirs missing=() not_in=() left=()
	cnt_background sleep 1000
	wait_for_command sleep
	mapfile -t dirs < <(cgroup_dirs "$SUP")
	for d in "${dirs[@]}"; do
		if [[ ! -d $d ]]; then
			missing+=("  $d")
		elif ! grep -qx "$FIRST" "$d/cgroup.procs"; then
			not_in+=("  $d/cgroup.procs")
		fi
	done
	kill -KILL "$FIRST"
	bg_wait
	for d in "${dirs[@]}"; do
		if [[ -d $d ]]; then left+=("  $d"); fi
	done
	if ((${#missing[@]} > 0)); then
		local elsewhere
		elsewhere=$(cgroup_dirs_anywhere "$SUP")
		flunk "$STEP: while the container runs, its cgroup cntlab/<PID> ($SUP, the program's PID) should exist;" \
			"  these directories are missing:" "${missing[@]}" \
			"  found instead: ${elsewhere:-none}" \
			"  On a pure cgroup v2 host it is /sys/fs/cgroup/cntlab/<PID>; on a v1 or hybrid host it is below the" \
			"  program's own cgroup (from /proc/self/cgroup) in each of the memory, pids and cpu hierarchies (07-cgroups)."
	fi
	if ((${#not_in[@]} > 0)); then
		flunk "$STEP: the container's first process (sleep, PID $FIRST on the host) should be in its cgroup;" \
			"  it is not listed in:" "${not_in[@]}" \
			"  It must start there (clone from inside the cgroup, or clone3 with CLONE_INTO_CGROUP), or be moved there" \
			"  (its PID to cgroup.procs) before it runs COMMAND (cgroups(7), 07-cgroups)."
	fi
	if ((${#left[@]} > 0)); then
		flunk "$STEP: when the program returns, its cgroup should be gone; these directories are left:" "${left[@]}" \
			"  After the container has been reaped, rmdir cntlab/<PID> (in each hierarchy on v1); the kernel may answer" \
			"  EBUSY for a moment after the last task exits, so try again for a while (07-cgroups)."
	fi
}

check_default_limits() {
	local memory pids cpu
	cnt_background sleep 1000
	wait_for_command sleep
	memory=$(cat "$(cgroup_dir "$SUP" memory)/$(memory_limit_file)" 2>&1) || true
	pids=$(cat "$(cgroup_dir "$SUP" pids)/pids.max" 2>&1) || true
	cpu=$(cat "$(cgroup_dir "$SUP" cpu)/$(cpu_limit_file)" 2>&1) || true
	kill -KILL "$FIRST"
	bg_wait
	if [[ $memory != 268435456 ]]; then
		flunk "$STEP: without -m the memory limit should be 256M: $(memory_limit_file) of the container's cgroup" \
			"  should hold 268435456; it holds '$memory' (07-cgroups)."
	fi
	if [[ $pids != 64 ]]; then
		flunk "$STEP: without -p the container may have 64 tasks: pids.max of its cgroup should hold 64;" \
			"  it holds '$pids' (07-cgroups)."
	fi
	if [[ $cpu != -1 && $cpu != "max 100000" ]]; then
		flunk "$STEP: without -c the CPU time should not be limited: $(cpu_limit_file) should hold" \
			"  $(if cgroup_v2; then echo "'max 100000'"; else echo -1; fi), the kernel's default; it holds '$cpu' (07-cgroups)."
	fi
}

check_pids_limit() {
	# The loop runs in a subshell: busybox sh exits when fork fails. Then PID 1
	# counts the container's processes with shell built-ins only: at the limit,
	# even ls could not start.
	# shellcheck disable=SC2016 # $i, $n and $p are for the sh inside
	local script='(i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i + 1)); done)'
	# shellcheck disable=SC2016
	script+='; n=0; for p in /proc/[0-9]*; do n=$((n + 1)); done; echo $n'
	run_in --pids 20 sh -c "$script"
	expect_ran "a loop starting 40 background sleeps, then counting the processes in /proc"
	if [[ ! $output =~ ^[0-9]+$ ]]; then
		flunk "$STEP: the container should have printed how many processes it has; it printed '$output'."
	fi
	if ((output > 20)); then
		flunk "$STEP: with --pids 20 the container may have at most 20 tasks at once, but a loop starting 40 background" \
			"  sleeps got $output processes running. Write the limit to pids.max of the container's cgroup, and put the" \
			"  container in that cgroup before it runs COMMAND (07-cgroups)."
	fi
	if ((output < 10)); then
		flunk "$STEP: with --pids 20 the container should reach about 20 tasks before fork fails; it had only $output."
	fi
}

# --pids N counts the container's tasks, and only them: a supervisor that passes
# through the cgroup to clone the container into it must have left it.
check_pids_counts_only_the_container() {
	run_in --pids 2 sh -c '(true) && echo forked'
	if [[ $status != 0 || $output != forked ]]; then
		flunk "$STEP: with --pids 2 the container's shell should be able to start one child (2 tasks); it could not" \
			"  (status $status, output '$output'). Is something else in the container's cgroup, such as the supervisor?" \
			"  It may pass through the cgroup to clone the container, but must leave it before the limit counts (07-cgroups)."
	fi
	run_in --pids 1 sh -c '(true) && echo forked'
	if [[ $output == *forked* ]]; then
		flunk "$STEP: with --pids 1 the container's shell is its only allowed task and cannot fork, but '(true)' ran" \
			"  (output '$output'). pids.max must hold 1 before COMMAND runs (07-cgroups)."
	fi
}

# Docker's default seccomp profile, valgrind and kernels before 5.3 fail clone3 with
# ENOSYS. A step that starts the container with clone3(CLONE_INTO_CGROUP) must fall back
# and still put it in its cgroup before it runs anything. (On a v1 host the steps do
# not use clone3: this checks that they do not start to.)
check_cgroup_without_clone3() {
	local helper=$ROOT/build/no-clone3
	[[ -x $helper ]] || flunk "$STEP: the test helper $helper is missing: run make build/no-clone3 (or make test)."
	CNT_PREFIX=("$helper")
	# Built-ins only: with --pids 1 not even cat could start.
	# shellcheck disable=SC2016 # $l is for the sh inside
	run_in --pids 1 sh -c 'while read -r l; do echo "$l"; done </proc/self/cgroup; (true) && echo forked'
	CNT_PREFIX=()
	if ((status == 125)) || [[ $output != *"::/"* ]]; then
		flunk "$STEP: with clone3 failing ENOSYS (as under Docker's seccomp filter) the container should still start," \
			"  in its own cgroup namespace (/proc/self/cgroup showing /). Where the clone3 call with CLONE_INTO_CGROUP" \
			"  says ENOSYS, fall back to clone(2) and move the child into its cgroup before it runs COMMAND (07-cgroups)."
	fi
	if [[ $output == *forked* ]] || grep -v ':/$' <<<"$output" | grep -q .; then
		flunk "$STEP: with clone3 failing ENOSYS and --pids 1 the container must be in its cgroup and unable to" \
			"  fork, with / for every line of /proc/self/cgroup; it printed other paths or forked. After falling back" \
			"  to clone(2), move the child into its cgroup before it runs anything (07-cgroups)."
	fi
}

check_memory_limit_kills() {
	# ulimit -v is a safety net for the host: without a working limit, tail stops
	# at 128M (out of address space, status 1) instead of eating the host's memory.
	run_in --memory 32M sh -c 'ulimit -v 131072; exec tail /dev/zero'
	if ((status == 137)); then return 0; fi
	if [[ $stderr == *"out of memory"* || $stderr == *"Cannot allocate"* ]]; then
		flunk "$STEP: with --memory 32M, tail /dev/zero (which keeps all it reads) should be killed by the kernel's OOM" \
			"  killer at 32M, and the program return 137 (128+SIGKILL). Instead tail grew to 128M, the limit the test set" \
			"  with ulimit -v as a safety net: the 32M did not apply. Write it to $(memory_limit_file) of the container's" \
			"  cgroup (and the swap limit too), and put the container in that cgroup (07-cgroups)."
	fi
	flunk "$STEP: with --memory 32M, tail /dev/zero should be killed by the OOM killer, and the program return 137" \
		"  (128+SIGKILL); it returned $status (07-cgroups)."
}

check_cpu_limit() {
	# A busy loop runs for 2 s of wall-clock time; then PID 1 reads its CPU time.
	# shellcheck disable=SC2016 # $! and $s are for the sh inside
	local script='sh -c "while :; do :; done" & sleep 2; read -r s </proc/$!/stat; echo "$s"; kill $!'
	local -a f
	local tck ticks ms
	run_in --cpus 0.2 sh -c "$script"
	expect_ran "a busy loop for 2 s, then reading its /proc/PID/stat"
	read -ra f <<<"${output##*) }" # the fields after "PID (comm) ": state is f[0], utime f[11], stime f[12]
	if [[ ! ${f[11]-} =~ ^[0-9]+$ || ! ${f[12]-} =~ ^[0-9]+$ ]]; then
		flunk "$STEP: the container should have printed the busy loop's /proc/PID/stat line; it printed '$output'."
	fi
	tck=$(getconf CLK_TCK 2>/dev/null) || tck=100
	ticks=$((f[11] + f[12]))
	ms=$((ticks * 1000 / tck))
	if ((ms > 600)); then
		flunk "$STEP: with --cpus 0.2 a busy loop running for 2 s should get about 0.4 s of CPU time (20 ms in every" \
			"  100 ms period), at most 0.6 s; it got $ms ms. Write the quota to the container's cgroup: cpu.cfs_period_us" \
			"  100000 and cpu.cfs_quota_us 20000 on v1, cpu.max '20000 100000' on v2, and put the container in it (07-cgroups)."
	fi
}

# Each case is OPTION|VALUE. Only digits and a point are numbers here: strtod(3)
# would also take leading spaces, hex (0x10) and exponents (1e1).
check_bad_limits() {
	local -a cases=("--memory|abc" "--memory|0" "--pids|0" "--pids|ten" "--cpus|-1" "--cpus|0" "--cpus|half"
		"--memory|0x100000" "--memory|1e6" "--pids|0x10" "--pids|1e1" "--pids| 5" "--cpus|5e-1" "--cpus| 0.5")
	local c opt value
	for c in "${cases[@]}"; do
		IFS='|' read -r opt value <<<"$c"
		run_in -v "$opt" "$value" true
		if ((status != 125)); then
			flunk "$STEP: '$opt $value' is not a valid value: the program should refuse it and exit 125; it exited $status." \
				"  A value is digits, at most one point, and (for --memory) K, M or G: no spaces, hex or exponents."
		fi
		if ((${#stderr_lines[@]} != 1)) || [[ ${stderr_lines[0]} == "=> "* ]]; then
			flunk "$STEP: '$opt $value' should be refused before anything is created, with one line on stderr" \
				"  'NN-name: what: why'. With -v, the program narrated setup actions before the error (or printed more than" \
				"  one line): check every option's value while parsing the options, before creating a cgroup or a namespace."
		fi
		if [[ ${stderr_lines[0]} != *"$value"* || ${stderr_lines[0]} != *"${opt#--}"* ]]; then
			flunk "$STEP: the error for '$opt $value' should name the option and quote the bad value, e.g." \
				"  $STEP: invalid $opt '$value': expected ..." \
				"  It reads: ${stderr_lines[0]}"
		fi
	done
	check_nothing_leaked "after the refused values"
}

# The kernel's smallest CPU quota is 1 ms per period (sched-bwc.rst): --cpus below 0.01
# is refused. Today's trap: 0.000001 CPUs rounds to a quota of 0, which means no limit.
check_cpu_below_smallest_quota() {
	local v found
	for v in 0.001 0.000001; do
		run_in --cpus "$v" true
		expect_setup_error "--cpus $v (below 0.01: a quota under the kernel's smallest, 1 ms per 100 ms period)"
		if [[ $stderr != *"$v"* ]]; then
			flunk "$STEP: the error for --cpus $v should quote the value, e.g. '$STEP: invalid --cpus '$v': expected at least 0.01'."
		fi
		found=$(still_there 0 find_cnt_cgroups)
		if [[ -n $found ]]; then
			while read -r found; do rmdir "$found" 2>/dev/null || true; done <<<"$found"
			flunk "$STEP: after refusing --cpus $v, no cgroup of the program's should be left; one was (the test removed it)." \
				"  Check the value while parsing the options, before cntlab/<PID> is made (07-cgroups)."
		fi
	done
	check_nothing_leaked "after the refused CPU quotas"
}

# A negative control: what a step does not isolate yet must still be shared with
# the host; it shows that the tests can see sharing at all, and that a step does
# not quietly do a later step's work.
check_host_cgroup_visible() {
	local want
	want=$(cat "/proc/$BASHPID/cgroup")
	run_in cat /proc/self/cgroup
	expect_ran "cat /proc/self/cgroup"
	if [[ $output != "$want" ]]; then
		flunk "$STEP: negative control: the cgroup namespace comes in 07-cgroups, so this step's container still sees" \
			"  the host's cgroup paths: /proc/self/cgroup inside should be what the host sees for the program, the test's own:" \
			"  ${want//$'\n'/$'\n'  }"
	fi
}

# ---------------------------------------------------------------- 07-cgroups: pause

# Where SIGTSTP can freeze a container: cgroup v2, or a mounted v1 freezer.
requires_freezer() {
	cgroup_v2 || grep -qw freezer /proc/self/cgroup ||
		skip "needs cgroup v2 or a mounted v1 freezer hierarchy to pause a container"
}

# state PID: the state letter of PID (R running, S sleeping, D uninterruptible, T stopped).
state() {
	local line
	{ read -r line <"/proc/$1/stat"; } 2>/dev/null || return 0
	line=${line##*) }
	echo "${line%% *}"
}

# wait_for_state SECONDS PID STATES: until PID's state is one of the letters STATES.
wait_for_state() {
	local deadline=$(($(now_ms) + $1 * 1000))
	while [[ $3 != *"$(state "$2")"* ]]; do
		if (($(now_ms) >= deadline)); then return 1; fi
		sleep 0.05
	done
}

# counter: what the container's counter loop (start_counter) wrote last, read
# through its root; counter_moves: whether it goes up within 2 s.
counter() { cat "/proc/$FIRST/root/dev/count" 2>/dev/null || echo 0; }
counter_moves() {
	local before deadline=$((SECONDS + 2))
	before=$(counter)
	while (($(counter) == before)); do
		if ((SECONDS > deadline)); then return 1; fi
		sleep 0.1
	done
}

# start_counter: a container whose shell counts in /dev/count (its /dev is a
# tmpfs of its own), 50 times a second, with a usleep child each time.
start_counter() {
	# shellcheck disable=SC2016 # $i is for the sh inside
	cnt_background sh -c 'i=0; while :; do i=$((i+1)); echo $i >/dev/count; usleep 20000; done'
	wait_for_command sh
	if ! counter_moves; then
		kill -KILL "$FIRST"
		bg_wait
		flunk "$STEP: the test's counter loop inside the container never counted (/dev/count: '$(counter)')."
	fi
}

# pause_and_check_frozen: SIGTSTP to the program; it must stop itself, and the
# container be frozen: every process asleep (S, or D in v1's freezer) and the
# counter standing still.
pause_and_check_frozen() {
	local p st count later
	local -a awake=()
	kill -TSTP "$SUP"
	if ! wait_for_state 5 "$SUP" T; then
		kill -KILL "$FIRST"
		bg_wait
		flunk "$STEP: after SIGTSTP the program should freeze its container and then stop itself (raise SIGSTOP), so" \
			"  that a shell shows a stopped job; 5 s later its state is '$(state "$SUP")', not T (stopped) (07-cgroups, pause)."
	fi
	for p in $(descendants "$SUP"); do
		st=$(state "$p")
		if [[ -n $st && $st != [DS] ]]; then awake+=("$p ($(cat "/proc/$p/comm" 2>/dev/null)): $st"); fi
	done
	count=$(counter)
	sleep 0.5
	later=$(counter)
	if ((${#awake[@]} > 0 || later != count)); then
		kill -KILL "$FIRST"
		kill -CONT "$SUP"
		bg_wait
		flunk "$STEP: while the program is stopped by SIGTSTP, its container should be frozen: every process asleep" \
			"  (state S, or D in cgroup v1's freezer) and its counter standing still. Not asleep: ${awake[*]:-none};" \
			"  the counter went from $count to $later in 0.5 s. Write 1 to cgroup.freeze and wait for 'frozen 1' in" \
			"  cgroup.events (cgroup-v2.rst, Core Interface Files), or FROZEN to v1's freezer.state, before stopping (07-cgroups, pause)."
	fi
}

check_pause_freezes_container() {
	requires_freezer
	start_counter
	pause_and_check_frozen
	kill -CONT "$SUP"
	if ! wait_for_state 5 "$SUP" SR || ! counter_moves; then
		kill -KILL "$FIRST"
		kill -CONT "$SUP"
		bg_wait
		flunk "$STEP: after SIGCONT the program should go on and thaw its container (0 to cgroup.freeze, THAWED to v1's" \
			"  freezer.state); the program's state is '$(state "$SUP")' and the counter stands at $(counter) (07-cgroups, pause)."
	fi
	kill -KILL "$FIRST"
	bg_wait
	if ((status != 137)); then
		flunk "$STEP: a container paused and thawed, then killed by SIGKILL, should end the program with 137."
	fi
}

# SIGKILL cannot be caught: the program cannot thaw what it froze. On v2 SIGKILL
# reaches frozen tasks; v1's freezer holds it until the cgroup thaws, so the next
# run thaws the cgroups whose program is gone, and the container dies then.
check_pause_then_sigkill_leaves_nothing() {
	local left
	local -a procs
	requires_freezer
	start_counter
	pause_and_check_frozen
	mapfile -t procs < <(descendants "$SUP")
	kill -KILL "$SUP"
	bg_wait
	run_in true
	expect_ran "true (the run after the killed one)"
	if ! left=$(wait_gone 2000 "${procs[@]}"); then
		for p in "${procs[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
		flunk "$STEP: a paused container whose program is killed by SIGKILL must die with it (cgroup v2: SIGKILL reaches" \
			"  frozen tasks) or, on v1, when the next run sweeps the cgroups of programs that are gone: it must thaw the" \
			"  freezer cgroup (THAWED to freezer.state) before rmdir. Still running after the next run: $left (07-cgroups, pause)."
	fi
	check_nothing_leaked "after a paused container's program was killed and the next run swept"
}

# ---------------------------------------------------------------- 08-sec: least privilege

DOCKER_CAPS=00000000a80425fb # chown dac_override fowner fsetid kill setgid setuid setpcap net_bind_service net_raw sys_chroot mknod audit_write setfcap
CAP_NAMES=(chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap linux_immutable
	net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module sys_rawio sys_chroot
	sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource sys_time sys_tty_config mknod lease
	audit_write audit_control setfcap mac_override mac_admin syslog wake_alarm block_suspend audit_read
	perfmon bpf checkpoint_restore)

# cap_names NUMBER: the names of the capabilities whose bits are set in NUMBER.
cap_names() {
	local i out=()
	for ((i = 0; i < 63; i++)); do
		if ((($1 >> i) & 1)); then out+=("cap_${CAP_NAMES[i]:-$i}"); fi
	done
	echo "${out[*]:-none}"
}

# status_fields: run cat /proc/self/status in the container; FIELD[name] is each line's value.
status_fields() {
	run_in cat /proc/self/status
	expect_ran "cat /proc/self/status"
	FIELD=()
	local line value
	for line in "${lines[@]}"; do
		[[ $line == *:* ]] || continue
		read -r value <<<"${line#*:}" # without the blanks around it
		FIELD[${line%%:*}]=$value
	done
}

check_docker_capabilities() {
	local -A FIELD
	local set value want=$((16#$DOCKER_CAPS))
	local -a bad=()
	status_fields
	for set in CapBnd CapPrm CapEff; do
		value=${FIELD[$set]-}
		if [[ ! $value =~ ^[0-9a-f]{16}$ ]]; then
			bad+=("  $set: '$value' (no such line)")
		elif [[ $value != "$DOCKER_CAPS" ]]; then
			bad+=("  $set is $value: extra $(cap_names $((16#$value & ~want))); missing $(cap_names $((want & ~16#$value)))")
		fi
	done
	for set in CapInh CapAmb; do
		value=${FIELD[$set]-}
		if [[ $value != 0000000000000000 ]]; then
			bad+=("  $set should be 0000000000000000; it is '$value'$([[ $value =~ ^[0-9a-f]{16}$ ]] && echo ": $(cap_names $((16#$value)))")")
		fi
	done
	if ((${#bad[@]} > 0)); then
		flunk "$STEP: inside, the bounding, permitted and effective sets should be $DOCKER_CAPS, Docker's 14 default" \
			"  capabilities ($(cap_names "$want")), and the inheritable and ambient sets empty:" "${bad[@]}" \
			"  Drop every other capability from the bounding set (PR_CAPBSET_DROP, so no execve can bring it back), set" \
			"  permitted and effective to the 14, clear the ambient set (capabilities(7), 08-sec)."
	fi
}

check_no_new_privs_and_seccomp() {
	local -A FIELD
	status_fields
	if [[ ${FIELD[NoNewPrivs]-} != 1 ]]; then
		flunk "$STEP: /proc/self/status inside should say NoNewPrivs: 1; it says '${FIELD[NoNewPrivs]-no such line}'." \
			"  prctl(PR_SET_NO_NEW_PRIVS, 1) before execve: then no set-user-ID file or file capability can raise" \
			"  privileges, and the kernel lets the container load a seccomp filter (08-sec)."
	fi
	if [[ ${FIELD[Seccomp]-} != 2 ]]; then
		flunk "$STEP: /proc/self/status inside should say Seccomp: 2 (a filter is loaded); it says '${FIELD[Seccomp]-no such line}'." \
			"  Load a seccomp filter (seccomp(2), e.g. with libseccomp: seccomp_init, seccomp_rule_add, seccomp_load) as" \
			"  the last step before execve (08-sec)."
	fi
}

check_full_capabilities() {
	local -A FIELD
	local host inside
	host=$(awk '$1 == "CapBnd:" { print $2 }' "/proc/$BASHPID/status")
	status_fields
	inside=${FIELD[CapBnd]-}
	if [[ ! $inside =~ ^[0-9a-f]{16}$ ]] || (((16#$host & ~16#$inside) != 0)) ||
		[[ ${FIELD[NoNewPrivs]-} != 0 || ${FIELD[Seccomp]-} != 0 ]]; then
		flunk "$STEP: negative control: least privilege comes in 08-sec, so root inside this step's container still has" \
			"  every capability of the host's bounding set ($host; a new user namespace gives the full set of the kernel)" \
			"  and neither no_new_privs nor seccomp: /proc/self/status says CapBnd: ${inside:-?}" \
			"  (missing: $([[ $inside =~ ^[0-9a-f]{16}$ ]] && cap_names $((16#$host & ~16#$inside)))), NoNewPrivs: ${FIELD[NoNewPrivs]-?}," \
			"  Seccomp: ${FIELD[Seccomp]-?}; they should be 0."
	fi
}

check_sethostname_denied() {
	run_in -n cntlab-sec sh -c 'hostname cntlab-changed; hostname'
	expect_ran "hostname cntlab-changed; hostname"
	if [[ $output != cntlab-sec || $stderr != *"Operation not permitted"* ]]; then
		flunk "$STEP: hostname cntlab-changed inside should fail with 'Operation not permitted' (EPERM) and the name stay" \
			"  cntlab-sec; the name is now '$output'. sethostname(2) needs CAP_SYS_ADMIN, which is not among Docker's" \
			"  14 capabilities: drop it (08-sec)."
	fi
}

check_unshare_denied() {
	run_in unshare -U true
	if ((status == 0)) || [[ $stderr != *"Operation not permitted"* ]]; then
		flunk "$STEP: unshare -U inside should fail with 'Operation not permitted' (EPERM). A user namespace needs no" \
			"  capability at all, so only the seccomp filter can stop it: answer EPERM to unshare(2), setns(2) and clone(2)" \
			"  with a CLONE_NEW* flag (08-sec)."
	fi
}

check_mount_denied() {
	run_in mount -t tmpfs cntlab /tmp
	# busybox's mount says "permission denied (are you root?)" for EPERM.
	if ((status == 0)) || [[ $stderr != *"Operation not permitted"* && ${stderr,,} != *"permission denied"* ]]; then
		flunk "$STEP: mount -t tmpfs inside should fail with 'Operation not permitted' (EPERM; busybox says 'permission" \
			"  denied (are you root?)'). mount(2) needs CAP_SYS_ADMIN, which is dropped, and the seccomp filter denies" \
			"  mount and the new mount API (fsopen, fsmount, move_mount, ...) as a second line of defence (08-sec)."
	fi
}

check_setuid_chmod_denied() {
	run_in -o sh -c 'touch /tmp/cntlab-f && chmod 644 /tmp/cntlab-f && echo plain-chmod-works
		chmod u+s /tmp/cntlab-f || echo setuid-refused
		chmod g+s /tmp/cntlab-f || echo setgid-refused'
	expect_ran "touch and chmod in /tmp (with -o)"
	if [[ ${lines[0]-} != plain-chmod-works ]]; then
		flunk "$STEP: an ordinary chmod 644 inside should still work; it did not."
	fi
	if [[ ${lines[*]} != *setuid-refused*setgid-refused* || $stderr != *"Operation not permitted"* ]]; then
		flunk "$STEP: chmod u+s and chmod g+s inside should fail with 'Operation not permitted' (EPERM): a set-user-ID" \
			"  file made in a container works as one on the host if it ever gets there. The seccomp filter should deny" \
			"  chmod, fchmod and fchmodat (and fchmodat2) when the mode has S_ISUID or S_ISGID (08-sec)."
	fi
}

# try_call_helper: the static helper tests/try-call.c, bound into the container at /try-call.
try_call_helper() {
	TRY_CALL=$ROOT/build/try-call
	[[ -x $TRY_CALL ]] || flunk "$STEP: the test helper $TRY_CALL is missing: run make build/try-call (or make test)."
}

# Docker's default seccomp profile (moby, profiles/seccomp/default.json) denies io_uring
# since 25.0 and allows personality(2) only with 0x0, 0x8, 0x20000, 0x20008 and 0xffffffff.
check_io_uring_and_personality_denied() {
	try_call_helper
	run_in -o -b "$TRY_CALL:/try-call:ro" sh -c '/try-call io_uring; /try-call personality 40000
		/try-call personality 8; /try-call personality ffffffff'
	if [[ ${lines[*]-} != "Operation not permitted Operation not permitted ok ok" ]]; then
		flunk "$STEP: inside, io_uring_setup and personality(ADDR_NO_RANDOMIZE, 0x40000) should fail with 'Operation" \
			"  not permitted' (EPERM), and personality(PER_LINUX32, 8) and personality(0xffffffff), which only asks, should" \
			"  work; the four calls answered: ${lines[*]-}. io_uring makes system calls the filter does not see, and" \
			"  other personas turn off address randomisation: deny io_uring_setup, io_uring_enter and io_uring_register," \
			"  and let personality through only with Docker's five values (docs/08-sec.md)."
	fi
}

check_proc_masked() {
	# shellcheck disable=SC2016 # $f is for the sh inside
	local script='for f in kcore keys timer_list timer_stats sched_debug latency_stats interrupts; do
		if [ -e /proc/$f ]; then echo "$f $(head -c 1 /proc/$f 2>/dev/null | wc -c)"; fi; done
		for d in acpi asound scsi; do if [ -d /proc/$d ]; then echo "$d/ $(ls -A /proc/$d | wc -l)"; fi; done
		echo --; cat /proc/self/mountinfo'
	local line name count seen=0 mounts
	local -a bad=()
	run_in sh -c "$script"
	expect_ran "reading the sensitive files of /proc"
	if [[ " ${lines[*]} " != *" -- "* ]]; then
		flunk "$STEP: the container should have listed the sensitive files of /proc and its mount table; it did not."
	fi
	mounts=" $(sed '1,/^--$/d' <<<"$output" | awk '{ printf "%s ", $5 }')"
	for line in "${lines[@]}"; do
		[[ $line != -- ]] || break
		read -r name count <<<"$line"
		seen=$((seen + 1))
		if [[ $count != 0 ]]; then
			bad+=("  /proc/$name shows the host's data (read $count bytes or entries)")
		elif [[ $mounts != *" /proc/${name%/} "* ]]; then
			bad+=("  /proc/$name is not masked: nothing is mounted over it")
		fi
	done
	if [[ -e /proc/kcore ]] && [[ " ${lines[*]} " != *" kcore "* ]]; then
		bad+=("  /proc/kcore is missing inside, but the host has it: mask it, don't remove it")
	fi
	if ((${#bad[@]} > 0)); then
		flunk "$STEP: the files of /proc that show the host's kernel memory, keys, timers and interrupts should yield nothing:" "${bad[@]}" \
			"  Mask each that exists, as Docker does: bind-mount /dev/null over kcore, keys, timer_list, timer_stats," \
			"  sched_debug, latency_stats and interrupts, and an empty read-only tmpfs over the directories acpi, asound and" \
			"  scsi (docs/08-sec.md, mask_paths())."
	fi
	if ((seen == 0)); then
		flunk "$STEP: this kernel has none of /proc/kcore, keys, timer_list, sched_debug, latency_stats inside:" \
			"  nothing to check. (The host has: $(find /proc -maxdepth 1 -regex '/proc/\(kcore\|keys\|timer_list\|sched_debug\|latency_stats\)' -printf '%f '))"
	fi
}

check_proc_sys_read_only() {
	run_in -n cntlab-sec sh -c 'echo cntlab-changed >/proc/sys/kernel/hostname; hostname'
	if [[ $output != cntlab-sec || $stderr != *"Read-only file system"* ]]; then
		flunk "$STEP: writing /proc/sys/kernel/hostname inside should fail with 'Read-only file system' (EROFS)." \
			"  /proc/sys reaches the kernel's settings, many of them the host's: bind-mount it onto itself and remount" \
			"  the bind read-only (MS_REMOUNT|MS_BIND|MS_RDONLY), with /proc/sysrq-trigger, /proc/irq, /proc/bus and" \
			"  /proc/fs (08-sec)."
	fi
}

check_sys_read_only() {
	local host_firmware
	host_firmware=$(find /sys/firmware -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null) || true
	run_in sh -c 'touch /sys/cntlab-test; touch /sys/firmware/cntlab-test; ls -A /sys/firmware; echo end-of-list'
	if [[ $(grep -c "Read-only file system" <<<"$stderr") -lt 2 ]]; then
		flunk "$STEP: /sys and /sys/firmware should be read-only inside: touch /sys/cntlab-test and touch" \
			"  /sys/firmware/cntlab-test should both fail with 'Read-only file system' (EROFS): mount sysfs with" \
			"  MS_RDONLY (06-net), and /sys/firmware with a read-only tmpfs (08-sec)."
	fi
	if [[ $output != end-of-list ]]; then
		flunk "$STEP: /sys/firmware inside should be empty (the host's has: ${host_firmware:-nothing}); it lists:" \
			"  ${output//$'\n'/ }" \
			"  It shows the host's firmware tables: cover it with an empty read-only tmpfs, as runc does (08-sec)."
	fi
}

# check_concurrent_web_servers: 20 containers of this step at once, each
# serving HTTP on port 80 (NET_BIND_SERVICE is one of Docker's 14), all
# reachable from the host on addresses of their own; then all stopped at once.
check_concurrent_web_servers() {
	requires curl
	local n=20 i url got addr deadline ended CNT_TIMEOUT=300
	local -a bgs=() pids=() outs=() slots=() bad=() sts=() links=()
	local script='trap "exit 0" TERM; mkdir -p /tmp/www; hostname >/tmp/www/index.html; httpd -f -p 80 -h /tmp/www & wait'
	for ((i = 0; i < n; i++)); do
		cnt_background -o -n "web-$i" sh -c "$script"
		bgs+=("$BG") pids+=("$SUP") outs+=("$BG_ERR")
	done
	deadline=$((SECONDS + 60))
	for ((i = 0; i < n; i++)); do
		slots[i]=
		while ((SECONDS <= deadline)); do
			addr=$(ip -o -4 addr show dev "cnt${pids[i]}" 2>/dev/null | awk '{ print $4; exit }')
			if [[ $addr =~ ^10\.200\.([0-9]+)\.1/30$ ]]; then
				slots[i]=${BASH_REMATCH[1]}
				break
			fi
			gone "${pids[i]}" && break
			sleep 0.1
		done
		[[ -n ${slots[i]} ]] || bad+=("  container web-$i (program PID ${pids[i]}): no host end cnt${pids[i]} with 10.200.S.1/30; stderr: $(head -c 300 "${outs[i]}")")
	done
	if [[ -n ${slots[*]} ]] && [[ $(printf '%s\n' "${slots[@]}" | sed '/^$/d' | sort | uniq -d) != "" ]]; then
		bad+=("  two containers share a slot: 10.200.S.0/30 for S in ${slots[*]}")
	fi
	for ((i = 0; i < n; i++)); do
		[[ -n ${slots[i]} ]] || continue
		url=http://10.200.${slots[i]}.2/
		got=
		while ((SECONDS <= deadline)); do
			got=$(curl --noproxy '*' -fsS --max-time 3 "$url" 2>&1) && break
			gone "${pids[i]}" && break
			sleep 0.2
		done
		[[ $got == "web-$i" ]] || bad+=("  $url (container web-$i): '${got:0:200}'")
	done
	for ((i = 0; i < n; i++)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
	ended=1
	wait_gone 20000 "${pids[@]}" >/dev/null || ended=0
	for ((i = 0; i < n; i++)); do
		kill_tree "${bgs[i]}"
		sts[i]=0
		wait "${bgs[i]}" || sts[i]=$?
	done
	for ((i = 0; i < n; i++)); do
		wait_link_gone 3 "cnt${pids[i]}" || links+=("cnt${pids[i]}")
	done
	RAN=
	if ((${#bad[@]} > 0)); then
		flunk "$STEP: $n containers started at once should each serve HTTP on port 80 at its own 10.200.S.2, reachable" \
			"  from the host (waited up to 60 s in all); these did not:" "${bad[@]}" \
			"  Each needs a slot S of its own (06-net), and httpd binding port 80 needs CAP_NET_BIND_SERVICE, one of" \
			"  Docker's 14 (08-sec)."
	fi
	for ((i = 0; i < n; i++)); do
		if ((sts[i] != 0)); then ended=0; fi
	done
	if ((ended == 0)); then
		flunk "$STEP: SIGTERM to each of the $n programs should end its container at once (sh, PID 1, traps TERM and" \
			"  exits 0), so every program returns 0 within 20 s; their statuses: ${sts[*]}."
	fi
	if ((${#links[@]} > 0)); then
		flunk "$STEP: 3 s after the $n containers ended, their host ends should be gone; these remain: ${links[*]}." \
			"  The kernel removes a veth when the container's network namespace dies: something still holds it."
	fi
	check_nothing_leaked "after $n containers at once"
}
