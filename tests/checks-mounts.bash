# shellcheck shell=bash
# The variables the runners set (status, output, lines, BG_*) live in helpers.bash.
# shellcheck disable=SC2154,SC2034
#
# checks-mounts.bash - the checks of 02-mnt (the mount table, /dev, the environment,
# -r, -b and -o), which every later step re-checks the same way. Loaded by helpers.bash.

# The PATH the container starts with (02-mnt).
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The devices the contract puts in /dev (02-mnt), and what else may be there.
DEVICES=(null zero full random urandom tty)
DEV_MAY_HAVE=(mqueue pts shm ptmx fd stdin stdout stderr)
# Mount points a container of steps 02-04 may have. A later step that mounts
# more (e.g. masks in /proc) adds a regular expression in EXTRA_MOUNTS_RE.
OWN_MOUNTS_RE='^/(proc|dev(/(null|zero|full|random|urandom|tty|mqueue|pts|shm|ptmx))?)?$'
EXTRA_MOUNTS_RE=${EXTRA_MOUNTS_RE:-'^$'}

# ---------------------------------------------------------------- 02-mnt: the mount table

# mountinfo_inside: run cat /proc/self/mountinfo in the container and fill
# MNT_POINT, MNT_TYPE, MNT_OPTS (arrays, one entry per mount).
mountinfo_inside() {
	run_in cat /proc/self/mountinfo
	expect_ran "cat /proc/self/mountinfo"
	MNT_POINT=() MNT_TYPE=() MNT_OPTS=()
	local line left right f
	for line in "${lines[@]}"; do
		left=${line%% - *}
		right=${line#* - }
		read -ra f <<<"$left"
		MNT_POINT+=("${f[4]}")
		MNT_OPTS+=("${f[5]}")
		MNT_TYPE+=("${right%% *}")
	done
}

check_own_mounts() {
	run_in mount
	expect_ran "mount"
	local line mp foreign=() seen=" "
	for line in "${lines[@]}"; do
		mp=$(awk '{ print $3 }' <<<"$line")
		seen+="$mp "
		[[ $mp =~ $OWN_MOUNTS_RE || $mp =~ $EXTRA_MOUNTS_RE ]] || foreign+=("$mp")
	done
	if ((${#foreign[@]} > 0)); then
		flunk "$STEP: mount inside should list only the container's mounts: / (the rootfs), /proc, /dev and its devices." \
			"  It also lists: ${foreign[*]}" \
			"  That is the host's mount table showing through. The container needs its own mount namespace" \
			"  (clone flag CLONE_NEWNS, 02-mnt), pivot_root into the rootfs, and the old root unmounted (umount2 MNT_DETACH)."
	fi
	for mp in / /proc /dev; do
		if [[ $seen != *" $mp "* ]]; then
			flunk "$STEP: mount inside should list $mp: the rootfs at /, a fresh proc at /proc, a tmpfs at /dev."
		fi
	done
}

check_rootfs_is_root() {
	local want
	want=$(stat -c %i "$ROOTFS")
	run_in ls -di /
	expect_ran "ls -di /"
	if [[ $(awk '{ print $1 }' <<<"$output") != "$want" ]]; then
		flunk "$STEP: / inside should be the rootfs directory $ROOTFS (inode $want); 'ls -di /' says '$output'." \
			"  Bind-mount the rootfs onto itself, then pivot_root into it (02-mnt)."
	fi
}

check_old_root_gone() {
	local marker=$BATS_TEST_TMPDIR/host-marker want roots=0 mp
	local how="After pivot_root, detach the old root with umount2(old, MNT_DETACH) and remove its directory if you made one (02-mnt)."
	echo host >"$marker"
	mountinfo_inside
	for mp in "${MNT_POINT[@]}"; do
		if [[ $mp == / ]]; then roots=$((roots + 1)); fi
	done
	if ((roots != 1)); then
		flunk "$STEP: exactly one filesystem should be mounted at / inside, the rootfs; /proc/self/mountinfo shows $roots." \
			"  The old root is still mounted there (pivot_root(\".\", \".\") stacks it on top of the new one)." "  $how"
	fi
	run_in sh -c "test -e '$marker' && echo host-file-visible; ls -A1 /"
	expect_ran "ls -A1 /"
	if [[ $output == *host-file-visible* ]]; then
		flunk "$STEP: a file of the host ($marker) can still be reached inside: the old root is not gone." "  $how"
	fi
	want=$(find "$ROOTFS" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort)
	if [[ $(LC_ALL=C sort <<<"$output") != "$want" ]]; then
		flunk "$STEP: 'ls -A /' inside should show exactly the rootfs directory's entries:" \
			"  ${want//$'\n'/ }" "  $how"
	fi
}

check_minimal_dev() {
	# shellcheck disable=SC2016 # $d is for the sh inside
	run_in sh -c 'ls -A1 /dev; for d in null zero full random urandom tty; do [ -c /dev/$d ] || echo "no-char-device:$d"; done'
	expect_ran "ls -A1 /dev"
	local entry extra=() missing=() d
	for entry in "${lines[@]}"; do
		case " ${DEVICES[*]} ${DEV_MAY_HAVE[*]} " in
		*" $entry "*) ;;
		*) [[ $entry == no-char-device:* ]] || extra+=("$entry") ;;
		esac
	done
	for d in "${DEVICES[@]}"; do
		if [[ " ${lines[*]} " != *" $d "* ]] || [[ " ${lines[*]} " == *" no-char-device:$d "* ]]; then
			missing+=("$d")
		fi
	done
	if ((${#missing[@]} > 0)); then
		flunk "$STEP: /dev inside should have the character devices ${DEVICES[*]};" \
			"  missing or not a character device: ${missing[*]}. Bind-mount each from the host's /dev onto" \
			"  a file in a fresh tmpfs at /dev (02-mnt)."
	fi
	if ((${#extra[@]} > 0)); then
		flunk "$STEP: /dev inside should be minimal (${DEVICES[*]}), but it also has: ${extra[*]}" \
			"  A container must not see the host's devices: mount a fresh tmpfs on /dev and put only those in it (02-mnt)."
	fi
}

check_dev_works() {
	local script='head -c 5 /dev/zero | wc -c; head -c 3 /dev/urandom | wc -c'
	script+='; if echo x >/dev/null; then echo null-ok; fi; if echo x >/dev/full; then echo full-took-it; fi'
	run_in sh -c "$script"
	expect_ran "the /dev checks"
	local got
	got=$(tr -s ' \n' ' ' <<<"$output" | sed 's/^ //; s/ $//')
	if [[ $got != "5 3 null-ok" ]]; then
		flunk "$STEP: the devices should work: 5 bytes read from /dev/zero, 3 from /dev/urandom, writing to /dev/null" \
			"  succeeds, writing to /dev/full fails. Expected '5 3 null-ok', got '$got'." \
			"  Bind mounts of the host's devices work; the tmpfs on /dev must not be mounted nodev (02-mnt)."
	fi
	if [[ $stderr != *"No space left on device"* ]]; then
		flunk "$STEP: writing to /dev/full should fail with 'No space left on device' (ENOSPC)."
	fi
}

check_proc_mount_flags() {
	mountinfo_inside
	local i
	# The last proc mounted at /proc is the one on top, the one the container sees.
	for ((i = ${#MNT_POINT[@]} - 1; i >= 0; i--)); do
		[[ ${MNT_POINT[i]} == /proc && ${MNT_TYPE[i]} == proc ]] || continue
		if [[ ,${MNT_OPTS[i]}, == *,nosuid,* && ,${MNT_OPTS[i]}, == *,nodev,* && ,${MNT_OPTS[i]}, == *,noexec,* ]]; then
			return 0
		fi
		flunk "$STEP: /proc should be mounted nosuid,nodev,noexec; its options are ${MNT_OPTS[i]}." \
			"  mount(\"proc\", \"/proc\", \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL) (02-mnt)."
	done
	flunk "$STEP: there should be a proc filesystem mounted at /proc inside (mount(\"proc\", \"/proc\", \"proc\", ...), 02-mnt)."
}

check_clean_env() {
	export TERM=cntlab-term CNTLAB_MARKER=must-not-leak
	run_in env
	expect_ran "env"
	local want got
	want=$(printf '%s\n' "HOME=/root" "PATH=$CLEAN_PATH" "TERM=cntlab-term" "container=cntlab" | LC_ALL=C sort)
	got=$(LC_ALL=C sort <<<"$output")
	if [[ $got != "$want" ]]; then
		flunk "$STEP: the container should start with a clean environment, exactly:" \
			"  ${want//$'\n'/$'\n'  }" \
			"  (TERM copied from the caller; nothing else, e.g. not CNTLAB_MARKER, which the test exported)." \
			"  Extra: $(lines_added "$want" "$got" | paste -sd' ')" \
			"  Missing: $(lines_added "$got" "$want" | paste -sd' ')" \
			"  Build the environment yourself and pass it to execve (02-mnt)."
	fi
}

check_workdir_root() {
	cd "$BATS_TEST_TMPDIR" || return
	run_in pwd
	expect_ran "pwd"
	if [[ $output != / ]]; then
		flunk "$STEP: the container's working directory should be /; pwd printed '$output'" \
			"  (chdir(\"/\") after pivot_root, 02-mnt)."
	fi
}

check_missing_rootfs() {
	local dir=/nonexistent/cntlab-rootfs
	run_cnt -r "$dir" true
	expect_setup_error "a rootfs that does not exist ($dir)"
	if [[ $stderr != *"$dir"* ]]; then
		flunk "$STEP: the error for a missing rootfs should name the directory, $dir."
	fi
}

check_default_rootfs() {
	local dir=$BATS_TEST_TMPDIR
	if [[ ${ROOTFS##*/} == rootfs ]]; then
		dir=${ROOTFS%/*}
	else
		ln -s "$ROOTFS" "$dir/rootfs"
	fi
	cd "$dir" || return
	run_cnt -n cntlab-default hostname
	expect_ran "hostname, with no -r, from $dir (which has rootfs/ in it)"
	if [[ $output != cntlab-default ]]; then
		flunk "$STEP: without -r the program should use ./rootfs; hostname printed '$output'."
	fi
}

# A directory of the rootfs to bind-mount a host directory onto.
bind_target() {
	local d
	for d in /mnt /srv /opt /home /tmp; do
		if [[ -d $ROOTFS$d && ! -L $ROOTFS$d ]]; then
			echo "$d"
			return
		fi
	done
	fail "$STEP: the rootfs ($ROOTFS) has none of /mnt /srv /opt /home /tmp to bind-mount onto."
}

make_bind_source() {
	BIND_SRC=$(mktemp -d "$BATS_TEST_TMPDIR/bind.XXXXXX")
	chmod 777 "$BIND_SRC" # from 05-user on, root inside is not root on the host
	echo from-the-host >"$BIND_SRC/file"
	chmod 644 "$BIND_SRC/file"
	BIND_DST=$(bind_target)
}

check_bind() {
	make_bind_source
	run_in -b "$BIND_SRC:$BIND_DST" sh -c "cat $BIND_DST/file && echo from-inside >$BIND_DST/new"
	expect_ran "-b $BIND_SRC:$BIND_DST, reading and writing $BIND_DST"
	if [[ $output != from-the-host ]]; then
		flunk "$STEP: with -b SRC:DST the host directory SRC should be seen at DST inside:" \
			"  cat $BIND_DST/file should print from-the-host; it printed '$output'." \
			"  Bind-mount SRC onto the rootfs's DST before pivot_root (mount(SRC, DST, NULL, MS_BIND|MS_REC, NULL))."
	fi
	if [[ $(cat "$BIND_SRC/new" 2>/dev/null) != from-inside ]]; then
		flunk "$STEP: with -b SRC:DST a file written at DST inside should appear in SRC on the host."
	fi
}

check_bind_ro() {
	make_bind_source
	run_in -b "$BIND_SRC:$BIND_DST:ro" sh -c "cat $BIND_DST/file || exit 3; if echo x >$BIND_DST/new; then echo write-worked; fi"
	expect_ran "-b $BIND_SRC:$BIND_DST:ro, reading and writing $BIND_DST"
	if [[ $output != from-the-host ]] || [[ -e $BIND_SRC/new ]]; then
		flunk "$STEP: with -b SRC:DST:ro the container should read SRC at DST but not write to it." \
			"  A bind mount is made read-only by a second mount: mount(NULL, DST, NULL, MS_REMOUNT|MS_BIND|MS_RDONLY, NULL)."
	fi
}

# :ro reaches every mount below SRC too, as with Docker 25+: a remount of the bind
# alone (MS_REMOUNT|MS_RDONLY) makes only its top read-only.
check_bind_ro_recursive() {
	if ((EUID != 0)); then skip "needs root to mount a tmpfs below the bind source on the host"; fi
	make_bind_source
	mkdir "$BIND_SRC/sub"
	mount -t tmpfs -o mode=777,size=64k cntlab-nested "$BIND_SRC/sub"
	at_teardown umount "$BIND_SRC/sub"
	run_in -b "$BIND_SRC:$BIND_DST:ro" sh -c "if echo x >$BIND_DST/sub/new; then echo nested-write-worked; fi
		grep -c ' $BIND_DST/sub ' /proc/self/mountinfo"
	if [[ $output == *nested-write-worked* || -e $BIND_SRC/sub/new || ${lines[-1]-} != 1 ]]; then
		flunk "$STEP: with -b SRC:DST:ro, a mount below SRC (here a tmpfs on SRC/sub) should be read-only inside too:" \
			"  writing $BIND_DST/sub/new should fail. A remount reaches only the top mount of the bind; mount_setattr(2)" \
			"  with AT_RECURSIVE and MOUNT_ATTR_RDONLY (Linux 5.12) reaches them all (docs/02-mnt.md, Bind mounts)."
	fi
}

# A DST missing from the rootfs is created there (the contract allows it), and must
# belong to the rootfs's owner like everything else in it: from 05-user on, a user
# namespace maps that one owner to root and shows anyone else's files as nobody's.
check_bind_creates_dst_owned_like_rootfs() {
	local dir=/cntlab-dst-$$-$BATS_TEST_NUMBER want got
	make_bind_source
	at_teardown rm -rf "$ROOTFS$dir"
	run_in -b "$BIND_SRC:$dir/sub" cat "$dir/sub/file"
	expect_ran "-b $BIND_SRC:$dir/sub, where $dir does not exist in the rootfs"
	want=$(stat -c %u:%g "$ROOTFS")
	got=$(stat -c %u:%g "$ROOTFS$dir" "$ROOTFS$dir/sub" 2>&1 | LC_ALL=C sort -u)
	if [[ $got != "$want" ]]; then
		flunk "$STEP: with -b SRC:$dir/sub the program creates $dir and $dir/sub in the rootfs; they should belong to" \
			"  the rootfs's owner, $want, as its / does. On the host they are: ${got//$'\n'/, }." \
			"  A user namespace (05-user) maps only that owner to root, so anyone else's file shows as nobody's there:" \
			"  chown what you create to the owner of the new root (fchownat(2); docs/02-mnt.md, Bind mounts)."
	fi
}

check_overlay() {
	local new=cntlab-overlay-$$-$BATS_TEST_NUMBER victim=cntlab-victim-$$-$BATS_TEST_NUMBER
	echo victim >"$ROOTFS/$victim"
	at_teardown rm -f "$ROOTFS/$victim" "$ROOTFS/$new"
	run_in -o sh -c "echo written >/$new && cat /$new && rm /$victim && test ! -e /$victim && echo removed"
	expect_ran "-o, writing /$new and removing /$victim"
	if [[ $output != $'written\nremoved' ]]; then
		flunk "$STEP: with -o the container should be able to write and delete files (they change only its overlay)."
	fi
	if [[ -e $ROOTFS/$new ]]; then
		flunk "$STEP: with -o, /$new written inside appeared in the rootfs directory on the host." \
			"  The writes must go to the overlay's upper directory, in a tmpfs that vanishes with the container."
	fi
	if [[ ! -e $ROOTFS/$victim ]]; then
		echo victim >"$ROOTFS/$victim"
		flunk "$STEP: with -o, deleting /$victim inside deleted it from the rootfs directory on the host." \
			"  The rootfs must be the overlay's read-only lower directory; deletions become whiteouts in the upper one."
	fi
}

# A bind DST of / would cover the whole new root, and one longer than PATH_MAX
# would be cut short, silently, into another path: both are refused.
check_bind_bad_destination() {
	local long dst
	make_bind_source
	long=/cntlab-long-$$$(printf '/a%.0s' {1..2100}) # 4200 characters of short names
	for dst in / "$long"; do
		run_in -b "$BIND_SRC:$dst" true
		expect_setup_error "-b SRC:DST with DST '${dst:0:40}' (${#dst} characters)"
	done
	if [[ -e $ROOTFS/cntlab-long-$$ ]]; then
		rm -rf "${ROOTFS:?}/cntlab-long-$$"
		flunk "$STEP: a bind destination longer than PATH_MAX should be refused before anything is made; the program" \
			"  created /cntlab-long-$$ in the rootfs (the test removed it): it cut DST short and went on."
	fi
}

# A descriptor the caller left open on a host directory must not cross into the
# container: through it COMMAND would reach the host's files (runc's CVE-2024-21626).
check_only_std_fds_cross() {
	local dir
	dir=$(mktemp -d /tmp/cntlab-fd.XXXXXX) # not below BATS_TEST_TMPDIR: uid 100000 must reach it (05-user)
	at_teardown rm -rf "$dir"
	chmod 755 "$dir"
	echo host-secret >"$dir/secret"
	chmod 644 "$dir/secret"
	run_in sh -c 'ls /proc/self/fd | tr "\n" " "; echo; cat /proc/self/fd/7/secret 2>/dev/null || true' 7<"$dir"
	expect_ran "ls /proc/self/fd and cat /proc/self/fd/7/secret, with fd 7 open on a host directory"
	if [[ ${lines[0]-} != "0 1 2 3 " || $output == *host-secret* ]]; then
		flunk "$STEP: the caller held fd 7 open on the host directory $dir; inside, only 0, 1 and 2 should be open" \
			"  (and the 3 that ls opens itself): ls /proc/self/fd should print '0 1 2 3'. It printed '${lines[0]-}'" \
			"  and cat /proc/self/fd/7/secret printed '${lines[1]-}'. A leaked descriptor leads COMMAND out of its" \
			"  root (runc's CVE-2024-21626): mark every descriptor above 2 close-on-exec before execve," \
			"  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) (docs/02-mnt.md, Descriptors)."
	fi
}

# A negative control: what a step does not isolate yet must still be shared with
# the host; it shows that the tests can see sharing at all, and that a step does
# not quietly do a later step's work.
check_host_files_visible() {
	local marker=$BATS_TEST_TMPDIR/host-file
	echo shared >"$marker"
	run_in cat "$marker"
	if [[ $output != shared ]]; then
		flunk "$STEP: negative control: the mount namespace comes in 02-mnt, so this step's container still sees the" \
			"  host's files: it should read $marker, and it cannot."
	fi
}
