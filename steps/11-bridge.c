/* cntlab 11-bridge: Docker's default network: a bridge, NAT to the world (bonus step).
 *
 * A container is an ordinary process that the kernel shows a world of its own. This file is
 * the previous step plus one part of that world (`make diff STEP=NN`). Options and exit
 * statuses: docs/cli.md. Read alongside: namespaces(7), clone(2).
 *
 * What runs, in order. The supervisor, main():
 *   parse_options, check_root
 *   check_rootfs
 *   claim_slot
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
#include <nftables/libnftables.h>

#include "sync.h"
#include "watchdog.h"
#include "netns.h"

static char step[] = "11-bridge"; /* error(3) and usage() print it */

enum { MAX_BINDS = 16, MAX_PUBLISH = 16 };

/* One --bind SRC:DST[:ro]. */
struct bind {
        char *src; /* absolute, resolved on the host before anything is mounted */
        char *dst; /* absolute, as seen inside the container */
        int read_only;
};

/* One --publish HOSTPORT:PORT[/udp]. */
struct publish {
        int host_port, port;
        const char *protocol; /* "tcp" or "udp", as nft writes them */
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
        int slot; /* the container's address is 10.201.0.<slot>, 2-254 */
        int slot_fd; /* holds the slot for as long as the supervisor lives */
        struct publish publish[MAX_PUBLISH];
        int npublish;
        int lock_fd; /* holds the bridge lock while >= 0 */
        int on_bridge; /* leave_bridge() has our veth, rules and maybe the bridge to remove */
        long long memory; /* bytes */
        long pids; /* tasks */
        long cpu_quota; /* microseconds per 100 ms period (sched-design-CFS), 0 = none */
        int cgroup_v2; /* one unified hierarchy, or one per controller (v1) */
        int ncgroups; /* v2: 1; v1: 4 with the freezer, 3 where it is not mounted */
        char cgroup[4][PATH_MAX];
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
              "  -P, --publish HOSTPORT:PORT[/udp]  the host's HOSTPORT reaches PORT inside\n"
              "                         (repeatable)\n"
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

/* --publish HOSTPORT:PORT[/udp]: two ports from 1 to 65535, TCP unless /udp. */
static void add_publish_option(struct container *c, const char *spec)
{
        struct publish *p = &c->publish[c->npublish];
        char protocol[8] = "tcp";
        int end = 0, n;

        if (c->npublish == MAX_PUBLISH)
                error(125, 0, "too many --publish options (at most %d)", MAX_PUBLISH);
        /* %n: how far it read, so that nothing may follow; "8080:80/" or "8080:80x" is no port,
         * and neither is " 80" nor "+80", which %d would take. */
        n = sscanf(spec, "%5d:%5d%n/%3[a-z]%n", &p->host_port, &p->port, &end, protocol, &end);
        if (n < 2 || spec[end] || spec[strspn(spec, "0123456789:/tcpud")] || p->host_port < 1 ||
            p->host_port > 65535 || p->port < 1 || p->port > 65535 ||
            (strcmp(protocol, "tcp") != 0 && strcmp(protocol, "udp") != 0))
                error(125, 0, "invalid --publish '%s': expected HOSTPORT:PORT or HOSTPORT:PORT/udp",
                      spec);
        p->protocol = strcmp(protocol, "udp") == 0 ? "udp" : "tcp";
        c->npublish++;
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
            {"publish", required_argument, NULL, 'P'},
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
        while ((opt = getopt_long(argc, argv, "+:n:vhr:ob:m:p:c:P:", options, NULL)) != -1) {
                switch (opt) {
                case 'n': set_hostname_option(c, optarg); break;
                case 'v': verbose = 1; break;
                case 'h': usage(stdout); exit(0);
                case 'r': c->rootfs = optarg; break;
                case 'o': c->overlay = 1; break;
                case 'b': add_bind_option(c, optarg); break;
                case 'm':
                        c->memory = (long long)parse_number("memory", optarg, BYTES, 1LL << 50);
                        break;
                case 'p': c->pids = (long)parse_number("pids", optarg, WHOLE, 4194304); break;
                case 'c':
                        c->cpu_quota =
                            (long)(parse_number("cpus", optarg, FRACTION, 1024) * 100000);
                        if (c->cpu_quota < 1000) /* the kernel's smallest quota (sched-bwc.rst) */
                                error(125, 0, "invalid --cpus '%s': at least 0.01", optarg);
                        break;
                case 'P': add_publish_option(c, optarg); break;
                case ':':
                        error(125, 0, "option %s needs a value: see --help", argv[optind - 1]);
                        break;
                default: error(125, 0, "unknown option %s: see --help", argv[optind - 1]);
                }
        }
        c->argv = optind < argc ? argv + optind : default_command;
}

static void check_root(void)
{
        if (geteuid() != 0)
                error(125, 0, "needs root to create namespaces: run it as root or with sudo");
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

/* user_namespaces(7): once the supervisor has written the maps, uid/gid 0 exist here (host
 * 100000). Until then we are the overflow id 65534, with all capabilities, which count only
 * in here. */
static void become_root(void)
{
        say("setresgid(0) and setresuid(0): root inside, host uid 100000 outside");
        if (setresgid(0, 0, 0) < 0)
                error(125, errno, "setresgid 0");
        if (setresuid(0, 0, 0) < 0)
                error(125, errno, "setresuid 0");
}

static void set_hostname(struct container *c)
{
        say("sethostname %s: the UTS namespace is ours, the host keeps its name", c->hostname);
        if (sethostname(c->hostname, strlen(c->hostname)) < 0)
                error(125, errno, "sethostname %s", c->hostname);
}

/* The container's half of the network. A netlink socket acts on the network namespace it was
 * opened in, ours, so it reaches only lo and the eth0 the supervisor created here. */
static void configure_network(struct container *c)
{
        struct in_addr addr = {htonl(0x0ac90000 | c->slot)}; /* 10.201.0.S */
        struct in_addr gateway = {htonl(0x0ac90001)}; /* 10.201.0.1, the bridge */
        struct mnl_socket *nl = netns_open();
        int lo, eth0;

        if (!nl)
                error(125, errno, "netlink socket");
        say("lo up, eth0 %s/24 up, default route via the bridge", inet_ntoa(addr));
        lo = netns_link_index(nl, "lo");
        if (lo < 0 || netns_link_up(nl, lo) < 0)
                error(125, errno, "netlink RTM_NEWLINK lo up");
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
        become_root();
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

/* Pick a free address on the bridge, 10.201.0.S, trying S from our PID on, 2 to 254 (.1 is the
 * bridge, .255 broadcast). S is ours while we hold the abstract unix socket
 * "@cntlab/bridge/S" (unix(7)): one holder per name, released when it dies, even by SIGKILL,
 * so no lock file is left. Abstract names belong to a network namespace: each "host" has its
 * own. 253 containers at most. */
static void claim_slot(struct container *c)
{
        for (int i = 0; i < 253; i++) {
                struct sockaddr_un addr = {.sun_family = AF_UNIX};
                int s = 2 + (getpid() + i) % 253;
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                socklen_t len;

                if (fd < 0)
                        error(125, errno, "socket");
                len = offsetof(struct sockaddr_un, sun_path) + 1 +
                      snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "cntlab/bridge/%d", s);
                if (bind(fd, (struct sockaddr *)&addr, len) == 0) {
                        c->slot = s;
                        c->slot_fd = fd;
                        c->lock_fd = -1;
                        say("address 10.201.0.%d on the bridge cntlab0", s);
                        return;
                }
                if (errno != EADDRINUSE)
                        error(125, errno, "bind @cntlab/bridge/%d", s);
                close(fd);
        }
        error(125, 0, "no free address on the bridge: 253 containers are running");
}

/* Cgroup v2 has one hierarchy; v1, and "hybrid" (v1 beside an empty v2 tree at .../unified),
 * one per controller. As runc and crun do, we tell by the filesystem at /sys/fs/cgroup. */
static const char *const controllers[] = {"memory", "pids", "cpu", "freezer"};
enum { MEMORY, PIDS, CPU, FREEZER };

/* cntlab/ in the v1 hierarchy of CONTROLLER goes below our own cgroup there, from
 * /proc/self/cgroup lines such as "4:memory:/user.slice" or "1:cpu,cpuacct:/" (cgroups(7)).
 * -1 if no hierarchy has CONTROLLER. */
static int v1_parent(const char *controller, char *parent, size_t size)
{
        FILE *f = fopen("/proc/self/cgroup", "re");
        char line[PATH_MAX + 64];

        if (!f)
                error(125, errno, "open /proc/self/cgroup");
        while (fgets(line, sizeof(line), f)) {
                char *list = strchr(line, ':'), *own = list ? strchr(list + 1, ':') : NULL;
                char *name, *save = NULL;

                if (!own)
                        continue;
                *own++ = '\0';
                own[strcspn(own, "\n")] = '\0';
                for (name = strtok_r(list + 1, ",", &save); name; name = strtok_r(NULL, ",", &save))
                        if (strcmp(name, controller) == 0) {
                                snprintf(parent, size, "/sys/fs/cgroup/%s%s/cntlab", controller,
                                         strcmp(own, "/") == 0 ? "" : own);
                                fclose(f);
                                return 0;
                        }
        }
        fclose(f);
        return -1;
}

/* Write VALUE to FILE in the cgroup that holds controller WHICH. Returns -1 on error. */
static int cgroup_write(struct container *c, int which, const char *file, const char *value)
{
        char path[PATH_MAX + 32];

        snprintf(path, sizeof(path), "%s/%s", c->cgroup[c->cgroup_v2 ? 0 : which], file);
        return write_file(path, value);
}

static void cgroup_set(struct container *c, int which, const char *file, const char *value)
{
        say("%s = %s", file, value);
        if (cgroup_write(c, which, file, value) < 0)
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

        snprintf(path, sizeof(path), "%s/cgroup.events", c->cgroup[0]);
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

/* v1's freezer.state reads FREEZING until every task is frozen, and has no event to wait for
 * (cgroup-v1/freezer-subsystem.rst): write FROZEN again every 10 ms, as runc does, for 10 s
 * at most. THAWED is immediate. */
static int wait_for_v1_freezer(struct container *c, int frozen)
{
        char path[PATH_MAX + 32], text[32] = "";

        snprintf(path, sizeof(path), "%s/freezer.state", c->cgroup[FREEZER]);
        for (int tries = 0; tries < 1000; tries++) {
                FILE *f = fopen(path, "re");

                if (!f || !fgets(text, sizeof(text), f))
                        text[0] = '\0';
                if (f)
                        fclose(f);
                if (strcmp(text, frozen ? "FROZEN\n" : "THAWED\n") == 0)
                        return 0;
                if (cgroup_write(c, FREEZER, "freezer.state", frozen ? "FROZEN" : "THAWED") < 0)
                        return -1;
                usleep(10000);
        }
        errno = ETIMEDOUT;
        return -1;
}

/* Freeze (1) or thaw (0) the container's cgroup: every process of it stops where it is, and
 * cannot tell, as docker pause does. v2: cgroup.freeze (cgroup-v2.rst, "Core Interface
 * Files"); v1: the freezer controller's freezer.state. -1 and errno if it cannot. */
static int freeze_container(struct container *c, int frozen)
{
        if (!c->cgroup_v2 && c->ncgroups <= FREEZER) {
                errno = ENOTSUP;
                return -1;
        }
        if (c->cgroup_v2) {
                if (cgroup_write(c, 0, "cgroup.freeze", frozen ? "1" : "0") < 0)
                        return -1;
                return wait_for_v2_freezer(c, frozen);
        }
        return wait_for_v1_freezer(c, frozen);
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

/* At exit, whatever way the supervisor leaves: remove the container's cgroups. The kernel may
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
        for (int i = 0; i < c->ncgroups; i++) {
                if (!c->cgroup_v2) /* in case we die inside it: see clone_into_cgroup() */
                        cgroup_write(c, i, "../../tasks", "0");
                for (int try = 0; try < 100 && rmdir(c->cgroup[i]) < 0 && errno == EBUSY; try++)
                        usleep(10000);
        }
}

/* Make cntlab/<PID>: v2 under /sys/fs/cgroup, v1 under our own cgroup in each hierarchy, the
 * freezer's first: its sweep lets a stale paused container die before the others' sweeps. */
static void create_cgroup(struct container *c)
{
        static const char *const controllers_v2 = "+memory +pids +cpu";
        struct statfs fs;
        char parent[PATH_MAX - 32]; /* room left for "/<pid>" */

        if (statfs("/sys/fs/cgroup", &fs) < 0)
                error(125, errno, "statfs /sys/fs/cgroup");
        c->cgroup_v2 = fs.f_type == CGROUP2_SUPER_MAGIC;
        c->supervisor = getpid();
        c->ncgroups = c->cgroup_v2 ? 1 : 4;
        if (!c->cgroup_v2 && v1_parent("freezer", parent, sizeof(parent)) < 0) {
                say("no v1 freezer hierarchy is mounted: SIGTSTP will not pause the container");
                c->ncgroups = 3;
        }
        atexit(remove_cgroup);
        for (int i = c->ncgroups - 1; i >= 0; i--) {
                if (c->cgroup_v2)
                        snprintf(parent, sizeof(parent), "/sys/fs/cgroup/cntlab");
                else if (v1_parent(controllers[i], parent, sizeof(parent)) < 0)
                        error(125, 0, "no cgroup v1 hierarchy with the %s controller",
                              controllers[i]);
                if (mkdir(parent, 0755) < 0 && errno != EEXIST)
                        error(125, errno, "cgroup: mkdir %s", parent);
                sweep_stale_cgroups(parent);
                snprintf(c->cgroup[i], sizeof(c->cgroup[i]), "%s/%d", parent, getpid());
                say("create cgroup %s", c->cgroup[i]);
                if (mkdir(c->cgroup[i], 0755) < 0)
                        error(125, errno, "cgroup: mkdir %s", c->cgroup[i]);
        }
        /* v2 gives a controller to a cgroup only if every ancestor lists it in
         * cgroup.subtree_control (cgroup-v2.rst, "top-down constraint"), and a cgroup other
         * than the root lists one only while it has no processes of its own ("no internal
         * processes"). */
        if (c->cgroup_v2 &&
            (write_file("/sys/fs/cgroup/cgroup.subtree_control", controllers_v2) < 0 ||
             write_file("/sys/fs/cgroup/cntlab/cgroup.subtree_control", controllers_v2) < 0)) {
                if (errno == EBUSY)
                        error(
                            125, 0,
                            "cgroup: /sys/fs/cgroup has processes of its own, so it cannot enable "
                            "controllers for cntlab (in a container? move them to a child cgroup)");
                error(125, errno, "cgroup: enable memory, pids and cpu in cgroup.subtree_control");
        }
}

/* Write 0 ("the calling thread") to FILE in our v1 cgroups: "tasks" in, "../../tasks" back. */
static void move_self_v1(struct container *c, const char *file)
{
        for (int i = 0; i < c->ncgroups; i++)
                if (cgroup_write(c, i, file, "0") < 0)
                        error(125, errno, "cgroup: write 0 to %s/%s", c->cgroup[i], file);
}

/* Start the container's first process inside its cgroups, so nothing it runs is ever outside
 * them; moving it in later is slow (docs/07-cgroups.md). v2: clone3(2) with CLONE_INTO_CGROUP
 * (Linux 5.7), as systemd and crun do, or where clone3 lacks it (ENOSYS, E2BIG) clone, then
 * move the child, which waits for us. v1: write 0 ("the calling thread") to the new cgroups'
 * tasks, a fast move of ourselves, clone (a child starts where its parent is), step back. */
static void clone_into_cgroup(struct container *c, unsigned long flags)
{
        struct clone_args args = {.flags = (flags & ~CSIGNAL) | CLONE_INTO_CGROUP,
                                  .exit_signal = flags & CSIGNAL};
        int fd;

        /* c->pid is set at once: if what follows fails, remove_cgroup() kills the child. */
        if (!c->cgroup_v2) {
                say("clone from inside the cgroups: write 0 to their tasks, then to ../../tasks");
                move_self_v1(c, "tasks");
                c->pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
                if (c->pid != 0)
                        move_self_v1(c, "../../tasks");
                return;
        }
        say("clone3 with CLONE_INTO_CGROUP %s", c->cgroup[0]);
        fd = open(c->cgroup[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                error(125, errno, "cgroup: open %s", c->cgroup[0]);
        args.cgroup = (unsigned)fd;
        c->pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
        if (c->pid < 0 && (errno == ENOSYS || errno == E2BIG)) {
                char pid[16];

                c->pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
                snprintf(pid, sizeof(pid), "%d", c->pid);
                if (c->pid > 0 && cgroup_write(c, 0, "cgroup.procs", pid) < 0)
                        error(125, errno, "cgroup: move pid %s into %s", pid, c->cgroup[0]);
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

/* user_namespaces(7): uid 0 inside is 100000 outside, for 65536 ids. uid_map comes first,
 * then "deny" in setgroups (so no process there can drop a group to pass a "deny this group"
 * permission), then gid_map. Each is written once. */
static void write_id_maps(struct container *c)
{
        static const char *const files[] = {"uid_map", "setgroups", "gid_map"};
        static const char *const texts[] = {"0 100000 65536", "deny", "0 100000 65536"};
        char path[64];

        for (int i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "/proc/%d/%s", c->pid, files[i]);
                say("write %s: %s", path, texts[i]);
                if (write_file(path, texts[i]) < 0)
                        error(125, errno, "write %s", path);
        }
}

/* The lab's part of the host's nftables ruleset, in nft's own language (nft(8)), as
 * `nft list table ip cntlab` prints it: one table of our own, so nothing else of the host's
 * ruleset is touched, and deleting the table takes all of it. Docker's rules, in nft:
 * containers leave through masquerade (the outside sees the host's address; replies find
 * their way back through conntrack); the bridge's own traffic, containers' way out and the
 * replies to it pass the forward hook; a connection into a container passes only if it was
 * published, that is DNATed (ct status dnat), and anything else towards the bridge is
 * dropped. 127.0.0.0/8 towards the bridge is a published port reached from the host's
 * loopback: the container could not answer 127.0.0.1, which is its own lo, so that source is
 * masqueraded too, to 10.201.0.1. The comment keeps what the first container found in
 * ip_forward, for the last one to put back. */
static const char table_rules[] =
    "table ip cntlab {\n"
    "        comment \"ip_forward was %c\"\n"
    "        chain postrouting {\n"
    "                type nat hook postrouting priority srcnat; policy accept;\n"
    "                ip saddr 10.201.0.0/24 oifname != \"cntlab0\" masquerade\n"
    "                ip saddr 127.0.0.0/8 oifname \"cntlab0\" masquerade\n"
    "        }\n"
    "        chain forward {\n"
    "                type filter hook forward priority filter; policy accept;\n"
    "                iifname \"cntlab0\" oifname \"cntlab0\" accept\n"
    "                iifname \"cntlab0\" accept\n"
    "                oifname \"cntlab0\" ct state established,related accept\n"
    "                oifname \"cntlab0\" ct status dnat accept\n"
    "                oifname \"cntlab0\" drop\n"
    "        }\n"
    "}\n";

/* One container's -P rules, in base chains of their own named after its veth, so they go in
 * one command and a sweep can tell whose they are. DNAT in prerouting for what arrives from
 * outside, and in output for connections the host itself makes (they never pass
 * prerouting). "fib daddr type local": to any of the host's own addresses. */
static const char publish_chains[] =
    "table ip cntlab {\n"
    "        chain %s-prerouting {\n"
    "                type nat hook prerouting priority dstnat; policy accept;\n"
    "%s"
    "        }\n"
    "        chain %s-output {\n"
    "                type nat hook output priority -100; policy accept;\n"
    "%s"
    "        }\n"
    "}\n";
static const char publish_rule[] =
    "                fib daddr type local %s dport %d dnat to 10.201.0.%d:%d\n";

/* Run COMMANDS, nft's language, through libnftables: the same parser and the same netlink
 * transaction as the nft command, all of it applied or none. What nft prints (a "list") goes
 * to OUT, SIZE bytes; on failure, -1 and its first error line there instead. */
static int nft(const char *commands, char *out, size_t size)
{
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        int ret;

        if (!ctx) {
                snprintf(out, size, "nft_ctx_new failed");
                return -1;
        }
        nft_ctx_buffer_output(ctx);
        nft_ctx_buffer_error(ctx);
        ret = nft_run_cmd_from_buffer(ctx, commands);
        snprintf(out, size, "%s",
                 ret == 0 ? nft_ctx_get_output_buffer(ctx) : nft_ctx_get_error_buffer(ctx));
        if (ret != 0)
                out[strcspn(out, "\n")] = '\0';
        nft_ctx_free(ctx);
        return ret == 0 ? 0 : -1;
}

static void nft_or_die(const char *what, const char *commands)
{
        char err[512];

        if (nft(commands, err, sizeof(err)) < 0)
                error(125, 0, "nftables: %s: %s", what, err);
}

/* Starts, exits and sweeps of every container on this host's bridge take turns: the bridge,
 * the table and ip_forward are shared, and "am I the last?" must not change while we answer
 * it. The lock is the abstract unix socket "@cntlab/bridge-lock": a name only one socket may
 * hold, gone with its holder even after SIGKILL. Wait at most 10 s for it. */
static int lock_bridge(struct container *c)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX, .sun_path = "\0cntlab/bridge-lock"};
        socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen("cntlab/bridge-lock");

        if (c->lock_fd >= 0)
                return 0; /* an error() under the lock: leave_bridge() runs with it held */
        c->lock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        for (int try = 0; c->lock_fd >= 0 && try < 1000; try++) {
                if (bind(c->lock_fd, (struct sockaddr *)&addr, len) == 0)
                        return 0;
                if (errno != EADDRINUSE)
                        break;
                usleep(10000);
        }
        if (c->lock_fd >= 0)
                close(c->lock_fd);
        c->lock_fd = -1;
        return -1;
}

static void unlock_bridge(struct container *c)
{
        close(c->lock_fd);
        c->lock_fd = -1;
}

/* The supervisor PID of a port named cnt<PID>, or 0. */
static int port_owner(const char *name)
{
        int pid = 0, end = 0;

        return sscanf(name, "cnt%d%n", &pid, &end) == 1 && name[end] == '\0' ? pid : 0;
}

/* Count the ports of a living container other than ours: a SIGKILLed supervisor's veth may
 * linger while the kernel tears its container's network namespace down. */
static void count_live_port(const char *name, void *data)
{
        int pid = port_owner(name);

        if (pid > 0 && pid != getpid() && kill(pid, 0) == 0)
                ++*(int *)data;
}

/* A supervisor killed by SIGKILL cannot delete its -P chains: they are named after its veth,
 * and once that veth is gone (its namespace died with the container), the chains are swept
 * here, by the next start or the last exit. */
static void sweep_stale_rules(struct mnl_socket *nl)
{
        char list[16384], name[32], chain[64], command[192], err[512];
        char *line, *rest = NULL;

        if (nft("list table ip cntlab", list, sizeof(list)) < 0)
                return; /* no table, no chains */
        for (line = strtok_r(list, "\n", &rest); line; line = strtok_r(NULL, "\n", &rest)) {
                /* "chain cnt1234-prerouting {": the chain's name, and the veth's before the -. */
                if (sscanf(line, " chain %63[a-z0-9-]", chain) != 1 ||
                    sscanf(chain, "%31[a-z0-9]-", name) != 1 || strncmp(name, "cnt", 3) != 0 ||
                    netns_link_index(nl, name) >= 0 || errno != ENODEV)
                        continue;
                snprintf(command, sizeof(command),
                         "flush chain ip cntlab %s; delete chain ip cntlab %s", chain, chain);
                say("nftables: %s (its container is gone)", command);
                nft(command, err, sizeof(err));
        }
}

/* The first container on this host makes the bridge cntlab0, 10.201.0.1/24: a switch in the
 * kernel whose ports are the containers' veths, and the host's address on their network.
 * route_localnet lets a packet from 127.0.0.1 leave through it (a published port reached as
 * 127.0.0.1; ip-sysctl.rst): per interface, it goes with the bridge. */
static int create_bridge(struct mnl_socket *nl)
{
        struct in_addr gateway = {htonl(0x0ac90001)}; /* 10.201.0.1 */
        int bridge = netns_link_index(nl, "cntlab0");

        if (bridge > 0 || errno != ENODEV)
                return bridge;
        say("create the bridge cntlab0 with 10.201.0.1/24, route_localnet on");
        if (netns_bridge_add(nl, "cntlab0") < 0)
                error(125, errno, "netlink RTM_NEWLINK bridge cntlab0");
        bridge = netns_link_index(nl, "cntlab0");
        if (bridge < 0)
                error(125, errno, "netlink RTM_GETLINK cntlab0");
        if (netns_addr_add(nl, bridge, gateway, 24) < 0)
                error(125, errno, "netlink RTM_NEWADDR cntlab0");
        if (write_file("/proc/sys/net/ipv4/conf/cntlab0/route_localnet", "1") < 0)
                error(125, errno, "write /proc/sys/net/ipv4/conf/cntlab0/route_localnet");
        if (netns_link_up(nl, bridge) < 0)
                error(125, errno, "netlink RTM_NEWLINK cntlab0 up");
        return bridge;
}

/* The first container also makes the table, and turns forwarding on: without it the host
 * drops every packet not addressed to itself. net.ipv4.ip_forward belongs to the network
 * namespace that opens /proc/sys/net (the supervisor's, the "host"), not to the machine. */
static void create_table(void)
{
        char rules[sizeof(table_rules)], forward[4] = "0", list[16384];
        int fd;

        if (nft("list table ip cntlab", list, sizeof(list)) == 0)
                return;
        fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, forward, 1) != 1)
                error(125, errno, "read /proc/sys/net/ipv4/ip_forward");
        close(fd);
        snprintf(rules, sizeof(rules), table_rules, forward[0]);
        say("nftables: table ip cntlab: masquerade 10.201.0.0/24, forward rules");
        nft_or_die("add table ip cntlab", rules);
        say("net.ipv4.ip_forward = 1 (it was %c)", forward[0]);
        if (write_file("/proc/sys/net/ipv4/ip_forward", "1") < 0)
                error(125, errno, "write 1 to /proc/sys/net/ipv4/ip_forward");
}

/* -P: this container's DNAT chains. */
static void publish_ports(struct container *c, const char *veth)
{
        char rules[MAX_PUBLISH * 96], commands[sizeof(rules) * 2 + 512];
        size_t len = 0;

        if (!c->npublish)
                return;
        for (int i = 0; i < c->npublish; i++) {
                struct publish *p = &c->publish[i];

                say("publish: the host's %s port %d to 10.201.0.%d:%d", p->protocol, p->host_port,
                    c->slot, p->port);
                len += snprintf(rules + len, sizeof(rules) - len, publish_rule, p->protocol,
                                p->host_port, c->slot, p->port);
        }
        snprintf(commands, sizeof(commands), publish_chains, veth, rules, veth, rules);
        nft_or_die("add the -P chains", commands);
}

/* Put ip_forward back as the table's comment says the first container found it. */
static void restore_ip_forward(void)
{
        char list[16384];

        if (nft("list table ip cntlab", list, sizeof(list)) == 0 &&
            strstr(list, "ip_forward was 0")) {
                say("net.ipv4.ip_forward = 0, as the first container found it");
                write_file("/proc/sys/net/ipv4/ip_forward", "0");
        }
}

/* At exit, whatever way the supervisor leaves (error() included, and with the lock already held
 * if it failed under it): our -P chains and our veth go; if no living container is left on
 * the bridge, the table, ip_forward and the bridge too. Best effort: nothing here may stop
 * the rest. */
static void leave_bridge(void)
{
        struct container *c = &container;
        struct mnl_socket *nl;
        char name[16], err[512];
        int bridge, index, others = 0;

        if (getpid() != c->supervisor || !c->on_bridge || lock_bridge(c) < 0)
                return;
        nl = netns_open();
        snprintf(name, sizeof(name), "cnt%d", getpid());
        if (c->npublish) {
                char command[256];

                snprintf(
                    command, sizeof(command),
                    "flush chain ip cntlab %s-prerouting; delete chain ip cntlab %s-prerouting; "
                    "flush chain ip cntlab %s-output; delete chain ip cntlab %s-output",
                    name, name, name, name);
                say("nftables: %s", command);
                nft(command, err, sizeof(err));
        }
        index = nl ? netns_link_index(nl, name) : -1;
        if (index > 0)
                netns_link_del(nl, index);
        bridge = nl ? netns_link_index(nl, "cntlab0") : -1;
        if (nl)
                sweep_stale_rules(nl);
        if (bridge > 0 && netns_bridge_ports(nl, bridge, count_live_port, &others) >= 0 &&
            others == 0) {
                say("the last container on cntlab0: delete table ip cntlab and the bridge");
                restore_ip_forward();
                nft("delete table ip cntlab", err, sizeof(err));
                netns_link_del(nl, bridge);
        }
        netns_close(nl);
        unlock_bridge(c);
}

/* The host's half of the network: a veth pair (veth(4)), cnt<PID> here and its peer created in
 * the container's namespace as eth0, and the host end a port of the bridge (IFLA_MASTER), as
 * Docker's default network does. Under the bridge lock, so that the last container's exit
 * cannot remove the bridge between our finding it and joining it. */
static void join_bridge(struct container *c)
{
        struct mnl_socket *nl = netns_open();
        char name[16];
        int bridge, index;

        if (!nl)
                error(125, errno, "netlink socket");
        if (lock_bridge(c) < 0)
                error(125, errno, "10 s waiting for @cntlab/bridge-lock");
        c->on_bridge = 1;
        atexit(leave_bridge);
        sweep_stale_rules(nl);
        bridge = create_bridge(nl);
        if (bridge < 0)
                error(125, errno, "netlink RTM_GETLINK cntlab0");
        create_table();
        snprintf(name, sizeof(name), "cnt%d", getpid());
        say("create veth %s <-> eth0 in the container, %s a port of cntlab0", name, name);
        if (netns_veth_add(nl, name, "eth0", c->pid) < 0)
                error(125, errno, "netlink RTM_NEWLINK veth %s", name);
        index = netns_link_index(nl, name);
        if (index < 0)
                error(125, errno, "netlink RTM_GETLINK %s", name);
        if (netns_link_set_master(nl, index, bridge) < 0)
                error(125, errno, "netlink RTM_NEWLINK %s master cntlab0", name);
        if (netns_link_up(nl, index) < 0)
                error(125, errno, "netlink RTM_NEWLINK %s up", name);
        publish_ports(c, name);
        unlock_bridge(c);
        netns_close(nl);
}

/* Only now, with the container (which has run nothing yet) in its cgroup: on v1 we passed
 * through it, and must not count (--pids 1 would fail the clone, a tiny --memory kill us). */
static void set_limits(struct container *c)
{
        char value[64];

        snprintf(value, sizeof(value), "%lld", c->memory);
        cgroup_set(c, MEMORY, c->cgroup_v2 ? "memory.max" : "memory.limit_in_bytes", value);
        /* No swap either, or the limit would only move memory to disk (no file: no swap). */
        say("no swap beyond the memory limit, where the kernel accounts swap");
        if (cgroup_write(c, MEMORY,
                         c->cgroup_v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes",
                         c->cgroup_v2 ? "0" : value) < 0 &&
            errno != ENOENT)
                error(125, errno, "cgroup: limit swap");
        snprintf(value, sizeof(value), "%ld", c->pids);
        cgroup_set(c, PIDS, "pids.max", value);
        if (c->cpu_quota && c->cgroup_v2) {
                snprintf(value, sizeof(value), "%ld 100000", c->cpu_quota);
                cgroup_set(c, CPU, "cpu.max", value);
        } else if (c->cpu_quota) {
                cgroup_set(c, CPU, "cpu.cfs_period_us", "100000");
                snprintf(value, sizeof(value), "%ld", c->cpu_quota);
                cgroup_set(c, CPU, "cpu.cfs_quota_us", value);
        }
}

/* The supervisor's half of the setup, done while the container waits for it. */
static void setup_from_outside(struct container *c)
{
        write_id_maps(c);
        if (sync_wake(&c->sync) < 0 || sync_wait(&c->sync) < 0)
                return; /* it died during setup: supervise() reports its status */
        join_bridge(c);
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
        if (!c->cgroup_v2 && c->ncgroups <= FREEZER) {
                say("SIGTSTP: no freezer to pause the container with: it keeps running");
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
        check_root();
        check_rootfs(c);
        /* With setgroups denied, the container could never drop our supplementary groups. */
        if (setgroups(0, NULL) < 0)
                error(125, errno, "setgroups");
        claim_slot(c);
        create_cgroup(c);
        start_container(c);
        setup_from_outside(c);
        return supervise(c);
}
