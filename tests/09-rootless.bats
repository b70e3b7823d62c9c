#!/usr/bin/env bats
# 09-rootless: everything of 08-sec, run by an ordinary user with no privilege at all.
# feature: rootless (no privilege at all)
# The suite runs as root; these tests make a test user with a subordinate range away from
# 100000 and run the program as that user (checks-rootless.bash). Each test is one
# behaviour; the checks live in checks-*.bash, shared by all steps.

load helpers

# shellcheck disable=SC2034 # read by check_own_mounts (checks-mounts.bash)
EXTRA_MOUNTS_RE='^/(sys(/firmware)?|sys/devices/virtual/powercap|proc/(kcore|keys|timer_list|timer_stats|sched_debug|latency_stats|interrupts|acpi|asound|scsi|sys|sysrq-trigger|irq|bus|fs))$'

setup_file() { rootless_setup_file; }
teardown_file() { rootless_teardown_file; }
setup() {
	step_setup 09-rootless
	rootless_setup
}
teardown() { step_teardown; }

# --- no root: user IDs, network and cgroups without privilege (09-rootless)
@test "09-rootless: [feature] run as root it exits 125 and says root should run 08-sec" { check_refuses_root; }
@test "09-rootless: [feature] with newuidmap: id is 0, the maps are 0 = the user and 1-65536 = its /etc/subuid range, groups dropped" { check_rootless_subordinate_maps; }
@test "09-rootless: [feature] without newuidmap: id is 0, the maps are the one line 0 UID 1, setgroups deny" { check_rootless_single_map; }
@test "09-rootless: [feature] uid 1000 inside is the range's start + 999 on the host" { check_rootless_subordinate_ids_on_host; }
@test "09-rootless: [feature] the host sees the program and the container's processes as the user" { check_rootless_host_sees_user; }
@test "09-rootless: [feature] the user's rootfs is root's inside, and root inside writes it" { check_rootless_rootfs_is_roots; }
@test "09-rootless: [feature] without newuidmap too, the user's rootfs is root's inside" { without_uidmap; check_rootless_rootfs_is_roots; }
@test "09-rootless: [feature] a root-owned host file bound in cannot be written or chowned (nothing of the host's uid 0)" { check_rootless_host_root_unreachable; }
@test "09-rootless: [feature] with slirp4netns and /dev/net/tun: lo and eth0 up, 10.0.2.100/24, default via 10.0.2.2" { check_rootless_user_net; }
@test "09-rootless: [feature] the container fetches a page from a server on the host's loopback at 10.0.2.2" { check_rootless_reaches_host_loopback; }
@test "09-rootless: [feature] without /dev/net/tun or slirp4netns: lo only, and -v says why" { check_rootless_lo_only; }
@test "09-rootless: [feature] no veth appears on the host, and no process of the user is left after exit" { check_rootless_no_host_veth; }
@test "09-rootless: [feature] without a delegated cgroup: -v says no limits; explicit -m, -p, -c exit 125 naming systemd-run" { check_rootless_cgroup_not_delegated; }
@test "09-rootless: [feature] in a delegated cgroup v2: cntlab/<PID> below it with the default limits, gone after" { check_rootless_delegated_cgroup; }
@test "09-rootless: [feature] in a delegated cgroup v2 shared with another process: no cntlab/ there, and -v says why" { check_rootless_delegated_cgroup_shared; }
@test "09-rootless: [feature] in a delegated cgroup v2: with --pids 20 a fork loop cannot exceed 20 tasks" { check_rootless_delegated_pids; }
@test "09-rootless: [feature] in a delegated cgroup v2: with --memory 32M a memory hog is killed (137)" { check_rootless_delegated_memory; }
@test "09-rootless: [earlier] in a delegated cgroup v2 SIGTSTP freezes the container and SIGCONT thaws it; without one, -v says why" { check_rootless_pause; }
@test "09-rootless: [feature] with clone3 failing ENOSYS the container still starts (in its cgroup when delegated)" { check_rootless_without_clone3; }

# --- least privilege (08-sec), now in a user namespace of the user's
@test "09-rootless: [earlier] the bounding, permitted and effective sets are Docker's 14 capabilities; inheritable and ambient are empty" { check_docker_capabilities; }
@test "09-rootless: [earlier] no_new_privs is set and a seccomp filter is loaded" { check_no_new_privs_and_seccomp; }
@test "09-rootless: [earlier] hostname cannot be changed inside (no CAP_SYS_ADMIN)" { check_sethostname_denied; }
@test "09-rootless: [earlier] unshare -U fails with Operation not permitted (seccomp)" { check_unshare_denied; }
@test "09-rootless: [earlier] mount -t tmpfs fails with Operation not permitted" { check_mount_denied; }
@test "09-rootless: [earlier] chmod u+s and g+s fail with Operation not permitted; chmod 644 works" { check_setuid_chmod_denied; }
@test "09-rootless: [earlier] io_uring is denied, and personality works only with Docker's five values" { check_io_uring_and_personality_denied; }
@test "09-rootless: [earlier] /proc/kcore, /proc/timer_list and the other sensitive /proc files yield nothing" { check_proc_masked; }
@test "09-rootless: [earlier] writing /proc/sys/kernel/hostname fails: /proc/sys is read-only" { check_proc_sys_read_only; }
@test "09-rootless: [earlier] /sys is read-only and /sys/firmware is empty" { check_sys_read_only; }

# --- cgroups (07-cgroups), the network (06-net), user IDs (05-user)
@test "09-rootless: [earlier] /proc/self/cgroup inside shows / for every hierarchy" { check_cgroup_ns_root; }
@test "09-rootless: [earlier] /sys is read-only and /sys/class/net lists only lo and eth0" { check_rootless_sys_lists_own_interfaces; }
@test "09-rootless: [earlier] id -u and id -g print 0 inside" { check_ids_are_root; }

# --- IPC (04-ipc)
@test "09-rootless: [earlier] ipcs shows none of the host's IPC objects" { check_own_ipc; }
@test "09-rootless: [earlier] a message queue made inside vanishes with the container" { check_ipc_vanishes; }
@test "09-rootless: [earlier] /dev/mqueue is an mqueue filesystem" { check_mqueue_mounted; }
@test "09-rootless: [earlier] /dev/mqueue shows none of the host's POSIX queues" { check_own_posix_mq; }

# --- process IDs (03-pid)
@test "09-rootless: [earlier] COMMAND is PID 1" { check_command_is_pid1; }
@test "09-rootless: [earlier] ps lists only the container's processes" { check_ps_only_container; }
@test "09-rootless: [earlier] /proc is the container's" { check_proc_is_containers; }
@test "09-rootless: [earlier] a background process dies when COMMAND exits" { check_background_killed_with_pid1; }

# --- the mount table (02-mnt)
@test "09-rootless: [earlier] mount lists only the container's own mounts" { check_own_mounts; }
@test "09-rootless: [earlier] / is the rootfs directory" { check_rootfs_is_root; }
@test "09-rootless: [earlier] the host's old root is gone" { check_old_root_gone; }
@test "09-rootless: [earlier] /dev has only null, zero, full, random, urandom and tty" { check_minimal_dev; }
@test "09-rootless: [earlier] the devices in /dev work" { check_dev_works; }
@test "09-rootless: [earlier] /proc is mounted nosuid,nodev,noexec" { check_proc_mount_flags; }
@test "09-rootless: [earlier] the environment is clean: PATH, HOME, TERM and container=cntlab" { check_clean_env; }
@test "09-rootless: [earlier] the working directory is /" { check_workdir_root; }

# --- the hostname (01-uts)
@test "09-rootless: [earlier] the container has the hostname given with -n" { check_own_hostname; }
@test "09-rootless: [earlier] without -n the hostname is cnt- and 5 hex digits" { check_default_hostname_format; }

# --- the command line
@test "09-rootless: [contract] -h prints the usage on stdout and exits 0" { check_help; }
@test "09-rootless: [contract] an unknown option exits 125 with one line on stderr" { check_bad_option; }
@test "09-rootless: [contract] an option without its argument exits 125 with one line on stderr" { check_missing_option_argument; }
@test "09-rootless: [contract] long options work like short ones" { check_long_options; }
@test "09-rootless: [contract] -v narrates each setup action on stderr with '=> '" { check_verbose; }
@test "09-rootless: [contract] without -v a good run prints nothing of its own" { check_quiet; }
@test "09-rootless: [contract] with no COMMAND it runs /bin/sh" { check_default_command; }
@test "09-rootless: [contract] options after COMMAND belong to COMMAND" { check_options_end_at_command; }
@test "09-rootless: [contract] -- ends the options" { check_double_dash; }
@test "09-rootless: [contract] a 65-character hostname is refused with 125" { check_hostname_too_long; }
@test "09-rootless: [contract] bad --memory, --pids and --cpus values exit 125 before anything is created" { check_bad_limits; }
@test "09-rootless: [contract] --cpus below 0.01, the kernel's smallest quota, exits 125 and leaves no cgroup" { check_cpu_below_smallest_quota; }
@test "09-rootless: [contract] a missing rootfs exits 125 and names it" { check_missing_rootfs; }
@test "09-rootless: [contract] without -r it uses ./rootfs" { check_default_rootfs; }
@test "09-rootless: [contract] -b SRC:DST shows a host directory inside" { check_bind; }
@test "09-rootless: [contract] -b SRC:DST:ro shows it read-only" { check_bind_ro; }
@test "09-rootless: [contract] -b SRC:DST:ro makes the mounts below SRC read-only too" { check_bind_ro_recursive; }
@test "09-rootless: [contract] a bind destination of / or longer than PATH_MAX exits 125 and creates nothing" { check_bind_bad_destination; }
@test "09-rootless: [contract] with -o the rootfs directory is never changed" { check_overlay; }
@test "09-rootless: [earlier] a descriptor the caller left open on a host directory does not cross: only 0, 1 and 2 do" { check_only_std_fds_cross; }

# --- exit status
@test "09-rootless: [contract] the exit status is COMMAND's own" { check_status_own; }
@test "09-rootless: [contract] a COMMAND killed by SIGKILL gives 137" { check_status_signal; }
@test "09-rootless: [contract] a COMMAND that does not exist gives 127" { check_status_not_found; }
@test "09-rootless: [contract] a COMMAND that cannot be executed gives 126" { check_status_not_executable; }
@test "09-rootless: [contract] the exit status survives every path: own, after a forwarded signal, 128+N, 125, 126, 127" { check_exit_status_paths; }

# --- the lifecycle
@test "09-rootless: [contract] SIGTERM to the program ends the container within 4 s and leaves nothing" { check_sigterm_ends_container; }
@test "09-rootless: [contract] SIGINT to the program ends the container within 4 s and leaves nothing" { check_sigint_ends_container; }
@test "09-rootless: [contract] SIGKILL to the program kills the container within 2 s" { check_sigkill_kills_container; }
@test "09-rootless: [contract] SIGKILL to the program kills the container within 2 s even after COMMAND changed its user IDs" { check_dies_with_program_after_setuid; }
@test "09-rootless: [contract] SIGKILL to the program leaves no process of the user (slirp4netns goes too)" { check_rootless_killed_leaves_no_helper; }
@test "09-rootless: [contract] a setup failure half-way (no /proc in the rootfs) exits 125, names /proc and leaves nothing" { check_setup_failure_without_proc; }
@test "09-rootless: [contract] nothing is left on the host after the container exits" { check_nothing_left_behind; }
