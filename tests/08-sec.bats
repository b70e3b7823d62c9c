#!/usr/bin/env bats
# 08-sec: least privilege: Docker's 14 default capabilities and no others, no_new_privs,
# a seccomp filter that answers EPERM, and masked or read-only sensitive /proc and /sys paths.
# feature: least privilege
# Each test is one behaviour; the checks live in checks-*.bash (08-sec's in
# checks-limits-sec.bash), shared by all steps.

load helpers

# From 06-net on the container also has sysfs on /sys; 08-sec masks paths of /proc and
# /sys with mounts of their own.
# shellcheck disable=SC2034 # read by check_own_mounts (checks-mounts.bash)
EXTRA_MOUNTS_RE='^/(sys(/firmware)?|sys/devices/virtual/powercap|proc/(kcore|keys|timer_list|timer_stats|sched_debug|latency_stats|interrupts|acpi|asound|scsi|sys|sysrq-trigger|irq|bus|fs))$'

setup() { step_setup 08-sec; }
teardown() { step_teardown; }

# --- least privilege (08-sec)
@test "08-sec: [feature] the bounding, permitted and effective sets are Docker's 14 capabilities; inheritable and ambient are empty" { check_docker_capabilities; }
@test "08-sec: [feature] no_new_privs is set and a seccomp filter is loaded" { check_no_new_privs_and_seccomp; }
@test "08-sec: [feature] hostname cannot be changed inside (no CAP_SYS_ADMIN)" { check_sethostname_denied; }
@test "08-sec: [feature] unshare -U fails with Operation not permitted (seccomp)" { check_unshare_denied; }
@test "08-sec: [feature] mount -t tmpfs fails with Operation not permitted" { check_mount_denied; }
@test "08-sec: [feature] chmod u+s and g+s fail with Operation not permitted; chmod 644 works" { check_setuid_chmod_denied; }
@test "08-sec: [feature] io_uring is denied, and personality works only with Docker's five values" { check_io_uring_and_personality_denied; }
@test "08-sec: [feature] /proc/kcore, /proc/timer_list and the other sensitive /proc files yield nothing" { check_proc_masked; }
@test "08-sec: [feature] writing /proc/sys/kernel/hostname fails: /proc/sys is read-only" { check_proc_sys_read_only; }
@test "08-sec: [feature] /sys is read-only and /sys/firmware is empty" { check_sys_read_only; }
@test "08-sec: [contract] 20 containers started at once each serve HTTP on port 80 at their own address, and leave nothing" { check_concurrent_web_servers; }

# --- cgroups (07-cgroups)
@test "08-sec: [earlier] /proc/self/cgroup inside shows / for every hierarchy" { check_cgroup_ns_root; }
@test "08-sec: [earlier] the cgroup cntlab/<PID> holds the container while it runs and is gone after" { check_cgroup_dir_lifecycle; }
@test "08-sec: [earlier] by default memory is limited to 256M, tasks to 64, and CPU time not at all" { check_default_limits; }
@test "08-sec: [earlier] with --pids 20 a fork loop cannot exceed 20 tasks" { check_pids_limit; }
@test "08-sec: [earlier] --pids counts only the container: with 2 its shell can fork once, with 1 not at all" { check_pids_counts_only_the_container; }
@test "08-sec: [earlier] with clone3 failing ENOSYS (Docker's seccomp) the container still starts in its cgroup" { check_cgroup_without_clone3; }
@test "08-sec: [earlier] with --memory 32M a memory hog is killed and the program returns 137" { check_memory_limit_kills; }
@test "08-sec: [earlier] with --cpus 0.2 a 2-second busy loop gets at most 0.6 s of CPU time" { check_cpu_limit; }
@test "08-sec: [earlier] SIGTSTP freezes the container (asleep, its counter still) and stops the program; SIGCONT thaws it" { check_pause_freezes_container; }
@test "08-sec: [earlier] a paused container dies with its program's SIGKILL, by the next run at the latest, and leaves nothing" { check_pause_then_sigkill_leaves_nothing; }
@test "08-sec: [contract] bad --memory, --pids and --cpus values exit 125 before anything is created" { check_bad_limits; }
@test "08-sec: [contract] --cpus below 0.01, the kernel's smallest quota, exits 125 and leaves no cgroup" { check_cpu_below_smallest_quota; }

# --- the network (06-net)
@test "08-sec: [earlier] ip a shows lo up and eth0 with 10.200.S.2/30, ip route the default route via 10.200.S.1" { check_own_network; }
@test "08-sec: [earlier] the host fetches a page from httpd inside the container" { check_host_reaches_container; }
@test "08-sec: [earlier] the container fetches a page from a server on the host end's address" { check_container_reaches_host; }
@test "08-sec: [earlier] ten containers started at once get distinct addresses and all answer" { check_concurrent_containers; }
@test "08-sec: [earlier] the host end cnt<PID> is gone 3 s after the container exits" { check_veth_removed_after_exit; }
@test "08-sec: [earlier] /sys is read-only and /sys/class/net lists only lo and eth0" { check_sys_lists_own_interfaces; }

# --- user IDs (05-user)
@test "08-sec: [earlier] id -u and id -g print 0 inside" { check_ids_are_root; }
@test "08-sec: [earlier] /proc/self/uid_map and gid_map show the map 0 100000 65536" { check_uid_map_shown; }
@test "08-sec: [earlier] the host sees the container's process as uid and gid 100000" { check_host_sees_uid_100000; }
@test "08-sec: [earlier] root inside can write its rootfs, and ls -l / shows it owned by root" { check_root_can_write_rootfs; }
@test "08-sec: [earlier] after 02-mnt created a bind destination, ls -l / still shows it all owned by root" { check_rootfs_still_root_after_02_bind; }

# --- IPC (04-ipc)
@test "08-sec: [earlier] ipcs shows none of the host's IPC objects" { check_own_ipc; }
@test "08-sec: [earlier] a message queue made inside vanishes with the container" { check_ipc_vanishes; }
@test "08-sec: [earlier] /dev/mqueue is an mqueue filesystem" { check_mqueue_mounted; }
@test "08-sec: [earlier] /dev/mqueue shows none of the host's POSIX queues" { check_own_posix_mq; }

# --- process IDs (03-pid)
@test "08-sec: [earlier] COMMAND is PID 1" { check_command_is_pid1; }
@test "08-sec: [earlier] ps lists only the container's processes" { check_ps_only_container; }
@test "08-sec: [earlier] /proc is the container's" { check_proc_is_containers; }
@test "08-sec: [earlier] a background process dies when COMMAND exits" { check_background_killed_with_pid1; }

# --- the mount table (02-mnt)
@test "08-sec: [earlier] mount lists only the container's own mounts" { check_own_mounts; }
@test "08-sec: [earlier] / is the rootfs directory" { check_rootfs_is_root; }
@test "08-sec: [earlier] the host's old root is gone" { check_old_root_gone; }
@test "08-sec: [earlier] /dev has only null, zero, full, random, urandom and tty" { check_minimal_dev; }
@test "08-sec: [earlier] the devices in /dev work" { check_dev_works; }
@test "08-sec: [earlier] /proc is mounted nosuid,nodev,noexec" { check_proc_mount_flags; }
@test "08-sec: [earlier] the environment is clean: PATH, HOME, TERM and container=cntlab" { check_clean_env; }
@test "08-sec: [earlier] the working directory is /" { check_workdir_root; }
@test "08-sec: [contract] a missing rootfs exits 125 and names it" { check_missing_rootfs; }
@test "08-sec: [contract] without -r it uses ./rootfs" { check_default_rootfs; }
@test "08-sec: [contract] -b SRC:DST shows a host directory inside" { check_bind; }
@test "08-sec: [contract] -b SRC:DST:ro shows it read-only" { check_bind_ro; }
@test "08-sec: [contract] -b SRC:DST:ro makes the mounts below SRC read-only too" { check_bind_ro_recursive; }
@test "08-sec: [contract] a bind destination it creates belongs to the rootfs's owner" { check_bind_creates_dst_owned_like_rootfs; }
@test "08-sec: [contract] a bind destination of / or longer than PATH_MAX exits 125 and creates nothing" { check_bind_bad_destination; }
@test "08-sec: [contract] with -o the rootfs directory is never changed" { check_overlay; }
@test "08-sec: [earlier] a descriptor the caller left open on a host directory does not cross: only 0, 1 and 2 do" { check_only_std_fds_cross; }

# --- the hostname (01-uts)
@test "08-sec: [earlier] the container has the hostname given with -n" { check_own_hostname; }
# ("renaming the container leaves the host's hostname alone" does not apply: from 08-sec on root
# inside may not rename it at all, see check_sethostname_denied; teardown checks the host's name.)
@test "08-sec: [earlier] without -n the hostname is cnt- and 5 hex digits" { check_default_hostname_format; }
@test "08-sec: [earlier] a 64-character hostname is accepted" { check_hostname_max_length; }
@test "08-sec: [contract] a 65-character hostname is refused with 125" { check_hostname_too_long; }
@test "08-sec: [contract] a hostname with characters other than letters, digits, - and . is refused with 125" { check_hostname_bad_chars; }
@test "08-sec: [contract] an empty hostname is refused with 125" { check_hostname_empty; }

# --- the command line
@test "08-sec: [contract] -h prints the usage on stdout and exits 0" { check_help; }
@test "08-sec: [contract] an unknown option exits 125 with one line on stderr" { check_bad_option; }
@test "08-sec: [contract] an option without its argument exits 125 with one line on stderr" { check_missing_option_argument; }
@test "08-sec: [contract] long options work like short ones" { check_long_options; }
@test "08-sec: [contract] -v narrates each setup action on stderr with '=> '" { check_verbose; }
@test "08-sec: [contract] without -v a good run prints nothing of its own" { check_quiet; }
@test "08-sec: [contract] with no COMMAND it runs /bin/sh" { check_default_command; }
@test "08-sec: [contract] options after COMMAND belong to COMMAND" { check_options_end_at_command; }
@test "08-sec: [contract] -- ends the options" { check_double_dash; }

# --- exit status
@test "08-sec: [contract] the exit status is COMMAND's own" { check_status_own; }
@test "08-sec: [contract] a COMMAND killed by SIGKILL gives 137" { check_status_signal; }
@test "08-sec: [contract] a COMMAND that does not exist gives 127" { check_status_not_found; }
@test "08-sec: [contract] a COMMAND that cannot be executed gives 126" { check_status_not_executable; }
@test "08-sec: [contract] without root it exits 125 and says it needs root" { check_not_root; }

# --- the lifecycle: signals, a killed program, a failed setup
@test "08-sec: [contract] SIGTERM to the program ends the container within 4 s and leaves nothing" { check_sigterm_ends_container; }
@test "08-sec: [contract] SIGINT to the program ends the container within 4 s and leaves nothing" { check_sigint_ends_container; }
@test "08-sec: [contract] SIGKILL to the program kills the container within 2 s; the next run removes its cgroup" { check_sigkill_kills_container; }
@test "08-sec: [contract] SIGKILL to the program kills the container within 2 s even after COMMAND changed its user IDs" { check_dies_with_program_after_setuid; }
@test "08-sec: [contract] a setup failure half-way (no /proc in the rootfs) exits 125, names /proc and leaves nothing" { check_setup_failure_without_proc; }
@test "08-sec: [earlier] a host end name cnt<PID> already taken exits 125 and leaves nothing" { check_address_taken; }
@test "08-sec: [contract] the exit status survives every path: own, after a forwarded signal, 128+N, 125, 126, 127" { check_exit_status_paths; }

# --- the host
@test "08-sec: [contract] nothing is left on the host after a plain container exits" { check_nothing_left_behind; }
@test "08-sec: [contract] nothing is left on the host after a container with every option exits" { check_nothing_left_with_every_option; }
