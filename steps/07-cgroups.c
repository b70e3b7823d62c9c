/* cntlab 07-cgroups: resource limits (cgroups).
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

#include "sync.h"
#include "watchdog.h"
#include "netns.h"

static char step[] = "07-cgroups"; /* error(3) and usage() print it */

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
        int slot; /* the container's network is 10.200.<slot>.0/30 */
        int slot_fd; /* holds the slot for as long as the supervisor lives */
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
                        break;
                case 'p': c->pids = (long)parse_number("pids", optarg, WHOLE, 4194304); break;
                case 'c':
                        c->cpu_quota =
                            (long)(parse_number("cpus", optarg, FRACTION, 1024) * 100000);
                        if (c->cpu_quota < 1000) /* the kernel's smallest quota (sched-bwc.rst) */
                                error(125, 0, "invalid --cpus '%s': at least 0.01", optarg);
                        break;
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
        struct in_addr addr = {htonl(0x0ac80002 | c->slot << 8)}; /* 10.200.S.2 */
        struct in_addr gateway = {htonl(0x0ac80001 | c->slot << 8)}; /* 10.200.S.1 */
        struct mnl_socket *nl = netns_open();
        int lo, eth0;

        if (!nl)
                error(125, errno, "netlink socket");
        say("lo up, eth0 %s/30 up, default route via the host end", inet_ntoa(addr));
        lo = netns_link_index(nl, "lo");
        if (lo < 0 || netns_link_up(nl, lo) < 0)
                error(125, errno, "netlink RTM_NEWLINK lo up");
        eth0 = netns_link_index(nl, "eth0");
        if (eth0 < 0)
                error(125, errno, "netlink RTM_GETLINK eth0");
        if (netns_addr_add(nl, eth0, addr, 30) < 0)
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
        exec_command(c);
        exit(125); /* not reached: exec_command() execs or exits */
}

/* Pick a free /30, 10.200.S.0/30, trying S from our PID modulo 256 on. S is ours while we
 * hold the abstract unix socket "@cntlab/slot/S" (unix(7)): one holder per name, released
 * when it dies, even by SIGKILL, so no lock file is left. 256 containers at most. */
static void claim_slot(struct container *c)
{
        for (int i = 0; i < 256; i++) {
                struct sockaddr_un addr = {.sun_family = AF_UNIX};
                int s = (getpid() + i) % 256;
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                socklen_t len;

                if (fd < 0)
                        error(125, errno, "socket");
                len = offsetof(struct sockaddr_un, sun_path) + 1 +
                      snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "cntlab/slot/%d", s);
                if (bind(fd, (struct sockaddr *)&addr, len) == 0) {
                        c->slot = s;
                        c->slot_fd = fd;
                        say("network slot %d: host end 10.200.%d.1/30, container 10.200.%d.2/30", s,
                            s, s);
                        return;
                }
                if (errno != EADDRINUSE)
                        error(125, errno, "bind @cntlab/slot/%d", s);
                close(fd);
        }
        error(125, 0, "no free network slot: 256 containers are running");
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

/* The host's half of the network: a veth pair (veth(4)), cnt<PID> here and its peer created
 * in the container's namespace as eth0. We never delete it: when the container's last process
 * exits, its namespace goes, eth0 with it, and the host end too. */
static void create_veth(struct container *c)
{
        struct in_addr host = {htonl(0x0ac80001 | c->slot << 8)}; /* 10.200.S.1 */
        struct mnl_socket *nl = netns_open();
        char name[16];
        int index;

        if (!nl)
                error(125, errno, "netlink socket");
        snprintf(name, sizeof(name), "cnt%d", getpid());
        say("create veth %s <-> eth0 in the container, %s/30 on the host end", name,
            inet_ntoa(host));
        if (netns_veth_add(nl, name, "eth0", c->pid) < 0)
                error(125, errno, "netlink RTM_NEWLINK veth %s", name);
        index = netns_link_index(nl, name);
        if (index < 0)
                error(125, errno, "netlink RTM_GETLINK %s", name);
        if (netns_addr_add(nl, index, host, 30) < 0)
                error(125, errno, "netlink RTM_NEWADDR %s", name);
        if (netns_link_up(nl, index) < 0)
                error(125, errno, "netlink RTM_NEWLINK %s up", name);
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
        create_veth(c);
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
