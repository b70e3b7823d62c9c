/* cntlab 09-rootless: the same container, run by an ordinary user (bonus step).
 *
 * A container is an ordinary process that the kernel shows a world of its own. This file is
 * the previous step plus one part of that world (`make diff STEP=NN`). Options and exit
 * statuses: docs/cli.md. Read alongside: namespaces(7), clone(2).
 *
 * What runs, in order. The supervisor, main():
 *   parse_options, check_not_root
 *   check_rootfs
 *   choose_id_maps, choose_network
 *   create_cgroup
 *   start_container: clone() into new namespaces
 *   setup_from_outside
 *   supervise: forward signals, pause on SIGTSTP, wait, return the exit status
 * The container's first process, container_main():
 *   become_root
 *   set_hostname
 *   configure_network
 *   enter_rootfs, set_environment
 *   drop_privileges
 *   exec_command: become COMMAND
 */
#define _GNU_SOURCE
#include <errno.h>
#include <error.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <grp.h>
#include <arpa/inet.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <dirent.h>
#include <ctype.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <linux/sched.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <pwd.h>
#include <spawn.h>

#include "sync.h"
#include "watchdog.h"
#include "netns.h"

static char step[] = "09-rootless"; /* error(3) and usage() print it */

enum { MAX_BINDS = 16 };

/* One --bind SRC:DST[:ro]. */
struct bind {
        char *src; /* absolute, resolved on the host before anything is mounted */
        char *dst; /* absolute, as seen inside the container */
        int read_only;
};

/* Everything the supervisor knows about the one container it runs. */
struct container {
        char hostname[65];
        char **argv; /* COMMAND and its arguments */
        pid_t pid; /* the container's first process, as the host sees it */
        sigset_t signals; /* what the supervisor waits for: forwarded ones and SIGCHLD */
        sigset_t old_mask; /* the signal mask before we blocked those */
        const char *rootfs;
        int overlay;
        struct bind binds[MAX_BINDS];
        int nbinds;
        struct sync sync;
        long subuid, subgid, subcount; /* the user's first subordinate ranges, or 0 */
        char newuidmap[PATH_MAX], newgidmap[PATH_MAX], slirp4netns[PATH_MAX];
        int user_net; /* eth0 through slirp4netns, or lo only */
        pid_t net_helper; /* slirp4netns, as the host sees it */
        int net_exit_fd; /* slirp4netns exits when this, our end, is closed */
        long long memory; /* bytes */
        long pids; /* tasks */
        long cpu_quota; /* microseconds per 100 ms period (sched-design-CFS), 0 = none */
        const char *limit_option; /* the last -m, -p or -c given, if any */
        char cgroup[PATH_MAX]; /* cntlab/<PID> under our own cgroup, or "" if none */
        int paused; /* frozen by SIGTSTP, until SIGCONT */
        pid_t supervisor;
};

static struct container container;
static int verbose;

/* -v: narrate each setup action, so a learner can follow the code as it runs. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
        va_list ap;

        if (!verbose)
                return;
        va_start(ap, fmt);
        fputs("=> ", stderr);
        vfprintf(stderr, fmt, ap);
        fputs("\n", stderr);
        va_end(ap);
}

static void usage(FILE *out)
{
        fprintf(out, "Usage: %s [OPTIONS] [--] [COMMAND [ARG...]]\n", step);
        fputs("Run COMMAND (default /bin/sh) in a container.\n\n"
              "  -n, --hostname NAME    hostname inside (default cnt-XXXXX)\n"
              "  -v, --verbose          narrate each setup action on stderr\n"
              "  -h, --help             show this help and exit\n"
              "  -r, --rootfs DIR       root filesystem (default ./rootfs)\n"
              "  -o, --overlay          keep DIR unchanged: writes go to a layer in memory\n"
              "  -b, --bind SRC:DST[:ro]  bind-mount host path SRC at DST (repeatable)\n"
              "  -m, --memory SIZE      memory limit: bytes or with K, M, G (default 256M)\n"
              "  -p, --pids N           maximum number of tasks (default 64)\n"
              "  -c, --cpus N           CPU time in CPUs, e.g. 0.5 (default no limit)\n"
              "\nExit status: COMMAND's own, 128+N if killed by signal N, 125 if the\n"
              "container could not be set up, 126 if COMMAND cannot run, 127 if not found.\n",
              out);
}

static void set_hostname_option(struct container *c, const char *name)
{
        size_t len = strlen(name);

        if (len < 1 || len > 64 ||
            strspn(name, "abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != len)
                error(125, 0, "invalid hostname '%s': use 1-64 letters, digits, '-' or '.'", name);
        memcpy(c->hostname, name, len + 1);
}

/* A default name like Docker's random ids: cnt- and 5 hex digits from getrandom(2). */
static void set_default_hostname(struct container *c)
{
        unsigned int r = 0;

        if (getrandom(&r, sizeof(r), 0) < 0)
                error(125, errno, "getrandom");
        snprintf(c->hostname, sizeof(c->hostname), "cnt-%05x", r & 0xfffff);
}

/* --bind SRC:DST[:ro]: check it now, before anything is created. SRC is resolved here
 * because the mounts happen later, from inside the new root. */
static void add_bind_option(struct container *c, char *spec)
{
        char *dst = strchr(spec, ':');
        char *mode = dst ? strchr(dst + 1, ':') : NULL;
        struct bind *b;

        if (!dst || dst == spec || dst[1] != '/' || (mode && strcmp(mode, ":ro") != 0))
                error(125, 0, "invalid --bind '%s': expected SRC:DST or SRC:DST:ro, DST absolute",
                      spec);
        if (c->nbinds == MAX_BINDS)
                error(125, 0, "too many --bind options (at most %d)", MAX_BINDS);
        b = &c->binds[c->nbinds];
        *dst++ = '\0';
        if (mode)
                *mode = '\0';
        /* Not the whole new root (that is -r), nor so long that it would be cut short. */
        if (dst[strspn(dst, "/")] == '\0' || strlen(dst) >= PATH_MAX)
                error(125, 0, "invalid --bind destination '%.40s': / or over PATH_MAX", dst);
        b->src = realpath(spec, NULL);
        if (!b->src)
                error(125, errno, "bind source %s", spec);
        b->dst = dst;
        b->read_only = mode != NULL;
        c->nbinds++;
}

/* The value of -m, -p or -c: above 0, at most MAX, and of one KIND: bytes, with a binary K, M
 * or G (1K is 1024, as the kernel counts memory), a whole number, or a fraction. */
enum number { BYTES, WHOLE, FRACTION };

static double parse_number(const char *option, const char *arg, enum number kind, double max)
{
        static const char *const expected[] = {"bytes or a number with K, M or G",
                                               "a whole number from 1",
                                               "a number above 0, e.g. 0.5"};
        static const char suffixes[] = "KMG";
        const char *suffix;
        char *end;
        double n;

        errno = 0;
        n = strtod(arg, &end);
        suffix = kind == BYTES && *end ? strchr(suffixes, toupper((unsigned char)*end)) : NULL;
        if (suffix) {
                n *= (double)(1LL << (10 * (suffix - suffixes + 1)));
                end++;
        }
        /* Digits, a point and K, M, G only: strtod(3) would take spaces, hex and exponents. */
        if (errno || end == arg || *end || arg[strspn(arg, "0123456789.KMGkmg")] ||
            !(n > 0 && n <= max) || (kind != FRACTION && n != (double)(long long)n))
                error(125, 0, "invalid --%s '%s': expected %s", option, arg, expected[kind]);
        return n;
}

static void parse_options(struct container *c, int argc, char **argv)
{
        /* One option per line, so a step that adds options adds lines. */
        // clang-format off
        static const struct option options[] = {
            {"hostname", required_argument, NULL, 'n'},
            {"verbose", no_argument, NULL, 'v'},
            {"help", no_argument, NULL, 'h'},
            {"rootfs", required_argument, NULL, 'r'},
            {"overlay", no_argument, NULL, 'o'},
            {"bind", required_argument, NULL, 'b'},
            {"memory", required_argument, NULL, 'm'},
            {"pids", required_argument, NULL, 'p'},
            {"cpus", required_argument, NULL, 'c'},
            {NULL, 0, NULL, 0},
        };
        // clang-format on
        static char *default_command[] = {"/bin/sh", NULL};
        int opt;

        set_default_hostname(c);
        c->rootfs = "rootfs";
        c->memory = 256LL << 20;
        c->pids = 64;
        /* "+": stop at the first word that is not an option, COMMAND; ":" after it: tell a
         * missing value (':') from an unknown option ('?'), both ours to report in one line. */
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "+:n:vhr:ob:m:p:c:", options, NULL)) != -1) {
                switch (opt) {
                case 'n': set_hostname_option(c, optarg); break;
                case 'v': verbose = 1; break;
                case 'h': usage(stdout); exit(0);
                case 'r': c->rootfs = optarg; break;
                case 'o': c->overlay = 1; break;
                case 'b': add_bind_option(c, optarg); break;
                case 'm':
                        c->memory = (long long)parse_number("memory", optarg, BYTES, 1LL << 50);
                        c->limit_option = "--memory";
                        break;
                case 'p':
                        c->pids = (long)parse_number("pids", optarg, WHOLE, 4194304);
                        c->limit_option = "--pids";
                        break;
                case 'c':
                        c->cpu_quota =
                            (long)(parse_number("cpus", optarg, FRACTION, 1024) * 100000);
                        if (c->cpu_quota < 1000) /* the kernel's smallest quota (sched-bwc.rst) */
                                error(125, 0, "invalid --cpus '%s': at least 0.01", optarg);
                        c->limit_option = "--cpus";
                        break;
                case ':':
                        error(125, 0, "option %s needs a value: see --help", argv[optind - 1]);
                        break;
                default: error(125, 0, "unknown option %s: see --help", argv[optind - 1]);
                }
        }
        c->argv = optind < argc ? argv + optind : default_command;
}

/* This step needs no privilege. As root the one-line map would be "0 0 1": root inside would
 * be the host's root. */
static void check_not_root(void)
{
        if (geteuid() == 0)
                error(125, 0,
                      "running as root: 09-rootless is for ordinary users; as root, run 08-sec");
}

static void check_rootfs(struct container *c)
{
        struct stat st;

        if (stat(c->rootfs, &st) < 0)
                error(125, errno, "rootfs %s", c->rootfs);
        if (!S_ISDIR(st.st_mode))
                error(125, 0, "rootfs %s: not a directory", c->rootfs);
}

/* Write TEXT to PATH in one write(2), as /proc/PID/uid_map and friends require; -1 on failure. */
static int write_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : write(fd, text, strlen(text));
        int err = errno;

        if (fd >= 0)
                close(fd);
        errno = err;
        return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* user_namespaces(7): once the supervisor has written the maps, uid/gid 0 exist here (the
 * user outside). Until then we are the overflow id 65534, with all capabilities, which count
 * only in here. */
static void become_root(struct container *c)
{
        say("setresgid(0) and setresuid(0): root inside, the user who ran us outside");
        if (setresgid(0, 0, 0) < 0)
                error(125, errno, "setresgid 0");
        if (setresuid(0, 0, 0) < 0)
                error(125, errno, "setresuid 0");
        /* 08 dropped the user's supplementary groups on the host, which needs CAP_SETGID
         * there. Root in here may, if setgroups is "allow": with newgidmap's map. The one-line
         * map needs "deny" (write_id_maps()), and the groups stay, shown as 65534. */
        if (!c->subcount)
                return;
        say("setgroups(0, NULL): drop the user's supplementary groups");
        if (setgroups(0, NULL) < 0)
                error(125, errno, "setgroups");
}

static void set_hostname(struct container *c)
{
        say("sethostname %s: the UTS namespace is ours, the host keeps its name", c->hostname);
        if (sethostname(c->hostname, strlen(c->hostname)) < 0)
                error(125, errno, "sethostname %s", c->hostname);
}

/* The container's half of the network. A netlink socket acts on the network namespace it was
 * opened in, ours, so it reaches only lo and the tap device eth0 slirp4netns made here. Its
 * network is virtual (slirp4netns(1)): we are 10.0.2.100, its gateway 10.0.2.2 leads to the
 * host's 127.0.0.1, 10.0.2.3 answers DNS. None of them is an address on the host. */
static void configure_network(struct container *c)
{
        struct in_addr addr = {htonl(0x0a000264)}; /* 10.0.2.100 */
        struct in_addr gateway = {htonl(0x0a000202)}; /* 10.0.2.2 */
        struct mnl_socket *nl = netns_open();
        int lo, eth0;

        if (!nl)
                error(125, errno, "netlink socket");
        say("lo up");
        lo = netns_link_index(nl, "lo");
        if (lo < 0 || netns_link_up(nl, lo) < 0)
                error(125, errno, "netlink RTM_NEWLINK lo up");
        if (!c->user_net) {
                netns_close(nl);
                return;
        }
        say("eth0 %s/24 up, default route via slirp4netns at 10.0.2.2", inet_ntoa(addr));
        eth0 = netns_link_index(nl, "eth0");
        if (eth0 < 0)
                error(125, errno, "netlink RTM_GETLINK eth0");
        if (netns_addr_add(nl, eth0, addr, 24) < 0)
                error(125, errno, "netlink RTM_NEWADDR eth0");
        if (netns_link_up(nl, eth0) < 0)
                error(125, errno, "netlink RTM_NEWLINK eth0 up");
        if (netns_route_add_default(nl, gateway) < 0)
                error(125, errno, "netlink RTM_NEWROUTE default");
        netns_close(nl);
}

static void mount_or_die(const char *src, const char *dst, const char *type, unsigned long flags,
                         const char *data)
{
        if (mount(src, dst, type, flags, data) < 0)
                error(125, errno, "mount %s on %s", src ? src : type ? type : "(new flags)", dst);
}

/* Mounts are shared with the host by default on systemd machines (mount_namespaces(7),
 * "shared subtrees"): without this, every mount below would appear on the host too. */
static void make_mounts_private(void)
{
        say("make every mount private, so nothing we mount propagates to the host");
        mount_or_die(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

/* Mount the new root and enter it. pivot_root(2) needs a mount point, so the rootfs is bound
 * onto itself. With --overlay the new root is an overlayfs over the read-only rootfs, with a
 * tmpfs as its only writable layer: writes stay in memory and vanish with the container
 * (filesystems/overlayfs.rst). The tmpfs covers the rootfs path itself, reached through a
 * descriptor opened first, so nothing is created on the host. */
static void mount_root(struct container *c)
{
        char opts[64];
        int lower;

        if (!c->overlay) {
                say("bind-mount %s onto itself: pivot_root needs a mount point", c->rootfs);
                mount_or_die(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL);
                if (chdir(c->rootfs) < 0)
                        error(125, errno, "chdir %s", c->rootfs);
                return;
        }
        lower = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (lower < 0)
                error(125, errno, "open %s", c->rootfs);
        say("overlay: %s read-only below, a tmpfs layer above", c->rootfs);
        mount_or_die("tmpfs", c->rootfs, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755");
        if (chdir(c->rootfs) < 0 || mkdir("upper", 0755) < 0 || mkdir("work", 0755) < 0 ||
            mkdir("merged", 0755) < 0)
                error(125, errno, "make the overlay's directories");
        snprintf(opts, sizeof(opts), "lowerdir=/proc/self/fd/%d,upperdir=upper,workdir=work",
                 lower);
        mount_or_die("overlay", "merged", "overlay", 0, opts);
        close(lower);
        if (chdir("merged") < 0)
                error(125, errno, "chdir into the overlay");
}

/* A fresh procfs: it shows the processes of the PID namespace that mounts it (proc(5)). */
static void mount_proc(void)
{
        say("mount a fresh proc on /proc");
        mount_or_die("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* A minimal /dev: a tmpfs with the six devices a program expects, bound from the host's,
 * because from step 05 on a user namespace may bind device nodes but not mknod(2) them. */
static void mount_dev(void)
{
        static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
        char host[32], inside[32];

        say("mount a tmpfs on /dev with null zero full random urandom tty from the host");
        mount_or_die("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k");
        for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
                snprintf(host, sizeof(host), "/dev/%s", devices[i]);
                snprintf(inside, sizeof(inside), "dev/%s", devices[i]);
                if (mknod(inside, S_IFREG | 0644, 0) < 0) /* an empty file to bind onto */
                        error(125, errno, "create %s", inside);
                mount_or_die(host, inside, NULL, MS_BIND, NULL);
        }
}

/* mqueue shows the POSIX message queues of the IPC namespace that mounts it (mq_overview(7)). */
static void mount_mqueue(void)
{
        say("mount this IPC namespace's mqueue on /dev/mqueue");
        if (mkdir("dev/mqueue", 0755) < 0)
                error(125, errno, "mkdir /dev/mqueue");
        mount_or_die("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* sysfs shows the devices of the network namespace that mounts it, and a user namespace's
 * root may mount it only if that namespace owns the network namespace: this step is the first
 * where /sys can exist. Read-only, as Docker mounts it. */
static void mount_sys(void)
{
        say("mount sysfs read-only on /sys");
        mount_or_die("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* Open PATH (absolute, as seen inside) below the new root, the current directory, creating
 * what is missing. Each component is opened with openat2(RESOLVE_BENEATH) from the one
 * before, so neither ".." nor a symbolic link leads outside. What we create belongs to the
 * new root's owner: a user namespace (step 05) maps that one owner to root and shows anyone
 * else's files as nobody's. */
static int open_in_root(const char *path, int is_dir)
{
        struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH};
        char copy[PATH_MAX], *name, *rest = NULL;
        int dir = open(".", O_PATH | O_CLOEXEC);
        struct stat root;

        if (dir < 0 || fstat(dir, &root) < 0)
                error(125, errno, "open the new root");
        snprintf(copy, sizeof(copy), "%s", path);
        for (name = strtok_r(copy, "/", &rest); name; name = strtok_r(NULL, "/", &rest)) {
                int last = rest[strspn(rest, "/")] == '\0';
                int fd = (int)syscall(SYS_openat2, dir, name, &how, sizeof(how));

                if (fd < 0 && errno == ENOENT) {
                        if ((last && !is_dir ? mknodat(dir, name, S_IFREG | 0644, 0)
                                             : mkdirat(dir, name, 0755)) < 0 ||
                            fchownat(dir, name, root.st_uid, root.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                                error(125, errno, "bind destination %s: create %s", path, name);
                        fd = (int)syscall(SYS_openat2, dir, name, &how, sizeof(how));
                }
                if (fd < 0 && errno == EXDEV) /* what RESOLVE_BENEATH says to an escape */
                        error(125, 0, "bind destination %s leads outside the container's root",
                              path);
                if (fd < 0)
                        error(125, errno, "bind destination %s", path);
                close(dir);
                dir = fd;
        }
        return dir;
}

/* The flags the kernel locks on a mount we did not make (nosuid, nodev, noexec and the
 * atime ones) must be repeated when remounting it read-only, or the remount fails. */
static unsigned long locked_flags(const char *path)
{
        struct statvfs st;
        unsigned long flags = 0;

        if (statvfs(path, &st) < 0)
                error(125, errno, "statvfs %s", path);
        flags |= (st.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
        flags |= (st.f_flag & ST_NODEV) ? MS_NODEV : 0;
        flags |= (st.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
        flags |= (st.f_flag & ST_NOATIME) ? MS_NOATIME : 0;
        flags |= (st.f_flag & ST_NODIRATIME) ? MS_NODIRATIME : 0;
        flags |= (st.f_flag & ST_RELATIME) ? MS_RELATIME : 0;
        return flags;
}

/* mount(2) on the file FD has open, then close it. The target /proc/self/fd/FD is that
 * very file: the kernel does not resolve DST, the path it was opened by, once more. */
static void mount_on_fd(const char *src, int fd, const char *dst, unsigned long flags)
{
        char target[32];

        snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
        if (mount(src, target, NULL, flags, NULL) < 0)
                error(125, errno, "mount %s on %s", src ? src : "(read-only)", dst);
        close(fd);
}

/* Bind SRC at DST below the new root; read-only takes a second call on the new mount, which
 * is on top of DST now and so is opened anew. mount_setattr(2) with AT_RECURSIVE (Linux 5.12)
 * makes it and every mount below it read-only; a remount, all an older kernel has, only the
 * top one, and -v says so. */
static void bind_mount(const char *src, const char *dst, int read_only)
{
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
        struct stat st;
        int fd;

        if (stat(src, &st) < 0)
                error(125, errno, "bind source %s", src);
        mount_on_fd(src, open_in_root(dst, S_ISDIR(st.st_mode)), dst, MS_BIND | MS_REC);
        if (!read_only)
                return;
        fd = open_in_root(dst, S_ISDIR(st.st_mode));
        if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) == 0) {
                close(fd);
        } else if (errno == ENOSYS) {
                say("no mount_setattr (Linux 5.12): mounts below %s stay writable", dst);
                mount_on_fd(NULL, fd, dst, MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(src));
        } else {
                error(125, errno, "mount_setattr %s read-only", dst);
        }
}

static void mount_binds(struct container *c)
{
        for (int i = 0; i < c->nbinds; i++) {
                struct bind *b = &c->binds[i];

                say("bind-mount %s at %s%s", b->src, b->dst, b->read_only ? " read-only" : "");
                bind_mount(b->src, b->dst, b->read_only);
        }
}

/* Docker's masked paths (moby's oci/defaults.go): the host's kernel memory, keys, timers and
 * interrupts under /dev/null, its hardware and power counters (PLATYPUS, CVE-2020-8694) under
 * an empty tmpfs, and /proc/sys, sysrq, irq read-only. Paths this kernel lacks are skipped. */
static void mask_paths(void)
{
        static const char *const hidden_files[] = {
            "proc/kcore",       "proc/keys",          "proc/timer_list", "proc/timer_stats",
            "proc/sched_debug", "proc/latency_stats", "proc/interrupts"};
        static const char *const hidden_dirs[] = {"proc/acpi", "proc/asound", "proc/scsi",
                                                  "sys/firmware", "sys/devices/virtual/powercap"};
        static const char *const read_only[] = {"proc/sys", "proc/sysrq-trigger", "proc/irq",
                                                "proc/bus", "proc/fs"};

        say("mask /proc/kcore and friends, make /proc/sys and friends read-only");
        for (size_t i = 0; i < sizeof(hidden_files) / sizeof(hidden_files[0]); i++)
                if (access(hidden_files[i], F_OK) == 0)
                        mount_or_die("dev/null", hidden_files[i], NULL, MS_BIND, NULL);
        for (size_t i = 0; i < sizeof(hidden_dirs) / sizeof(hidden_dirs[0]); i++)
                if (access(hidden_dirs[i], F_OK) == 0)
                        mount_or_die("tmpfs", hidden_dirs[i], "tmpfs",
                                     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0");
        for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++) {
                if (access(read_only[i], F_OK) < 0)
                        continue;
                /* The kernel's own paths: bind_mount()'s openat2 is for a user's DST. */
                mount_or_die(read_only[i], read_only[i], NULL, MS_BIND | MS_REC, NULL);
                mount_or_die(NULL, read_only[i], NULL,
                             MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(read_only[i]), NULL);
        }
}

/* pivot_root(2) as its manual suggests: with both roots ".", the old root is stacked on the
 * new one and umount2(MNT_DETACH) takes it away, so no path leads back to the host. It needs
 * no directory for the old root, which from step 05 on we could not create. */
static void pivot_into_cwd(void)
{
        say("pivot_root into the new root and detach the old one");
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                error(125, errno, "pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
                error(125, errno, "detach the old root");
        if (chdir("/") < 0)
                error(125, errno, "chdir /");
}

/* Build the container's filesystem in its own mount namespace and move into it. Everything
 * that needs a host path (rootfs, devices, bind sources) comes before the old root is
 * detached. */
static void enter_rootfs(struct container *c)
{
        make_mounts_private();
        mount_root(c);
        mount_proc();
        mount_dev();
        mount_mqueue();
        mount_sys();
        mount_binds(c);
        mask_paths();
        pivot_into_cwd();
}

/* The contract's clean environment: nothing of the caller's leaks in but TERM. */
static void set_environment(void)
{
        char *term = getenv("TERM");

        term = term ? strdup(term) : NULL;
        clearenv();
        setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
        setenv("HOME", "/root", 1);
        setenv("container", "cntlab", 1);
        if (term)
                setenv("TERM", term, 1);
        free(term);
}

/* capabilities(7): keep Docker's default 14 and nothing else, in the bounding set (so no
 * later execve can regain the rest), permitted and effective ("=ep" in cap_from_text(3));
 * inheritable and ambient empty. What the dropped ones would allow a container's root to do:
 *   SYS_ADMIN mount, sethostname, setns and most of what namespaces guard; NET_ADMIN
 *   reconfigure its interfaces, routes and firewall; SYS_PTRACE read and write other
 *   processes' memory; SYS_MODULE, SYS_RAWIO, SYS_BOOT, SYS_TIME load kernel code, poke I/O
 *   ports, reboot, set the clock, all on the host; DAC_READ_SEARCH open_by_handle_at(2) any
 *   host file; the rest (IPC_LOCK, SYS_RESOURCE, SYSLOG, BPF, ...) reach host-wide state. */
static void drop_capabilities(void)
{
        cap_t keep =
            cap_from_text("cap_chown,cap_dac_override,cap_fsetid,cap_fowner,cap_mknod,"
                          "cap_net_raw,cap_setgid,cap_setuid,cap_setfcap,cap_setpcap,"
                          "cap_net_bind_service,cap_sys_chroot,cap_kill,cap_audit_write=ep");
        cap_flag_value_t kept;

        if (!keep)
                error(125, errno, "cap_from_text");
        say("drop all capabilities but Docker's 14 from bounding, permitted, effective");
        for (cap_value_t cap = 0; cap < (cap_value_t)cap_max_bits(); cap++)
                if ((cap_get_flag(keep, cap, CAP_PERMITTED, &kept) < 0 || !kept) &&
                    cap_drop_bound(cap) < 0)
                        error(125, errno, "drop capability %d from the bounding set", cap);
        if (cap_set_proc(keep) < 0)
                error(125, errno, "set capabilities");
        cap_free(keep);
        if (cap_reset_ambient() < 0)
                error(125, errno, "clear ambient capabilities");
}

/* Add "return EPERM" for SYSCALL; with a MASK, only when argument ARG & MASK is VALUE. A name
 * this libseccomp does not know cannot be filtered: -v says so, rather than skip it. */
static void deny(scmp_filter_ctx ctx, const char *syscall, unsigned arg, unsigned mask,
                 unsigned value)
{
        int nr = seccomp_syscall_resolve_name(syscall);
        struct scmp_arg_cmp cmp = {arg, SCMP_CMP_MASKED_EQ, mask, value};

        if (nr == __NR_SCMP_ERROR)
                say("seccomp: this libseccomp does not know %s: not filtered", syscall);
        else if (seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM), nr, mask ? 1 : 0, &cmp))
                error(125, 0, "seccomp: cannot add a rule for %s", syscall);
}

/* seccomp(2) through libseccomp: allow everything but what could undo the isolation or reach
 * the host's kernel directly. Calls are named: libseccomp knows this architecture's numbers. */
static void install_seccomp(void)
{
        /* One row per reason; a row ends at its first NULL. */
        // clang-format off
        static const char *const denied[][8] = {
            {"unshare", "setns"}, /* new or other namespaces */
            {"keyctl", "add_key", "request_key"}, /* the keyring is not namespaced */
            {"kexec_load", "kexec_file_load", "reboot"}, /* replace or stop the host kernel */
            {"init_module", "finit_module", "delete_module"}, /* load kernel code */
            {"open_by_handle_at"}, /* open files outside the root */
            {"bpf", "perf_event_open", "userfaultfd"}, /* kernel attack surface */
            {"mount", "umount", "umount2", "pivot_root"}, /* rebuild the filesystem */
            {"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
             "mount_setattr"}, /* the same, through the new mount API */
            {"swapon", "swapoff"}, /* swap is the host's, not the container's */
            {"io_uring_setup", "io_uring_enter",
             "io_uring_register"}, /* system calls made in shared memory, which no filter sees */
        };
        // clang-format on
        static const char *const chmods[] = {"chmod", "fchmod", "fchmodat", "fchmodat2"};
        static const unsigned mode_arg[] = {1, 1, 2, 2}; /* which argument is the mode */
        static const unsigned namespace_flags[] = {CLONE_NEWNS,    CLONE_NEWUTS, CLONE_NEWIPC,
                                                   CLONE_NEWUSER,  CLONE_NEWPID, CLONE_NEWNET,
                                                   CLONE_NEWCGROUP};
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

        if (!ctx)
                error(125, 0, "seccomp_init failed");
        say("load a seccomp filter: EPERM for namespace, mount, module, keyring syscalls");
        for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
                for (size_t j = 0; j < 8 && denied[i][j]; j++)
                        deny(ctx, denied[i][j], 0, 0, 0);
        /* clone(2) may make threads and processes, but no namespaces. clone3 passes its
         * flags in memory, which seccomp cannot read: ENOSYS makes libc fall back to clone. */
        for (size_t i = 0; i < sizeof(namespace_flags) / sizeof(namespace_flags[0]); i++)
                deny(ctx, "clone", 0, namespace_flags[i], namespace_flags[i]);
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0))
                error(125, 0, "seccomp: cannot add a rule for clone3");
        /* TIOCSTI types into the terminal's input: the container could type into the host shell. */
        deny(ctx, "ioctl", 1, 0xffffffffu, TIOCSTI);
        /* No chmod to set-user-ID or set-group-ID: docs/08-sec.md says what that does not stop. */
        for (size_t i = 0; i < sizeof(chmods) / sizeof(chmods[0]); i++) {
                deny(ctx, chmods[i], mode_arg[i], S_ISUID, S_ISUID);
                deny(ctx, chmods[i], mode_arg[i], S_ISGID, S_ISGID);
        }
        /* personality(2) with Docker's five values only, 0, 8, 0x20000, 0x20008 and 0xffffffff
         * (docs/08-sec.md). A rule compares an argument once, so "none of five" is one bit at a
         * time: a bit but 3 and 17 set with bit 31 clear, or bit 31 set with another clear. */
        for (unsigned b = 0; b < 31; b++) {
                if (b != 3 && b != 17)
                        deny(ctx, "personality", 0, 1u << 31 | 1u << b, 1u << b);
                deny(ctx, "personality", 0, 1u << 31 | 1u << b, 1u << 31);
        }
        errno = -seccomp_load(ctx); /* libseccomp returns -errno */
        if (errno)
                error(125, errno, "seccomp_load");
        seccomp_release(ctx);
}

/* Last before execve: capabilities (dropping them needs CAP_SETPCAP), no_new_privs so no
 * setuid file or file capability gives any back (prctl(2)), then seccomp, which needs it. */
static void drop_privileges(void)
{
        drop_capabilities();
        say("set no_new_privs");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                error(125, errno, "prctl PR_SET_NO_NEW_PRIVS");
        install_seccomp();
}

/* execvp(3) searches PATH; as in shells, 127 means "not found" and 126 "cannot run". */
static void exec_command(struct container *c)
{
        /* No descriptor but 0, 1 and 2 crosses: one left open on a host directory leads out
         * of the new root (runc's CVE-2024-21626). The rest close on exec (Linux 5.11). */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                error(125, errno, "close_range");
        say("exec %s", c->argv[0]);
        execvp(c->argv[0], c->argv);
        error(errno == ENOENT ? 127 : 126, errno, "exec %s", c->argv[0]);
}

/* The container's first process, from clone() to execve(). */
__attribute__((noreturn)) static void container_main(struct container *c)
{
        /* If the supervisor dies, so does the container (prctl(2)). One that died just before
         * this call would leave us running: step 05's handshake closes that window. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                error(125, errno, "prctl PR_SET_PDEATHSIG");
        /* The supervisor blocked the signals it forwards; signal masks survive execve. */
        sigprocmask(SIG_SETMASK, &c->old_mask, NULL);
        sync_as_child(&c->sync);
        /* Wait for our ID maps. End-of-file: the supervisor died or gave up, and said why. */
        if (sync_wait(&c->sync) < 0)
                _exit(125);
        become_root(c);
        /* Changing user IDs cleared the parent-death signal, so arm it again, then report and
         * wait for the rest of the setup: a supervisor that died before we armed it shows
         * here as end-of-file. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                error(125, errno, "prctl PR_SET_PDEATHSIG");
        if (sync_wake(&c->sync) < 0 || sync_wait(&c->sync) < 0)
                _exit(125);
        /* A cgroup namespace's root is its creator's cgroup at that moment
         * (cgroup_namespaces(7)): CLONE_NEWCGROUP in the clone would have taken the
         * supervisor's. */
        say("unshare the cgroup namespace: our cgroup becomes its /");
        if (unshare(CLONE_NEWCGROUP) < 0)
                error(125, errno, "unshare CLONE_NEWCGROUP");
        set_hostname(c);
        configure_network(c);
        enter_rootfs(c);
        set_environment();
        drop_privileges();
        exec_command(c);
        exit(125); /* not reached: exec_command() execs or exits */
}

/* The first executable NAME in $PATH, as execvp(3) would find it, into PATH (PATH_MAX bytes);
 * -1 if none. Looked up before the clone: the helpers decide the container's maps and network,
 * and the container is a copy of our memory at the clone. */
static int find_in_path(const char *name, char *path)
{
        const char *dirs = getenv("PATH");
        char copy[4096], *dir, *rest = NULL;

        snprintf(copy, sizeof(copy), "%s", dirs ? dirs : "/usr/local/bin:/usr/bin:/bin");
        for (dir = strtok_r(copy, ":", &rest); dir; dir = strtok_r(NULL, ":", &rest)) {
                snprintf(path, PATH_MAX, "%s/%s", dir, name);
                if (access(path, X_OK) == 0)
                        return 0;
        }
        path[0] = '\0';
        return -1;
}

/* The start of the user's first range in FILE (/etc/subuid or /etc/subgid: lines
 * "name:start:count", name a login name or a uid, subuid(5)), its size in *COUNT; 0 if none. */
static long first_range(const char *file, const char *name, long *count)
{
        FILE *f = fopen(file, "re");
        char line[256], uid[16];
        long start = 0;

        snprintf(uid, sizeof(uid), "%d", (int)getuid());
        while (f && fgets(line, sizeof(line), f)) {
                char *rest = NULL, *owner = strtok_r(line, ":", &rest);
                char *first = strtok_r(NULL, ":", &rest), *size = strtok_r(NULL, ":\n", &rest);

                if (owner && first && size &&
                    (strcmp(owner, name) == 0 || strcmp(owner, uid) == 0)) {
                        start = atol(first);
                        *count = atol(size);
                        break;
                }
        }
        if (f)
                fclose(f);
        return start;
}

/* user_namespaces(7): without privilege a process may map one uid, its own, and one gid after
 * denying setgroups. More takes CAP_SETUID and CAP_SETGID over the parent namespace, which the
 * set-user-ID helpers newuidmap and newgidmap (Debian's uidmap) have: they write the ranges
 * /etc/subuid and /etc/subgid give the user, and nothing else. */
static void choose_id_maps(struct container *c)
{
        struct passwd *pw = getpwuid(getuid());
        long uids = 0, gids = 0;

        if (find_in_path("newuidmap", c->newuidmap) < 0 ||
            find_in_path("newgidmap", c->newgidmap) < 0) {
                say("no newuidmap and newgidmap in PATH: the map is 0 %d 1 (only 0 inside)",
                    (int)getuid());
                return;
        }
        /* Under no_new_privs (Docker's default, systemd's NoNewPrivileges=) execve ignores the
         * set-user-ID bit, and the helpers could not write the maps (prctl(2)). */
        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) {
                say("no_new_privs is set, so newuidmap gains no privilege: the map is 0 %d 1",
                    (int)getuid());
                return;
        }
        c->subuid = first_range("/etc/subuid", pw ? pw->pw_name : "", &uids);
        c->subgid = first_range("/etc/subgid", pw ? pw->pw_name : "", &gids);
        if (!c->subuid || !c->subgid || uids < 1 || gids < 1) {
                say("no range for uid %d in /etc/subuid and /etc/subgid: the map is 0 %d 1",
                    (int)getuid(), (int)getuid());
                c->subuid = c->subgid = 0;
                return;
        }
        c->subcount = uids < gids ? uids : gids;
        if (c->subcount > 65536)
                c->subcount = 65536;
        say("map 0 to uid %d and 1-%ld to %ld... (/etc/subuid) with newuidmap and newgidmap",
            (int)getuid(), c->subcount, c->subuid);
}

/* Root in a user namespace may make a network namespace but not a veth into the host's: that
 * takes CAP_NET_ADMIN over the host's network namespace. slirp4netns instead gives the
 * container a tap device and relays its packets through ordinary sockets of the user's, as
 * QEMU's user networking does. It opens /dev/net/tun (tun(4)), which must be open to the user:
 * mode 666 on most distributions. */
static void choose_network(struct container *c)
{
        int fd;

        if (find_in_path("slirp4netns", c->slirp4netns) < 0) {
                say("no slirp4netns in PATH: the container gets lo only");
                return;
        }
        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                say("open /dev/net/tun: %s: the container gets lo only", strerror(errno));
                return;
        }
        close(fd);
        c->user_net = 1;
}

/* Start PATH with ARGV and our environment, with the signal mask we had before blocking ours,
 * in a process group of its own (Ctrl-C on the terminal is for the container, not a helper).
 * QUIET: stdout and stderr to /dev/null (slirp4netns chats there). Its PID, or -1 and errno. */
static pid_t spawn(struct container *c, const char *path, char *const argv[], int quiet)
{
        posix_spawn_file_actions_t files;
        posix_spawnattr_t attr;
        pid_t pid;
        int err;

        posix_spawn_file_actions_init(&files);
        posix_spawn_file_actions_addopen(&files, 1, "/dev/null", O_WRONLY, 0);
        if (quiet)
                posix_spawn_file_actions_adddup2(&files, 1, 2);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setsigmask(&attr, &c->old_mask);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
        err = posix_spawn(&pid, path, &files, &attr, argv, environ);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&files);
        errno = err;
        return err ? -1 : pid;
}

/* Without a delegated cgroup there is nowhere to put limits: the defaults are skipped (-v says
 * why), and a limit asked for cannot be kept, which is a setup failure. */
static void no_cgroup(struct container *c, const char *why)
{
        if (c->limit_option)
                error(125, 0,
                      "cannot apply %s: %s; get a delegated cgroup v2 with systemd-run --user "
                      "--scope -p Delegate=yes %s [OPTIONS] ...",
                      c->limit_option, why, step);
        say("no memory, pids or CPU limits: %s", why);
}

/* Write VALUE to FILE in the container's cgroup. Returns -1 on error. */
static int cgroup_write(struct container *c, const char *file, const char *value)
{
        char path[PATH_MAX + 32];

        snprintf(path, sizeof(path), "%s/%s", c->cgroup, file);
        return write_file(path, value);
}

static void cgroup_set(struct container *c, const char *file, const char *value)
{
        say("%s = %s", file, value);
        if (cgroup_write(c, file, value) < 0)
                error(125, errno, "cgroup: write %s to %s", value, file);
}

/* Wait until cgroup.events says "frozen 1" (or, thawing, "frozen 0"), at most 10 s. The kernel
 * signals a change of that file as POLLPRI to poll(2) (cgroup-v2.rst, "Core Interface Files"):
 * no need to read it in a loop. */
static int wait_for_v2_freezer(struct container *c, int frozen)
{
        char path[PATH_MAX + 32], text[256], want[16];
        struct pollfd pfd = {.events = POLLPRI};
        ssize_t n = -1;

        snprintf(path, sizeof(path), "%s/cgroup.events", c->cgroup);
        snprintf(want, sizeof(want), "frozen %d\n", frozen);
        pfd.fd = open(path, O_RDONLY | O_CLOEXEC);
        for (int tries = 0; pfd.fd >= 0 && tries < 10; tries++) {
                n = pread(pfd.fd, text, sizeof(text) - 1, 0);
                text[n > 0 ? n : 0] = '\0';
                if (n < 0 || strstr(text, want) || poll(&pfd, 1, 1000) < 0)
                        break;
        }
        if (pfd.fd >= 0)
                close(pfd.fd);
        if (n >= 0 && !strstr(text, want))
                errno = ETIMEDOUT;
        return n >= 0 && strstr(text, want) ? 0 : -1;
}

/* Freeze (1) or thaw (0) the container's cgroup: every process of it stops where it is, and
 * cannot tell, as docker pause does: cgroup.freeze (cgroup-v2.rst, "Core Interface Files").
 * -1 and errno if it cannot. */
static int freeze_container(struct container *c, int frozen)
{
        if (!c->cgroup[0]) {
                errno = ENOTSUP;
                return -1;
        }
        if (cgroup_write(c, "cgroup.freeze", frozen ? "1" : "0") < 0)
                return -1;
        return wait_for_v2_freezer(c, frozen);
}

/* A supervisor killed by SIGKILL cannot remove its cgroup: the next run sweeps those whose
 * supervisor is gone. rmdir(2) removes only an empty cgroup, never a live container's. A v1
 * freezer holds a container paused when its supervisor was killed, its SIGKILL pending: thaw
 * it, and give it a moment to die (on v2 SIGKILL reaches frozen tasks). */
static void sweep_stale_cgroups(const char *parent)
{
        DIR *dir = opendir(parent);
        struct dirent *e;
        char path[PATH_MAX + 300], state[PATH_MAX + 320];

        while (dir && (e = readdir(dir))) {
                int pid = atoi(e->d_name);

                if (e->d_type == DT_DIR && pid > 0 && kill(pid, 0) < 0 && errno == ESRCH) {
                        snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
                        snprintf(state, sizeof(state), "%s/freezer.state", path);
                        write_file(state, "THAWED");
                        for (int try = 0; try < 100 && rmdir(path) < 0 && errno == EBUSY; try++)
                                usleep(10000);
                }
        }
        if (dir)
                closedir(dir);
}

/* At exit, whatever way the supervisor leaves: remove the container's cgroup. The kernel may
 * refuse (EBUSY) for a moment after the last task exits: retry for a second, as runc and crun
 * do. */
static void remove_cgroup(void)
{
        struct container *c = &container;

        /* The container's first process inherits this handler and runs it if its setup
         * fails; there c->pid is 0, and kill(0) would signal our whole process group. */
        if (getpid() != c->supervisor)
                return;
        if (c->pid > 0) {
                kill(c->pid, SIGKILL);
                if (c->paused) /* a v1 freezer holds even SIGKILL until it thaws */
                        freeze_container(c, 0);
                waitpid(c->pid, NULL, 0);
        }
        for (int try = 0; try < 100 && rmdir(c->cgroup) < 0 && errno == EBUSY; try++)
                usleep(10000);
}

/* All of FILE (at most SIZE - 1 bytes) into TEXT, without its last newline; "" if none. A
 * check of cgroup.procs must see every line, not the first. */
static void read_text(const char *file, char *text, int size)
{
        FILE *f = fopen(file, "re");
        size_t n = f ? fread(text, 1, size - 1, f) : 0;

        if (f)
                fclose(f);
        text[n] = '\0';
        if (n > 0 && text[n - 1] == '\n')
                text[n - 1] = '\0';
}

/* cgroup-v2.rst, "Delegation": a user may manage a cgroup whose directory, cgroup.procs and
 * cgroup.subtree_control are the user's, as systemd makes them for a unit with Delegate=yes;
 * a login session's cgroup is root's. cgroup v1 has no safe delegation: runc, crun and podman
 * never use it rootless, and neither do we. In our own cgroup OWN the container gets
 * OWN/cntlab/<PID>, so OWN and OWN/cntlab hand the controllers on (cgroup.subtree_control),
 * and a cgroup that does may hold no processes ("no internal processes"): the supervisor first
 * moves itself into the leaf OWN/cntlab/supervisors. It must be alone in OWN: moving the shell
 * that started it is not its business. */
static void create_cgroup(struct container *c)
{
        char own[PATH_MAX - 128], path[PATH_MAX], text[256], pid[16];
        const char *controllers = "+memory +pids";
        struct statfs fs;

        c->supervisor = getpid();
        snprintf(pid, sizeof(pid), "%d", getpid());
        if (statfs("/sys/fs/cgroup", &fs) < 0)
                error(125, errno, "statfs /sys/fs/cgroup");
        if (fs.f_type != CGROUP2_SUPER_MAGIC) {
                no_cgroup(c, "this host has cgroup v1, which is never delegated to a user");
                return;
        }
        read_text("/proc/self/cgroup", text, sizeof(text)); /* "0::/user.slice/..." */
        if (strncmp(text, "0::/", 4) != 0 || strchr(text, '\n')) {
                no_cgroup(c, "/proc/self/cgroup is not the one line of a cgroup v2 host");
                return;
        }
        snprintf(own, sizeof(own), "/sys/fs/cgroup%s", strcmp(text + 3, "/") ? text + 3 : "");
        snprintf(path, sizeof(path), "%s/cgroup.subtree_control", own);
        if (access(own, W_OK) < 0 || access(path, W_OK) < 0) {
                no_cgroup(c, "your cgroup is not delegated to you (not yours to write)");
                return;
        }
        snprintf(path, sizeof(path), "%s/cgroup.controllers", own);
        read_text(path, text, sizeof(text));
        if (!strstr(text, "memory") || !strstr(text, "pids") ||
            (c->cpu_quota && !strstr(text, "cpu"))) {
                no_cgroup(c, "your cgroup has not been given the memory, pids and cpu controllers");
                return;
        }
        if (strstr(text, "cpu"))
                controllers = "+memory +pids +cpu";
        snprintf(path, sizeof(path), "%s/cgroup.procs", own);
        read_text(path, text, sizeof(text)); /* our PID alone, or a longer text */
        if (strcmp(text, pid) != 0) {
                no_cgroup(c, "other processes share your cgroup, and a cgroup that hands on "
                             "controllers may hold none");
                return;
        }
        snprintf(path, sizeof(path), "%s/cntlab", own);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                error(125, errno, "cgroup: mkdir %s", path);
        sweep_stale_cgroups(path);
        snprintf(path, sizeof(path), "%s/cntlab/supervisors", own);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                error(125, errno, "cgroup: mkdir %s", path);
        say("move the supervisor into %s: cgroups that hand on controllers hold no processes",
            path);
        snprintf(path, sizeof(path), "%s/cntlab/supervisors/cgroup.procs", own);
        if (write_file(path, "0") < 0)
                error(125, errno, "cgroup: write 0 to %s", path);
        snprintf(path, sizeof(path), "%s/cgroup.subtree_control", own);
        if (write_file(path, controllers) < 0)
                error(125, errno, "cgroup: write %s to %s", controllers, path);
        snprintf(path, sizeof(path), "%s/cntlab/cgroup.subtree_control", own);
        if (write_file(path, controllers) < 0)
                error(125, errno, "cgroup: write %s to %s", controllers, path);
        snprintf(c->cgroup, sizeof(c->cgroup), "%s/cntlab/%s", own, pid);
        say("create cgroup %s", c->cgroup);
        if (mkdir(c->cgroup, 0755) < 0)
                error(125, errno, "cgroup: mkdir %s", c->cgroup);
        atexit(remove_cgroup);
}

/* Start the container's first process inside its cgroup, so nothing it runs is ever outside
 * it; moving it in later is slow (docs/07-cgroups.md). clone3(2) with CLONE_INTO_CGROUP
 * (Linux 5.7), as systemd and crun do, or where clone3 lacks it (ENOSYS, E2BIG) clone, then
 * move the child, which waits for us. Without a cgroup, a plain clone. */
static void clone_into_cgroup(struct container *c, unsigned long flags)
{
        struct clone_args args = {.flags = (flags & ~CSIGNAL) | CLONE_INTO_CGROUP,
                                  .exit_signal = flags & CSIGNAL};
        int fd;

        /* c->pid is set at once: if what follows fails, remove_cgroup() kills the child. */
        if (!c->cgroup[0]) {
                c->pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
                return;
        }
        say("clone3 with CLONE_INTO_CGROUP %s", c->cgroup);
        fd = open(c->cgroup, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                error(125, errno, "cgroup: open %s", c->cgroup);
        args.cgroup = (unsigned)fd;
        c->pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
        if (c->pid < 0 && (errno == ENOSYS || errno == E2BIG)) {
                char pid[16];

                c->pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
                snprintf(pid, sizeof(pid), "%d", c->pid);
                if (c->pid > 0 && cgroup_write(c, "cgroup.procs", pid) < 0)
                        error(125, errno, "cgroup: move pid %s into %s", pid, c->cgroup);
        }
        close(fd);
}

/* clone(2) starts the container's first process in new namespaces, one flag each. With no new
 * stack (NULL) the child goes on from the call as after fork(2). glibc's clone() insists on a
 * stack and a function, so we make the system call, as crun does. */
static void start_container(struct container *c)
{
        unsigned long flags = SIGCHLD; /* tell us, like any child, when it ends */

        flags |= CLONE_NEWUTS; /* hostname and domain name: uts_namespaces(7) */
        flags |= CLONE_NEWNS; /* mount table: mount_namespaces(7) */
        flags |= CLONE_NEWPID; /* process IDs: pid_namespaces(7) */
        flags |= CLONE_NEWIPC; /* System V IPC, POSIX message queues: ipc_namespaces(7) */
        flags |= CLONE_NEWUSER; /* user and group IDs: user_namespaces(7) */
        flags |= CLONE_NEWNET; /* interfaces, addresses, routes: network_namespaces(7) */
        /* Block the signals we forward before the child exists, so none is lost before
         * supervise() takes them with sigwaitinfo(2). SIGCHLD must not be ignored, or the
         * kernel would reap the child for us. */
        signal(SIGCHLD, SIG_DFL);
        sigemptyset(&c->signals);
        sigaddset(&c->signals, SIGINT);
        sigaddset(&c->signals, SIGTERM);
        sigaddset(&c->signals, SIGHUP);
        sigaddset(&c->signals, SIGQUIT);
        sigaddset(&c->signals, SIGCHLD);
        sigaddset(&c->signals, SIGALRM); /* our own 3-second deadline */
        sigaddset(&c->signals, SIGTSTP); /* pause the container */
        sigaddset(&c->signals, SIGCONT); /* and go on */
        sigprocmask(SIG_BLOCK, &c->signals, &c->old_mask);
        if (sync_init(&c->sync) < 0)
                error(125, errno, "pipe");
        clone_into_cgroup(c, flags);
        if (c->pid < 0)
                error(125, errno, "clone");
        if (c->pid == 0)
                container_main(c);
        say("cloned the container's first process: pid %d on the host", c->pid);
        sync_as_parent(&c->sync);
        say("fork a watchdog that kills the container once we are gone, however we die");
        if (watchdog_start(c->pid) < 0 && errno != ENOSYS) /* no pidfd: valgrind 3.19 */
                error(125, errno, "start the watchdog");
}

/* newuidmap PID 0 ID 1 1 START COUNT (newgidmap alike): 0 inside is the user's own ID, 1..COUNT
 * the first subordinate range. The helper checks the range against /etc/subuid (or /etc/subgid)
 * and writes the map for us. */
static void run_map_helper(struct container *c, char *helper, int id, long start)
{
        char pid[16], own[16], first[24], count[24], zero[] = "0", one[] = "1";
        char *argv[] = {helper, pid, zero, own, one, one, first, count, NULL};
        pid_t child;
        int status = 0;

        snprintf(pid, sizeof(pid), "%d", c->pid);
        snprintf(own, sizeof(own), "%d", id);
        snprintf(first, sizeof(first), "%ld", start);
        snprintf(count, sizeof(count), "%ld", c->subcount);
        say("%s %s 0 %s 1 1 %s %s", helper, pid, own, first, count);
        child = spawn(c, helper, argv, 0);
        if (child < 0)
                error(125, errno, "run %s", helper);
        if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                error(125, 0, "%s %s 0 %s 1 1 %s %s: failed (wait status %d)", helper, pid, own,
                      first, count, status);
}

/* user_namespaces(7): without a helper, the one map an unprivileged process may write, uid 0
 * inside our own uid and no other. uid_map comes first, then "deny" in setgroups (so no process
 * there can drop a group to pass a "deny this group" permission), then gid_map. Each is
 * written once. */
static void write_id_maps(struct container *c)
{
        static const char *const files[] = {"uid_map", "setgroups", "gid_map"};
        char texts[3][32], path[64];

        if (c->subcount) {
                run_map_helper(c, c->newuidmap, (int)getuid(), c->subuid);
                run_map_helper(c, c->newgidmap, (int)getgid(), c->subgid);
                return;
        }
        snprintf(texts[0], sizeof(texts[0]), "0 %d 1", (int)getuid());
        snprintf(texts[1], sizeof(texts[1]), "deny");
        snprintf(texts[2], sizeof(texts[2]), "0 %d 1", (int)getgid());
        for (int i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "/proc/%d/%s", c->pid, files[i]);
                say("write %s: %s", path, texts[i]);
                if (write_file(path, texts[i]) < 0)
                        error(125, errno, "write %s", path);
        }
}

/* At exit: close our end of slirp4netns's exit pipe, and wait for it to go. */
static void stop_user_net(void)
{
        struct container *c = &container;

        if (getpid() != c->supervisor || c->net_helper <= 0)
                return;
        close(c->net_exit_fd);
        waitpid(c->net_helper, NULL, 0);
}

/* The host's half of the network, with no veth: slirp4netns joins the container's user and
 * network namespaces (setns(2); the user owns them, so the user may), makes the tap device
 * eth0 in there and relays its packets through sockets on the host. It writes to --ready-fd
 * once eth0 exists, and exits when --exit-fd reads end-of-file: when we close our end, or die
 * (slirp4netns(1)). */
static void start_user_net(struct container *c)
{
        char pid[16], ready_fd[32], exit_fd[32], eth0[] = "eth0", byte;
        char sandbox[] = "--enable-sandbox", seccomp[] = "--enable-seccomp";
        char *argv[] = {c->slirp4netns, sandbox, seccomp, ready_fd, exit_fd, pid, eth0, NULL};
        int ready[2], quit[2];

        if (!c->user_net)
                return;
        /* Plain pipes: slirp4netns inherits one end of each; ours are close-on-exec. */
        if (pipe(ready) < 0 || pipe(quit) < 0)
                error(125, errno, "pipe");
        fcntl(ready[0], F_SETFD, FD_CLOEXEC);
        fcntl(quit[1], F_SETFD, FD_CLOEXEC);
        snprintf(pid, sizeof(pid), "%d", c->pid);
        snprintf(ready_fd, sizeof(ready_fd), "--ready-fd=%d", ready[1]);
        snprintf(exit_fd, sizeof(exit_fd), "--exit-fd=%d", quit[0]);
        say("%s %s %s %s %s %s eth0: a tap device in the container, no veth on the host",
            c->slirp4netns, sandbox, seccomp, ready_fd, exit_fd, pid);
        c->net_helper = spawn(c, c->slirp4netns, argv, 1);
        close(ready[1]);
        close(quit[0]);
        if (c->net_helper < 0)
                error(125, errno, "run %s", c->slirp4netns);
        c->net_exit_fd = quit[1];
        atexit(stop_user_net);
        if (read(ready[0], &byte, 1) != 1)
                error(125, 0, "slirp4netns ended before eth0 was ready: run %s %s eth0 to see why",
                      c->slirp4netns, pid);
        close(ready[0]);
}

/* Only now, with the container (which has run nothing yet) in its cgroup. Without a
 * delegated cgroup, no limits. */
static void set_limits(struct container *c)
{
        char value[64];

        if (!c->cgroup[0])
                return;
        snprintf(value, sizeof(value), "%lld", c->memory);
        cgroup_set(c, "memory.max", value);
        /* No swap either, or the limit would only move memory to disk (no file: no swap). */
        say("no swap beyond the memory limit, where the kernel accounts swap");
        if (cgroup_write(c, "memory.swap.max", "0") < 0 && errno != ENOENT)
                error(125, errno, "cgroup: limit swap");
        snprintf(value, sizeof(value), "%ld", c->pids);
        cgroup_set(c, "pids.max", value);
        if (c->cpu_quota) {
                snprintf(value, sizeof(value), "%ld 100000", c->cpu_quota);
                cgroup_set(c, "cpu.max", value);
        }
}

/* The supervisor's half of the setup, done while the container waits for it. */
static void setup_from_outside(struct container *c)
{
        write_id_maps(c);
        if (sync_wake(&c->sync) < 0 || sync_wait(&c->sync) < 0)
                return; /* it died during setup: supervise() reports its status */
        start_user_net(c);
        set_limits(c);
        say("wake the container");
        if (sync_wake(&c->sync) < 0 && errno != EPIPE)
                error(125, errno, "wake the container");
}

/* SIGTSTP (Ctrl-Z, or kill -TSTP): freeze the container, then stop ourselves with SIGSTOP, which
 * no process can block or catch, so the shell sees a stopped job; its fg or bg sends SIGCONT,
 * which wakes us, and supervise() thaws the container. A terminal's Ctrl-Z also reached the
 * container's processes in our process group: those that did not ignore it stopped
 * themselves, and the shell's SIGCONT to the group wakes them too (docs/07-cgroups.md). */
static void pause_container(struct container *c)
{
        if (!c->cgroup[0]) {
                say("SIGTSTP: no delegated cgroup to freeze the container in: it keeps running");
                return;
        }
        say("SIGTSTP: freeze the container, then stop");
        if (freeze_container(c, 1) < 0)
                error(0, errno, "cgroup: freeze the container");
        c->paused = 1;
        raise(SIGSTOP);
}

/* Wait for the container and pass on the signals a process sends us, with SIGKILL if it still
 * runs 3 s later. A signal from the terminal (si_code SI_KERNEL) went to the whole foreground
 * process group, the container included: a shell there that ignores Ctrl-C must not be killed
 * for it. Returns the contract's exit status. */
static int supervise(struct container *c)
{
        for (;;) {
                siginfo_t info;
                int status, sig = sigwaitinfo(&c->signals, &info);

                if (sig == SIGCHLD && waitpid(c->pid, &status, WNOHANG) == c->pid) {
                        c->pid = 0; /* reaped: remove_cgroup() must not wait for it */
                        if (WIFSIGNALED(status)) {
                                say("the container was killed by signal %d", WTERMSIG(status));
                                return 128 + WTERMSIG(status);
                        }
                        say("the container exited with status %d", WEXITSTATUS(status));
                        return WEXITSTATUS(status);
                } else if (sig == SIGTSTP) {
                        pause_container(c);
                } else if (sig == SIGCONT && c->paused) {
                        say("SIGCONT: thaw the container");
                        if (freeze_container(c, 0) < 0)
                                error(0, errno, "cgroup: thaw the container");
                        c->paused = 0;
                } else if (sig == SIGALRM) {
                        say("still running 3 s after the signal: SIGKILL");
                        kill(c->pid, SIGKILL);
                } else if (sig > 0 && sig != SIGCHLD && info.si_code != SI_KERNEL) {
                        say("forward signal %d to the container", sig);
                        kill(c->pid, sig);
                        alarm(3);
                }
        }
}

int main(int argc, char **argv)
{
        struct container *c = &container;

        /* error(3) starts each message with this name. Line-buffered, stderr writes each line
         * in one write(2): the supervisor's and the container's lines never mix. */
        program_invocation_name = step;
        setvbuf(stderr, NULL, _IOLBF, BUFSIZ);
        parse_options(c, argc, argv);
        check_not_root();
        check_rootfs(c);
        choose_id_maps(c);
        choose_network(c);
        create_cgroup(c);
        start_container(c);
        setup_from_outside(c);
        return supervise(c);
}
