# shellcheck shell=bash
# The variables the runners set (status, output, lines, BG_*) live in helpers.bash.
# shellcheck disable=SC2154,SC2034
#
# checks-cmdline.bash - the command line every step takes (-h, -v, long options,
# where the options end, COMMAND by default). Loaded by helpers.bash.

# ---------------------------------------------------------------- the command line

# The usage must list the step's options; either the short or the long name of each will do.
check_help() {
	local -a opts=("-n|--hostname" "-v|--verbose" "-h|--help")
	if ((STEP_NO >= 2)); then opts+=("-r|--rootfs" "-o|--overlay" "-b|--bind"); fi
	if ((STEP_NO >= 7)); then opts+=("-m|--memory" "-p|--pids" "-c|--cpus"); fi
	run_cnt -h
	if ((status != 0)); then
		flunk "$STEP: -h should print the usage on stdout and exit 0; it exited $status."
	fi
	if [[ ${output,,} != *usage* ]]; then
		flunk "$STEP: -h should print the usage (a text that starts 'usage: $STEP [OPTIONS] [--] [COMMAND [ARG...]]') on stdout."
	fi
	local opt short long missing=()
	for opt in "${opts[@]}"; do
		short=${opt%|*} long=${opt#*|}
		[[ $output == *"$long"* || $output =~ (^|[^-[:alnum:]])$short([^-[:alnum:]]|$) ]] || missing+=("$short ($long)")
	done
	if ((${#missing[@]} > 0)); then
		flunk "$STEP: the usage should list every option of this step; it does not mention: ${missing[*]}"
	fi
}

check_bad_option() {
	run_cnt -Z true
	expect_setup_error "an unknown option (-Z)"
}

check_missing_option_argument() {
	run_cnt -n
	expect_setup_error "-n without its NAME"
}

# What the long options do is checked with the short ones; here, that they are
# taken as those: --hostname takes its NAME (a bad one is refused), --verbose narrates.
check_long_options() {
	local -a args=()
	local names="--hostname NAME, --verbose"
	if ((STEP_NO >= 2)); then
		args=(--rootfs "$ROOTFS")
		names+=", --rootfs DIR"
	fi
	run_cnt "${args[@]}" --hostname cntlab-long --verbose sh -c 'echo ran'
	expect_ran "sh -c 'echo ran', with ${names//NAME/cntlab-long}"
	if [[ $output != ran || $stderr != *"=> "* ]]; then
		flunk "$STEP: the long options ($names) should work like the short ones:" \
			"  sh should print ran, and stderr should narrate with '=> ' lines."
	fi
	run_cnt "${args[@]}" --hostname 'not_a_hostname' true
	expect_setup_error "--hostname not_a_hostname (like -n not_a_hostname)"
	if ((STEP_NO >= 2)); then
		run_cnt --rootfs /nonexistent/cntlab-rootfs true
		expect_setup_error "--rootfs /nonexistent/cntlab-rootfs (like -r with a missing directory)"
	fi
}

check_verbose() {
	run_in -v true
	expect_ran "true, with -v"
	local line bad=()
	for line in "${stderr_lines[@]}"; do
		[[ $line == "=> "* ]] || bad+=("$line")
	done
	if ((${#stderr_lines[@]} == 0)); then
		flunk "$STEP: with -v the program should narrate each setup action on stderr, one line each starting with '=> '; it printed nothing."
	fi
	if ((${#bad[@]} > 0)); then
		flunk "$STEP: with -v every line on stderr should start with '=> ' (one line per setup action); these do not:" \
			"${bad[@]/#/  }"
	fi
}

check_quiet() {
	run_in sh -c 'echo only-this'
	expect_ran "sh -c 'echo only-this'"
	if [[ -n $stderr || $output != only-this ]]; then
		flunk "$STEP: without -v the program should print nothing of its own when all goes well:" \
			"  only COMMAND's output (only-this), and nothing on stderr."
	fi
}

check_default_command() {
	rootfs_args
	local script=$BATS_TEST_TMPDIR/script
	echo 'echo sh-read-this; exit 7' >"$script"
	RAN="$(printf '%q ' "$CNT" "${ROOTFS_ARGS[@]}") <$script   (a script: echo sh-read-this; exit 7)"
	capture cnt_stdin "$script" "${ROOTFS_ARGS[@]}"
	if [[ $status != 7 || $output != sh-read-this ]]; then
		flunk "$STEP: with no COMMAND the container should run /bin/sh, which reads its commands from stdin:" \
			"  'echo sh-read-this; exit 7' fed to it should print sh-read-this and give exit status 7."
	fi
}

check_options_end_at_command() {
	run_in sh -c 'printf "[%s]" "$@"' sh -v -n x
	expect_ran "sh -c 'printf \"[%s]\" \"\$@\"' sh -v -n x"
	if [[ $output != '[-v][-n][x]' ]]; then
		flunk "$STEP: options after COMMAND belong to COMMAND: option parsing must stop at the first non-option word" \
			"  (getopt_long with '+' at the start of its option string). sh should have received -v -n x and printed" \
			"  [-v][-n][x]; it printed '$output'."
	fi
}

check_double_dash() {
	run_in -- sh -c 'exit 3'
	if ((status != 3)); then
		flunk "$STEP: '--' ends the options: '-- sh -c \"exit 3\"' should run sh and exit 3; the exit status was $status."
	fi
}
