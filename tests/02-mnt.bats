#!/usr/bin/env bats
# 02-mnt: own mount table (mount namespace + pivot_root), minimal /dev, clean environment.
# feature: mount namespace
# Each test is one behaviour; the checks live in checks-*.bash, shared by all steps.

load helpers

setup() { step_setup 02-mnt; }
teardown() { step_teardown; }

# --- the mount table (02-mnt)
@test "02-mnt: [feature] mount lists only the container's own mounts" { check_own_mounts; }
@test "02-mnt: [feature] / is the rootfs directory" { check_rootfs_is_root; }
@test "02-mnt: [feature] the host's old root is gone" { check_old_root_gone; }
@test "02-mnt: [feature] /dev has only null, zero, full, random, urandom and tty" { check_minimal_dev; }
@test "02-mnt: [feature] the devices in /dev work" { check_dev_works; }
@test "02-mnt: [feature] /proc is mounted nosuid,nodev,noexec" { check_proc_mount_flags; }
@test "02-mnt: [feature] the environment is clean: PATH, HOME, TERM and container=cntlab" { check_clean_env; }
@test "02-mnt: [feature] the working directory is /" { check_workdir_root; }
@test "02-mnt: [contract] a missing rootfs exits 125 and names it" { check_missing_rootfs; }
@test "02-mnt: [contract] without -r it uses ./rootfs" { check_default_rootfs; }
@test "02-mnt: [contract] -b SRC:DST shows a host directory inside" { check_bind; }
@test "02-mnt: [contract] -b SRC:DST:ro shows it read-only" { check_bind_ro; }
@test "02-mnt: [contract] -b SRC:DST:ro makes the mounts below SRC read-only too" { check_bind_ro_recursive; }
@test "02-mnt: [contract] a bind destination it creates belongs to the rootfs's owner" { check_bind_creates_dst_owned_like_rootfs; }
@test "02-mnt: [contract] a bind destination of / or longer than PATH_MAX exits 125 and creates nothing" { check_bind_bad_destination; }
@test "02-mnt: [contract] with -o the rootfs directory is never changed" { check_overlay; }
@test "02-mnt: [feature] a descriptor the caller left open on a host directory does not cross: only 0, 1 and 2 do" { check_only_std_fds_cross; }


# --- the lifecycle: signals, a killed program, a failed setup
@test "02-mnt: [contract] SIGTERM to the program ends the container within 4 s and leaves nothing" { check_sigterm_ends_container; }
@test "02-mnt: [contract] SIGINT to the program ends the container within 4 s and leaves nothing" { check_sigint_ends_container; }
@test "02-mnt: [contract] SIGKILL to the program kills the container within 2 s and leaves nothing" { check_sigkill_kills_container; }
@test "02-mnt: [contract] SIGKILL to the program kills the container within 2 s even after COMMAND changed its user IDs" { check_dies_with_program_after_setuid; }
@test "02-mnt: [contract] the exit status survives every path: own, after a forwarded signal, 128+N, 125, 126, 127" { check_exit_status_paths; }
@test "02-mnt: [contract] a setup failure half-way (no /proc in the rootfs) exits 125, names /proc and leaves nothing" { check_setup_failure_without_proc; }

# --- the hostname (01-uts)
@test "02-mnt: [earlier] the container has the hostname given with -n" { check_own_hostname; }
@test "02-mnt: [earlier] renaming the container leaves the host's hostname alone" { check_host_hostname_unchanged; }
@test "02-mnt: [earlier] without -n the hostname is cnt- and 5 hex digits" { check_default_hostname_format; }
@test "02-mnt: [earlier] a 64-character hostname is accepted" { check_hostname_max_length; }
@test "02-mnt: [contract] a 65-character hostname is refused with 125" { check_hostname_too_long; }
@test "02-mnt: [contract] a hostname with characters other than letters, digits, - and . is refused with 125" { check_hostname_bad_chars; }
@test "02-mnt: [contract] an empty hostname is refused with 125" { check_hostname_empty; }

# --- the command line
@test "02-mnt: [contract] -h prints the usage on stdout and exits 0" { check_help; }
@test "02-mnt: [contract] an unknown option exits 125 with one line on stderr" { check_bad_option; }
@test "02-mnt: [contract] an option without its argument exits 125 with one line on stderr" { check_missing_option_argument; }
@test "02-mnt: [contract] long options work like short ones" { check_long_options; }
@test "02-mnt: [contract] -v narrates each setup action on stderr with '=> '" { check_verbose; }
@test "02-mnt: [contract] without -v a good run prints nothing of its own" { check_quiet; }
@test "02-mnt: [contract] with no COMMAND it runs /bin/sh" { check_default_command; }
@test "02-mnt: [contract] options after COMMAND belong to COMMAND" { check_options_end_at_command; }
@test "02-mnt: [contract] -- ends the options" { check_double_dash; }

# --- exit status
@test "02-mnt: [contract] the exit status is COMMAND's own" { check_status_own; }
@test "02-mnt: [contract] a COMMAND killed by SIGKILL gives 137" { check_status_signal; }
@test "02-mnt: [contract] a COMMAND that does not exist gives 127" { check_status_not_found; }
@test "02-mnt: [contract] a COMMAND that cannot be executed gives 126" { check_status_not_executable; }
@test "02-mnt: [contract] without root it exits 125 and says it needs root" { check_not_root; }

# --- negative controls: not isolated before later steps
@test "02-mnt: [feature] the container still sees the host's processes (no PID namespace yet)" { check_host_pids_visible; }
@test "02-mnt: [feature] the container still shares the host's IPC objects (no IPC namespace yet)" { check_host_ipc_visible; }

# --- the host
@test "02-mnt: [contract] nothing is left on the host after a plain container exits" { check_nothing_left_behind; }
@test "02-mnt: [contract] nothing is left on the host after a container with every option exits" { check_nothing_left_with_every_option; }
