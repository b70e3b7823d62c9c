#!/usr/bin/env bats
# 11-bridge: everything of 08-sec, on Docker's default network: a bridge cntlab0 on the host,
# NAT to the world, and ports published with -P. Every test runs the program in a network
# namespace of its own that plays the host, whose one way out leads to another that plays
# the outside world (checks-bridge.bash); the machine's own network is never touched, and the
# file checks that at its end.
# feature: a bridge, NAT and published ports
# Each test is one behaviour; the checks live in checks-*.bash.

load helpers

# shellcheck disable=SC2034 # read by check_own_mounts (checks-mounts.bash)
EXTRA_MOUNTS_RE='^/(sys(/firmware)?|sys/devices/virtual/powercap|proc/(kcore|keys|timer_list|timer_stats|sched_debug|latency_stats|interrupts|acpi|asound|scsi|sys|sysrq-trigger|irq|bus|fs))$'

setup_file() { bridge_setup_file; }
teardown_file() { bridge_teardown_file; }
setup() {
	step_setup 11-bridge
	bridge_setup
}
teardown() { bridge_teardown; }

# --- the bridge, NAT and -P (11-bridge)
@test "11-bridge: [feature] eth0 has an address in 10.201.0.0/24 and the default route goes via the bridge, 10.201.0.1" { check_bridge_container_network; }
@test "11-bridge: [feature] a container fetches a page from the outside world, which sees the host's address (masquerade)" { check_bridge_masquerade; }
@test "11-bridge: [feature] with -P 8080:80 the outside world fetches the container's page at the host's address" { check_bridge_publish_from_outside; }
@test "11-bridge: [feature] with -P 8080:80 the host itself fetches it at its own address and at 127.0.0.1" { check_bridge_publish_from_host; }
@test "11-bridge: [feature] -P 5353:53/udp and -P 8080:80 each add a DNAT rule, udp and tcp" { check_bridge_publish_udp; }
@test "11-bridge: [feature] two containers reach each other over the bridge" { check_bridge_containers_reach_each_other; }
@test "11-bridge: [feature] while a container runs the bridge is up; after the last exits, no cntlab0, no rule, no veth" { check_bridge_gone_after_exit; }
@test "11-bridge: [feature] a SIGKILLed program's bridge and rules are gone after the next run" { check_bridge_gone_after_sigkill; }
@test "11-bridge: [feature] only the last of three containers takes the bridge down; the others leave it serving" { check_bridge_stays_for_the_last; }
@test "11-bridge: [feature] a setup failure half-way (no /proc in the rootfs) exits 125 and leaves no bridge, rule or veth" { check_bridge_gone_after_setup_failure; }
@test "11-bridge: [contract] ip_forward already 1 before the first container stays 1 after the last" { check_bridge_keeps_forwarding_on; }
@test "11-bridge: [feature] the host's own nftables rules are left as they were" { check_bridge_leaves_other_rules_alone; }
@test "11-bridge: [feature] bad -P values exit 125 before anything is created" { check_bad_publish; }

# --- least privilege (08-sec)
@test "11-bridge: [earlier] the bounding, permitted and effective sets are Docker's 14 capabilities; inheritable and ambient are empty" { check_docker_capabilities; }
@test "11-bridge: [earlier] no_new_privs is set and a seccomp filter is loaded" { check_no_new_privs_and_seccomp; }
@test "11-bridge: [earlier] unshare -U fails with Operation not permitted (seccomp)" { check_unshare_denied; }
@test "11-bridge: [earlier] /proc/kcore, /proc/timer_list and the other sensitive /proc files yield nothing" { check_proc_masked; }
@test "11-bridge: [earlier] /sys is read-only and /sys/firmware is empty" { check_sys_read_only; }

# --- cgroups (07-cgroups)
@test "11-bridge: [earlier] /proc/self/cgroup inside shows / for every hierarchy" { check_cgroup_ns_root; }
@test "11-bridge: [earlier] by default memory is limited to 256M, tasks to 64, and CPU time not at all" { check_default_limits; }
@test "11-bridge: [earlier] with --pids 20 a fork loop cannot exceed 20 tasks" { check_pids_limit; }
@test "11-bridge: [earlier] SIGTSTP freezes the container (asleep, its counter still) and stops the program; SIGCONT thaws it" { check_pause_freezes_container; }

# --- user IDs, IPC, process IDs, mounts, hostname (05-user ... 01-uts)
@test "11-bridge: [earlier] /proc/self/uid_map and gid_map show the map 0 100000 65536" { check_uid_map_shown; }
@test "11-bridge: [earlier] ipcs shows none of the host's IPC objects" { check_own_ipc; }
@test "11-bridge: [earlier] COMMAND is PID 1" { check_command_is_pid1; }
@test "11-bridge: [earlier] mount lists only the container's own mounts" { check_own_mounts; }
@test "11-bridge: [earlier] / is the rootfs directory" { check_rootfs_is_root; }
@test "11-bridge: [earlier] the container has the hostname given with -n" { check_own_hostname; }

# --- the command line, exit status, lifecycle
@test "11-bridge: [contract] -h prints the usage on stdout and exits 0" { check_help; }
@test "11-bridge: [contract] an unknown option exits 125 with one line on stderr" { check_bad_option; }
@test "11-bridge: [contract] -v narrates each setup action on stderr with '=> '" { check_verbose; }
@test "11-bridge: [contract] without -v a good run prints nothing of its own" { check_quiet; }
@test "11-bridge: [contract] the exit status is COMMAND's own" { check_status_own; }
@test "11-bridge: [contract] a COMMAND that does not exist gives 127" { check_status_not_found; }
@test "11-bridge: [contract] without root it exits 125 and says it needs root" { check_not_root; }
@test "11-bridge: [contract] SIGTERM to the program ends the container within 4 s and leaves nothing" { check_sigterm_ends_container; }
@test "11-bridge: [contract] SIGKILL to the program kills the container within 2 s; the next run removes its cgroup" { check_sigkill_kills_container; }
