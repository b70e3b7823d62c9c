#!/usr/bin/env bash
# steps/list.bash - the reader of steps/list, the one list of the lab's steps.
#
# Source it from a bash tool, then ask:
#   step_names [FIELD=VALUE...]  the steps (NN-name), in order; with FIELD=VALUE, only
#                                those whose FIELD has that VALUE (step_names as=user)
#   step_name WANT               the step WANT names (3, 03 or 03-pid); status 1 if none
#   step_get STEP FIELD          one field of STEP's line (see the top of steps/list);
#                                after is the full name of the step it builds on,
#                                empty for the first step
# Or run it with a function's name and arguments: steps/list.bash step_name 3
# (steps/list.bash step_make_vars prints what the Makefile reads).

STEP_NAMES=()             # 01-uts 02-mnt ...
declare -gA STEP_INFO=()  # [NN-name.FIELD]=value, for the fields of steps/list
declare -gA STEP_BY_NN=() # [NN]=NN-name

step_read_list() {
	local file=$1 nn name after kind as root net title n=0
	while read -r nn name after kind as root net title; do
		n=$((n + 1))
		[[ -z $nn || $nn == \#* ]] && continue
		if [[ ! $nn =~ ^[0-9][0-9]$ || -z $title ]]; then
			echo "$file:$n: expected NN name after kind as root net title" >&2
			return 1
		fi
		if [[ $after != - && -z ${STEP_BY_NN[$after]-} ]]; then
			echo "$file:$n: step $nn-$name comes after $after, which no line above names" >&2
			return 1
		fi
		name=$nn-$name
		STEP_NAMES+=("$name")
		STEP_BY_NN[$nn]=$name
		STEP_INFO[$name.after]=${STEP_BY_NN[$after]-}
		STEP_INFO[$name.kind]=$kind
		STEP_INFO[$name.as]=$as
		STEP_INFO[$name.root]=$root
		STEP_INFO[$name.net]=$net
		STEP_INFO[$name.title]=$title
	done <"$file"
}

step_names() {
	local s cond ok
	for s in "${STEP_NAMES[@]}"; do
		ok=1
		for cond in "$@"; do
			[[ ${STEP_INFO[$s.${cond%%=*}]-} == "${cond#*=}" ]] || ok=0
		done
		((ok == 0)) || echo "$s"
	done
}

step_name() {
	local want=${1-} s
	[[ $want =~ ^[0-9]$ ]] && want=0$want
	for s in "${STEP_NAMES[@]}"; do
		if [[ -n $want && ($s == "$want" || ${s%%-*} == "$want") ]]; then
			echo "$s"
			return 0
		fi
	done
	return 1
}

step_get() { echo "${STEP_INFO[$1.$2]-}"; }

# step_make_vars: for the Makefile, one word per fact, each an assignment it evaluates:
# STEPS+=01-uts, then 01-uts.after:= (empty), 01-uts.kind:=core, ... (no title: it has spaces).
step_make_vars() {
	local s f
	for s in "${STEP_NAMES[@]}"; do
		echo "STEPS+=$s"
		for f in after kind as root net; do echo "$s.$f:=${STEP_INFO[$s.$f]}"; done
	done
}

step_read_list "$(dirname "${BASH_SOURCE[0]}")/list" || exit 1

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -u
	"$@"
fi
