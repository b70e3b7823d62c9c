# shellcheck shell=bash
# The variables the runners set (status, output, lines, BG_*) live in helpers.bash.
# shellcheck disable=SC2154,SC2034
#
# checks-rootless.bash - the checks of 09-rootless, loaded by helpers.bash.
#
# The suite runs as root, and 09-rootless refuses root. So tests/09-rootless.bats makes
# a test user for the whole file (rootless_setup_file): no home, no shell, a subordinate
# range away from 100000 (ROOTLESS_SUB, 300000:65536) in /etc/subuid and /etc/subgid, and a
# copy of the rootfs that it owns. Every run of the program goes through the runner's
# CNT_PREFIX: setpriv(1) switches to the test user and execs, so the PID the runner
# records is still the program's. rootless_teardown_file removes the user and puts
# /etc/subuid and /etc/subgid back, whatever the tests did.

ROOTLESS_USER=cntlab09
ROOTLESS_SUB=300000
ROOTLESS_SUBCOUNT=65536

# ---------------------------------------------------------------- the test user

rootless_setup_file() {
	local state=$BATS_FILE_TMPDIR/rootless
	mkdir -p "$state"
	# A user left by a run that was killed: it is ours (the name is), so start afresh.
	if id "$ROOTLESS_USER" >/dev/null 2>&1; then userdel "$ROOTLESS_USER" 2>/dev/null || true; fi
	if getent group "$ROOTLESS_USER" >/dev/null; then groupdel "$ROOTLESS_USER" 2>/dev/null || true; fi
	for f in /etc/subuid /etc/subgid; do
		if [[ -e $f ]]; then cp -p "$f" "$state/${f##*/}"; else : >"$state/${f##*/}.absent"; fi
	done
	# A system user: useradd gives it no subordinate range of its own (login.defs).
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$ROOTLESS_USER" ||
		return 1
	echo "$ROOTLESS_USER:$ROOTLESS_SUB:$ROOTLESS_SUBCOUNT" >>/etc/subuid
	echo "$ROOTLESS_USER:$ROOTLESS_SUB:$ROOTLESS_SUBCOUNT" >>/etc/subgid
	# The user's own rootfs, and a place for what it must reach (bats's dirs are 700).
	ROOTLESS_DIR=$(mktemp -d /tmp/cntlab-09.XXXXXX)
	echo "$ROOTLESS_DIR" >"$state/dir"
	chmod 755 "$ROOTLESS_DIR"
	cp -a "$ROOTFS" "$ROOTLESS_DIR/rootfs"
	chown -R "$ROOTLESS_USER:$ROOTLESS_USER" "$ROOTLESS_DIR/rootfs"
	# PATH for the runs "without uidmap": the test's own directory, with slirp4netns only.
	mkdir "$ROOTLESS_DIR/no-uidmap"
	if command -v slirp4netns >/dev/null; then ln -s "$(command -v slirp4netns)" "$ROOTLESS_DIR/no-uidmap/"; fi
}

rootless_teardown_file() {
	local state=$BATS_FILE_TMPDIR/rootless dir f
	userdel "$ROOTLESS_USER" 2>/dev/null || true
	# userdel removes the user's own group only where login.defs says USERGROUPS_ENAB yes
	# (Debian's does; the VM has no login.defs): remove it ourselves.
	groupdel "$ROOTLESS_USER" 2>/dev/null || true
	for f in subuid subgid; do
		if [[ -e $state/$f ]]; then
			cp -p "$state/$f" "/etc/$f"
		elif [[ -e $state/$f.absent ]]; then
			rm -f "/etc/$f"
		fi
	done
	dir=$(cat "$state/dir" 2>/dev/null) || true
	if [[ $dir == /tmp/cntlab-09.* ]]; then rm -rf "$dir"; fi
}

# rootless_setup: the setup() of tests/09-rootless.bats, after step_setup. The runs go
# through setpriv as the test user; the program is copied where the user can run it.
rootless_setup() {
	ROOTLESS_DIR=$(cat "$BATS_FILE_TMPDIR/rootless/dir")
	ROOTLESS_UID=$(id -u "$ROOTLESS_USER")
	ROOTLESS_GID=$(id -g "$ROOTLESS_USER")
	ROOTFS=$ROOTLESS_DIR/rootfs
	rootfs_entries LEAK_BASE_ROOTFS
	AS_USER=(setpriv --reuid="$ROOTLESS_UID" --regid="$ROOTLESS_GID" --init-groups)
	if ! "${AS_USER[@]}" test -x "$CNT"; then
		cp "$CNT" "$ROOTLESS_DIR/"
		CNT=$ROOTLESS_DIR/${CNT##*/}
	fi
	CNT_PREFIX=("${AS_USER[@]}")
	# The host's /dev/net/tun as it was: the network tests open it, and put it back.
	TUN_MODE=$(stat -c %a /dev/net/tun 2>/dev/null) || TUN_MODE=
}

# without_uidmap: from now on, run the program with a PATH that has no newuidmap.
without_uidmap() {
	CNT_PREFIX=("${AS_USER[@]}" env PATH="$ROOTLESS_DIR/no-uidmap")
}

# tun_open_to_user / tun_closed: /dev/net/tun mode 666 (most distributions' default) or
# 600 (this lab's host) for this test; teardown puts the host's mode back.
tun_mode() {
	[[ -c /dev/net/tun ]] || skip "this host has no /dev/net/tun (the tun module)"
	[[ -n ${TUN_RESTORE-} ]] || at_teardown chmod "$TUN_MODE" /dev/net/tun
	TUN_RESTORE=1
	chmod "$1" /dev/net/tun
}
tun_open_to_user() { tun_mode 666; }
tun_closed() { tun_mode 600; }

# find_user_processes ARRAY: "PID COMM" of every process of the test user.
find_user_processes() {
	local -n found_users=$1
	mapfile -t found_users < <(ps -o pid=,comm= -u "$ROOTLESS_UID" 2>/dev/null)
}

# map_lines TEXT: a map file's lines with the blanks squeezed, "0 999 1" etc.
map_lines() {
	tr -s ' \t' ' ' <<<"$1" | sed 's/^ //; s/ $//; /^$/d'
}

# ---------------------------------------------------------------- 09-rootless: no root

check_refuses_root() {
	RAN=$(printf '%q ' "$CNT" -r "$ROOTFS" true)
	capture timeout -k 5 "$CNT_TIMEOUT" "$CNT" -r "$ROOTFS" true </dev/null 3>&- {LOCK_FD}>&-
	expect_setup_error "running it as root"
	if [[ $stderr != *08-sec* || ${stderr,,} != *root* ]]; then
		flunk "$STEP: run as root, the program should say that it is for ordinary users and that root should run" \
			"  08-sec: as root the one-line map would be '0 0 1', and root inside would be the host's root."
	fi
}

# ---------------------------------------------------------------- user IDs

check_rootless_subordinate_maps() {
	requires newuidmap newgidmap
	run_in sh -c 'id -u; id -g; cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; cat /proc/self/setgroups; echo --; grep Groups: /proc/self/status'
	expect_ran "id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups"
	local want_uid want_gid uid_map gid_map
	want_uid=$(printf '0 %s 1\n1 %s %s' "$ROOTLESS_UID" "$ROOTLESS_SUB" "$ROOTLESS_SUBCOUNT")
	want_gid=$(printf '0 %s 1\n1 %s %s' "$ROOTLESS_GID" "$ROOTLESS_SUB" "$ROOTLESS_SUBCOUNT")
	uid_map=$(map_lines "$(awk 'NR > 2' <<<"$output" | sed '/^--$/,$d')")
	gid_map=$(map_lines "$(sed '1,/^--$/d' <<<"$output" | sed '/^--$/,$d')")
	if [[ ${lines[0]-} != 0 || ${lines[1]-} != 0 ]]; then
		flunk "$STEP: inside, id -u and id -g should print 0; they print '${lines[0]-}' and '${lines[1]-}'."
	fi
	if [[ $uid_map != "$want_uid" || $gid_map != "$want_gid" ]]; then
		flunk "$STEP: with newuidmap and newgidmap installed and the range $ROOTLESS_SUB:$ROOTLESS_SUBCOUNT in /etc/subuid and" \
			"  /etc/subgid, the maps inside should be two lines each: 0 is the user, 1-65536 the range." \
			"  uid_map should be '${want_uid//$'\n'/ | }'; it is '${uid_map//$'\n'/ | }'." \
			"  gid_map should be '${want_gid//$'\n'/ | }'; it is '${gid_map//$'\n'/ | }'." \
			"  An unprivileged process may write one line, its own ID; more takes the set-user-ID helpers" \
			"  newuidmap PID 0 UID 1 1 START COUNT and newgidmap (user_namespaces(7), subuid(5), 09-rootless)."
	fi
	if [[ $output != *$'--\nallow\n--'* || ! ${lines[-1]} =~ ^Groups:[[:space:]]*$ ]]; then
		flunk "$STEP: with newgidmap's map, setgroups stays 'allow', and root inside drops the user's supplementary groups" \
			"  with setgroups(0, NULL), as 08 did on the host: /proc/self/setgroups should say allow and 'Groups:'" \
			"  in /proc/self/status be empty. It says: ${output//$'\n'/ | }"
	fi
}

check_rootless_single_map() {
	without_uidmap
	run_in -v sh -c 'id -u; id -g; cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; cat /proc/self/setgroups'
	expect_ran "id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups (PATH without newuidmap)"
	local uid_map gid_map
	uid_map=$(map_lines "$(awk 'NR > 2' <<<"$output" | sed '/^--$/,$d')")
	gid_map=$(map_lines "$(sed '1,/^--$/d' <<<"$output" | sed '/^--$/,$d')")
	if [[ ${lines[0]-} != 0 || ${lines[1]-} != 0 ]]; then
		flunk "$STEP: inside, id -u and id -g should print 0 with the one-line map too; they print '${lines[0]-}' and '${lines[1]-}'."
	fi
	if [[ $uid_map != "0 $ROOTLESS_UID 1" || $gid_map != "0 $ROOTLESS_GID 1" || ${lines[-1]} != deny ]]; then
		flunk "$STEP: without newuidmap (PATH=$ROOTLESS_DIR/no-uidmap), the maps should be the one line an unprivileged" \
			"  process may write, '0 UID 1', and setgroups 'deny' before gid_map (user_namespaces(7), 09-rootless)." \
			"  uid_map should be '0 $ROOTLESS_UID 1', gid_map '0 $ROOTLESS_GID 1', setgroups deny;" \
			"  they are '${uid_map//$'\n'/ | }', '${gid_map//$'\n'/ | }', '${lines[-1]-}'."
	fi
	if [[ $stderr != *newuidmap* ]]; then
		flunk "$STEP: with -v the program should say that it found no newuidmap, and so maps only 0."
	fi
}

# The program and the container's processes are the user's, as the host sees them.
check_rootless_host_sees_user() {
	local victim sup_uid uid gid
	cnt_background sleep 1000
	wait_for_command sleep
	victim=$FIRST
	sup_uid=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$SUP/status")
	uid=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$victim/status")
	gid=$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' "/proc/$victim/status")
	kill -KILL "$victim"
	bg_wait
	local u=$ROOTLESS_UID g=$ROOTLESS_GID
	if [[ $sup_uid != "$u $u $u $u" || $uid != "$u $u $u $u" || $gid != "$g $g $g $g" ]]; then
		flunk "$STEP: seen from the host, the program and the container's process (sleep, PID $victim) should belong to" \
			"  the user who ran it, uid $u gid $g: Uid: $sup_uid for the program; Uid: $uid, Gid: $gid for sleep." \
			"  Root inside is the user outside: the map's first line is '0 $u 1' (user_namespaces(7), 09-rootless)."
	fi
}

# An ID of the subordinate range inside is START+ID-1 outside: chown 1000 makes 300999.
check_rootless_subordinate_ids_on_host() {
	requires newuidmap newgidmap
	make_bind_source
	run_in -b "$BIND_SRC:$BIND_DST" sh -c "touch $BIND_DST/sub && chown 1000:1000 $BIND_DST/sub && ls -ln $BIND_DST/sub"
	expect_ran "touch and chown 1000:1000 a file in a bind mount"
	local want=$((ROOTLESS_SUB + 999)) got
	got=$(stat -c '%u %g' "$BIND_SRC/sub" 2>&1) || true
	if [[ $got != "$want $want" ]]; then
		flunk "$STEP: root inside may chown a file to uid 1000, which is $want on the host ($ROOTLESS_SUB + 1000 - 1):" \
			"  the map's second line gives 1-65536 inside the user's first range in /etc/subuid. The file is owned by" \
			"  '$got' on the host (newuidmap, subuid(5), 09-rootless)."
	fi
}

check_rootless_rootfs_is_roots() {
	local name=cntlab-newfile-$$ line foreign=() owner
	local -a ls_lines f
	owner=$(stat -c '%u:%g' "$ROOTFS")
	if [[ $owner != "$ROOTLESS_UID:$ROOTLESS_GID" ]]; then
		fail "$STEP: this test needs a rootfs owned by the test user ($ROOTLESS_UID:$ROOTLESS_GID); $ROOTFS is $owner."
	fi
	at_teardown rm -f "$ROOTFS/$name"
	run_in sh -c "touch /$name && stat -c '%u %g' /$name && rm /$name && echo removed && ls -ln /"
	expect_ran "touch, stat, rm and ls -ln /"
	if [[ ${lines[0]-} != "0 0" || ${lines[1]-} != removed ]]; then
		flunk "$STEP: root inside should create a file in its rootfs (owned by 0 0 inside) and remove it: the rootfs" \
			"  belongs to the user, who is root inside (09-rootless)."
	fi
	ls_lines=("${lines[@]:2}")
	for line in "${ls_lines[@]}"; do
		read -ra f <<<"$line"
		((${#f[@]} >= 9)) || continue
		case ${f[8]} in proc | sys) continue ;; esac
		[[ ${f[2]} == 0 && ${f[3]} == 0 ]] || foreign+=("  $line")
	done
	if ((${#ls_lines[@]} == 0 || ${#foreign[@]} > 0)); then
		flunk "$STEP: ls -ln / inside should show the rootfs owned by 0 0: the user's files are root's inside. Not so:" \
			"${foreign[@]}"
	fi
}

# The negative control: nothing of the host's uid 0 is reachable. A root-owned file, bound
# in, belongs to nobody inside, and root inside cannot write it or take it.
check_rootless_host_root_unreachable() {
	local dir=$ROOTLESS_DIR/root-owned-$BATS_TEST_NUMBER dst
	mkdir "$dir"
	at_teardown rm -rf "$dir"
	echo host-root-data >"$dir/file"
	chmod 644 "$dir/file"
	chmod 755 "$dir"
	dst=$(bind_target)
	run_in -b "$dir:$dst" sh -c "cat $dst/file; ls -ln $dst/file; echo changed >>$dst/file || echo write-refused;
		chown 0:0 $dst/file || echo chown-refused; touch $dst/new || echo create-refused"
	if [[ $(cat "$dir/file") != host-root-data || -e $dir/new ]]; then
		flunk "$STEP: root inside must not write the host's root-owned files: $dir/file changed or $dir/new appeared."
	fi
	expect_ran "cat, ls, writes and chown on a bind-mounted root-owned directory"
	if [[ $output != *host-root-data* || $output != *write-refused*chown-refused*create-refused* ]]; then
		flunk "$STEP: a root-owned host file bound in should be readable (mode 644) but neither writable nor chown-able," \
			"  and its root-owned directory not writable: the host's uid 0 is not in the map, so it is nobody (65534)" \
			"  inside, and capabilities in a user namespace count only for IDs mapped in it (capabilities(7))." \
			"  Got: ${output//$'\n'/ | }"
	fi
	if [[ $output != *" 65534 "*" 65534 "* ]]; then
		flunk "$STEP: ls -ln shows the host's root as 65534 (the overflow ID) inside; it shows: ${output//$'\n'/ | }"
	fi
}

# ---------------------------------------------------------------- the network

check_rootless_user_net() {
	requires slirp4netns
	tun_open_to_user
	run_in sh -c 'ip a; echo --; ip route'
	expect_ran "ip a; ip route (slirp4netns installed, /dev/net/tun open)"
	parse_ip_a
	if ((${#IP_EXTRA[@]} > 0)) || [[ ${IP_FLAGS[lo]-} != *,UP,* || ${IP_FLAGS[eth0]-} != *,UP,* ]]; then
		flunk "$STEP: ip a inside should list lo and eth0, both UP, and nothing else; it lists" \
			"  lo <${IP_FLAGS[lo]-none}>, eth0 <${IP_FLAGS[eth0]-none}>, others: ${IP_EXTRA[*]:-none}." \
			"  slirp4netns makes the tap device eth0 in the container's network namespace; bring it and lo up (09-rootless)."
	fi
	if [[ " ${IP_ADDRS[eth0]-} " != *" 10.0.2.100/24 "* ]] || ! grep -Eq '^default via 10\.0\.2\.2 dev eth0( |$)' <<<"$IP_ROUTE"; then
		flunk "$STEP: eth0 should have 10.0.2.100/24 and the default route go via 10.0.2.2, slirp4netns's gateway;" \
			"  eth0 has:${IP_ADDRS[eth0]:- no IPv4 address}; routes: ${IP_ROUTE//$'\n'/ | } (09-rootless)."
	fi
}

# host_loopback_httpd DIR: serve DIR on the host's 127.0.0.1 only, on a free port; sets
# LOOPBACK_PORT. Killed by PID in teardown.
host_loopback_httpd() {
	local pid
	for _ in 1 2 3 4 5; do
		LOOPBACK_PORT=$((20000 + RANDOM % 20000))
		busybox httpd -f -p "127.0.0.1:$LOOPBACK_PORT" -h "$1" </dev/null >/dev/null 2>&1 3>&- {LOCK_FD}>&- &
		pid=$!
		at_teardown end_process "$pid"
		if fetch_within 5 "http://127.0.0.1:$LOOPBACK_PORT/page.html" >/dev/null; then return 0; fi
		end_process "$pid" || true
	done
	fail "$STEP: could not start busybox httpd on the host's 127.0.0.1 (tried 5 ports)."
}

check_rootless_reaches_host_loopback() {
	requires slirp4netns busybox curl
	local dir=$BATS_TEST_TMPDIR/www page="served-on-the-host-loopback-$$"
	tun_open_to_user
	web_page "$dir" "$page"
	host_loopback_httpd "$dir"
	run_in wget -q -O - "http://10.0.2.2:$LOOPBACK_PORT/page.html"
	if ((status != 0)) || [[ $output != "$page" ]]; then
		flunk "$STEP: the container should fetch a page from a server on the host's loopback only (127.0.0.1:$LOOPBACK_PORT)" \
			"  at http://10.0.2.2:$LOOPBACK_PORT/page.html: slirp4netns relays its gateway address 10.0.2.2 to the host's" \
			"  127.0.0.1 through an ordinary socket of the user's (09-rootless, slirp4netns(1))."
	fi
}

check_rootless_lo_only() {
	tun_closed
	run_in -v sh -c 'ip a'
	expect_ran "ip a (/dev/net/tun mode 600)"
	local names
	names=$(link_names "$output")
	if [[ $names != lo || $output != *"<LOOPBACK,UP"* ]]; then
		flunk "$STEP: without a usable /dev/net/tun (mode 600, root's) the container should have lo only, and up;" \
			"  ip a lists: ${names//$'\n'/ } (09-rootless)."
	fi
	if [[ $stderr != *"/dev/net/tun"* ]]; then
		flunk "$STEP: with -v the program should say why the container has lo only: /dev/net/tun cannot be opened."
	fi
	CNT_PREFIX=("${AS_USER[@]}" env PATH=/nonexistent)
	run_in -v true
	expect_ran "true (no slirp4netns in PATH)"
	if [[ $stderr != *slirp4netns* ]]; then
		flunk "$STEP: with -v and no slirp4netns in PATH, the program should say that the container has lo only."
	fi
}

# No veth appears on the host while the container runs, and no process of the user is
# left once it exited: slirp4netns goes with the program.
check_rootless_no_host_veth() {
	local before during left
	if command -v slirp4netns >/dev/null; then tun_open_to_user; fi
	before=$(link_names "$(ip link)")
	cnt_background sleep 1000
	wait_for_command sleep
	during=$(link_names "$(ip link)")
	kill -KILL "$FIRST"
	bg_wait
	if [[ $during != "$before" || -e /sys/class/net/cnt$SUP ]]; then
		flunk "$STEP: while the container runs, the host's interfaces should be those it had: no veth cnt$SUP." \
			"  New: $(lines_added "$before" "$during" | paste -sd' ') (09-rootless)."
	fi
	found=$(still_there 2 find_user_processes)
	if [[ -n $found ]]; then
		flunk "$STEP: once the program returned, no process of the test user should run; these do:" \
			"  ${found//$'\n'/ | }. slirp4netns ends when its --exit-fd reaches end-of-file (09-rootless)."
	fi
}

check_rootless_killed_leaves_no_helper() {
	if command -v slirp4netns >/dev/null; then tun_open_to_user; fi
	cnt_background sleep 1000
	wait_for_command sleep
	kill -KILL "$SUP"
	bg_wait
	found=$(still_there 3 find_user_processes)
	if [[ -n $found ]]; then
		flunk "$STEP: 3 s after the program was killed by SIGKILL, no process of the test user should run; these do:" \
			"  ${found//$'\n'/ | }. The container dies with PR_SET_PDEATHSIG; slirp4netns sees end-of-file on --exit-fd."
	fi
}

# ---------------------------------------------------------------- cgroups

# delegated: is this a cgroup v2 host where the test can delegate a cgroup to the user?
delegation_possible() {
	cgroup_v2 && [[ -w /sys/fs/cgroup/cgroup.subtree_control ]]
}

check_rootless_cgroup_not_delegated() {
	local opt why
	if cgroup_v2; then why="is not delegated"; else why="v1"; fi
	run_in -v true
	expect_ran "true, with -v and no delegated cgroup"
	if [[ $stderr != *"no memory, pids or CPU limits"* || $stderr != *"$why"* ]]; then
		flunk "$STEP: without a delegated cgroup the default limits cannot be applied: -v should say so, and why" \
			"  (here: '$why'). cgroup v1 is never delegated to an ordinary user; on v2 the user's session cgroup is root's."
	fi
	for opt in "--memory 64M" "--pids 10" "--cpus 0.5"; do
		# shellcheck disable=SC2086 # an option and its value
		run_in $opt true
		expect_setup_error "$opt without a delegated cgroup"
		if [[ $stderr != *"systemd-run --user --scope -p Delegate=yes"* || $stderr != *"${opt%% *}"* ]]; then
			flunk "$STEP: an explicit $opt that cannot be applied should exit 125 naming the option and how to get a" \
				"  delegated cgroup: systemd-run --user --scope -p Delegate=yes ... (cgroup-v2.rst, Delegation)."
		fi
	done
	check_nothing_leaked "after the refused limits"
}

# delegate_scope: as runc's rootless tests do, root makes a cgroup for the test user and
# hands it over (the directory, cgroup.procs, cgroup.subtree_control and cgroup.threads
# chowned to it), with the controllers of the root; then every run starts in it, the
# program alone there, as in a systemd scope with Delegate=yes.
delegate_scope() {
	delegation_possible || skip "needs a pure cgroup v2 host to delegate a cgroup (this one is $(stat -fc %T /sys/fs/cgroup)): make test-vm STEP=09"
	local c
	SCOPE=/sys/fs/cgroup/cntlab-test-09-$$-$BATS_TEST_NUMBER
	for c in memory pids cpu; do echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true; done
	mkdir "$SCOPE"
	at_teardown remove_cgroup_tree "$SCOPE"
	chown "$ROOTLESS_UID:$ROOTLESS_GID" "$SCOPE" "$SCOPE/cgroup.procs" "$SCOPE/cgroup.subtree_control" "$SCOPE/cgroup.threads"
	# shellcheck disable=SC2016 # $$, $0 and $@ are for the bash that becomes the program
	CNT_PREFIX=(bash -c 'echo "$$" >"$0/cgroup.procs" && exec "$@"' "$SCOPE" "${AS_USER[@]}")
}

remove_cgroup_tree() {
	local d
	find "$1" -depth -type d 2>/dev/null | while read -r d; do rmdir "$d" 2>/dev/null || true; done
}

check_rootless_delegated_cgroup() {
	delegate_scope
	local dir memory pids inside
	cnt_background sleep 1000
	wait_for_command sleep
	dir=$SCOPE/cntlab/$SUP
	memory=$(cat "$dir/memory.max" 2>&1) || true
	pids=$(cat "$dir/pids.max" 2>&1) || true
	inside=$(cat "$dir/cgroup.procs" 2>&1) || true
	kill -KILL "$FIRST"
	bg_wait
	if [[ $memory != 268435456 || $pids != 64 || $inside != "$FIRST" ]]; then
		flunk "$STEP: in a delegated cgroup the container should get cntlab/<PID> below it, $dir, holding only the" \
			"  container (cgroup.procs: '$inside', want $FIRST) with the default limits: memory.max 268435456 ('$memory'), pids.max 64 ('$pids')." \
			"  The supervisor first moves itself into a leaf of its own: a cgroup that hands controllers on may" \
			"  hold no processes (cgroup-v2.rst, no internal processes; 09-rootless)."
	fi
	if [[ -d $dir ]]; then
		flunk "$STEP: after the program returned, its cgroup $dir should be gone."
	fi
}

# A cgroup that hands controllers on may hold no processes: the program moves itself
# into a leaf of its own, but only when it is alone in the user's cgroup. Here a
# sleep joins the scope right after it: cgroup.procs has two lines, the program's
# first, and every line counts.
check_rootless_delegated_cgroup_shared() {
	delegate_scope
	local sleeper=$BATS_TEST_TMPDIR/sleeper
	at_teardown kill_pid_in_file "$sleeper"
	# shellcheck disable=SC2016 # $$, $0, $1 and $@ are for the bash that becomes the program
	CNT_PREFIX=(bash -c 'echo "$$" >"$0/cgroup.procs" && { sleep 60 & } && echo "$!" >"$1" &&
		echo "$!" >"$0/cgroup.procs" && shift && exec "$@"' "$SCOPE" "$sleeper" "${AS_USER[@]}")
	run_in -v true
	expect_ran "true, with -v, sharing its delegated cgroup with a sleep"
	if [[ $stderr != *"other processes share your cgroup"* || -d $SCOPE/cntlab ]]; then
		flunk "$STEP: with another process in the user's cgroup (cgroup.procs has two lines, the program's first)," \
			"  the program may not hand controllers on from it: -v should say that other processes share it, and no" \
			"  cntlab/ should be made there. Read every line of cgroup.procs, not the first (cgroup-v2.rst," \
			"  no internal processes; 09-rootless)."
	fi
}

kill_pid_in_file() {
	local pid
	if pid=$(cat "$1" 2>/dev/null); then kill -KILL "$pid" 2>/dev/null || true; fi
}

check_rootless_delegated_pids() {
	delegate_scope
	check_pids_limit
}

check_rootless_delegated_memory() {
	delegate_scope
	check_memory_limit_kills
}

# Pause needs a cgroup to freeze: the delegated v2 one, or none at all.
check_rootless_pause() {
	if delegation_possible; then
		delegate_scope
		check_pause_freezes_container
		return
	fi
	cnt_background -v sleep 1000
	wait_for_command sleep
	kill -TSTP "$SUP"
	sleep 0.5
	local st
	st=$(state "$SUP")
	kill -KILL "$FIRST"
	bg_wait
	if [[ $st == T || $stderr != *"SIGTSTP: no delegated cgroup"* ]]; then
		flunk "$STEP: without a delegated cgroup there is nothing to freeze the container in: after SIGTSTP -v should" \
			"  say so ('SIGTSTP: no delegated cgroup ...') and the program go on; its state was '$st' (09-rootless)."
	fi
}

# The container starts in its cgroup (or, without one, at all) when clone3 says ENOSYS.
check_rootless_without_clone3() {
	local helper=$ROOT/build/no-clone3
	[[ -x $helper ]] || flunk "$STEP: the test helper $helper is missing: run make build/no-clone3 (or make test)."
	if delegation_possible; then
		delegate_scope
		CNT_PREFIX=("$helper" "${CNT_PREFIX[@]}")
		check_cgroup_without_clone3_as_set_up
		return
	fi
	CNT_PREFIX=("$helper" "${AS_USER[@]}")
	# shellcheck disable=SC2016 # $l is for the sh inside
	run_in sh -c 'while read -r l; do echo "$l"; done </proc/self/cgroup'
	expect_ran "reading /proc/self/cgroup with clone3 failing ENOSYS"
	if [[ $output != *"::/"* ]] || grep -v ':/$' <<<"$output" | grep -q .; then
		flunk "$STEP: with clone3 failing ENOSYS the container should still start, in its own cgroup namespace" \
			"  (every line of /proc/self/cgroup ending in /). It printed: ${output//$'\n'/ | }"
	fi
}

check_cgroup_without_clone3_as_set_up() {
	# shellcheck disable=SC2016 # $l is for the sh inside
	run_in --pids 1 sh -c 'while read -r l; do echo "$l"; done </proc/self/cgroup; (true) && echo forked'
	if ((status == 125)) || [[ $output != *"::/"* || $output == *forked* ]]; then
		flunk "$STEP: with clone3 failing ENOSYS and --pids 1 in a delegated cgroup, the container should start in its" \
			"  cgroup (showing /) and be unable to fork. Fall back to clone(2) and move the child in before it runs."
	fi
}

check_rootless_sys_lists_own_interfaces() {
	requires slirp4netns
	tun_open_to_user
	check_sys_lists_own_interfaces
}
