# shellcheck shell=bash
# tests/report.bash - what the two reports, tests/soak and tests/bench, share: where the
# lab is, its steps (steps/list.bash), how they speak, and running as root.
#
# Source it with REPORT set to the report's name; it sets here (tests/) and top (the
# lab), and changes to top. Then:
#   say TEXT...     one line on stderr, "REPORT: TEXT"
#   die TEXT...     say it, exit 1
#   be_root ARG...  go on as root: run the report again through sudo (saying so) when
#                   we are not root, or stop saying why when there is no sudo

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
cd "$top" || exit 1
# shellcheck source=steps/list.bash
. "$top/steps/list.bash"

say() { echo "$REPORT: $*" >&2; }
die() {
	say "$*"
	exit 1
}

be_root() {
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "needs root (the steps create namespaces): run it as root"
		say "this needs root; running: sudo $0"
		exec sudo -- "$0" "$@"
	fi
}
