#!/usr/bin/env bats
# 03-pid: own process IDs (PID namespace): COMMAND is PID 1, /proc is the container's.
# feature: PID namespace
# Each test is one behaviour; the checks live in checks-*.bash, shared by all steps.

load helpers

setup() { step_setup 03-pid; }
teardown() { step_teardown; }

# --- process IDs (03-pid)
@test "03-pid: [feature] COMMAND is PID 1" { check_command_is_pid1; }
@test "03-pid: [feature] ps lists only the container's processes" { check_ps_only_container; }
@test "03-pid: [feature] /proc is the container's" { check_proc_is_containers; }
@test "03-pid: [feature] a background process dies when COMMAND exits" { check_background_killed_with_pid1; }

# --- the mount table (02-mnt)
@test "03-pid: [earlier] mount lists only the container's own mounts" { check_own_mounts; }
@test "03-pid: [earlier] / is the rootfs directory" { check_rootfs_is_root; }
@test "03-pid: [earlier] the host's old root is gone" { check_old_root_gone; }
@test "03-pid: [earlier] /dev has only null, zero, full, random, urandom and tty" { check_minimal_dev; }
@test "03-pid: [earlier] the devices in /dev work" { check_dev_works; }
@test "03-pid: [earlier] /proc is mounted nosuid,nodev,noexec" { check_proc_mount_flags; }
@test "03-pid: [earlier] the environment is clean: PATH, HOME, TERM and container=cntlab" { check_clean_env; }
@test "03-pid: [earlier] the working directory is /" { check_workdir_root; }
@test "03-pid: [contract] a missing rootfs exits 125 and names it" { check_missing_rootfs; }
@test "03-pid: [contract] without -r it uses ./rootfs" { check_default_rootfs; }
@test "03-pid: [contract] -b SRC:DST shows a host directory inside" { check_bind; }
@test "03-pid: [contract] -b SRC:DST:ro shows it read-only" { check_bind_ro; }
@test "03-pid: [contract] -b SRC:DST:ro makes the mounts below SRC read-only too" { check_bind_ro_recursive; }
@test "03-pid: [contract] a bind destination it creates belongs to the rootfs's owner" { check_bind_creates_dst_owned_like_rootfs; }
@test "03-pid: [contract] a bind destination of / or longer than PATH_MAX exits 125 and creates nothing" { check_bind_bad_destination; }
@test "03-pid: [contract] with -o the rootfs directory is never changed" { check_overlay; }
@test "03-pid: [earlier] a descriptor the caller left open on a host directory does not cross: only 0, 1 and 2 do" { check_only_std_fds_cross; }


# --- the lifecycle: signals, a killed program, a failed setup
@test "03-pid: [contract] SIGTERM to the program ends the container within 4 s and leaves nothing" { check_sigterm_ends_container; }
@test "03-pid: [contract] SIGINT to the program ends the container within 4 s and leaves nothing" { check_sigint_ends_container; }
@test "03-pid: [contract] SIGKILL to the program kills the container within 2 s and leaves nothing" { check_sigkill_kills_container; }
@test "03-pid: [contract] SIGKILL to the program kills the container within 2 s even after COMMAND changed its user IDs" { check_dies_with_program_after_setuid; }
@test "03-pid: [contract] the exit status survives every path: own, after a forwarded signal, 128+N, 125, 126, 127" { check_exit_status_paths; }
@test "03-pid: [contract] a setup failure half-way (no /proc in the rootfs) exits 125, names /proc and leaves nothing" { check_setup_failure_without_proc; }

# --- the hostname (01-uts)
@test "03-pid: [earlier] the container has the hostname given with -n" { check_own_hostname; }
@test "03-pid: [earlier] renaming the container leaves the host's hostname alone" { check_host_hostname_unchanged; }
@test "03-pid: [earlier] without -n the hostname is cnt- and 5 hex digits" { check_default_hostname_format; }
@test "03-pid: [earlier] a 64-character hostname is accepted" { check_hostname_max_length; }
@test "03-pid: [contract] a 65-character hostname is refused with 125" { check_hostname_too_long; }
@test "03-pid: [contract] a hostname with characters other than letters, digits, - and . is refused with 125" { check_hostname_bad_chars; }
@test "03-pid: [contract] an empty hostname is refused with 125" { check_hostname_empty; }

# --- the command line
@test "03-pid: [contract] -h prints the usage on stdout and exits 0" { check_help; }
@test "03-pid: [contract] an unknown option exits 125 with one line on stderr" { check_bad_option; }
@test "03-pid: [contract] an option without its argument exits 125 with one line on stderr" { check_missing_option_argument; }
@test "03-pid: [contract] long options work like short ones" { check_long_options; }
@test "03-pid: [contract] -v narrates each setup action on stderr with '=> '" { check_verbose; }
@test "03-pid: [contract] without -v a good run prints nothing of its own" { check_quiet; }
@test "03-pid: [contract] with no COMMAND it runs /bin/sh" { check_default_command; }
@test "03-pid: [contract] options after COMMAND belong to COMMAND" { check_options_end_at_command; }
@test "03-pid: [contract] -- ends the options" { check_double_dash; }

# --- exit status
@test "03-pid: [contract] the exit status is COMMAND's own" { check_status_own; }
@test "03-pid: [contract] a COMMAND killed by SIGKILL gives 137" { check_status_signal; }
@test "03-pid: [contract] a COMMAND that does not exist gives 127" { check_status_not_found; }
@test "03-pid: [contract] a COMMAND that cannot be executed gives 126" { check_status_not_executable; }
@test "03-pid: [contract] without root it exits 125 and says it needs root" { check_not_root; }

# --- negative controls: not isolated before later steps
@test "03-pid: [feature] the container still shares the host's IPC objects (no IPC namespace yet)" { check_host_ipc_visible; }

# --- the host
@test "03-pid: [contract] nothing is left on the host after a plain container exits" { check_nothing_left_behind; }
@test "03-pid: [contract] nothing is left on the host after a container with every option exits" { check_nothing_left_with_every_option; }
