# shellcheck shell=bash
# The variables the runners set (status, output, lines, BG_*) live in helpers.bash.
# shellcheck disable=SC2154,SC2034
#
# checks-image.bash - the checks of 10-image, loaded by helpers.bash.
#
# tests/10-image.bats builds its images once per file (image_setup_file), with umoci
# from the lab's rootfs, in $IMAGES:
#   oci:base    one layer: the rootfs, its IDs shifted back from 100000 to 0
#   oci:full    base, then a layer adding /etc/added, /etc/owned-by-1000 (owner 1000:1000)
#               and /srv/old-file, a layer deleting
#               /etc/hostname (a whiteout), a layer replacing /srv (opaque) with new-file;
#               Env FROM_IMAGE=yes and container=docker, Cmd, WorkingDir /etc
#   oci:user    base with User 1000:1000
#   full.docker.tar, full.oci.tar   oci:full copied by skopeo as a docker-archive
#               (docker save's format before Docker 25) and an oci-archive
# Each test runs the program in a directory of its own (image_setup), where the
# program keeps its store ./layers; the inherited checks of 08-sec run on oci:base
# (IMAGE_ARGS, which rootfs_args in helpers.bash gives them instead of -r).

# ---------------------------------------------------------------- the images

image_setup_file() {
	IMAGES=$BATS_FILE_TMPDIR/images
	local oci=$IMAGES/oci add=$IMAGES/add
	command -v umoci >/dev/null && command -v skopeo >/dev/null || return 0 # image_setup skips
	mkdir -p "$add/layer/etc" "$add/layer/srv" "$add/opaque"
	echo added-by-a-layer >"$add/layer/etc/added"
	echo replaced-by-a-layer-above >"$add/layer/srv/old-file"
	echo owned-by-1000 >"$add/layer/etc/owned-by-1000"
	chown 1000:1000 "$add/layer/etc/owned-by-1000"
	echo only-in-the-new-layer >"$add/opaque/new-file"
	{
		umoci init --layout "$oci"
		umoci new --image "$oci:base"
		umoci insert --uid-map 0:100000:65536 --gid-map 0:100000:65536 --image "$oci:base" "$ROOTFS" /
		# The base manifest, for images made by hand below (image_with_layer).
		cp "$oci/blobs/sha256/$(grep -o 'sha256:[0-9a-f]*' "$oci/index.json" | head -n 1 | cut -d: -f2)" "$IMAGES/base.manifest"
		umoci insert --image "$oci:base" --tag full "$add/layer" /
		umoci insert --image "$oci:full" --whiteout /etc/hostname
		umoci insert --image "$oci:full" --opaque "$add/opaque" /srv
		umoci config --image "$oci:full" --config.env FROM_IMAGE=yes --config.env container=docker \
			--config.cmd sh --config.cmd -c --config.cmd 'echo the-image-cmd-ran' --config.workingdir /etc
		umoci config --image "$oci:base" --tag user --config.user 1000:1000
		skopeo copy -q "oci:$oci:full" "docker-archive:$IMAGES/full.docker.tar"
		skopeo copy -q "oci:$oci:full" "oci-archive:$IMAGES/full.oci.tar"
	} >"$BATS_FILE_TMPDIR/images.log" 2>&1
}

# image_setup: the setup() of tests/10-image.bats, after step_setup: run the program in
# a directory shared by the file's tests, its store kept from test to test.
image_setup() {
	requires umoci skopeo
	IMAGES=$BATS_FILE_TMPDIR/images
	[[ -f $IMAGES/full.oci.tar ]] || fail "$STEP: making the test images with umoci and skopeo failed:" \
		"$(cat "$BATS_FILE_TMPDIR/images.log")"
	IMAGE_ARGS=(-i "$IMAGES/oci:base")
	mkdir -p "$BATS_FILE_TMPDIR/work"
	image_workdir "$BATS_FILE_TMPDIR/work"
}

# image_workdir DIR: run the program in DIR, so its store is DIR/layers. The container's
# root (uid 100000) opens its layers from there.
image_workdir() {
	chmod o+x "$BATS_FILE_TMPDIR" "$BATS_TEST_TMPDIR" "$1"
	cd "$1" || fail "cannot cd to $1"
}

# fresh_store: a directory of this test's own, with no store yet.
fresh_store() {
	mkdir "$BATS_TEST_TMPDIR/work"
	image_workdir "$BATS_TEST_TMPDIR/work"
}

# image_with_layer NAME TAR: a copy of oci:base, at $BATS_TEST_TMPDIR/NAME, with the
# uncompressed tar TAR as a second layer, descriptors written by hand (sed, as no JSON
# tool may be installed). Its config is the base's: for an OCI layout the program checks
# each layer against the manifest's descriptor, not the config's diff_ids.
image_with_layer() {
	local dir=$BATS_TEST_TMPDIR/$1 tar=$2 digest size manifest
	cp -a "$IMAGES/oci" "$dir"
	digest=$(sha256sum "$tar" | cut -d' ' -f1)
	size=$(stat -c %s "$tar")
	cp "$tar" "$dir/blobs/sha256/$digest"
	manifest=$BATS_TEST_TMPDIR/manifest
	sed 's/]}$/,{"mediaType":"application\/vnd.oci.image.layer.v1.tar","digest":"sha256:'"$digest"'","size":'"$size"'}]}/' \
		"$IMAGES/base.manifest" >"$manifest"
	digest=$(sha256sum "$manifest" | cut -d' ' -f1)
	size=$(stat -c %s "$manifest")
	cp "$manifest" "$dir/blobs/sha256/$digest"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s}]}\n' \
		"$digest" "$size" >"$dir/index.json"
}

# ---------------------------------------------------------------- what an image gives

check_image_added_file() {
	run_cnt -i "$IMAGES/oci:full" cat /etc/added
	expect_ran "cat /etc/added"
	if [[ $output != added-by-a-layer ]]; then
		flunk "$STEP: /etc/added, which the image's second layer adds, should read 'added-by-a-layer' inside; it reads '$output'." \
			"  Each layer is unpacked once into the store, and the root is overlay with the layers as its" \
			"  lower directories, the top one first: lowerdir=top:...:base (docs/10-image.md)."
	fi
}

check_image_whiteout() {
	[[ -e $ROOTFS/etc/hostname ]] || fail "$STEP: this test needs /etc/hostname in the rootfs ($ROOTFS)."
	run_cnt -i "$IMAGES/oci:full" sh -c 'test -e /etc/hostname && echo hostname-still-there; cat /etc/added'
	expect_ran "test -e /etc/hostname"
	if [[ $output == *hostname-still-there* ]]; then
		flunk "$STEP: /etc/hostname, which the image's third layer deletes (the whiteout entry etc/.wh.hostname)," \
			"  should not exist inside; it does. A whiteout .wh.NAME must become what overlayfs reads as one:" \
			"  a character device 0/0 named NAME, which hides NAME in the layers below (overlayfs.rst, docs/10-image.md)."
	fi
}

check_image_opaque_dir() {
	run_cnt -i "$IMAGES/oci:full" ls -A /srv
	expect_ran "ls -A /srv"
	if [[ $output != new-file ]]; then
		flunk "$STEP: /srv, which the image's fourth layer replaces (the entry srv/.wh..wh..opq), should hold only new-file," \
			"  not the old-file of the layer below; it holds: ${output//$'\n'/ }. The marker must become the opaque xattr on the layer's srv, in the namespace" \
			"  overlayfs reads when it is mounted in a user namespace with userxattr: user.overlay.opaque=y (docs/10-image.md)."
	fi
}

check_image_env() {
	run_cnt -i "$IMAGES/oci:full" env
	expect_ran env
	if [[ $'\n'$output$'\n' != *$'\nFROM_IMAGE=yes\n'* ]]; then
		flunk "$STEP: the image's config sets Env FROM_IMAGE=yes; env inside does not show it." \
			"  Add each NAME=value of the config's Env to the container's environment (image-spec config.md)."
	fi
	if [[ $'\n'$output$'\n' != *$'\ncontainer=cntlab\n'* ]]; then
		flunk "$STEP: the image's Env also says container=docker, but the lab's container=cntlab must win (docs/cli.md);" \
			"  env inside shows: $(grep '^container=' <<<"$output" || echo 'no container= at all')."
	fi
}

check_image_cmd() {
	run_cnt -i "$IMAGES/oci:full"
	expect_ran "the image's Cmd"
	if [[ $output != *the-image-cmd-ran* ]]; then
		flunk "$STEP: with no COMMAND the container should run the image's Entrypoint and Cmd, here" \
			"  sh -c 'echo the-image-cmd-ran'; it printed: '${output//$'\n'/ }' (image-spec config.md)."
	fi
}

check_image_workdir() {
	run_cnt -i "$IMAGES/oci:full" pwd
	expect_ran pwd
	if [[ $output != /etc ]]; then
		flunk "$STEP: the image's WorkingDir is /etc, so COMMAND should start there; pwd printed '$output'." \
			"  chdir to WorkingDir after pivot_root, before exec (image-spec config.md)."
	fi
}

check_image_user() {
	run_cnt -i "$IMAGES/oci:user" sh -c 'id -u; id -g'
	expect_ran "id -u; id -g"
	if [[ ${lines[*]} != "1000 1000" ]]; then
		flunk "$STEP: the image's User is 1000:1000, so id -u and id -g should print 1000 and 1000; they print: ${lines[*]}." \
			"  setresgid, then setresuid, last before exec (image-spec config.md; a named user would need the image's /etc/passwd)."
	fi
}

check_image_owners() {
	run_cnt -i "$IMAGES/oci:full" stat -c '%u:%g' /bin/busybox /etc/added /etc/owned-by-1000
	expect_ran "stat -c %u:%g"
	if [[ ${lines[*]} != "0:0 0:0 1000:1000" ]]; then
		flunk "$STEP: inside, each file should belong to its owner in the image: 0:0 for /bin/busybox and /etc/added," \
			"  1000:1000 for /etc/owned-by-1000; it shows: ${lines[*]}. Shift each entry's owner by 100000 into the" \
			"  container's map (0 100000 65536) as you unpack it, as make rootfs shifts ./rootfs (docs/10-image.md)."
	fi
}

# The full image's look inside, in one run: the added file, the whiteout, the opaque /srv
# and the Cmd; for the same image in another format.
expect_full_image() {
	local want
	want=$(printf '%s\n' added-by-a-layer hostname-gone new-file the-image-cmd-ran)
	if [[ $output != "$want" ]]; then
		flunk "$STEP: $1 should run like the OCI layout it was copied from: /etc/added there, /etc/hostname gone," \
			"  /srv holding only new-file, and its Cmd; expected the lines: ${want//$'\n'/ }; got: ${output//$'\n'/ }."
	fi
}

check_image_docker_archive() {
	run_cnt -i "$IMAGES/full.docker.tar" sh -c 'cat /etc/added; test -e /etc/hostname || echo hostname-gone; ls -A /srv; echo the-image-cmd-ran'
	expect_ran "the docker-archive"
	expect_full_image "the same image as a docker-archive (manifest.json with Config and Layers, skopeo copy docker-archive:)"
}

check_image_oci_archive() {
	run_cnt -i "$IMAGES/full.oci.tar" sh -c 'cat /etc/added; test -e /etc/hostname || echo hostname-gone; ls -A /srv; echo the-image-cmd-ran'
	expect_ran "the oci-archive"
	expect_full_image "the same image as an oci-archive (a tar of the layout)"
}

check_image_tag_picks() {
	run_cnt -i "$IMAGES/oci:full" cat /etc/added
	expect_ran "PATH:full"
	run_cnt -i "$IMAGES/oci" true
	if ((status != 125)); then
		flunk "$STEP: the layout holds three images (base, full, user): -i PATH without :TAG cannot pick one," \
			"  and should exit 125 saying so; it exited $status."
	fi
}

# ---------------------------------------------------------------- the store

check_image_second_run_unpacks_nothing() {
	local stamp=$BATS_TEST_TMPDIR/stamp changed
	fresh_store
	run_cnt -i "$IMAGES/oci:full" true
	expect_ran "true, the first time"
	if [[ ! -d layers ]]; then
		flunk "$STEP: the first run should have unpacked the layers into ./layers, the store (docs/cli.md); there is no ./layers."
	fi
	touch "$stamp"
	sleep 0.01
	run_cnt -i "$IMAGES/oci:full" sh -c 'echo write-in-the-container >/etc/added; rm /bin/true'
	expect_ran "a second run that writes and deletes"
	# Whatever the program or the container creates, changes or deletes in the store
	# changes the ctime of a file or of its directory after the stamp.
	changed=$(find layers -cnewer "$stamp" | head -n 5)
	if [[ -n $changed ]]; then
		flunk "$STEP: a second run of the same image should unpack nothing and change nothing in the store;" \
			"  these changed: ${changed//$'\n'/ }. Unpack a layer only when its digest's directory is missing," \
			"  and keep the container's writes in the overlay's tmpfs layer (docs/10-image.md)."
	fi
}

# expect_refused WHAT WORD: the last run exited 125 with one line naming WORD, and left
# nothing but the store in the working directory, and no half-unpacked layer in it.
expect_refused() {
	local extra half
	expect_setup_error "$1"
	if [[ ${stderr_lines[0]} != *"$2"* ]]; then
		flunk "$STEP: $1: the error should name $2; it reads: ${stderr_lines[0]}"
	fi
	extra=$(find . -mindepth 1 -maxdepth 1 ! -name layers)
	half=$(find layers -mindepth 1 -maxdepth 1 ! -name sha256 2>/dev/null)
	if [[ -n $extra || -n $half ]]; then
		flunk "$STEP: $1 should leave nothing outside the store, and nothing half-unpacked in it; found: ${extra//$'\n'/ } ${half//$'\n'/ }." \
			"  Unpack into a temporary directory in the store, rename it when done, remove it on failure."
	fi
}

# The base layer's blob replaced by another layer's, a valid gzipped tar: only the
# digest (and the size) can tell. (A byte flipped in the gzip stream would be caught by
# gunzip's own check, with or without the digest.)
check_image_tampered_blob() {
	local blob other
	cp -a "$IMAGES/oci" "$BATS_TEST_TMPDIR/tampered"
	blob=$(find "$BATS_TEST_TMPDIR/tampered/blobs/sha256" -type f -size +100k | head -n 1)
	other=$(find "$BATS_TEST_TMPDIR/tampered/blobs/sha256" -type f -size -2k -exec sh -c 'gzip -t "$1" 2>/dev/null' sh {} \; -print | head -n 1)
	cp "$other" "$blob"
	fresh_store
	run_cnt -i "$BATS_TEST_TMPDIR/tampered:base" true
	expect_refused "a layer blob replaced by another layer's" "${blob##*/}"
	if [[ -n $(find layers/sha256 -mindepth 1 -maxdepth 1 -name "${blob##*/}") ]]; then
		flunk "$STEP: the tampered layer ${blob##*/} was unpacked into the store: check each blob's sha256 before use."
	fi
}

check_image_truncated_archive() {
	local size
	size=$(stat -c %s "$IMAGES/full.oci.tar")
	head -c $((size / 2)) "$IMAGES/full.oci.tar" >"$BATS_TEST_TMPDIR/truncated.tar"
	fresh_store
	run_cnt -i "$BATS_TEST_TMPDIR/truncated.tar" true
	expect_refused "an oci-archive cut in half" "truncated.tar"
}

check_image_dotdot_entry() {
	local src=$BATS_TEST_TMPDIR/src
	mkdir -p "$src/a/b"
	echo escaped >"$src/escaped-by-a-layer"
	# -P keeps the leading ../ in the name, as an attacker's tar would.
	tar -C "$src/a/b" -cPf "$BATS_TEST_TMPDIR/evil.tar" ../../escaped-by-a-layer
	image_with_layer dotdot "$BATS_TEST_TMPDIR/evil.tar"
	fresh_store
	run_cnt -i "$BATS_TEST_TMPDIR/dotdot" true
	expect_refused "a layer with the entry ../../escaped-by-a-layer" "../../escaped-by-a-layer"
	if [[ -n $(find "$BATS_TEST_TMPDIR" -name escaped-by-a-layer ! -path "$src/*") ]]; then
		flunk "$STEP: the layer's entry ../../escaped-by-a-layer was written outside the layer:" \
			"  $(find "$BATS_TEST_TMPDIR" -name escaped-by-a-layer ! -path "$src/*")"
	fi
}

check_image_symlink_entry() {
	local one=$BATS_TEST_TMPDIR/one two=$BATS_TEST_TMPDIR/two outside=$BATS_TEST_TMPDIR/outside
	mkdir -p "$one" "$two/link" "$outside"
	ln -s "$outside" "$one/link"
	echo written-through-a-link >"$two/link/pwned"
	tar -C "$one" -cf "$BATS_TEST_TMPDIR/evil.tar" link
	tar -C "$two" -rf "$BATS_TEST_TMPDIR/evil.tar" link/pwned
	image_with_layer symlink "$BATS_TEST_TMPDIR/evil.tar"
	fresh_store
	run_cnt -i "$BATS_TEST_TMPDIR/symlink" true
	expect_refused "a layer whose entry link/pwned goes through its symbolic link link -> $outside" "link"
	if [[ -e $outside/pwned ]]; then
		flunk "$STEP: the layer wrote $outside/pwned on the host, through its symbolic link: refuse to write through one."
	fi
}

# ---------------------------------------------------------------- the command line

check_image_with_rootfs() {
	run_cnt -i "$IMAGES/oci:base" -r "$ROOTFS" true
	expect_setup_error "-i and -r together"
}

check_image_missing() {
	run_cnt -i "$BATS_TEST_TMPDIR/no-such-image" true
	expect_setup_error "an image that does not exist"
	if [[ ${stderr_lines[0]} != *no-such-image* ]]; then
		flunk "$STEP: the error for a missing image should name it; it reads: ${stderr_lines[0]}"
	fi
}
