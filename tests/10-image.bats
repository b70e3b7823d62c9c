#!/usr/bin/env bats
# 10-image: everything of 08-sec, with -i: the root is overlay over an OCI image's layers,
# each verified and unpacked once into the store ./layers.
# feature: images (OCI layers under overlay)
# The tests make their images with umoci and skopeo from the lab's rootfs
# (checks-image.bash). Each test is one behaviour; the checks live in checks-*.bash,
# shared by all steps. The checks inherited from 08-sec run on an image.

load helpers

# shellcheck disable=SC2034 # read by check_own_mounts (checks-mounts.bash)
EXTRA_MOUNTS_RE='^/(sys(/firmware)?|sys/devices/virtual/powercap|proc/(kcore|keys|timer_list|timer_stats|sched_debug|latency_stats|interrupts|acpi|asound|scsi|sys|sysrq-trigger|irq|bus|fs))$'

setup_file() { image_setup_file; }
setup() {
	step_setup 10-image
	image_setup
}
teardown() { step_teardown; }

# --- images: layers under overlay, the config, the store (10-image)
@test "10-image: [feature] a file an upper layer adds is there" { check_image_added_file; }
@test "10-image: [feature] a file an upper layer deletes (a whiteout) is gone" { check_image_whiteout; }
@test "10-image: [feature] a directory an upper layer replaces (opaque) holds only the new content" { check_image_opaque_dir; }
@test "10-image: [feature] each file belongs inside to its owner in the image: root, or uid 1000" { check_image_owners; }
@test "10-image: [feature] the config's Env applies, and container=cntlab wins over the image's" { check_image_env; }
@test "10-image: [feature] with no COMMAND the config's Cmd runs" { check_image_cmd; }
@test "10-image: [feature] COMMAND starts in the config's WorkingDir" { check_image_workdir; }
@test "10-image: [feature] the config's numeric User applies" { check_image_user; }
@test "10-image: [feature] the same image as a docker-archive runs the same" { check_image_docker_archive; }
@test "10-image: [feature] the same image as an oci-archive runs the same" { check_image_oci_archive; }
@test "10-image: [feature] PATH:TAG picks one image of several; without TAG it exits 125" { check_image_tag_picks; }
@test "10-image: [feature] a second run unpacks nothing, and no run changes the store" { check_image_second_run_unpacks_nothing; }
@test "10-image: [feature] a tampered layer blob exits 125, names it, and leaves nothing outside the store" { check_image_tampered_blob; }
@test "10-image: [feature] a truncated archive exits 125 and leaves nothing outside the store" { check_image_truncated_archive; }
@test "10-image: [feature] a layer entry with ../ exits 125, names it, and writes nothing outside the store" { check_image_dotdot_entry; }
@test "10-image: [feature] a layer entry through its own symbolic link exits 125 and writes nothing through it" { check_image_symlink_entry; }

# --- least privilege (08-sec), on an image
@test "10-image: [earlier] the bounding, permitted and effective sets are Docker's 14 capabilities; inheritable and ambient are empty" { check_docker_capabilities; }
@test "10-image: [earlier] no_new_privs is set and a seccomp filter is loaded" { check_no_new_privs_and_seccomp; }
@test "10-image: [earlier] hostname cannot be changed inside (no CAP_SYS_ADMIN)" { check_sethostname_denied; }
@test "10-image: [earlier] unshare -U fails with Operation not permitted (seccomp)" { check_unshare_denied; }
@test "10-image: [earlier] mount -t tmpfs fails with Operation not permitted" { check_mount_denied; }
@test "10-image: [earlier] chmod u+s and g+s fail with Operation not permitted; chmod 644 works" { check_setuid_chmod_denied; }
@test "10-image: [earlier] /proc/kcore, /proc/timer_list and the other sensitive /proc files yield nothing" { check_proc_masked; }
@test "10-image: [earlier] writing /proc/sys/kernel/hostname fails: /proc/sys is read-only" { check_proc_sys_read_only; }
@test "10-image: [earlier] /sys is read-only and /sys/firmware is empty" { check_sys_read_only; }

# --- cgroups (07-cgroups), the network (06-net), user IDs (05-user), IPC (04-ipc)
@test "10-image: [earlier] /proc/self/cgroup inside shows / for every hierarchy" { check_cgroup_ns_root; }
@test "10-image: [earlier] ip a shows lo up and eth0 with 10.200.S.2/30, ip route the default route via 10.200.S.1" { check_own_network; }
@test "10-image: [earlier] id -u and id -g print 0 inside" { check_ids_are_root; }
@test "10-image: [earlier] /proc/self/uid_map and gid_map show the map 0 100000 65536" { check_uid_map_shown; }
@test "10-image: [earlier] ipcs shows none of the host's IPC objects" { check_own_ipc; }

# --- process IDs (03-pid), the mount table (02-mnt), the hostname (01-uts)
@test "10-image: [earlier] COMMAND is PID 1" { check_command_is_pid1; }
@test "10-image: [earlier] ps lists only the container's processes" { check_ps_only_container; }
@test "10-image: [earlier] mount lists only the container's own mounts" { check_own_mounts; }
@test "10-image: [earlier] the host's old root is gone" { check_old_root_gone; }
@test "10-image: [earlier] /dev has only null, zero, full, random, urandom and tty" { check_minimal_dev; }
@test "10-image: [earlier] the environment is clean: PATH, HOME, TERM and container=cntlab" { check_clean_env; }
@test "10-image: [earlier] the working directory is /" { check_workdir_root; }
@test "10-image: [earlier] the container has the hostname given with -n" { check_own_hostname; }

# --- the command line
@test "10-image: [contract] -i and -r together exit 125 with one line on stderr" { check_image_with_rootfs; }
@test "10-image: [contract] an image that does not exist exits 125 and names it" { check_image_missing; }
@test "10-image: [contract] -h prints the usage on stdout and exits 0" { check_help; }
@test "10-image: [contract] an unknown option exits 125 with one line on stderr" { check_bad_option; }
@test "10-image: [contract] -v narrates each setup action on stderr with '=> '" { check_verbose; }
@test "10-image: [contract] without -v a good run prints nothing of its own" { check_quiet; }
@test "10-image: [contract] with no COMMAND and no Cmd in the image it runs /bin/sh" { check_default_command; }

# --- exit status
@test "10-image: [contract] the exit status is COMMAND's own" { check_status_own; }
@test "10-image: [contract] a COMMAND killed by SIGKILL gives 137" { check_status_signal; }
@test "10-image: [contract] a COMMAND that does not exist gives 127" { check_status_not_found; }
@test "10-image: [contract] a COMMAND that cannot be executed gives 126" { check_status_not_executable; }
@test "10-image: [contract] the exit status survives every path: own, after a forwarded signal, 128+N, 125, 126, 127" { check_exit_status_paths; }

# --- the lifecycle
@test "10-image: [contract] SIGTERM to the program ends the container within 4 s and leaves nothing" { check_sigterm_ends_container; }
@test "10-image: [contract] SIGINT to the program ends the container within 4 s and leaves nothing" { check_sigint_ends_container; }
@test "10-image: [contract] SIGKILL to the program kills the container within 2 s; the next run removes its cgroup" { check_sigkill_kills_container; }
@test "10-image: [contract] nothing is left on the host after the container exits" { check_nothing_left_behind; }
