#!/usr/bin/env bats
# 01-uts: own hostname (UTS namespace). Nothing else is isolated yet.
# feature: UTS namespace
# Each test is one behaviour; the checks live in checks-*.bash, shared by all steps.

load helpers

setup() { step_setup 01-uts; }
teardown() { step_teardown; }


# --- the lifecycle: signals, a killed program, a failed setup
@test "01-uts: [contract] SIGTERM to the program ends the container within 4 s and leaves nothing" { check_sigterm_ends_container; }
@test "01-uts: [contract] SIGINT to the program ends the container within 4 s and leaves nothing" { check_sigint_ends_container; }
@test "01-uts: [contract] SIGKILL to the program kills the container within 2 s and leaves nothing" { check_sigkill_kills_container; }
@test "01-uts: [contract] SIGKILL to the program kills the container within 2 s even after COMMAND changed its user IDs" { check_dies_with_program_after_setuid; }
@test "01-uts: [contract] the exit status survives every path: own, after a forwarded signal, 128+N, 125, 126, 127" { check_exit_status_paths; }

# --- the hostname (01-uts)
@test "01-uts: [feature] the container has the hostname given with -n" { check_own_hostname; }
@test "01-uts: [feature] renaming the container leaves the host's hostname alone" { check_host_hostname_unchanged; }
@test "01-uts: [feature] without -n the hostname is cnt- and 5 hex digits" { check_default_hostname_format; }
@test "01-uts: [feature] a 64-character hostname is accepted" { check_hostname_max_length; }
@test "01-uts: [contract] a 65-character hostname is refused with 125" { check_hostname_too_long; }
@test "01-uts: [contract] a hostname with characters other than letters, digits, - and . is refused with 125" { check_hostname_bad_chars; }
@test "01-uts: [contract] an empty hostname is refused with 125" { check_hostname_empty; }

# --- the command line
@test "01-uts: [contract] -h prints the usage on stdout and exits 0" { check_help; }
@test "01-uts: [contract] an unknown option exits 125 with one line on stderr" { check_bad_option; }
@test "01-uts: [contract] an option without its argument exits 125 with one line on stderr" { check_missing_option_argument; }
@test "01-uts: [contract] long options work like short ones" { check_long_options; }
@test "01-uts: [contract] -v narrates each setup action on stderr with '=> '" { check_verbose; }
@test "01-uts: [contract] without -v a good run prints nothing of its own" { check_quiet; }
@test "01-uts: [contract] with no COMMAND it runs /bin/sh" { check_default_command; }
@test "01-uts: [contract] options after COMMAND belong to COMMAND" { check_options_end_at_command; }
@test "01-uts: [contract] -- ends the options" { check_double_dash; }

# --- exit status
@test "01-uts: [contract] the exit status is COMMAND's own" { check_status_own; }
@test "01-uts: [contract] a COMMAND killed by SIGKILL gives 137" { check_status_signal; }
@test "01-uts: [contract] a COMMAND that does not exist gives 127" { check_status_not_found; }
@test "01-uts: [contract] a COMMAND that cannot be executed gives 126" { check_status_not_executable; }
@test "01-uts: [contract] without root it exits 125 and says it needs root" { check_not_root; }

# --- negative controls: not isolated before later steps
@test "01-uts: [feature] the container still sees the host's files (no mount namespace yet)" { check_host_files_visible; }
@test "01-uts: [feature] the container still sees the host's processes (no PID namespace yet)" { check_host_pids_visible; }
@test "01-uts: [feature] the container still shares the host's IPC objects (no IPC namespace yet)" { check_host_ipc_visible; }

# --- the host
@test "01-uts: [contract] nothing is left on the host after a plain container exits" { check_nothing_left_behind; }
@test "01-uts: [contract] nothing is left on the host after a container with every option exits" { check_nothing_left_with_every_option; }
