#!/usr/bin/env bats
# 05-user: own user IDs (user namespace): root inside is uid and gid 100000 on the host.
# feature: user namespace
# Each test is one behaviour; the checks live in checks-*.bash (05-user's in
# checks-user-net.bash), shared by all steps.

load helpers

setup() { step_setup 05-user; }
teardown() { step_teardown; }

# --- user IDs (05-user)
@test "05-user: [feature] id -u and id -g print 0 inside" { check_ids_are_root; }
@test "05-user: [feature] /proc/self/uid_map and gid_map show the map 0 100000 65536" { check_uid_map_shown; }
@test "05-user: [feature] the host sees the container's process as uid and gid 100000" { check_host_sees_uid_100000; }
@test "05-user: [feature] root inside can write its rootfs, and ls -l / shows it owned by root" { check_root_can_write_rootfs; }
@test "05-user: [feature] after 02-mnt created a bind destination, ls -l / still shows it all owned by root" { check_rootfs_still_root_after_02_bind; }

# --- IPC (04-ipc)
@test "05-user: [earlier] ipcs shows none of the host's IPC objects" { check_own_ipc; }
@test "05-user: [earlier] a message queue made inside vanishes with the container" { check_ipc_vanishes; }
@test "05-user: [earlier] /dev/mqueue is an mqueue filesystem" { check_mqueue_mounted; }
@test "05-user: [earlier] /dev/mqueue shows none of the host's POSIX queues" { check_own_posix_mq; }

# --- process IDs (03-pid)
@test "05-user: [earlier] COMMAND is PID 1" { check_command_is_pid1; }
@test "05-user: [earlier] ps lists only the container's processes" { check_ps_only_container; }
@test "05-user: [earlier] /proc is the container's" { check_proc_is_containers; }
@test "05-user: [earlier] a background process dies when COMMAND exits" { check_background_killed_with_pid1; }

# --- the mount table (02-mnt)
@test "05-user: [earlier] mount lists only the container's own mounts" { check_own_mounts; }
@test "05-user: [earlier] / is the rootfs directory" { check_rootfs_is_root; }
@test "05-user: [earlier] the host's old root is gone" { check_old_root_gone; }
@test "05-user: [earlier] /dev has only null, zero, full, random, urandom and tty" { check_minimal_dev; }
@test "05-user: [earlier] the devices in /dev work" { check_dev_works; }
@test "05-user: [earlier] /proc is mounted nosuid,nodev,noexec" { check_proc_mount_flags; }
@test "05-user: [earlier] the environment is clean: PATH, HOME, TERM and container=cntlab" { check_clean_env; }
@test "05-user: [earlier] the working directory is /" { check_workdir_root; }
@test "05-user: [contract] a missing rootfs exits 125 and names it" { check_missing_rootfs; }
@test "05-user: [contract] without -r it uses ./rootfs" { check_default_rootfs; }
@test "05-user: [contract] -b SRC:DST shows a host directory inside" { check_bind; }
@test "05-user: [contract] -b SRC:DST:ro shows it read-only" { check_bind_ro; }
@test "05-user: [contract] -b SRC:DST:ro makes the mounts below SRC read-only too" { check_bind_ro_recursive; }
@test "05-user: [contract] a bind destination it creates belongs to the rootfs's owner" { check_bind_creates_dst_owned_like_rootfs; }
@test "05-user: [contract] a bind destination of / or longer than PATH_MAX exits 125 and creates nothing" { check_bind_bad_destination; }
@test "05-user: [contract] with -o the rootfs directory is never changed" { check_overlay; }
@test "05-user: [earlier] a descriptor the caller left open on a host directory does not cross: only 0, 1 and 2 do" { check_only_std_fds_cross; }


# --- the lifecycle: signals, a killed program, a failed setup
@test "05-user: [contract] SIGTERM to the program ends the container within 4 s and leaves nothing" { check_sigterm_ends_container; }
@test "05-user: [contract] SIGINT to the program ends the container within 4 s and leaves nothing" { check_sigint_ends_container; }
@test "05-user: [contract] SIGKILL to the program kills the container within 2 s and leaves nothing" { check_sigkill_kills_container; }
@test "05-user: [contract] SIGKILL to the program kills the container within 2 s even after COMMAND changed its user IDs" { check_dies_with_program_after_setuid; }
@test "05-user: [contract] the exit status survives every path: own, after a forwarded signal, 128+N, 125, 126, 127" { check_exit_status_paths; }
@test "05-user: [contract] a setup failure half-way (no /proc in the rootfs) exits 125, names /proc and leaves nothing" { check_setup_failure_without_proc; }

# --- the hostname (01-uts)
@test "05-user: [earlier] the container has the hostname given with -n" { check_own_hostname; }
@test "05-user: [earlier] renaming the container leaves the host's hostname alone" { check_host_hostname_unchanged; }
@test "05-user: [earlier] without -n the hostname is cnt- and 5 hex digits" { check_default_hostname_format; }
@test "05-user: [earlier] a 64-character hostname is accepted" { check_hostname_max_length; }
@test "05-user: [contract] a 65-character hostname is refused with 125" { check_hostname_too_long; }
@test "05-user: [contract] a hostname with characters other than letters, digits, - and . is refused with 125" { check_hostname_bad_chars; }
@test "05-user: [contract] an empty hostname is refused with 125" { check_hostname_empty; }

# --- the command line
@test "05-user: [contract] -h prints the usage on stdout and exits 0" { check_help; }
@test "05-user: [contract] an unknown option exits 125 with one line on stderr" { check_bad_option; }
@test "05-user: [contract] an option without its argument exits 125 with one line on stderr" { check_missing_option_argument; }
@test "05-user: [contract] long options work like short ones" { check_long_options; }
@test "05-user: [contract] -v narrates each setup action on stderr with '=> '" { check_verbose; }
@test "05-user: [contract] without -v a good run prints nothing of its own" { check_quiet; }
@test "05-user: [contract] with no COMMAND it runs /bin/sh" { check_default_command; }
@test "05-user: [contract] options after COMMAND belong to COMMAND" { check_options_end_at_command; }
@test "05-user: [contract] -- ends the options" { check_double_dash; }

# --- exit status
@test "05-user: [contract] the exit status is COMMAND's own" { check_status_own; }
@test "05-user: [contract] a COMMAND killed by SIGKILL gives 137" { check_status_signal; }
@test "05-user: [contract] a COMMAND that does not exist gives 127" { check_status_not_found; }
@test "05-user: [contract] a COMMAND that cannot be executed gives 126" { check_status_not_executable; }
@test "05-user: [contract] without root it exits 125 and says it needs root" { check_not_root; }

# --- negative controls: not isolated before later steps
@test "05-user: [feature] the container still shares the host's network (no network namespace yet)" { check_host_network_visible; }

# --- the host
@test "05-user: [contract] nothing is left on the host after a plain container exits" { check_nothing_left_behind; }
@test "05-user: [contract] nothing is left on the host after a container with every option exits" { check_nothing_left_with_every_option; }
