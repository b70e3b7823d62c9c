#!/usr/bin/env bats
# 07-cgroups: resource limits (cgroups) and an own cgroup namespace: /proc/self/cgroup
# shows /, and the memory, task and CPU limits apply to the container's cgroup cntlab/<PID>.
# feature: cgroups
# Each test is one behaviour; the checks live in checks-*.bash (07-cgroups's in
# checks-limits-sec.bash), shared by all steps.

load helpers

# From 06-net on the container also has sysfs mounted on /sys.
# shellcheck disable=SC2034 # read by check_own_mounts (checks-mounts.bash)
EXTRA_MOUNTS_RE='^/sys$'

setup() { step_setup 07-cgroups; }
teardown() { step_teardown; }

# --- cgroups (07-cgroups)
@test "07-cgroups: [feature] /proc/self/cgroup inside shows / for every hierarchy" { check_cgroup_ns_root; }
@test "07-cgroups: [feature] the cgroup cntlab/<PID> holds the container while it runs and is gone after" { check_cgroup_dir_lifecycle; }
@test "07-cgroups: [feature] by default memory is limited to 256M, tasks to 64, and CPU time not at all" { check_default_limits; }
@test "07-cgroups: [feature] with --pids 20 a fork loop cannot exceed 20 tasks" { check_pids_limit; }
@test "07-cgroups: [feature] --pids counts only the container: with 2 its shell can fork once, with 1 not at all" { check_pids_counts_only_the_container; }
@test "07-cgroups: [feature] with clone3 failing ENOSYS (Docker's seccomp) the container still starts in its cgroup" { check_cgroup_without_clone3; }
@test "07-cgroups: [feature] with --memory 32M a memory hog is killed and the program returns 137" { check_memory_limit_kills; }
@test "07-cgroups: [feature] with --cpus 0.2 a 2-second busy loop gets at most 0.6 s of CPU time" { check_cpu_limit; }
@test "07-cgroups: [feature] SIGTSTP freezes the container (asleep, its counter still) and stops the program; SIGCONT thaws it" { check_pause_freezes_container; }
@test "07-cgroups: [feature] a paused container dies with its program's SIGKILL, by the next run at the latest, and leaves nothing" { check_pause_then_sigkill_leaves_nothing; }
@test "07-cgroups: [contract] bad --memory, --pids and --cpus values exit 125 before anything is created" { check_bad_limits; }
@test "07-cgroups: [contract] --cpus below 0.01, the kernel's smallest quota, exits 125 and leaves no cgroup" { check_cpu_below_smallest_quota; }

# --- the network (06-net)
@test "07-cgroups: [earlier] ip a shows lo up and eth0 with 10.200.S.2/30, ip route the default route via 10.200.S.1" { check_own_network; }
@test "07-cgroups: [earlier] the host fetches a page from httpd inside the container" { check_host_reaches_container; }
@test "07-cgroups: [earlier] the container fetches a page from a server on the host end's address" { check_container_reaches_host; }
@test "07-cgroups: [earlier] ten containers started at once get distinct addresses and all answer" { check_concurrent_containers; }
@test "07-cgroups: [earlier] the host end cnt<PID> is gone 3 s after the container exits" { check_veth_removed_after_exit; }
@test "07-cgroups: [earlier] /sys is read-only and /sys/class/net lists only lo and eth0" { check_sys_lists_own_interfaces; }

# --- user IDs (05-user)
@test "07-cgroups: [earlier] id -u and id -g print 0 inside" { check_ids_are_root; }
@test "07-cgroups: [earlier] /proc/self/uid_map and gid_map show the map 0 100000 65536" { check_uid_map_shown; }
@test "07-cgroups: [earlier] the host sees the container's process as uid and gid 100000" { check_host_sees_uid_100000; }
@test "07-cgroups: [earlier] root inside can write its rootfs, and ls -l / shows it owned by root" { check_root_can_write_rootfs; }
@test "07-cgroups: [earlier] after 02-mnt created a bind destination, ls -l / still shows it all owned by root" { check_rootfs_still_root_after_02_bind; }

# --- IPC (04-ipc)
@test "07-cgroups: [earlier] ipcs shows none of the host's IPC objects" { check_own_ipc; }
@test "07-cgroups: [earlier] a message queue made inside vanishes with the container" { check_ipc_vanishes; }
@test "07-cgroups: [earlier] /dev/mqueue is an mqueue filesystem" { check_mqueue_mounted; }
@test "07-cgroups: [earlier] /dev/mqueue shows none of the host's POSIX queues" { check_own_posix_mq; }

# --- process IDs (03-pid)
@test "07-cgroups: [earlier] COMMAND is PID 1" { check_command_is_pid1; }
@test "07-cgroups: [earlier] ps lists only the container's processes" { check_ps_only_container; }
@test "07-cgroups: [earlier] /proc is the container's" { check_proc_is_containers; }
@test "07-cgroups: [earlier] a background process dies when COMMAND exits" { check_background_killed_with_pid1; }

# --- the mount table (02-mnt)
@test "07-cgroups: [earlier] mount lists only the container's own mounts" { check_own_mounts; }
@test "07-cgroups: [earlier] / is the rootfs directory" { check_rootfs_is_root; }
@test "07-cgroups: [earlier] the host's old root is gone" { check_old_root_gone; }
@test "07-cgroups: [earlier] /dev has only null, zero, full, random, urandom and tty" { check_minimal_dev; }
@test "07-cgroups: [earlier] the devices in /dev work" { check_dev_works; }
@test "07-cgroups: [earlier] /proc is mounted nosuid,nodev,noexec" { check_proc_mount_flags; }
@test "07-cgroups: [earlier] the environment is clean: PATH, HOME, TERM and container=cntlab" { check_clean_env; }
@test "07-cgroups: [earlier] the working directory is /" { check_workdir_root; }
@test "07-cgroups: [contract] a missing rootfs exits 125 and names it" { check_missing_rootfs; }
@test "07-cgroups: [contract] without -r it uses ./rootfs" { check_default_rootfs; }
@test "07-cgroups: [contract] -b SRC:DST shows a host directory inside" { check_bind; }
@test "07-cgroups: [contract] -b SRC:DST:ro shows it read-only" { check_bind_ro; }
@test "07-cgroups: [contract] -b SRC:DST:ro makes the mounts below SRC read-only too" { check_bind_ro_recursive; }
@test "07-cgroups: [contract] a bind destination it creates belongs to the rootfs's owner" { check_bind_creates_dst_owned_like_rootfs; }
@test "07-cgroups: [contract] a bind destination of / or longer than PATH_MAX exits 125 and creates nothing" { check_bind_bad_destination; }
@test "07-cgroups: [contract] with -o the rootfs directory is never changed" { check_overlay; }
@test "07-cgroups: [earlier] a descriptor the caller left open on a host directory does not cross: only 0, 1 and 2 do" { check_only_std_fds_cross; }

# --- the hostname (01-uts)
@test "07-cgroups: [earlier] the container has the hostname given with -n" { check_own_hostname; }
@test "07-cgroups: [earlier] renaming the container leaves the host's hostname alone" { check_host_hostname_unchanged; }
@test "07-cgroups: [earlier] without -n the hostname is cnt- and 5 hex digits" { check_default_hostname_format; }
@test "07-cgroups: [earlier] a 64-character hostname is accepted" { check_hostname_max_length; }
@test "07-cgroups: [contract] a 65-character hostname is refused with 125" { check_hostname_too_long; }
@test "07-cgroups: [contract] a hostname with characters other than letters, digits, - and . is refused with 125" { check_hostname_bad_chars; }
@test "07-cgroups: [contract] an empty hostname is refused with 125" { check_hostname_empty; }

# --- the command line
@test "07-cgroups: [contract] -h prints the usage on stdout and exits 0" { check_help; }
@test "07-cgroups: [contract] an unknown option exits 125 with one line on stderr" { check_bad_option; }
@test "07-cgroups: [contract] an option without its argument exits 125 with one line on stderr" { check_missing_option_argument; }
@test "07-cgroups: [contract] long options work like short ones" { check_long_options; }
@test "07-cgroups: [contract] -v narrates each setup action on stderr with '=> '" { check_verbose; }
@test "07-cgroups: [contract] without -v a good run prints nothing of its own" { check_quiet; }
@test "07-cgroups: [contract] with no COMMAND it runs /bin/sh" { check_default_command; }
@test "07-cgroups: [contract] options after COMMAND belong to COMMAND" { check_options_end_at_command; }
@test "07-cgroups: [contract] -- ends the options" { check_double_dash; }

# --- exit status
@test "07-cgroups: [contract] the exit status is COMMAND's own" { check_status_own; }
@test "07-cgroups: [contract] a COMMAND killed by SIGKILL gives 137" { check_status_signal; }
@test "07-cgroups: [contract] a COMMAND that does not exist gives 127" { check_status_not_found; }
@test "07-cgroups: [contract] a COMMAND that cannot be executed gives 126" { check_status_not_executable; }
@test "07-cgroups: [contract] without root it exits 125 and says it needs root" { check_not_root; }

# --- the lifecycle: signals, a killed program, a failed setup
@test "07-cgroups: [contract] SIGTERM to the program ends the container within 4 s and leaves nothing" { check_sigterm_ends_container; }
@test "07-cgroups: [contract] SIGINT to the program ends the container within 4 s and leaves nothing" { check_sigint_ends_container; }
@test "07-cgroups: [contract] SIGKILL to the program kills the container within 2 s; the next run removes its cgroup" { check_sigkill_kills_container; }
@test "07-cgroups: [contract] SIGKILL to the program kills the container within 2 s even after COMMAND changed its user IDs" { check_dies_with_program_after_setuid; }
@test "07-cgroups: [contract] a setup failure half-way (no /proc in the rootfs) exits 125, names /proc and leaves nothing" { check_setup_failure_without_proc; }
@test "07-cgroups: [earlier] a host end name cnt<PID> already taken exits 125 and leaves nothing" { check_address_taken; }
@test "07-cgroups: [contract] the exit status survives every path: own, after a forwarded signal, 128+N, 125, 126, 127" { check_exit_status_paths; }

# --- negative controls: not isolated before later steps
@test "07-cgroups: [feature] root inside still has every capability, no no_new_privs and no seccomp (least privilege comes in 08-sec)" { check_full_capabilities; }

# --- the host
@test "07-cgroups: [contract] nothing is left on the host after a plain container exits" { check_nothing_left_behind; }
@test "07-cgroups: [contract] nothing is left on the host after a container with every option exits" { check_nothing_left_with_every_option; }
