/* cntlab 09-rootless: the same container, run by an ordinary user (bonus step).
 *
 * A container is an ordinary process that the kernel shows a world of its own. Each
 * step of this lab adds one part of that world; this file is the previous step plus
 * exactly that part, and `make diff STEP=NN` shows it.
 *
 *   01-uts      hostname      clone(CLONE_NEWUTS), sethostname()
 *   02-mnt      filesystem    CLONE_NEWNS, pivot_root(), /proc, /dev, overlay, binds
 *   03-pid      processes     CLONE_NEWPID: COMMAND is PID 1
 *   04-ipc      IPC objects   CLONE_NEWIPC, /dev/mqueue
 *   05-user     user IDs      CLONE_NEWUSER, uid_map/gid_map, lib/sync handshake
 *   06-net      network       CLONE_NEWNET, a veth pair through lib/netns (netlink)
 *   07-cgroups  resources     memory, pids and CPU limits, CLONE_NEWCGROUP
 *   08-sec      privileges    capabilities, no_new_privs, seccomp, masked /proc
 *   09-rootless no root       newuidmap, slirp4netns, a delegated cgroup v2
 *
 * The program is a supervisor: it starts the container's first process with clone(),
 * forwards signals to it, waits for it and returns its exit status. The options and
 * statuses are in docs/cli.md. Read alongside: namespaces(7), clone(2).
 */
#define _GNU_SOURCE
#include <errno.h>
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
#include <linux/magic.h>
#include <sys/statfs.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <pwd.h>
#include <spawn.h>

#include "sync.h"
#include "netns.h"

static const char *const step = "09-rootless";

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
        long cpu_quota; /* microseconds per 100 ms period, 0 = no limit */
        const char *limit_option; /* the last -m, -p or -c given, if any */
        char cgroup[PATH_MAX]; /* cntlab/<PID> under our own cgroup, or "" if none */
        pid_t supervisor;
};

static struct container container;
static int verbose;

/* The single way out after a failed setup action: one line "NN-name: what: why" on
 * stderr and the contract's status 125. die() for our own checks, die_errno() after a
 * failed call, adding strerror(errno). The attributes let the compiler check the format
 * strings and know that neither returns. */
static void report(int err, const char *fmt, va_list ap)
{
        char what[512];

        vsnprintf(what, sizeof(what), fmt, ap);
        fprintf(stderr, "%s: %s%s%s\n", step, what, err ? ": " : "", err ? strerror(err) : "");
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        report(0, fmt, ap);
        va_end(ap);
        exit(125);
}

__attribute__((noreturn, format(printf, 1, 2))) static void die_errno(const char *fmt, ...)
{
        int err = errno;
        va_list ap;

        va_start(ap, fmt);
        report(err, fmt, ap);
        va_end(ap);
        exit(125);
}

/* -v: narrate each setup action, so a learner can follow the code as it runs. The
 * supervisor and the container narrate at the same time, so each line is formatted
 * first and printed in one call: stderr is unbuffered, and one fprintf is one write. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
        char line[512];
        va_list ap;

        if (!verbose)
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        fprintf(stderr, "=> %s\n", line);
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
                die("invalid hostname '%s': use 1-64 letters, digits, '-' or '.'", name);
        memcpy(c->hostname, name, len + 1);
}

/* A default name like Docker's random ids: cnt- and 5 hex digits from getrandom(2). */
static void set_default_hostname(struct container *c)
{
        unsigned int r = 0;

        if (getrandom(&r, sizeof(r), 0) < 0)
                die_errno("getrandom");
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
                die("invalid --bind '%s': expected SRC:DST or SRC:DST:ro, DST absolute", spec);
        if (c->nbinds == MAX_BINDS)
                die("too many --bind options (at most %d)", MAX_BINDS);
        b = &c->binds[c->nbinds];
        *dst++ = '\0';
        if (mode)
                *mode = '\0';
        b->src = realpath(spec, NULL);
        if (!b->src)
                die_errno("bind source %s", spec);
        b->dst = dst;
        b->read_only = mode != NULL;
        c->nbinds++;
}

/* --memory 256M: bytes, or a number with a binary K, M or G suffix. */
static long long parse_size(const char *arg)
{
        char *end;
        long long n;

        errno = 0;
        n = strtoll(arg, &end, 10);
        if (*end == 'K' || *end == 'k')
                n <<= 10, end++;
        else if (*end == 'M' || *end == 'm')
                n <<= 20, end++;
        else if (*end == 'G' || *end == 'g')
                n <<= 30, end++;
        if (errno || end == arg || *end || n <= 0 || n > (1LL << 50))
                die("invalid --memory '%s': expected bytes or a number with K, M or G", arg);
        return n;
}

static long parse_pids(const char *arg)
{
        char *end;
        long n;

        errno = 0;
        n = strtol(arg, &end, 10);
        if (errno || end == arg || *end || n < 1 || n > 4194304)
                die("invalid --pids '%s': expected a whole number from 1", arg);
        return n;
}

/* --cpus 0.5 becomes a CFS quota of 50 ms in every 100 ms period (sched-design-CFS). */
static long parse_cpus(const char *arg)
{
        char *end;
        double n;

        errno = 0;
        n = strtod(arg, &end);
        if (errno || end == arg || *end || !(n > 0 && n <= 1024))
                die("invalid --cpus '%s': expected a number of CPUs above 0, e.g. 0.5", arg);
        return (long)(n * 100000);
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
        /* "+": stop at the first word that is not an option; it starts COMMAND. */
        /* ":" after it: tell a missing value (':') from an unknown option ('?'). We report
         * both ourselves, in the contract's one-line form. */
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "+:n:vhr:ob:m:p:c:", options, NULL)) != -1) {
                switch (opt) {
                case 'n':
                        set_hostname_option(c, optarg);
                        break;
                case 'v':
                        verbose = 1;
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                case 'r':
                        c->rootfs = optarg;
                        break;
                case 'o':
                        c->overlay = 1;
                        break;
                case 'b':
                        add_bind_option(c, optarg);
                        break;
                case 'm':
                        c->memory = parse_size(optarg);
                        c->limit_option = "--memory";
                        break;
                case 'p':
                        c->pids = parse_pids(optarg);
                        c->limit_option = "--pids";
                        break;
                case 'c':
                        c->cpu_quota = parse_cpus(optarg);
                        c->limit_option = "--cpus";
                        break;
                case ':':
                        die("option %s needs a value: see --help", argv[optind - 1]);
                default:
                        die("unknown option %s: see --help", argv[optind - 1]);
                }
        }
        c->argv = optind < argc ? argv + optind : default_command;
}

/* The point of this step is to need no privilege. As root, the one-line map below would
 * be "0 0 1": root inside would be the host's root, and nothing would be shown. */
static void check_not_root(void)
{
        if (geteuid() == 0)
                die("running as root: 09-rootless is for ordinary users; as root, run 08-sec");
}

static void check_rootfs(struct container *c)
{
        struct stat st;

        if (stat(c->rootfs, &st) < 0)
                die_errno("rootfs %s", c->rootfs);
        if (!S_ISDIR(st.st_mode))
                die("rootfs %s: not a directory", c->rootfs);
}

/* Write a short string to a file such as /proc/PID/uid_map in one write(2): the kernel
 * accepts these files only as a single write. Returns -1 with errno on failure. */
static int write_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        ssize_t n;
        int err;

        if (fd < 0)
                return -1;
        n = write(fd, text, strlen(text));
        err = errno;
        close(fd);
        errno = err;
        return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* ------------------------------------------------------------------------------------
 * Inside: what the container's first process does before it becomes COMMAND.
 * ------------------------------------------------------------------------------------ */

/* user_namespaces(7): once the supervisor has written the maps, uid/gid 0 exist in
 * this namespace (the user outside) and the process may take them. Until then it runs
 * as the overflow id 65534 with a full set of capabilities that only count in here. */
static void become_root(struct container *c)
{
        say("setresgid(0) and setresuid(0): root inside, the user who ran us outside");
        if (setresgid(0, 0, 0) < 0)
                die_errno("setresgid 0");
        if (setresuid(0, 0, 0) < 0)
                die_errno("setresuid 0");
        /* We inherited the user's supplementary groups, and 08's setgroups(0, NULL) on the
         * host needs CAP_SETGID there. Root in here may call it only if setgroups is
         * "allow": so with newgidmap's map. The one-line map needs "deny" (see
         * write_id_maps()), and then the groups stay, shown as 65534. */
        if (!c->subcount)
                return;
        say("setgroups(0, NULL): drop the user's supplementary groups");
        if (setgroups(0, NULL) < 0)
                die_errno("setgroups");
}

static void set_hostname(struct container *c)
{
        say("sethostname %s: the UTS namespace is ours, the host keeps its name", c->hostname);
        if (sethostname(c->hostname, strlen(c->hostname)) < 0)
                die_errno("sethostname %s", c->hostname);
}

/* The container's half of the network. A netlink socket acts on the network namespace
 * it was opened in, and this process already lives in the container's, so it can only
 * touch its own interfaces: lo, and eth0, the tap device slirp4netns created in here.
 * slirp4netns's virtual network is 10.0.2.0/24: its gateway 10.0.2.2 forwards to the
 * host's 127.0.0.1, 10.0.2.3 answers DNS, and 10.0.2.100 is the guest's usual address
 * (slirp4netns(1)). Nothing of it is an address on the host. */
static void configure_network(struct container *c)
{
        struct in_addr addr = {htonl(0x0a000264)}; /* 10.0.2.100 */
        struct in_addr gateway = {htonl(0x0a000202)}; /* 10.0.2.2 */
        struct mnl_socket *nl = netns_open();
        int lo, eth0;

        if (!nl)
                die_errno("netlink socket");
        say("lo up");
        lo = netns_link_index(nl, "lo");
        if (lo < 0 || netns_link_up(nl, lo) < 0)
                die_errno("netlink RTM_NEWLINK lo up");
        if (!c->user_net) {
                netns_close(nl);
                return;
        }
        say("eth0 %s/24 up, default route via slirp4netns at 10.0.2.2", inet_ntoa(addr));
        eth0 = netns_link_index(nl, "eth0");
        if (eth0 < 0)
                die_errno("netlink RTM_GETLINK eth0");
        if (netns_addr_add(nl, eth0, addr, 24) < 0)
                die_errno("netlink RTM_NEWADDR eth0");
        if (netns_link_up(nl, eth0) < 0)
                die_errno("netlink RTM_NEWLINK eth0 up");
        if (netns_route_add_default(nl, gateway) < 0)
                die_errno("netlink RTM_NEWROUTE default");
        netns_close(nl);
}

static void mount_or_die(const char *src, const char *dst, const char *type, unsigned long flags,
                         const char *data)
{
        if (mount(src, dst, type, flags, data) < 0)
                die_errno("mount %s on %s", src ? src : type ? type : "(new flags)", dst);
}

/* Mounts are shared with the host by default on systemd machines (mount_namespaces(7),
 * "shared subtrees"): without this, every mount below would appear on the host too. */
static void make_mounts_private(void)
{
        say("make every mount private, so nothing we mount propagates to the host");
        mount_or_die(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

/* Mount the new root and make it the current directory. pivot_root(2) needs the new
 * root to be a mount point, so the rootfs is bound onto itself. With --overlay the new
 * root is instead an overlayfs whose rootfs layer is read-only and whose only writable
 * layer is a tmpfs private to this mount namespace, so writes land in memory and vanish
 * with the container (filesystems/overlayfs.rst, "Upper and Lower"). That tmpfs is
 * mounted over the rootfs path itself, after opening the rootfs: the kernel reaches the
 * covered directory through the file descriptor, and nothing is created on the host. */
static void mount_root(struct container *c)
{
        char opts[64];
        int lower;

        if (!c->overlay) {
                say("bind-mount %s onto itself: pivot_root needs a mount point", c->rootfs);
                mount_or_die(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL);
                if (chdir(c->rootfs) < 0)
                        die_errno("chdir %s", c->rootfs);
                return;
        }
        lower = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (lower < 0)
                die_errno("open %s", c->rootfs);
        say("overlay: %s read-only below, a tmpfs layer above", c->rootfs);
        mount_or_die("tmpfs", c->rootfs, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755");
        if (chdir(c->rootfs) < 0 || mkdir("upper", 0755) < 0 || mkdir("work", 0755) < 0 ||
            mkdir("merged", 0755) < 0)
                die_errno("make the overlay's directories");
        snprintf(opts, sizeof(opts), "lowerdir=/proc/self/fd/%d,upperdir=upper,workdir=work",
                 lower);
        mount_or_die("overlay", "merged", "overlay", 0, opts);
        close(lower);
        if (chdir("merged") < 0)
                die_errno("chdir into the overlay");
}

/* The minimal /proc: a fresh procfs instance. procfs shows the processes of the PID
 * namespace of whoever mounts it (proc(5)); nosuid, nodev, noexec as every runtime. */
static void mount_proc(void)
{
        say("mount a fresh proc on /proc");
        mount_or_die("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* A minimal /dev: a small tmpfs holding only the six devices a program expects. We
 * bind the host's device nodes instead of mknod(2)ing them, because from step 05 on a
 * user namespace may not create device nodes but may bind existing ones. */
static void mount_dev(void)
{
        static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
        char host[32], inside[32];

        say("mount a tmpfs on /dev with null zero full random urandom tty from the host");
        mount_or_die("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k");
        for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
                int fd;

                snprintf(host, sizeof(host), "/dev/%s", devices[i]);
                snprintf(inside, sizeof(inside), "dev/%s", devices[i]);
                fd = open(inside, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
                if (fd < 0)
                        die_errno("create %s", inside);
                close(fd);
                mount_or_die(host, inside, NULL, MS_BIND, NULL);
        }
}

/* POSIX message queues live in the IPC namespace too; the mqueue filesystem shows
 * those of the namespace that mounts it (mq_overview(7)). */
static void mount_mqueue(void)
{
        say("mount this IPC namespace's mqueue on /dev/mqueue");
        if (mkdir("dev/mqueue", 0755) < 0)
                die_errno("mkdir /dev/mqueue");
        mount_or_die("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* sysfs shows the network devices of the network namespace that mounts it, and a user
 * namespace's root may mount it only when that namespace owns the network namespace:
 * this is the first step where /sys can exist. Read-only, as Docker mounts it. */
static void mount_sys(void)
{
        say("mount sysfs read-only on /sys");
        mount_or_die("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* What runc and crun hide by default. Files that reveal the host's kernel memory,
 * keys or timers are covered with /dev/null; directories of host hardware with an
 * empty read-only tmpfs; and the files that would let root inside reconfigure the
 * host's kernel (/proc/sys, sysrq, irq affinity) are made read-only. Paths this kernel
 * does not have are skipped. */
static void mask_paths(void)
{
        static const char *const hidden_files[] = {"proc/kcore", "proc/keys", "proc/timer_list",
                                                   "proc/sched_debug", "proc/latency_stats"};
        static const char *const hidden_dirs[] = {"proc/acpi", "proc/scsi", "sys/firmware"};
        static const char *const read_only[] = {"proc/sys", "proc/sysrq-trigger", "proc/irq",
                                                "proc/bus", "proc/fs"};
        const unsigned long locked = MS_NOSUID | MS_NODEV | MS_NOEXEC;

        say("mask /proc/kcore and friends, make /proc/sys and friends read-only");
        for (size_t i = 0; i < sizeof(hidden_files) / sizeof(hidden_files[0]); i++)
                if (access(hidden_files[i], F_OK) == 0)
                        mount_or_die("dev/null", hidden_files[i], NULL, MS_BIND, NULL);
        for (size_t i = 0; i < sizeof(hidden_dirs) / sizeof(hidden_dirs[0]); i++)
                if (access(hidden_dirs[i], F_OK) == 0)
                        mount_or_die("tmpfs", hidden_dirs[i], "tmpfs", MS_RDONLY | locked,
                                     "size=0");
        for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++) {
                if (access(read_only[i], F_OK) < 0)
                        continue;
                /* A read-only bind takes two calls: bind, then remount the bind read-only. */
                mount_or_die(read_only[i], read_only[i], NULL, MS_BIND | MS_REC, NULL);
                mount_or_die(NULL, read_only[i], NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | locked,
                             NULL);
        }
}

/* Open PATH (absolute, as seen inside) below the new root, which is the current
 * directory, creating what is missing: directories, and for a file SRC the final file.
 * Each component is opened with openat2(RESOLVE_BENEATH) relative to the previous one,
 * so neither ".." nor a symbolic link can lead outside the container's root. */
static int open_in_root(const char *path, int is_dir)
{
        struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH};
        char copy[PATH_MAX], *name, *rest = NULL;
        int dir = open(".", O_PATH | O_CLOEXEC);

        snprintf(copy, sizeof(copy), "%s", path);
        for (name = strtok_r(copy, "/", &rest); name && dir >= 0;
             name = strtok_r(NULL, "/", &rest)) {
                int last = rest[strspn(rest, "/")] == '\0';
                int fd = (int)syscall(SYS_openat2, dir, name, &how, sizeof(how));

                if (fd < 0 && errno == ENOENT) {
                        int made =
                            last && !is_dir
                                ? openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644)
                                : mkdirat(dir, name, 0755);

                        if (made > 0)
                                close(made);
                        if (made >= 0)
                                fd = (int)syscall(SYS_openat2, dir, name, &how, sizeof(how));
                }
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
                die_errno("statvfs %s", path);
        flags |= (st.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
        flags |= (st.f_flag & ST_NODEV) ? MS_NODEV : 0;
        flags |= (st.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
        flags |= (st.f_flag & ST_NOATIME) ? MS_NOATIME : 0;
        flags |= (st.f_flag & ST_NODIRATIME) ? MS_NODIRATIME : 0;
        flags |= (st.f_flag & ST_RELATIME) ? MS_RELATIME : 0;
        return flags;
}

/* --bind SRC:DST[:ro]. The mount targets /proc/self/fd/N, the destination we opened
 * safely, rather than a path the kernel would resolve once more. */
static void mount_binds(struct container *c)
{
        for (int i = 0; i < c->nbinds; i++) {
                struct bind *b = &c->binds[i];
                char target[64];
                struct stat st;
                int fd;

                if (stat(b->src, &st) < 0)
                        die_errno("bind source %s", b->src);
                fd = open_in_root(b->dst, S_ISDIR(st.st_mode));
                if (fd < 0 && errno == EXDEV) /* what RESOLVE_BENEATH says to an escape */
                        die("bind destination %s leads outside the container's root", b->dst);
                if (fd < 0)
                        die_errno("bind destination %s", b->dst);
                say("bind-mount %s at %s%s", b->src, b->dst, b->read_only ? " read-only" : "");
                snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
                mount_or_die(b->src, target, NULL, MS_BIND | MS_REC, NULL);
                close(fd);
                if (!b->read_only)
                        continue;
                /* Read-only takes a second call: remount the bind mount (now at DST) itself. */
                fd = open_in_root(b->dst, S_ISDIR(st.st_mode));
                snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
                mount_or_die(NULL, target, NULL,
                             MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(b->src), NULL);
                close(fd);
        }
}

/* pivot_root(2), as its manual suggests: with new and old root both ".", the old root
 * is stacked on top of the new one, and umount2(MNT_DETACH) takes it away for good, so
 * no path inside leads back to the host's files. This needs no directory for the old
 * root, which from step 05 on the container's root could not create. */
static void pivot_into_cwd(void)
{
        say("pivot_root into the new root and detach the old one");
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                die_errno("pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
                die_errno("detach the old root");
        if (chdir("/") < 0)
                die_errno("chdir /");
}

/* Build the container's filesystem in its own mount namespace and move into it. The
 * order matters: everything that needs a path on the host (the rootfs, the host's
 * devices, bind sources, /proc/self/fd) happens before the old root is detached. */
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

/* capabilities(7): keep Docker's default 14 and nothing else, in the bounding set (so
 * no later execve can regain the rest), permitted and effective; inheritable and
 * ambient empty. What the dropped ones would allow a container's root to do:
 *   SYS_ADMIN     mount, sethostname, setns and most of what namespaces guard
 *   NET_ADMIN     reconfigure the container's interfaces, routes and firewall
 *   SYS_PTRACE    read and write other processes' memory
 *   SYS_MODULE, SYS_RAWIO, SYS_BOOT, SYS_TIME  load kernel code, poke I/O ports,
 *                 reboot, set the clock: all of them act on the host, not a namespace
 *   DAC_READ_SEARCH  open_by_handle_at(2), the "shocker" escape from Docker 0.11
 *   the rest (IPC_LOCK, SYS_RESOURCE, SYSLOG, BPF, PERFMON, ...) reach host-wide state */
static void drop_capabilities(void)
{
        static const cap_value_t keep[] = {
            CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
            CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
            CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
            CAP_KILL,    CAP_AUDIT_WRITE,
        };
        const int nkeep = sizeof(keep) / sizeof(keep[0]);
        cap_t caps;

        say("drop all capabilities but Docker's 14 from bounding, permitted, effective");
        for (cap_value_t cap = 0; cap < (cap_value_t)cap_max_bits(); cap++) {
                int kept = 0;

                for (int i = 0; i < nkeep; i++)
                        kept |= keep[i] == cap;
                if (!kept && cap_drop_bound(cap) < 0)
                        die_errno("drop capability %d from the bounding set", cap);
        }
        caps = cap_init();
        if (!caps || cap_set_flag(caps, CAP_PERMITTED, nkeep, keep, CAP_SET) < 0 ||
            cap_set_flag(caps, CAP_EFFECTIVE, nkeep, keep, CAP_SET) < 0 || cap_set_proc(caps) < 0)
                die_errno("set capabilities");
        cap_free(caps);
        if (cap_reset_ambient() < 0)
                die_errno("clear ambient capabilities");
}

/* Add "return EPERM" for SYSCALL when its argument ARG has all bits of MASK set. */
static void deny_flag(scmp_filter_ctx ctx, const char *syscall, unsigned arg, unsigned mask)
{
        int nr = seccomp_syscall_resolve_name(syscall);
        struct scmp_arg_cmp cmp = {arg, SCMP_CMP_MASKED_EQ, mask, mask};

        if (nr != __NR_SCMP_ERROR &&
            seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1, &cmp))
                die("seccomp: cannot add a rule for %s", syscall);
}

/* seccomp(2) through libseccomp: the filter allows everything except what could undo
 * the isolation built so far or reach the host's kernel directly. Syscalls are named,
 * so libseccomp picks the right numbers for this architecture; names it does not know
 * (or this architecture lacks) are skipped. */
static void install_seccomp(void)
{
        static const char *const denied[] = {
            "unshare",
            "setns", /* new or other namespaces */
            "keyctl",
            "add_key",
            "request_key", /* the keyring is not namespaced */
            "kexec_load",
            "kexec_file_load",
            "reboot", /* replace or stop the host kernel */
            "init_module",
            "finit_module",
            "delete_module", /* load kernel code */
            "open_by_handle_at", /* open files outside the root */
            "bpf",
            "perf_event_open",
            "userfaultfd", /* kernel attack surface */
            "mount",
            "umount",
            "umount2",
            "pivot_root", /* rebuild the filesystem */
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "move_mount",
            "open_tree",
            "mount_setattr",
            "swapon",
            "swapoff",
        };
        static const unsigned namespace_flags[] = {CLONE_NEWNS,    CLONE_NEWUTS, CLONE_NEWIPC,
                                                   CLONE_NEWUSER,  CLONE_NEWPID, CLONE_NEWNET,
                                                   CLONE_NEWCGROUP};
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

        if (!ctx)
                die("seccomp_init failed");
        say("load a seccomp filter: EPERM for namespace, mount, module, keyring syscalls");
        for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
                int nr = seccomp_syscall_resolve_name(denied[i]);

                if (nr != __NR_SCMP_ERROR && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0))
                        die("seccomp: cannot add a rule for %s", denied[i]);
        }
        /* clone(2) may make threads and processes, but no namespaces. clone3 passes its
         * flags in memory, which seccomp cannot read: ENOSYS makes libc fall back to clone. */
        for (size_t i = 0; i < sizeof(namespace_flags) / sizeof(namespace_flags[0]); i++)
                deny_flag(ctx, "clone", 0, namespace_flags[i]);
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), seccomp_syscall_resolve_name("clone3"),
                             0))
                die("seccomp: cannot add a rule for clone3");
        /* TIOCSTI pushes characters into the terminal's input: a container could type
         * commands into the host shell that started it. */
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                             SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI)))
                die("seccomp: cannot add a rule for ioctl");
        /* No set-user-ID or set-group-ID files: with no_new_privs they would not raise
         * privileges in here, but they would on the host if the files got out. */
        deny_flag(ctx, "chmod", 1, S_ISUID);
        deny_flag(ctx, "chmod", 1, S_ISGID);
        deny_flag(ctx, "fchmod", 1, S_ISUID);
        deny_flag(ctx, "fchmod", 1, S_ISGID);
        deny_flag(ctx, "fchmodat", 2, S_ISUID);
        deny_flag(ctx, "fchmodat", 2, S_ISGID);
        deny_flag(ctx, "fchmodat2", 2, S_ISUID);
        deny_flag(ctx, "fchmodat2", 2, S_ISGID);
        errno = -seccomp_load(ctx); /* libseccomp returns -errno */
        if (errno)
                die_errno("seccomp_load");
        seccomp_release(ctx);
}

/* Least privilege, last thing before execve: capabilities first (dropping them needs
 * CAP_SETPCAP), then no_new_privs so no set-user-ID file or file capability can give
 * anything back (prctl(2)), then the seccomp filter, which the kernel lets an
 * unprivileged process install only with no_new_privs set. */
static void drop_privileges(void)
{
        drop_capabilities();
        say("set no_new_privs");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                die_errno("prctl PR_SET_NO_NEW_PRIVS");
        install_seccomp();
}

/* execvp(3) searches PATH. The contract tells "not found" (127) from "cannot run" (126),
 * as shells do, so a caller can tell a typo from a permission problem. */
static void exec_command(struct container *c)
{
        int status;

        say("exec %s", c->argv[0]);
        execvp(c->argv[0], c->argv);
        status = errno == ENOENT ? 127 : 126;
        fprintf(stderr, "%s: exec %s: %s\n", step, c->argv[0], strerror(errno));
        exit(status);
}

/* The container's first process, from clone() to execve(). */
__attribute__((noreturn)) static void container_main(struct container *c)
{
        /* If the supervisor dies, so does the container (prctl(2)). A supervisor that dies
         * in the instant before this call would leave us running: from step 05 on, a
         * handshake closes that window. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                die_errno("prctl PR_SET_PDEATHSIG");
        /* The supervisor blocked the signals it forwards; signal masks survive execve. */
        sigprocmask(SIG_SETMASK, &c->old_mask, NULL);
        sync_as_child(&c->sync);
        /* Wait until the supervisor has written our ID maps. End-of-file means it died or
         * gave up (and said why): leave quietly. */
        if (sync_wait(&c->sync) < 0)
                _exit(125);
        become_root(c);
        /* Changing user IDs cleared the parent-death signal (the kernel resets it whenever
         * credentials change), so arm it again. Then report and wait for the rest of the
         * supervisor's setup: had it died before the signal was armed, this wait sees
         * end-of-file, so no container outlives its supervisor. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                die_errno("prctl PR_SET_PDEATHSIG");
        if (sync_wake(&c->sync) < 0 || sync_wait(&c->sync) < 0)
                _exit(125);
        /* A cgroup namespace's root is the cgroup its creator is in at that moment
         * (cgroup_namespaces(7)). We were born in ours, but CLONE_NEWCGROUP in the clone
         * would have taken the supervisor's cgroup as the root, so we unshare it now. */
        say("unshare the cgroup namespace: our cgroup becomes its /");
        if (unshare(CLONE_NEWCGROUP) < 0)
                die_errno("unshare CLONE_NEWCGROUP");
        set_hostname(c);
        configure_network(c);
        enter_rootfs(c);
        set_environment();
        drop_privileges();
        exec_command(c);
        exit(125); /* not reached: exec_command() execs or exits */
}

/* ------------------------------------------------------------------------------------
 * Outside: what the supervisor does.
 * ------------------------------------------------------------------------------------ */

/* Where execvp(3) would find NAME: the first executable NAME in $PATH, into PATH (of
 * PATH_MAX bytes). Returns -1 if there is none. The helpers are looked up before the
 * container exists, because what they are decides its maps and its network. */
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

/* The start of the user's first range in FILE (/etc/subuid or /etc/subgid), whose lines
 * read "name:start:count", name a login name or a uid (subuid(5)); its size in *COUNT.
 * 0 if the user has none. */
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

/* user_namespaces(7): a process without privilege may write one line to its child
 * namespace's uid_map, mapping its own uid, and one to gid_map, after denying setgroups.
 * Anything more takes CAP_SETUID and CAP_SETGID over the parent namespace: the
 * set-user-ID helpers newuidmap and newgidmap (Debian's uidmap) have them, and write the
 * ranges that /etc/subuid and /etc/subgid give the user, and nothing else. */
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
        /* Under no_new_privs (Docker's default, systemd's NoNewPrivileges=) execve ignores
         * the set-user-ID bit, and the helpers could not write the maps (prctl(2)). */
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

/* Root in a user namespace may make a network namespace, but not a veth pair into the
 * host's: that takes CAP_NET_ADMIN over the host's network namespace. slirp4netns
 * instead gives the container a tap device and relays what it sends through ordinary
 * sockets of the user's, the way QEMU's user networking does. It opens /dev/net/tun
 * (tun(4)), so that must be open to the user: mode 666 on most distributions. */
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

/* Start PATH with ARGV and our environment, its signal mask the one we had before
 * blocking ours, in a process group of its own: Ctrl-C on the terminal is for the
 * container, not for a helper. QUIET: stdout and stderr to /dev/null (slirp4netns
 * chats there). Returns its PID, or -1 with errno. */
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

/* Without a delegated cgroup there is nowhere to put limits. The defaults are skipped,
 * and -v says why; a limit asked for cannot be kept, so that is a setup failure. */
static void no_cgroup(struct container *c, const char *why)
{
        if (c->limit_option)
                die("cannot apply %s: %s; get a delegated cgroup v2 with systemd-run --user "
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
                die_errno("cgroup: write %s to %s", value, file);
}

/* A supervisor killed by SIGKILL cannot remove its cgroup. The next run sweeps
 * cntlab/<PID> directories whose supervisor is gone; rmdir(2) only ever removes an
 * empty cgroup, so a live container's is never touched. */
static void sweep_stale_cgroups(const char *parent)
{
        DIR *dir = opendir(parent);
        struct dirent *e;
        char path[PATH_MAX + 300];

        while (dir && (e = readdir(dir)))
                if (e->d_type == DT_DIR && atoi(e->d_name) > 0 && kill(atoi(e->d_name), 0) < 0 &&
                    errno == ESRCH) {
                        snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
                        rmdir(path);
                }
        if (dir)
                closedir(dir);
}

/* Remove the container's cgroup once it is gone. The kernel may refuse (EBUSY) for a
 * moment after the last task exits, so retry for up to a second, as runc and crun do.
 * Runs at exit, whatever path the supervisor leaves by. */
static void remove_cgroup(void)
{
        struct container *c = &container;

        if (getpid() != c->supervisor) /* the container's copy of this handler: not ours */
                return;
        if (c->pid > 0) {
                kill(c->pid, SIGKILL);
                waitpid(c->pid, NULL, 0);
        }
        for (int try = 0; try < 100 && rmdir(c->cgroup) < 0 && errno == EBUSY; try++)
                usleep(10000);
}

/* Read the first line of FILE (at most SIZE bytes) into TEXT, or "" if it cannot. */
static void read_line(const char *file, char *text, int size)
{
        FILE *f = fopen(file, "re");

        if (!f || !fgets(text, size, f))
                text[0] = '\0';
        if (f)
                fclose(f);
        text[strcspn(text, "\n")] = '\0';
}

/* cgroup-v2.rst, "Delegation": a user may manage a cgroup whose directory and whose
 * cgroup.procs and cgroup.subtree_control are the user's, as systemd makes them for a
 * unit with Delegate=yes. A login session's cgroup is root's. cgroup v1 has no safe
 * delegation, and runc, crun and podman never use it rootless: no limits on v1.
 * In our own cgroup OWN, the container gets OWN/cntlab/<PID>. For that, OWN and
 * OWN/cntlab must hand the controllers on (cgroup.subtree_control), and a cgroup that
 * does may have no processes of its own ("no internal processes"). So the supervisor
 * first moves itself into a leaf, OWN/cntlab/supervisors, and needs to be alone in OWN:
 * it would have no right to move the shell that started it. */
static void create_cgroup(struct container *c)
{
        char own[PATH_MAX - 128], path[PATH_MAX], text[256], pid[16];
        const char *controllers = "+memory +pids";
        struct statfs fs;

        c->supervisor = getpid();
        snprintf(pid, sizeof(pid), "%d", getpid());
        if (statfs("/sys/fs/cgroup", &fs) < 0)
                die_errno("statfs /sys/fs/cgroup");
        if (fs.f_type != CGROUP2_SUPER_MAGIC) {
                no_cgroup(c, "this host has cgroup v1, which is never delegated to a user");
                return;
        }
        read_line("/proc/self/cgroup", text, sizeof(text)); /* "0::/user.slice/..." */
        snprintf(own, sizeof(own), "/sys/fs/cgroup%s", strcmp(text + 3, "/") ? text + 3 : "");
        snprintf(path, sizeof(path), "%s/cgroup.subtree_control", own);
        if (strncmp(text, "0::/", 4) != 0 || access(own, W_OK) < 0 || access(path, W_OK) < 0) {
                no_cgroup(c, "your cgroup is not delegated to you (not yours to write)");
                return;
        }
        snprintf(path, sizeof(path), "%s/cgroup.controllers", own);
        read_line(path, text, sizeof(text));
        if (!strstr(text, "memory") || !strstr(text, "pids") ||
            (c->cpu_quota && !strstr(text, "cpu"))) {
                no_cgroup(c, "your cgroup has not been given the memory, pids and cpu controllers");
                return;
        }
        if (strstr(text, "cpu"))
                controllers = "+memory +pids +cpu";
        snprintf(path, sizeof(path), "%s/cgroup.procs", own);
        read_line(path, text, sizeof(text));
        if (strcmp(text, pid) != 0) {
                no_cgroup(c, "other processes share your cgroup, and a cgroup that hands on "
                             "controllers may hold none");
                return;
        }
        snprintf(path, sizeof(path), "%s/cntlab", own);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                die_errno("cgroup: mkdir %s", path);
        sweep_stale_cgroups(path);
        snprintf(path, sizeof(path), "%s/cntlab/supervisors", own);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                die_errno("cgroup: mkdir %s", path);
        say("move the supervisor into %s: cgroups that hand on controllers hold no processes",
            path);
        snprintf(path, sizeof(path), "%s/cntlab/supervisors/cgroup.procs", own);
        if (write_file(path, "0") < 0)
                die_errno("cgroup: write 0 to %s", path);
        snprintf(path, sizeof(path), "%s/cgroup.subtree_control", own);
        if (write_file(path, controllers) < 0)
                die_errno("cgroup: write %s to %s", controllers, path);
        snprintf(path, sizeof(path), "%s/cntlab/cgroup.subtree_control", own);
        if (write_file(path, controllers) < 0)
                die_errno("cgroup: write %s to %s", controllers, path);
        snprintf(c->cgroup, sizeof(c->cgroup), "%s/cntlab/%s", own, pid);
        say("create cgroup %s", c->cgroup);
        if (mkdir(c->cgroup, 0755) < 0)
                die_errno("cgroup: mkdir %s", c->cgroup);
        atexit(remove_cgroup);
}

/* Start the container's first process inside its cgroup, so that nothing it runs is
 * ever outside it. Moving another process into a cgroup is slow: the kernel first
 * waits until no fork is half-way through anywhere on the machine (an RCU grace period
 * for cgroup_threadgroup_rwsem), 10-20 ms of a lone start on this lab's hosts.
 * clone3(2) with CLONE_INTO_CGROUP creates the child in the cgroup (Linux 5.7), as
 * systemd and crun do. Where clone3 is missing (valgrind, Docker's seccomp filter, Linux
 * before 5.3) or lacks the cgroup field (E2BIG before 5.7), clone and move the child at
 * once: it waits for us and has run nothing. Without a cgroup, a plain clone. */
static void clone_into_cgroup(struct container *c, unsigned long flags)
{
        struct clone_args args = {.flags = (flags & ~CSIGNAL) | CLONE_INTO_CGROUP,
                                  .exit_signal = flags & CSIGNAL};
        int fd;

        /* c->pid is set at once, so that if a step after the clone fails, remove_cgroup()
         * kills the child before it removes the cgroup. */
        if (!c->cgroup[0]) {
                c->pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
                return;
        }
        say("clone3 with CLONE_INTO_CGROUP %s", c->cgroup);
        fd = open(c->cgroup, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                die_errno("cgroup: open %s", c->cgroup);
        args.cgroup = (unsigned)fd;
        c->pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
        if (c->pid < 0 && (errno == ENOSYS || errno == E2BIG)) {
                char pid[16];

                c->pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
                snprintf(pid, sizeof(pid), "%d", c->pid);
                if (c->pid > 0 && cgroup_write(c, "cgroup.procs", pid) < 0)
                        die_errno("cgroup: move pid %s into %s", pid, c->cgroup);
        }
        close(fd);
}

/* clone(2) starts the container's first process in new namespaces: the kernel creates
 * them together with the process, one flag each. Given no new stack (NULL), the child
 * goes on from the call like after fork(2), on a copy of our memory. glibc's clone()
 * wrapper insists on a stack and a function, so we make the system call directly, as
 * crun does. (On s390 its first two arguments are the other way round.) */
static void start_container(struct container *c)
{
        unsigned long flags = SIGCHLD; /* tell us, like any child, when it ends */

        flags |= CLONE_NEWUTS; /* hostname and domain name: uts_namespaces(7) */
        flags |= CLONE_NEWNS; /* mount table: mount_namespaces(7) */
        flags |= CLONE_NEWPID; /* process IDs: pid_namespaces(7) */
        flags |= CLONE_NEWIPC; /* System V IPC, POSIX message queues: ipc_namespaces(7) */
        flags |= CLONE_NEWUSER; /* user and group IDs: user_namespaces(7) */
        flags |= CLONE_NEWNET; /* interfaces, addresses, routes: network_namespaces(7) */
        /* Block the signals we forward before the child exists, so none is lost between
         * clone() and supervise(); supervise() takes them with sigwaitinfo(2). SIGCHLD
         * must not be ignored, or the kernel would reap the child for us. */
        signal(SIGCHLD, SIG_DFL);
        sigemptyset(&c->signals);
        sigaddset(&c->signals, SIGINT);
        sigaddset(&c->signals, SIGTERM);
        sigaddset(&c->signals, SIGHUP);
        sigaddset(&c->signals, SIGQUIT);
        sigaddset(&c->signals, SIGCHLD);
        sigaddset(&c->signals, SIGALRM); /* our own 3-second deadline */
        sigprocmask(SIG_BLOCK, &c->signals, &c->old_mask);
        if (sync_init(&c->sync) < 0)
                die_errno("pipe");
        clone_into_cgroup(c, flags);
        if (c->pid < 0)
                die_errno("clone");
        if (c->pid == 0)
                container_main(c);
        say("cloned the container's first process: pid %d on the host", c->pid);
        sync_as_parent(&c->sync);
}

/* newuidmap PID 0 ID 1 1 START COUNT (newgidmap alike): 0 inside is the user's own ID,
 * 1..COUNT inside the first subordinate range. The helper checks the ranges against
 * /etc/subuid (or /etc/subgid) and writes the map for us. */
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
                die_errno("run %s", helper);
        if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                die("%s %s 0 %s 1 1 %s %s: failed (wait status %d)", helper, pid, own, first, count,
                    status);
}

/* user_namespaces(7): without a helper, the one map an unprivileged process may write:
 * uid 0 inside is our own uid, and no other exists. The kernel wants uid_map first,
 * then "deny" in setgroups (which forbids setgroups(2) in there, so a process cannot
 * drop a group to get past a "deny this group" permission), and only then gid_map.
 * Each map can be written once. */
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
                        die_errno("write %s", path);
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

/* The host's half of the network, with no veth on the host: slirp4netns joins the
 * container's user and network namespaces (setns(2); the user owns them, so the user
 * may), makes the tap device eth0 in there and relays its packets through sockets on
 * the host. It writes to --ready-fd once eth0 exists, and exits when --exit-fd reaches
 * end-of-file: when we close our end, or die (slirp4netns(1)). */
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
                die_errno("pipe");
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
                die_errno("run %s", c->slirp4netns);
        c->net_exit_fd = quit[1];
        atexit(stop_user_net);
        if (read(ready[0], &byte, 1) != 1)
                die("slirp4netns ended before eth0 was ready: run %s %s eth0 to see why",
                    c->slirp4netns, pid);
        close(ready[0]);
}

/* The limits are written only once the container is in its cgroup. The container
 * waits for us: it has run nothing yet. Without a delegated cgroup, none. */
static void set_limits(struct container *c)
{
        char value[64];

        if (!c->cgroup[0])
                return;
        snprintf(value, sizeof(value), "%lld", c->memory);
        cgroup_set(c, "memory.max", value);
        /* No swap either, or the limit would only move the memory to disk. The file is
         * missing when the kernel does not account swap: then there is nothing to limit. */
        say("no swap beyond the memory limit, where the kernel accounts swap");
        if (cgroup_write(c, "memory.swap.max", "0") < 0 && errno != ENOENT)
                die_errno("cgroup: limit swap");
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
                die_errno("wake the container");
}

/* Wait for the container and forward signals to it. A signal a process sends us is
 * passed on; if the container has not exited 3 seconds later, SIGKILL. A signal from
 * the terminal (Ctrl-C, si_code SI_KERNEL) is not: the terminal sent it to the whole
 * foreground process group, the container included, and a shell there that ignores
 * Ctrl-C must not be killed for it. Returns the contract's exit status. */
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
