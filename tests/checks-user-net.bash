# shellcheck shell=bash
# The variables the runners set (status, output, lines, BG_*) live in helpers.bash.
# shellcheck disable=SC2154,SC2034
#
# checks-user-net.bash - the checks of 05-user (user IDs) and 06-net (network),
# loaded by helpers.bash, so that every later step re-checks them the same way.
#
# The network checks need the container to be running while the test looks at
# the host: the slot S of 10.200.S.0/30 is only known from the host end cnt<PID>
# of a living container. So they start the program in the background
# (cnt_background), learn S (learn_slot), and stop it by its PID (stop_cnt).

# ---------------------------------------------------------------- the network, seen from the host

# The container command to serve DIR over HTTP on port 8080 until SIGTERM:
# a shell that traps TERM stays PID 1, so the container ends at once when
# stopped, and httpd (not PID 1) is killed with it.
httpd_in() {
	echo "trap 'exit 0' TERM; httpd -f -p 8080 -h $1 & wait"
}

# go_dir: a host directory that uid 100000 can write, bind-mounted into the
# container (GO_SRC on the host, GO_DST inside), for a file that tells a waiting
# container to go on.
go_dir() {
	GO_SRC=$(mktemp -d "$BATS_TEST_TMPDIR/go.XXXXXX")
	chmod 777 "$GO_SRC" # from 05-user on, root inside is uid 100000 on the host
	GO_DST=$(bind_target)
}

# after_go SCRIPT: a sh script that waits (at most 30 s) for the go-file, then runs SCRIPT.
# It traps TERM, as httpd_in does: the shell is PID 1, which ignores a signal it has no
# handler for, and a test that stops early (end_background) need not wait for the kill 3 s later.
after_go() {
	printf '%s' "trap 'exit 0' TERM; n=0; while [ ! -e $GO_DST/go ]; do n=\$((n + 1)); " \
		"if [ \$n -gt 300 ]; then echo 'no go-file after 30 s' >&2; exit 99; fi; sleep 0.1; done; $1"
}

# learn_slot [DEADLINE]: wait (until SECONDS reaches DEADLINE, by default for 10 s)
# for the host end cnt<SUP> of the running container to have its address
# 10.200.S.1/30, and set SLOT to S. Fails, saying what is missing, if the
# container ends first or the address never comes. The container's COMMAND (sh,
# in every test that calls this) runs only once the setup is done, its eth0 set up
# from inside: by then the veth pair exists, both ends made by one request. So when
# sh has run in the container for 1 s and there is still no cnt<SUP>, none will
# come: fail then, rather than at the deadline.
learn_slot() {
	local deadline=${1:-$((SECONDS + 10))} addr='' sh_since=''
	SLOT=
	while ((SECONDS <= deadline)); do
		addr=$(ip -o -4 addr show dev "cnt$SUP" 2>/dev/null | awk '{ print $4; exit }')
		if [[ $addr =~ ^10\.200\.([0-9]+)\.1/30$ ]] && ((BASH_REMATCH[1] <= 255)); then
			SLOT=${BASH_REMATCH[1]}
			return 0
		fi
		if ! kill -0 "$BG" 2>/dev/null; then
			bg_wait
			flunk "$STEP: the container ended before its host end cnt$SUP had the address 10.200.S.1/30" \
				"  (the test looks at the host while the container runs)."
		fi
		if descendant_named "$SUP" sh inside >/dev/null && [[ ! -e /sys/class/net/cnt$SUP ]]; then
			sh_since=${sh_since:-$(now_ms)}
			(($(now_ms) - sh_since < 1000)) || break
		fi
		sleep 0.1
	done
	bg_show
	if [[ ! -e /sys/class/net/cnt$SUP ]]; then
		flunk "$STEP: while the container runs, the host should have the host end of its veth pair, cnt$SUP" \
			"  (cnt and the program's PID); there is no such interface${sh_since:+, though COMMAND (sh) already runs in the container}." \
			"  Create the veth pair from the supervisor with netlink (RTM_NEWLINK, kind veth), the peer put straight into" \
			"  the container's network namespace, before the container runs COMMAND (06-net)."
	fi
	flunk "$STEP: the host end cnt$SUP should have the address 10.200.S.1/30 (S the container's slot, 0-255);" \
		"  ip -o -4 addr show cnt$SUP says: '${addr:-no IPv4 address}'. Add it with RTM_NEWADDR and bring the link up (06-net)."
}

# cnt_after_go SCRIPT: run SCRIPT in a container that first waits for the go-file,
# learn the container's slot meanwhile, then let it go and wait for it to end.
cnt_after_go() {
	go_dir
	cnt_background -b "$GO_SRC:$GO_DST" sh -c "$(after_go "$1")"
	BG_RAN="$(printf '%q ' "$CNT" "${ROOTFS_ARGS[@]}" -b "$GO_SRC:$GO_DST") sh -c '(wait for $GO_DST/go); $1'"
	learn_slot
	: >"$GO_SRC/go"
	bg_wait
}

# web_page DIR TEXT: a directory with one page, page.html, that says TEXT.
web_page() {
	mkdir -p "$1"
	chmod 755 "$1"
	echo "$2" >"$1/page.html"
	chmod 644 "$1/page.html"
}

# fetch URL [SECONDS]: the page at URL, from the host, with no proxy, waiting for it
# at most SECONDS (default 3); fails if there is none.
fetch() {
	curl --noproxy '*' -fsS --max-time "${2:-3}" "$1"
}

# fetch_within SECONDS URL: fetch URL, trying again until it answers or SECONDS pass.
fetch_within() {
	local deadline=$((SECONDS + $1))
	while ((SECONDS <= deadline)); do
		fetch "$2" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# ---------------------------------------------------------------- 05-user: user IDs

check_ids_are_root() {
	run_in sh -c 'id -u; id -g'
	expect_ran "id -u; id -g"
	if [[ $output != $'0\n0' ]]; then
		flunk "$STEP: inside, id -u and id -g should both print 0 (root); they print '${output//$'\n'/ }'." \
			"  The container needs its own user namespace (clone flag CLONE_NEWUSER, 05-user) with a map for uid and gid 0" \
			"  (written by the supervisor to /proc/PID/uid_map and gid_map), and setresgid(0,0,0)/setresuid(0,0,0) inside."
	fi
}

check_uid_map_shown() {
	run_in sh -c 'cat /proc/self/uid_map; echo --; cat /proc/self/gid_map'
	expect_ran "cat /proc/self/uid_map /proc/self/gid_map"
	local uid_map gid_map
	uid_map=$(sed -n '1,/^--$/p' <<<"$output" | sed '/^--$/d' | tr -s ' \t' ' ' | sed 's/^ //; s/ $//')
	gid_map=$(sed '1,/^--$/d' <<<"$output" | tr -s ' \t' ' ' | sed 's/^ //; s/ $//')
	if [[ $uid_map != "0 100000 65536" ]]; then
		flunk "$STEP: /proc/self/uid_map inside should show the map '0 100000 65536' (uid 0 inside is uid 100000 on the host," \
			"  65536 IDs); it shows '${uid_map//$'\n'/ | }'." \
			"  The supervisor writes '0 100000 65536' to /proc/PID/uid_map of the container's first process" \
			"  (clone flag CLONE_NEWUSER, 05-user); '0 0 4294967295' means there is no user namespace."
	fi
	if [[ $gid_map != "0 100000 65536" ]]; then
		flunk "$STEP: /proc/self/gid_map inside should show the map '0 100000 65536'; it shows '${gid_map//$'\n'/ | }'." \
			"  The supervisor writes 'deny' to /proc/PID/setgroups, then '0 100000 65536' to /proc/PID/gid_map (05-user)."
	fi
}

check_host_sees_uid_100000() {
	local victim uid gid st=0
	cnt_background sleep 1000
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		victim=$(wait_for_descendant "$BG" sleep 1) && break
		kill -0 "$BG" 2>/dev/null || break
	done
	if [[ -z $victim ]]; then
		end_background "$BG" || st=$?
		bg_show "$st"
		flunk "$STEP: the container's COMMAND, sleep 1000, never showed up as a process below the program (waited 10 s)."
	fi
	uid=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$victim/status")
	gid=$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' "/proc/$victim/status")
	kill -KILL "$victim"
	bg_wait
	if [[ $uid != "100000 100000 100000 100000" || $gid != "100000 100000 100000 100000" ]]; then
		flunk "$STEP: seen from the host, the container's process (sleep, PID $victim) should run as uid and gid 100000:" \
			"  /proc/$victim/status should say Uid: and Gid: 100000 (real, effective, saved, filesystem);" \
			"  it says Uid: $uid, Gid: $gid." \
			"  Root inside is only root in the container's own user namespace (clone flag CLONE_NEWUSER, 05-user):" \
			"  with the map '0 100000 65536', uid 0 inside is uid 100000, an unprivileged user, on the host."
	fi
}

check_root_can_write_rootfs() {
	local name=cntlab-newfile-$$ owner line foreign=()
	local -a ls_lines f
	owner=$(stat -c '%u:%g' "$ROOTFS")
	if [[ $owner != 100000:100000 ]]; then
		fail "$STEP: this test needs a rootfs owned by uid and gid 100000 (root of the container on the host);" \
			"$ROOTFS is owned by $owner. Run make rootfs, or chown -R 100000:100000 your rootfs."
	fi
	at_teardown rm -f "$ROOTFS/$name"
	run_in sh -c "touch /$name && stat -c '%u %g' /$name && rm /$name && echo removed && ls -l /"
	if [[ ${lines[0]-} != "0 0" || ${lines[1]-} != removed ]]; then
		flunk "$STEP: root inside should be able to create a file in its rootfs (touch /$name), owned by 0 0, and remove it." \
			"  The rootfs belongs to uid 100000 on the host, which is root inside once the user namespace maps" \
			"  '0 100000 65536' (clone flag CLONE_NEWUSER, 05-user). If 100000 is not in the map, the rootfs belongs to" \
			"  'nobody' inside, and root there cannot write it."
	fi
	expect_ran "touch, stat, rm and ls -l /"
	if [[ -e $ROOTFS/$name ]]; then
		flunk "$STEP: /$name was removed inside, but it is still in the rootfs directory $ROOTFS on the host."
	fi
	ls_lines=("${lines[@]:2}")
	for line in "${ls_lines[@]}"; do
		read -ra f <<<"$line"
		((${#f[@]} >= 9)) || continue # "total N"
		case ${f[8]} in proc | sys) continue ;; esac # the host's root owns these kernel filesystems: nobody inside
		[[ ${f[2]} =~ ^(root|0)$ && ${f[3]} =~ ^(root|0)$ ]] || foreign+=("  $line")
	done
	if ((${#ls_lines[@]} == 0 || ${#foreign[@]} > 0)); then
		flunk "$STEP: ls -l / inside should show every file of the rootfs owned by root (the host's uid 100000 mapped to 0);" \
			"  these are not:" "${foreign[@]}" \
			"  'nobody' (65534) is a host uid outside the map: map '0 100000 65536' in /proc/PID/uid_map and gid_map (05-user)."
	fi
}

# A bind destination created by the lab's 02-mnt, which runs as the host's root, must not
# leave a file in the rootfs that a user namespace shows as nobody's (docs/02-mnt.md).
check_rootfs_still_root_after_02_bind() {
	local dir=/cntlab-dst-$$-$BATS_TEST_NUMBER mnt=${BINDIR:-$ROOT/bin}/02-mnt
	make_bind_source
	at_teardown rm -rf "$ROOTFS$dir"
	[[ -x $mnt ]] || fail "$STEP: this test first runs $mnt, which is not built: run make."
	timeout "$CNT_TIMEOUT" "$mnt" -r "$ROOTFS" -b "$BIND_SRC:$dir" true </dev/null ||
		fail "$STEP: this test first runs $mnt -r $ROOTFS -b $BIND_SRC:$dir true, which failed ($?)."
	check_root_can_write_rootfs
}

# link_names TEXT: the interface names in ip link output, sorted.
link_names() {
	awk -F': ' '/^[0-9]+: / { sub(/@.*/, "", $2); print $2 }' <<<"$1" | LC_ALL=C sort
}

check_host_network_visible() {
	local before after both inside missing
	before=$(link_names "$(ip link)")
	run_in ip link
	after=$(link_names "$(ip link)")
	expect_ran "ip link"
	both=$(LC_ALL=C comm -12 <(echo "$before") <(echo "$after"))
	inside=$(link_names "$output")
	missing=$(lines_added "$inside" "$both")
	if [[ -n $missing ]]; then
		flunk "$STEP: negative control: the network namespace comes in 06-net, so this step's container still shares the" \
			"  host's network: ip link inside should list the host's interfaces (${both//$'\n'/ });" \
			"  it does not list ${missing//$'\n'/ }."
	fi
}

# A negative control: what a step does not isolate yet must still be shared with
# the host; it shows that the tests can see sharing at all, and that a step does
# not quietly do a later step's work.
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

# ---------------------------------------------------------------- 06-net: the network

# parse_ip_a: read the output of "ip a; echo --; ip route" (in $lines and $output) into
# IP_FLAGS[iface] (",UP,LOWER_UP,..."), IP_ADDRS[iface] (" 10.0.0.2/24 ..."), IP_ROUTE
# (the routes) and IP_EXTRA (the interfaces other than lo and eth0).
parse_ip_a() {
	local line iface=''
	declare -gA IP_FLAGS=() IP_ADDRS=()
	IP_EXTRA=()
	for line in "${lines[@]}"; do
		[[ $line == -- ]] && break
		if [[ $line =~ ^[0-9]+:\ ([^:@]+)(@[^:]*)?:\ \<([^\>]*)\> ]]; then
			iface=${BASH_REMATCH[1]}
			IP_FLAGS[$iface]=,${BASH_REMATCH[3]},
		elif [[ $line =~ ^[[:space:]]+inet\ ([0-9./]+) ]] && [[ -n $iface ]]; then
			IP_ADDRS[$iface]+=" ${BASH_REMATCH[1]}"
		fi
	done
	IP_ROUTE=$(sed '1,/^--$/d' <<<"$output")
	for iface in "${!IP_FLAGS[@]}"; do
		[[ $iface == lo || $iface == eth0 ]] || IP_EXTRA+=("$iface")
	done
}

check_own_network() {
	cnt_after_go 'ip a; echo --; ip route'
	expect_ran "ip a; ip route"
	local want=10.200.$SLOT.2/30 gw=10.200.$SLOT.1
	parse_ip_a
	if ((${#IP_EXTRA[@]} > 0)); then
		flunk "$STEP: ip a inside should list only lo and eth0; it also lists ${IP_EXTRA[*]}, the host's interfaces." \
			"  The container needs its own network namespace (clone flag CLONE_NEWNET, 06-net)."
	fi
	if [[ ${IP_FLAGS[lo]-} != *,UP,* ]]; then
		flunk "$STEP: lo should be UP inside; ip a shows its flags as <${IP_FLAGS[lo]-no lo at all}>." \
			"  A new network namespace starts with lo down: bring it up from inside (RTM_NEWLINK with IFF_UP, 06-net)."
	fi
	if [[ -z ${IP_FLAGS[eth0]-} ]]; then
		flunk "$STEP: the container should have eth0, its end of the veth pair whose host end is cnt$SUP;" \
			"  ip a lists no eth0. Create the peer in the container's network namespace (IFLA_NET_NS_PID) named eth0 (06-net)."
	fi
	if [[ ${IP_FLAGS[eth0]} != *,UP,* ]]; then
		flunk "$STEP: eth0 should be UP inside; ip a shows its flags as <${IP_FLAGS[eth0]}> (RTM_NEWLINK with IFF_UP, 06-net)."
	fi
	if [[ " ${IP_ADDRS[eth0]-} " != *" $want "* ]]; then
		flunk "$STEP: eth0 should have $want: the host end cnt$SUP has 10.200.$SLOT.1/30, so the container gets" \
			"  the other address of that /30. ip a shows eth0 with:${IP_ADDRS[eth0]:- no IPv4 address} (RTM_NEWADDR, 06-net)."
	fi
	if ! grep -Eq "^default via $gw dev eth0( |\$)" <<<"$IP_ROUTE"; then
		flunk "$STEP: ip route inside should have 'default via $gw dev eth0', the host end of the veth;" \
			"  it shows: ${IP_ROUTE//$'\n'/ | }. Add it from inside with RTM_NEWROUTE (06-net)."
	fi
}

check_sys_lists_own_interfaces() {
	run_in sh -c 'ls /sys/class/net; echo --; touch /sys/cntlab-test 2>&1 || true'
	expect_ran "ls /sys/class/net; touch /sys/cntlab-test"
	local nets err
	nets=$(sed '/^--$/,$d' <<<"$output" | tr -s ' \t' '\n' | sed '/^$/d' | LC_ALL=C sort | paste -sd' ')
	err=$(sed '1,/^--$/d' <<<"$output")
	if [[ $nets != "eth0 lo" ]]; then
		flunk "$STEP: /sys/class/net inside should list only the container's interfaces, eth0 and lo; it lists '$nets'." \
			"  sysfs shows the network devices of the network namespace of whoever mounts it: mount a fresh sysfs on /sys" \
			"  from inside the container's own network namespace (CLONE_NEWNET, 06-net)."
	fi
	if [[ $err != *"Read-only file system"* ]]; then
		flunk "$STEP: /sys should be read-only inside: touch /sys/cntlab-test should fail with 'Read-only file system';" \
			"  it said '${err:-nothing}'. Mount sysfs with MS_RDONLY (06-net), as Docker does."
	fi
}

check_host_reaches_container() {
	requires curl
	local dir=$BATS_TEST_TMPDIR/www page="served-by-the-container-$$" url got dst
	dst=$(bind_target)
	web_page "$dir" "$page"
	cnt_background -b "$dir:$dst:ro" sh -c "$(httpd_in "$dst")"
	learn_slot
	url=http://10.200.$SLOT.2:8080/page.html
	if ! fetch_within 10 "$url" >/dev/null; then
		got=$(fetch "$url" 2>&1) || true
		stop_cnt
		flunk "$STEP: the host should fetch a page from busybox httpd inside, at $url;" \
			"  curl says: $got" \
			"  The host reaches the container through the veth pair: cnt$SUP 10.200.$SLOT.1/30 up on the host," \
			"  eth0 10.200.$SLOT.2/30 up inside (06-net)."
	fi
	got=$(fetch "$url" 2>&1) || true
	stop_cnt
	if [[ $got != "$page" ]]; then
		flunk "$STEP: $url should serve the page the container's httpd has ('$page'); it served '$got'." \
			"  Something else answers at that address."
	fi
}

# host_httpd DIR: serve DIR on the host end's address only (10.200.SLOT.1), on a
# free port; sets HOST_URL. Killed by PID in teardown.
host_httpd() {
	local port pid
	for _ in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 20000))
		busybox httpd -f -p "10.200.$SLOT.1:$port" -h "$1" </dev/null >/dev/null 2>&1 3>&- {LOCK_FD}>&- &
		pid=$!
		at_teardown end_process "$pid"
		HOST_URL=http://10.200.$SLOT.1:$port/page.html
		if fetch_within 5 "$HOST_URL" >/dev/null; then
			return 0
		fi
		end_process "$pid" || true
	done
	fail "$STEP: could not start busybox httpd on the host at 10.200.$SLOT.1 (tried 5 ports)."
}

check_container_reaches_host() {
	requires busybox curl
	local dir=$BATS_TEST_TMPDIR/www page="served-by-the-host-$$"
	web_page "$dir" "$page"
	go_dir
	cnt_background -b "$GO_SRC:$GO_DST" sh -c "$(after_go "wget -q -O - \"\$(cat $GO_DST/go)\"")"
	BG_RAN="$(printf '%q ' "$CNT" "${ROOTFS_ARGS[@]}" -b "$GO_SRC:$GO_DST") sh -c '(wait for $GO_DST/go); wget -q -O - URL'"
	learn_slot
	host_httpd "$dir"
	echo "$HOST_URL" >"$GO_SRC/go"
	bg_wait
	if ((status != 0)) || [[ $output != "$page" ]]; then
		flunk "$STEP: the container should fetch a page from a server on the host end's address, $HOST_URL," \
			"  and print it ('$page'). It goes out through eth0 to the host end cnt$SUP (10.200.$SLOT.1/30), the" \
			"  next hop of its default route (06-net)."
	fi
}

check_concurrent_containers() {
	requires curl
	local n=10 i j got seen=" " bad=() dst deadline
	local -a bgs=() sups=() outs=() rans=() sts=() slots=() pages=() pending left
	dst=$(bind_target)
	for ((i = 0; i < n; i++)); do
		web_page "$BATS_TEST_TMPDIR/www$i" "container-$i"
		cnt_background -b "$BATS_TEST_TMPDIR/www$i:$dst:ro" sh -c "$(httpd_in "$dst")"
		bgs+=("$BG") sups+=("$SUP") outs+=("$BG_OUT") rans+=("$BG_RAN")
	done
	deadline=$((SECONDS + 20))
	for ((i = 0; i < n; i++)); do
		BG=${bgs[i]} SUP=${sups[i]} BG_OUT=${outs[i]} BG_ERR=${outs[i]}.stderr BG_RAN=${rans[i]}
		learn_slot "$deadline"
		slots+=("$SLOT")
		if [[ $seen == *" $SLOT "* ]]; then
			for ((j = 0; j < i; j++)); do [[ ${slots[j]} != "$SLOT" ]] || bad+=("cnt${sups[j]}"); done
			flunk "$STEP: $n containers running at once should each get a /30 of its own; cnt$SUP and ${bad[*]}" \
				"  both have 10.200.$SLOT.1/30. Claim the slot S so that no other container can take it while yours" \
				"  lives (the program binds an abstract unix socket @cntlab/slot/S, 06-net)."
		fi
		seen+="$SLOT "
	done
	# Ask each in turn until all have answered, for at most 20 s in all.
	deadline=$((SECONDS + 20))
	pending=("${!slots[@]}")
	while ((${#pending[@]} > 0 && SECONDS <= deadline)); do
		left=()
		for i in "${pending[@]}"; do
			pages[i]=$(fetch "http://10.200.${slots[i]}.2:8080/page.html" 1 2>/dev/null) || left+=("$i")
		done
		pending=("${left[@]}")
		((${#pending[@]} == 0)) || sleep 0.2
	done
	for ((i = 0; i < n; i++)); do
		kill -TERM "${sups[i]}" 2>/dev/null || true
	done
	j=''
	for ((i = 0; i < n; i++)); do
		BG=${bgs[i]} BG_OUT=${outs[i]} BG_ERR=${outs[i]}.stderr BG_RAN=${rans[i]}
		bg_wait
		sts[i]=$status
		got=${pages[i]-}
		if [[ $got != "container-$i" ]]; then
			bad+=("  http://10.200.${slots[i]}.2:8080/page.html (cnt${sups[i]}): '${got:-no answer within 20 s}', not container-$i")
			j=${j:-$i}
		fi
	done
	if ((${#bad[@]} > 0)); then
		BG_OUT=${outs[j]} BG_ERR=${outs[j]}.stderr BG_RAN=${rans[j]}
		bg_show "${sts[j]}"
		flunk "$STEP: $n containers running at once should each answer on its own address 10.200.S.2 (S: ${slots[*]}):" \
			"  container I serves the page container-I with httpd, and the host fetches it from there. These did not:" \
			"${bad[@]}" \
			"  Each container needs its own network namespace (CLONE_NEWNET) and veth pair, with eth0 up and" \
			"  10.200.S.2/30 on it (06-net). What follows is the run of container $j."
	fi
}

check_veth_removed_after_exit() {
	local i
	cnt_after_go true
	expect_ran "true"
	for ((i = 0; i < 30; i++)); do # 3 s
		[[ -e /sys/class/net/cnt$SUP ]] || break
		sleep 0.1
	done
	if [[ -e /sys/class/net/cnt$SUP ]]; then
		flunk "$STEP: the host end cnt$SUP of the container's veth pair should be gone within 3 s after the container" \
			"  exited: the kernel removes a veth pair when the network namespace of one end dies. It is still there," \
			"  so something still holds the container's network namespace (a process, or an open /proc/PID/ns/net)."
	fi
}
