# shellcheck shell=bash
# The variables the runners set (status, output, lines, BG_*) live in helpers.bash.
# shellcheck disable=SC2154,SC2034
#
# checks-bridge.bash - the checks of 11-bridge: a bridge, NAT to the world and
# published ports. Loaded by helpers.bash.
#
# 11-bridge turns forwarding on and adds nftables rules, so it never runs in this
# machine's own network namespace. Each test makes two namespaces of its own:
# HOSTNS plays the host, OUTNS the outside world, joined by one veth:
#
#   container eth0 --veth-- cntlab0 (10.201.0.1) [HOSTNS] uplink 198.51.100.1 --veth-- wan 198.51.100.2 [OUTNS]
#
# Each namespace is held by a process of its own (unshare -n sleep), not by a
# mount under /run/netns: a leak check of tests running beside these would take
# such a mount for a leftover and unmount it. The program runs in HOSTNS through
# nsenter --net (ip netns exec would also mount a new /sys, and with it hide
# /sys/fs/cgroup). 198.51.100.0/24 is TEST-NET-2, never
# routed on the internet, and HOSTNS's only route out leads to OUTNS: the tests
# check that before anything is sent.

# bridge_setup_file / bridge_teardown_file: the real host's ruleset, links and
# ip_forward must be the same after the whole file (other tests' cnt<PID> veths, and
# the cnt<PID>x that check_address_taken pairs with one, come and go meanwhile: they
# are not ours, and ours are never in this namespace).
real_host_network() {
	echo "== nft list ruleset"
	nft list ruleset 2>&1
	echo "== ip -o link (but cnt<PID> and cnt<PID>x)"
	ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -Ev '^cnt[0-9]+x?$' | LC_ALL=C sort
	echo "== net.ipv4.ip_forward"
	cat /proc/sys/net/ipv4/ip_forward
}

bridge_setup_file() {
	real_host_network >"$BATS_FILE_TMPDIR/real-host-before"
}

bridge_teardown_file() {
	local changes
	real_host_network >"$BATS_FILE_TMPDIR/real-host-after"
	if ! changes=$(diff "$BATS_FILE_TMPDIR/real-host-before" "$BATS_FILE_TMPDIR/real-host-after"); then
		echo "11-bridge: the machine's own network changed while these tests ran; they may only touch their own" \
			"namespaces (before <, after >):" "$changes" >&2
		return 1
	fi
}

# in_host COMMAND...: run COMMAND in the test's "host" namespace.
in_host() { nsenter --net="/proc/$HOSTNS/ns/net" "$@"; }
in_outside() { nsenter --net="/proc/$OUTNS/ns/net" "$@"; }

# new_netns: the PID of a process holding a new network namespace, ended at teardown.
new_netns() {
	unshare --net sleep 100000 </dev/null >/dev/null 3>&- {LOCK_FD}>&- &
	NEW_NETNS=$!
	at_teardown kill "$NEW_NETNS"
	local i
	for ((i = 0; i < 500; i++)); do
		if [[ $(readlink "/proc/$NEW_NETNS/ns/net") != "$(readlink /proc/self/ns/net)" ]]; then return 0; fi
		sleep 0.01
	done
	fail "11-bridge: unshare --net could not make a network namespace for the test."
}

# bridge_setup: the setup() of 11-bridge.bats, after step_setup.
bridge_setup() {
	requires ip nsenter nft busybox
	new_netns
	HOSTNS=$NEW_NETNS
	new_netns
	OUTNS=$NEW_NETNS
	ip link add uplink netns "$HOSTNS" type veth peer name wan netns "$OUTNS"
	# One ip per namespace, reading its commands from stdin: every test sets these up.
	in_host ip -batch - <<-'EOF'
		addr add 198.51.100.1/24 dev uplink
		link set uplink up
		link set lo up
		route add default via 198.51.100.2
	EOF
	in_outside ip -batch - <<-'EOF'
		addr add 198.51.100.2/24 dev wan
		link set wan up
		link set lo up
	EOF
	local routes
	routes=$(in_host ip -4 route show | awk '{ print $1, $2, $3 }' | LC_ALL=C sort | paste -sd,)
	if [[ $routes != "198.51.100.0/24 dev uplink,default via 198.51.100.2" ]]; then
		fail "11-bridge: the test's host namespace should have one way out, to its outside namespace; its routes: $routes"
	fi
	# shellcheck disable=SC2034 # read by cnt (helpers.bash)
	CNT_PREFIX=(nsenter --net="/proc/$HOSTNS/ns/net")
}

# bridge_leftovers: what of the lab is still in the host namespace.
bridge_leftovers() {
	local links
	links=$(in_host ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -E '^cnt' | paste -sd' ')
	if [[ -n $links ]]; then echo "interfaces: $links"; fi
	if in_host nft list table ip cntlab >/dev/null 2>&1; then echo "the nftables table ip cntlab"; fi
	if [[ $(in_host cat /proc/sys/net/ipv4/ip_forward) != "${FORWARD_BEFORE:-0}" ]]; then
		echo "net.ipv4.ip_forward = $(in_host cat /proc/sys/net/ipv4/ip_forward), not ${FORWARD_BEFORE:-0} as before"
	fi
}

# bridge_teardown: end the test's own runs, look for leftovers in the host
# namespace, then end the namespaces' holders (whatever is in a namespace goes with
# it) and do the usual teardown.
bridge_teardown() {
	local left=
	if [[ -n ${BG-} ]]; then end_background "$BG"; fi
	if [[ -n ${HOSTNS-} && -e /proc/$HOSTNS ]]; then left=$(bridge_leftovers); fi
	step_teardown
	if [[ -n $left ]]; then
		flunk "LEAK: 11-bridge: after the last container exited, the host namespace still has: ${left//$'\n'/; }." \
			"  The last container on the bridge deletes cntlab0, the table ip cntlab and puts ip_forward back (docs/11-bridge.md)."
	fi
}

# serve_outside: busybox httpd in the outside namespace at 198.51.100.2:80; its
# log (one line per request, with the client's address) in OUTSIDE_LOG.
serve_outside() {
	local www=$BATS_TEST_TMPDIR/outside-www
	mkdir -p "$www"
	echo "a page from the outside" >"$www/index.html"
	OUTSIDE_LOG=$BATS_TEST_TMPDIR/outside.log
	# Not through in_outside: $! must be the server itself (nsenter execs it), and it
	# must not hold bats's fd 3 or the tests' lock.
	nsenter --net="/proc/$OUTNS/ns/net" busybox httpd -f -v -p 198.51.100.2:80 -h "$www" \
		2>"$OUTSIDE_LOG" 3>&- {LOCK_FD}>&- &
	OUTSIDE_SERVER=$!
	at_teardown kill "$OUTSIDE_SERVER"
}

# start_web_container [OPTION...]: a container serving "a page from the container"
# on port 80 with busybox httpd, in the background; its address in CONTAINER_IP.
start_web_container() {
	cnt_background "$@" sh -c 'mkdir -p /tmp/www && echo "a page from the container" >/tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www'
	wait_for_command httpd
	local i
	# Until it listens on port 80 (0050), state 0A: busybox httpd listens on IPv6's ::
	# (tcp6, which takes IPv4 too) where the container has IPv6, else on IPv4's 0.0.0.0 (tcp).
	for ((i = 0; i < 50; i++)); do
		if cat "/proc/$FIRST/net/tcp" "/proc/$FIRST/net/tcp6" 2>/dev/null |
			awk '$2 ~ /:0050$/ && $4 == "0A" { found = 1 } END { exit !found }'; then break; fi
		sleep 0.1
	done
	CONTAINER_IP=$(nsenter -t "$FIRST" -n ip -4 -o addr show dev eth0 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4 }')
}

# expect_bridge_up: while a container runs, the host has the bridge and the table.
expect_bridge_up() {
	local bridge port
	bridge=$(in_host ip -4 -o addr show dev cntlab0 2>&1 | awk '{ print $4 }')
	port=$(in_host ip -o link show "cnt$SUP" 2>&1)
	if [[ $bridge != 10.201.0.1/24 || $port != *"master cntlab0"* ]] || ! in_host nft list table ip cntlab >/dev/null 2>&1; then
		kill -KILL "$FIRST" 2>/dev/null || true
		bg_wait
		flunk "11-bridge: while a container runs, the host should have the bridge cntlab0 with 10.201.0.1/24 (it has: '$bridge')," \
			"  the container's veth cnt<PID> as its port ('$port'), and the nftables table ip cntlab (docs/11-bridge.md)."
	fi
}

check_bridge_container_network() {
	run_in sh -c 'ip -4 -o addr show dev eth0; ip route'
	expect_ran "ip addr and ip route"
	if [[ $output != *"inet 10.201.0."*"/24"* || $output != *"default via 10.201.0.1 dev eth0"* ]]; then
		flunk "11-bridge: inside, eth0 should have an address in 10.201.0.0/24 and the default route go via the bridge," \
			"  10.201.0.1 (the contract's Bridge section). ip printed: ${output//$'\n'/ | }"
	fi
}

# bounded_wget URL: a sh command that fetches URL, given up after 5 s. Not timeout
# as COMMAND itself: it execs wget, which would be PID 1, and PID 1 ignores the
# SIGTERM timeout sends it (it has no handler), so a fetch that hangs, as without the
# host's forwarding, would hang the run until the runner's own timeout (30 s). A
# container with no address on the bridge cannot get an answer: it says so at once
# instead of waiting out the 5 s.
bounded_wget() {
	echo "ip -4 -o addr show dev eth0 | grep -q ' 10\.201\.0\.' ||" \
		"{ echo 'no fetch: eth0 has no address on the bridge, 10.201.0.0/24'; exit 1; };" \
		"timeout 5 wget -q -O - '$1'; exit \$?"
}

check_bridge_masquerade() {
	serve_outside
	run_in sh -c "$(bounded_wget http://198.51.100.2/)"
	if [[ $output != "a page from the outside" ]]; then
		flunk "11-bridge: a container should fetch a page from a server in the outside world (198.51.100.2, reached through" \
			"  the host's uplink). It got '$output'. The host must forward (net.ipv4.ip_forward = 1 in its network namespace)" \
			"  and masquerade 10.201.0.0/24 leaving by any interface but cntlab0 (docs/11-bridge.md)."
	fi
	if ! grep -q '^198\.51\.100\.1:' "$OUTSIDE_LOG" || grep -q '^10\.201\.' "$OUTSIDE_LOG"; then
		flunk "11-bridge: the outside server should see the request come from the host's address 198.51.100.1, not from the" \
			"  container's 10.201.0.0/24, which the outside cannot route back to: that is the masquerade rule's work." \
			"  The server's log: $(paste -sd' ' "$OUTSIDE_LOG")"
	fi
}

check_bridge_publish_from_outside() {
	local page
	start_web_container -P 8080:80
	page=$(in_outside wget -q -T 5 -t 1 -O - http://198.51.100.1:8080/ 2>&1) || true
	kill -KILL "$FIRST"
	bg_wait
	if [[ $page != "a page from the container" ]]; then
		flunk "11-bridge: with -P 8080:80 the outside world should fetch the container's page at the host's address," \
			"  198.51.100.1:8080; it got '$page'. That takes a DNAT rule in the nat prerouting hook and a forward rule that lets" \
			"  the DNATed connection through to cntlab0 (docs/11-bridge.md)."
	fi
}

check_bridge_publish_from_host() {
	local own loopback
	start_web_container -P 8080:80
	own=$(in_host wget -q -T 5 -t 1 -O - http://198.51.100.1:8080/ 2>&1) || true
	loopback=$(in_host wget -q -T 5 -t 1 -O - http://127.0.0.1:8080/ 2>&1) || true
	kill -KILL "$FIRST"
	bg_wait
	if [[ $own != "a page from the container" || $loopback != "a page from the container" ]]; then
		flunk "11-bridge: with -P 8080:80 the host itself should fetch the container's page at its own address" \
			"  198.51.100.1:8080 (got '$own') and at 127.0.0.1:8080 (got '$loopback'). The host's own connections never pass" \
			"  prerouting: DNAT them in the nat output hook too; 127.0.0.1 also needs route_localnet on cntlab0 and a" \
			"  masquerade, or the container would answer its own loopback (docs/11-bridge.md)."
	fi
}

# busybox has no UDP server to answer through: check the rule the table holds.
check_bridge_publish_udp() {
	local table
	cnt_background -P 5353:53/udp -P 8080:80 sleep 1000
	wait_for_command sleep
	table=$(in_host nft list table ip cntlab 2>&1) || true
	kill -KILL "$FIRST"
	bg_wait
	if [[ $table != *"udp dport 5353 dnat to 10.201.0."*":53"* || $table != *"tcp dport 8080 dnat to 10.201.0."*":80"* ]]; then
		flunk "11-bridge: -P 5353:53/udp -P 8080:80 should add one DNAT rule each, udp and tcp, in the table ip cntlab;" \
			"  it holds: ${table//$'\n'/ }"
	fi
}

check_bridge_containers_reach_each_other() {
	start_web_container
	local a=$FIRST a_ip=$CONTAINER_IP page
	run_in sh -c "$(bounded_wget "http://$a_ip/")"
	page=$output
	kill -KILL "$a"
	bg_wait
	if [[ $page != "a page from the container" ]]; then
		flunk "11-bridge: a second container should fetch the first one's page at its address on the bridge, $a_ip;" \
			"  it got '$page'. Both veths are ports of cntlab0, one layer-2 network (docs/11-bridge.md)."
	fi
}

# check_bridge_gone_after HOW: a container (with -P, so there are rules of its
# own) runs; the bridge is up; it ends HOW; then nothing of the lab is left.
check_bridge_gone_after_exit() {
	start_web_container -P 8080:80
	expect_bridge_up
	kill -KILL "$FIRST"
	bg_wait
	expect_bridge_gone "the last container exited"
}

check_bridge_gone_after_sigkill() {
	start_web_container -P 8080:80
	expect_bridge_up
	kill -KILL "$SUP"
	bg_wait
	wait_gone 3000 "$FIRST" >/dev/null || true
	run_in true
	expect_ran "true (the run after the killed one)"
	expect_bridge_gone "the program was killed by SIGKILL and the next run exited"
}

check_bridge_gone_after_setup_failure() {
	local copy
	copy=$(mktemp -d /tmp/cntlab-noproc.XXXXXX)
	at_teardown rm -rf "$copy"
	chmod 755 "$copy"
	cp -a "$ROOTFS/." "$copy/"
	rm -rf "${copy:?}/proc"
	run_cnt -r "$copy" -P 8080:80 true
	expect_setup_error "a rootfs without /proc, after the host joined the container to the bridge"
	if [[ $stderr != *proc* ]]; then
		flunk "11-bridge: the error should name what failed: mounting proc on /proc."
	fi
	expect_bridge_gone "a setup that failed half-way"
}

# Only the last container takes the bridge down: the first one's exit leaves the
# second one reachable.
check_bridge_stays_for_the_last() {
	local page
	run_in -P 8081:80 true
	start_web_container -P 8080:80
	run_in -P 8082:80 true
	page=$(in_outside wget -q -T 5 -t 1 -O - http://198.51.100.1:8080/ 2>&1) || true
	kill -KILL "$FIRST"
	bg_wait
	if [[ $page != "a page from the container" ]]; then
		flunk "11-bridge: a container that exits while another runs must leave the bridge, the table and the other's" \
			"  rules alone: after it, the running container's published page is '$page' (docs/11-bridge.md)."
	fi
	expect_bridge_gone "the last of three containers exited"
}

check_bridge_keeps_forwarding_on() {
	in_host sysctl -qw net.ipv4.ip_forward=1
	FORWARD_BEFORE=1
	run_in true
	expect_ran "true, with ip_forward already 1"
	if [[ $(in_host cat /proc/sys/net/ipv4/ip_forward) != 1 ]]; then
		flunk "11-bridge: ip_forward was 1 before the first container; the last one must leave it as it found it, 1."
	fi
}

check_bridge_leaves_other_rules_alone() {
	local before after
	in_host nft -f - <<-'EOF'
		table inet hostfw {
			chain input { type filter hook input priority filter; policy accept; tcp dport 22 accept; }
		}
	EOF
	before=$(in_host nft list ruleset)
	run_in -P 8080:80 true
	expect_ran "true with -P 8080:80"
	after=$(in_host nft list ruleset)
	if [[ $before != "$after" ]]; then
		flunk "11-bridge: the host's own nftables rules must be left as they were: the lab adds only its table ip cntlab," \
			"  and removes it with the last container. Before: ${before//$'\n'/ } After: ${after//$'\n'/ }"
	fi
}

# expect_bridge_gone WHEN
expect_bridge_gone() {
	local left
	left=$(bridge_leftovers)
	if [[ -n $left ]]; then
		in_host nft delete table ip cntlab 2>/dev/null || true
		flunk "11-bridge: after $1, nothing of the lab should be left in the host's network namespace; it still has:" \
			"  ${left//$'\n'/; }. The last container deletes its -P chains, its veth, the bridge cntlab0, the table" \
			"  ip cntlab and puts ip_forward back; a SIGKILLed program's rules are swept by the next run (docs/11-bridge.md)."
	fi
}

check_bad_publish() {
	local spec
	for spec in 8080 8080: :80 0:80 8080:65536 8080:80/sctp 8080:80/ x:80 8080:80x; do
		run_in -P "$spec" true
		expect_setup_error "-P $spec"
		if [[ $stderr != *publish* ]]; then
			flunk "11-bridge: -P $spec should be refused in one line naming --publish."
		fi
	done
	if [[ -n $(bridge_leftovers) ]]; then
		flunk "11-bridge: a refused -P must exit before anything is created; left: $(bridge_leftovers)"
	fi
}
