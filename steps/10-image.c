/* cntlab 10-image: a container from an OCI image, its layers under overlay (bonus step).
 *
 * A container is an ordinary process that the kernel shows a world of its own. This file is
 * the previous step plus one part of that world (`make diff STEP=NN`). Options and exit
 * statuses: docs/cli.md. Read alongside: namespaces(7), clone(2).
 *
 * What runs, in order. The supervisor, main():
 *   parse_options, check_root
 *   load_image: verify the image, unpack new layers into the store
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
 *   enter_rootfs, set_environment, set_image_environment
 *   drop_privileges, become_image_user
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
#include <archive.h>
#include <archive_entry.h>
#include <ftw.h>
#include <jansson.h>
#include <nettle/sha2.h>
#include <sys/xattr.h>

#include "sync.h"
#include "watchdog.h"
#include "netns.h"

static char step[] = "10-image"; /* error(3) and usage() print it */

enum { MAX_BINDS = 16 };
enum { MAX_LAYERS = 128 }; /* lowerdir= of them all fits in mount(2)'s one page */

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
        const char *image; /* -i PATH[:TAG] */
        int rootfs_given; /* -r, which -i excludes */
        char layers[MAX_LAYERS][72]; /* the image's layers in the store, base first */
        int nlayers;
        char **env; /* the image's Env, NAME=value */
        char *workdir; /* the image's WorkingDir, or NULL */
        int user_given; /* the image's numeric User: uid, gid */
        uid_t uid;
        gid_t gid;
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
              "  -i, --image PATH[:TAG] run the OCI image at PATH (a layout or an archive)\n"
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
            {"image", required_argument, NULL, 'i'},
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
        while ((opt = getopt_long(argc, argv, "+:n:vhr:ob:m:p:c:i:", options, NULL)) != -1) {
                switch (opt) {
                case 'n': set_hostname_option(c, optarg); break;
                case 'v': verbose = 1; break;
                case 'h': usage(stdout); exit(0);
                case 'r':
                        c->rootfs = optarg;
                        c->rootfs_given = 1;
                        break;
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
                case 'i': c->image = optarg; break;
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

/* Images (docs/10-image.md). An image is JSON that names blobs by their sha256: an index
 * (index.json) names manifests, a manifest names one config and the layers, base first; each
 * layer is a tar of the files it adds, changes or deletes. The supervisor, still root on the
 * host, checks every blob against its descriptor and unpacks each layer once into the store,
 * a directory per digest; the container's root is overlay over those directories. */

/* The store (docs/cli.md: ./layers), as an absolute path, and what is being unpacked into it
 * right now: removed at exit if we fail half-way, so a layer that is there is whole. */
static char store[PATH_MAX];
static char unpacking[2][PATH_MAX + 32]; /* a layer, and an image archive's files */
static const char *image_path; /* -i's PATH, for messages */

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        (void)st, (void)type, (void)ftw;
        return remove(path);
}

/* rm -r PATH, if PATH is set; then forget it. */
static void remove_tree(char *path)
{
        if (path[0])
                nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        path[0] = '\0';
}

static void remove_unpacking(void)
{
        remove_tree(unpacking[0]);
        remove_tree(unpacking[1]);
}

/* Open PATH below the directory DIR, following no symbolic link at all: each component is
 * opened from the one before with O_NOFOLLOW, and ".." is refused (EXDEV, as openat2(2)'s
 * RESOLVE_BENEATH answers; valgrind, which make memcheck runs, does not know openat2 yet). */
static int open_beneath(int dir, const char *path, int flags)
{
        char copy[PATH_MAX], *name, *next, *rest = NULL;
        int fd = path[0] == '/' ? -1 : openat(dir, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

        snprintf(copy, sizeof(copy), "%s", path);
        for (name = strtok_r(copy, "/", &rest); fd >= 0 && name; name = next) {
                int parent = fd, err;

                next = strtok_r(NULL, "/", &rest);
                fd = strcmp(name, "..") == 0
                         ? -1
                         : openat(parent, name,
                                  (next ? O_PATH | O_DIRECTORY : flags) | O_NOFOLLOW | O_CLOEXEC);
                err = strcmp(name, "..") == 0 || path[0] == '/' ? EXDEV : errno;
                close(parent);
                errno = err;
        }
        if (path[0] == '/')
                errno = EXDEV;
        return fd;
}

/* The 64 hex digits of a digest "sha256:<hex>" (image-spec descriptor.md); the only
 * algorithm the spec requires, and the only one we know. */
static const char *digest_hex(const char *digest, const char *what)
{
        const char *hex = strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : "";

        if (strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
                error(125, 0, "%s: unsupported digest '%s': expected sha256:<64 hex digits>", what,
                      digest);
        return hex;
}

/* Hash all of FD with nettle's sha256 and compare it, and its size when known (SIZE >= 0),
 * with the descriptor that names it; then rewind FD. Nothing reads a blob before this. */
static void verify_blob(int fd, const char *digest, long long size, const char *what)
{
        static unsigned char buf[1 << 16];
        uint8_t sum[SHA256_DIGEST_SIZE];
        char hex[2 * SHA256_DIGEST_SIZE + 1];
        struct sha256_ctx ctx;
        long long total = 0;
        ssize_t n;

        sha256_init(&ctx);
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
                sha256_update(&ctx, (size_t)n, buf);
                total += n;
        }
        if (n < 0)
                error(125, errno, "read %s", what);
        sha256_digest(&ctx, sizeof(sum), sum);
        for (size_t i = 0; i < sizeof(sum); i++)
                snprintf(hex + 2 * i, 3, "%02x", sum[i]);
        if (size >= 0 && total != size)
                error(125, 0, "%s: %lld bytes, but its descriptor says %lld", what, total, size);
        if (strcmp(hex, digest_hex(digest, what)) != 0)
                error(125, 0, "%s: its sha256 is %s, not the descriptor's", what, hex);
        if (lseek(fd, 0, SEEK_SET) < 0)
                error(125, errno, "rewind %s", what);
}

/* A blob of the image directory DIR: an OCI layout's blobs/sha256/<hex>, or, with PATH, the
 * file a docker-archive's manifest.json names. Verified, open for reading. */
static int open_blob(int dir, const char *path, const char *digest, long long size,
                     const char *what)
{
        char blob[128];
        int fd;

        if (!path) {
                snprintf(blob, sizeof(blob), "blobs/sha256/%s", digest_hex(digest, what));
                path = blob;
        }
        fd = open_beneath(dir, path, O_RDONLY);
        if (fd < 0)
                error(125, errno, "%s: %s", what, path);
        verify_blob(fd, digest, size, what);
        return fd;
}

/* The JSON in FD, which it closes: read whole first, since jansson's json_loadfd() reads
 * one byte per read(2). At most 4 MiB: image JSON is a few KiB. */
static json_t *load_json(int fd, const char *what)
{
        struct stat st;
        json_error_t err;
        json_t *json;
        char *text;
        ssize_t n = 0, r = 1;

        errno = 0;
        if (fstat(fd, &st) < 0 || st.st_size > (4 << 20) ||
            !(text = malloc((size_t)st.st_size + 1)))
                error(125, errno ? errno : EFBIG, "read %s", what);
        while (n < st.st_size && (r = read(fd, text + n, (size_t)(st.st_size - n))) > 0)
                n += r;
        if (r < 0)
                error(125, errno, "read %s", what);
        close(fd);
        json = json_loadb(text, (size_t)n, 0, &err);
        free(text);
        if (!json)
                error(125, 0, "%s: not JSON: %s (line %d)", what, err.text, err.line);
        return json;
}

/* A descriptor (image-spec descriptor.md): what a blob is, its digest and its size. */
struct descriptor {
        const char *media_type, *digest;
        long long size;
};

static struct descriptor descriptor(json_t *d, const char *what)
{
        struct descriptor r = {json_string_value(json_object_get(d, "mediaType")),
                               json_string_value(json_object_get(d, "digest")),
                               json_integer_value(json_object_get(d, "size"))};

        if (!r.media_type || !r.digest || !json_is_integer(json_object_get(d, "size")) ||
            r.size < 0)
                error(125, 0, "%s: a descriptor needs a mediaType, a digest and a size", what);
        return r;
}

/* Is TYPE one of the NULL-terminated TYPES? An unknown media type is refused, not guessed. */
static int media_type_in(const char *type, const char *const *types)
{
        for (; *types; types++)
                if (strcmp(type, *types) == 0)
                        return 1;
        return 0;
}

static const char *const index_types[] = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json", NULL};
static const char *const manifest_types[] = {"application/vnd.oci.image.manifest.v1+json",
                                             "application/vnd.docker.distribution.manifest.v2+json",
                                             NULL};
static const char *const config_types[] = {"application/vnd.oci.image.config.v1+json",
                                           "application/vnd.docker.container.image.v1+json", NULL};
static const char *const layer_types[] = {
    "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip", NULL};

/* This machine's platform.architecture in an index (image-spec image-index.md). */
#if defined(__aarch64__)
static const char architecture[] = "arm64";
#else
static const char architecture[] = "amd64";
#endif

/* The manifest of index INDEX that TAG names (annotation org.opencontainers.image.ref.name),
 * or its only one; an index inside (one image for several platforms) is followed to this
 * machine's. Returns the manifest, verified, as JSON. */
static json_t *pick_manifest(int dir, json_t *index, const char *tag, int depth)
{
        json_t *list = json_object_get(index, "manifests"), *d, *chosen = NULL;
        struct descriptor m;
        size_t i, n = 0;

        json_array_foreach(list, i, d)
        {
                const char *name = json_string_value(json_object_get(
                    json_object_get(d, "annotations"), "org.opencontainers.image.ref.name"));
                const char *arch = json_string_value(
                    json_object_get(json_object_get(d, "platform"), "architecture"));

                if (depth == 0 && tag ? name && strcmp(name, tag) == 0
                                      : depth == 0 || !arch || strcmp(arch, architecture) == 0) {
                        chosen = d;
                        n++;
                }
        }
        if (n != 1 && depth > 0)
                error(125, 0, "image %s: %zu manifests for linux/%s in its index", image_path, n,
                      architecture);
        if (n != 1 && tag)
                error(125, 0, "image %s: no manifest is tagged '%s'", image_path, tag);
        if (n != 1)
                error(125, 0, "image %s: %zu images in its index: name one as PATH:TAG", image_path,
                      n);
        m = descriptor(chosen, "index");
        if (media_type_in(m.media_type, index_types) && depth < 2) {
                json_t *inner =
                    load_json(open_blob(dir, NULL, m.digest, m.size, m.digest), m.digest);
                json_t *next = pick_manifest(dir, inner, NULL, depth + 1);

                json_decref(inner);
                return next;
        }
        if (!media_type_in(m.media_type, manifest_types))
                error(125, 0, "manifest %s: unknown media type %s", m.digest, m.media_type);
        return load_json(open_blob(dir, NULL, m.digest, m.size, m.digest), m.digest);
}

/* Refuse an entry whose name would lead out of the layer: absolute, or with a ".."
 * component (libarchive's SECURE flags refuse them too; here the message names the entry).
 * "/" alone, which umoci writes for the root of a layer inserted at /, is the layer's root. */
static void check_entry_name(struct archive_entry *e, const char *name, const char *what)
{
        if (name && strcmp(name, "/") == 0 && !archive_entry_hardlink(e))
                archive_entry_set_pathname(e, name = "./");
        if (!name || name[0] == '/')
                error(125, 0, "%s: entry %s: an absolute path", what, name ? name : "(no name)");
        for (const char *p = name; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
                if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
                        error(125, 0, "%s: entry %s: holds '..'", what, name);
}

/* The image's root is the container's root: IDs 0-65535 move up by 100000, as in the
 * container's map (write_id_maps) and as make rootfs shifts ./rootfs. An owner outside the
 * map would be nobody inside, and is refused. */
static void shift_owner(struct archive_entry *e, const char *what)
{
        la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);

        if (uid < 0 || uid > 65535 || gid < 0 || gid > 65535)
                error(125, 0,
                      "%s: entry %s: owner %lld:%lld is outside the container's IDs 0-65535", what,
                      archive_entry_pathname(e), (long long)uid, (long long)gid);
        archive_entry_set_uid(e, uid + 100000);
        archive_entry_set_gid(e, gid + 100000);
}

/* Write entry E and its data from IN to the disk, OUT. Returns 0 if the tar ends right after
 * the data: umoci insert writes neither the padding to 512 bytes after the last file nor the
 * two zero blocks that end a tar, and Go's archive/tar, which umoci and Docker read with,
 * takes that, so we do, once all of the file has come (the digest vouched for the bytes). */
static int write_entry(struct archive *in, struct archive *out, struct archive_entry *e,
                       const char *what)
{
        const void *buf;
        size_t len;
        la_int64_t offset, done = 0;
        int r;

        if (archive_write_header(out, e) != ARCHIVE_OK)
                error(125, 0, "%s: entry %s: %s", what, archive_entry_pathname(e),
                      archive_error_string(out));
        while ((r = archive_read_data_block(in, &buf, &len, &offset)) == ARCHIVE_OK) {
                if (archive_write_data_block(out, buf, len, offset) != ARCHIVE_OK)
                        error(125, 0, "%s: entry %s: %s", what, archive_entry_pathname(e),
                              archive_error_string(out));
                done = offset + (la_int64_t)len;
        }
        if (r != ARCHIVE_EOF && (done == 0 || done != archive_entry_size(e)))
                error(125, 0, "%s: entry %s: %s", what, archive_entry_pathname(e),
                      archive_error_string(in));
        if (archive_write_finish_entry(out) != ARCHIVE_OK)
                error(125, 0, "%s: entry %s: %s", what, archive_entry_pathname(e),
                      archive_error_string(out));
        return r == ARCHIVE_EOF;
}

/* OCI whiteouts (image-spec layer.md) as overlayfs reads them (filesystems/overlayfs.rst):
 * ".wh.NAME" deletes NAME of the layers below, and becomes a character device 0/0 named
 * NAME, written through libarchive with the same checks as any entry; ".wh..wh..opq" hides
 * everything below in its directory, and becomes the opaque xattr on it. Overlayfs mounted in
 * a user namespace with "userxattr" reads user.overlay.opaque: trusted.* is for the host's
 * root alone. Returns 0 if E is no whiteout. */
static int write_whiteout(struct archive *out, int root, struct archive_entry *e, const char *what)
{
        const char *name = archive_entry_pathname(e), *base = strrchr(name, '/');
        char path[PATH_MAX];
        int dir;

        base = base ? base + 1 : name;
        if (strncmp(base, ".wh.", 4) != 0)
                return 0;
        if (strcmp(base, ".wh..wh..opq") != 0) {
                if (strncmp(base, ".wh..wh.", 8) == 0 || base[4] == '\0')
                        return 1; /* aufs's own bookkeeping, not a file */
                snprintf(path, sizeof(path), "%.*s%s", (int)(base - name), name, base + 4);
                archive_entry_set_pathname(e, path);
                archive_entry_set_filetype(e, AE_IFCHR);
                archive_entry_set_perm(e, 0);
                archive_entry_set_rdev(e, 0);
                archive_entry_set_size(e, 0);
                if (archive_write_header(out, e) != ARCHIVE_OK ||
                    archive_write_finish_entry(out) != ARCHIVE_OK)
                        error(125, 0, "%s: whiteout %s: %s", what, path, archive_error_string(out));
                return 1;
        }
        snprintf(path, sizeof(path), "./%.*s", (int)(base - name), name);
        dir = open_beneath(root, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (dir < 0 && errno == ENOENT) { /* the marker may come before its directory */
                archive_entry_set_pathname(e, path);
                archive_entry_set_filetype(e, AE_IFDIR);
                archive_entry_set_perm(e, 0755);
                archive_entry_unset_mtime(e); /* the directory's own entry sets it */
                if (archive_write_header(out, e) != ARCHIVE_OK ||
                    archive_write_finish_entry(out) != ARCHIVE_OK)
                        error(125, 0, "%s: opaque directory %s: %s", what, path,
                              archive_error_string(out));
                dir = open_beneath(root, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        }
        if (dir < 0)
                error(125, errno, "%s: opaque directory %s", what, path);
        if (fsetxattr(dir, "user.overlay.opaque", "y", 1, 0) < 0) /* tmpfs: from Linux 6.6 */
                error(125, errno, "%s: user.* xattr on %s (the store's file system)", what, path);
        close(dir);
        return 1;
}

/* Every file the host's root owns in a layer is a directory libarchive made on its own, a
 * parent the tar does not list: it belongs to the container's root, as Docker makes it. */
static int give_to_container_root(const char *path, const struct stat *st, int type,
                                  struct FTW *ftw)
{
        (void)type, (void)ftw;
        return st->st_uid == 0 ? lchown(path, 100000, 100000) : 0;
}

/* Extract the tar on FD (compressed or not) into DIR, an empty directory of the store, with
 * libarchive. Its SECURE flags refuse absolute names, ".." and writing through a symbolic
 * link the tar made before. A LAYER's owners are shifted and its whiteouts made; an image
 * archive's files are root's. No xattrs, ACLs or file flags: an image could forge overlay's. */
static void extract(int fd, const char *dir, int layer, const char *what)
{
        int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
        struct archive *in = archive_read_new(), *out = archive_write_disk_new();
        int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC), root, r;
        struct archive_entry *e;

        if (!in || !out || cwd < 0)
                error(125, errno, "libarchive");
        archive_read_support_filter_gzip(in);
        archive_read_support_filter_zstd(in);
        archive_read_support_format_tar(in);
        archive_write_disk_set_options(out, flags | (layer ? ARCHIVE_EXTRACT_OWNER : 0));
        if (archive_read_open_fd(in, fd, 1 << 16) != ARCHIVE_OK)
                error(125, 0, "%s: %s", what, archive_error_string(in));
        /* libarchive writes relative to the working directory, as tar -C does. */
        if (chdir(dir) < 0 || (root = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
                error(125, errno, "chdir %s", dir);
        while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
                check_entry_name(e, archive_entry_pathname(e), what);
                if (archive_entry_hardlink(e))
                        check_entry_name(e, archive_entry_hardlink(e), what);
                if (layer)
                        shift_owner(e, what);
                if ((!layer || !write_whiteout(out, root, e, what)) &&
                    !write_entry(in, out, e, what))
                        r = ARCHIVE_EOF; /* umoci's unended tar: see write_entry() */
                if (r == ARCHIVE_EOF)
                        break;
        }
        if (r != ARCHIVE_EOF)
                error(125, 0, "%s: %s", what, archive_error_string(in));
        if (archive_write_close(out) != ARCHIVE_OK)
                error(125, 0, "%s: %s", what, archive_error_string(out));
        archive_read_free(in);
        archive_write_free(out);
        if (fchdir(cwd) < 0)
                error(125, errno, "chdir back");
        close(cwd);
        close(root);
}

/* A layer: where its blob is (an OCI layout's blobs/, or a docker-archive's file), and the
 * descriptor's digest and size (-1: unknown) it must match. */
struct layer {
        const char *path, *digest;
        long long size;
};

/* Unpack each layer once: STORE/sha256/<hex> exists only when complete, because the layer is
 * unpacked into a temporary directory of the store and renamed when done. */
static void unpack_layer(int dir, const struct layer *l)
{
        char final[PATH_MAX + 80];

        snprintf(final, sizeof(final), "%s/sha256/%s", store, digest_hex(l->digest, "layer"));
        if (access(final, F_OK) == 0) {
                say("layer %s is in the store: nothing to unpack", l->digest);
        } else {
                int blob = open_blob(dir, l->path, l->digest, l->size, l->digest);

                say("unpack layer %s into the store", l->digest);
                snprintf(unpacking[0], sizeof(unpacking[0]), "%s/tmp-layer-XXXXXX", store);
                /* Its root is the container's root's, 0755, unless the tar has "./". */
                if (!mkdtemp(unpacking[0]) || chown(unpacking[0], 100000, 100000) < 0 ||
                    chmod(unpacking[0], 0755) < 0)
                        error(125, errno, "make a directory in %s", store);
                extract(blob, unpacking[0], 1, l->digest);
                close(blob);
                if (nftw(unpacking[0], give_to_container_root, 16, FTW_PHYS | FTW_MOUNT) != 0)
                        error(125, errno, "chown the directories of %s", l->digest);
                /* Another run may have renamed the same layer into place first: keep theirs. */
                if (rename(unpacking[0], final) == 0)
                        unpacking[0][0] = '\0';
                else if (errno != EEXIST && errno != ENOTEMPTY)
                        error(125, errno, "rename %s to %s", unpacking[0], final);
                remove_tree(unpacking[0]);
        }
}

/* An OCI layout: index.json, not itself named by a digest, is where trust starts, as a tag
 * does; every blob it leads to is checked against the descriptor that names it. Returns the
 * config; MANIFEST holds the strings LAYERS points to. */
static json_t *read_oci_layout(int dir, const char *tag, struct layer *layers, size_t *n,
                               json_t **manifest)
{
        int fd = open_beneath(dir, "index.json", O_RDONLY);
        json_t *index, *list, *d;
        struct descriptor config;
        size_t i;

        if (fd < 0)
                error(125, errno, "image %s: index.json", image_path);
        index = load_json(fd, "index.json");
        *manifest = pick_manifest(dir, index, tag, 0);
        json_decref(index);
        config = descriptor(json_object_get(*manifest, "config"), "manifest's config");
        if (!media_type_in(config.media_type, config_types))
                error(125, 0, "config %s: unknown media type %s", config.digest, config.media_type);
        list = json_object_get(*manifest, "layers");
        if (json_array_size(list) > MAX_LAYERS)
                error(125, 0, "image %s: more than %d layers", image_path, MAX_LAYERS);
        json_array_foreach(list, i, d)
        {
                struct descriptor l = descriptor(d, "manifest's layer");

                if (!media_type_in(l.media_type, layer_types))
                        error(125, 0, "layer %s: unknown media type %s", l.digest, l.media_type);
                layers[i] = (struct layer){NULL, l.digest, l.size};
        }
        *n = i;
        return load_json(open_blob(dir, NULL, config.digest, config.size, config.digest),
                         config.digest);
}

/* Does a docker-archive's RepoTags entry NAME:TAG, or TAG itself, equal TAG? */
static int tag_matches(const char *repo_tag, const char *tag)
{
        size_t r = strlen(repo_tag), t = strlen(tag);

        return strcmp(repo_tag, tag) == 0 ||
               (r > t && repo_tag[r - t - 1] == ':' && strcmp(repo_tag + r - t, tag) == 0);
}

/* docker save before Docker 25, and skopeo's docker-archive: manifest.json lists each image's
 * Config, a file named by the config's sha256, and its Layers, uncompressed tars, each checked
 * against the config's rootfs.diff_ids (the sha256 of each tar). Sizes are not given. */
static json_t *read_docker_archive(int dir, const char *tag, struct layer *layers, size_t *n,
                                   json_t **manifest)
{
        int fd = open_beneath(dir, "manifest.json", O_RDONLY);
        json_t *d, *t, *entry = NULL, *config, *ids, *list;
        const char *path, *base;
        char digest[80];
        size_t i, j, count = 0;

        if (fd < 0)
                error(125, errno, "image %s: neither index.json nor manifest.json", image_path);
        *manifest = load_json(fd, "manifest.json");
        json_array_foreach(*manifest, i, d)
        {
                int match = !tag;

                json_array_foreach(json_object_get(d, "RepoTags"), j, t) match |=
                    tag && json_is_string(t) && tag_matches(json_string_value(t), tag);
                if (match) {
                        entry = d;
                        count++;
                }
        }
        if (count != 1)
                error(125, 0, "image %s: %zu images match%s%s: name one as PATH:TAG", image_path,
                      count, tag ? " " : "", tag ? tag : "");
        path = json_string_value(json_object_get(entry, "Config"));
        if (!path)
                error(125, 0, "image %s: manifest.json names no Config", image_path);
        base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        snprintf(digest, sizeof(digest), "sha256:%.*s", (int)strcspn(base, "."), base);
        config = load_json(open_blob(dir, path, digest, -1, path), path);
        ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
        list = json_object_get(entry, "Layers");
        if (json_array_size(list) != json_array_size(ids) || json_array_size(list) > MAX_LAYERS)
                error(125, 0, "image %s: %zu layers, but %zu diff_ids in its config (at most %d)",
                      image_path, json_array_size(list), json_array_size(ids), MAX_LAYERS);
        json_array_foreach(list, i, d)
        {
                layers[i] = (struct layer){json_string_value(d),
                                           json_string_value(json_array_get(ids, i)), -1};
                if (!layers[i].path || !layers[i].digest)
                        error(125, 0, "image %s: a layer without a file or a diff_id", image_path);
        }
        *n = i;
        return config;
}

/* Append copies of the strings of the JSON array A to TO, at *N. */
static void add_strings(char **to, size_t *n, json_t *a)
{
        size_t i;
        json_t *s;

        json_array_foreach(a, i, s) if (json_is_string(s)) to[(*n)++] =
            strdup(json_string_value(s));
}

/* The image config's "config" (image-spec config.md): Env, Entrypoint and Cmd (when no
 * COMMAND is given: a COMMAND replaces both), WorkingDir, and User, numbers only: a name
 * would have to be looked up in the image's own /etc/passwd and /etc/group. */
static void apply_config(struct container *c, json_t *config, int command_given)
{
        json_t *cfg = json_object_get(config, "config");
        json_t *env = json_object_get(cfg, "Env"), *entrypoint = json_object_get(cfg, "Entrypoint");
        json_t *cmd = json_object_get(cfg, "Cmd");
        const char *dir = json_string_value(json_object_get(cfg, "WorkingDir"));
        const char *user = json_string_value(json_object_get(cfg, "User"));
        size_t n = 0, words = json_array_size(entrypoint) + json_array_size(cmd);
        char *end;

        c->env = calloc(json_array_size(env) + 1, sizeof(char *));
        if (!c->env)
                error(125, errno, "calloc");
        add_strings(c->env, &n, env);
        if (!command_given && words > 0) {
                c->argv = calloc(words + 1, sizeof(char *));
                if (!c->argv)
                        error(125, errno, "calloc");
                n = 0;
                add_strings(c->argv, &n, entrypoint);
                add_strings(c->argv, &n, cmd);
        }
        c->workdir = dir && *dir ? strdup(dir) : NULL;
        if (!user || !*user)
                return;
        errno = 0;
        c->uid = (uid_t)strtoul(user, &end, 10);
        c->gid = *end == ':' ? (gid_t)strtoul(end + 1, &end, 10) : 0;
        if (errno || !isdigit((unsigned char)*user) || *end || c->uid > 65535 || c->gid > 65535)
                error(125, 0,
                      "image User '%s': only numbers uid[:gid] below 65536 (a name needs the "
                      "image's /etc/passwd, which this step does not read)",
                      user);
        c->user_given = 1;
}

/* -i PATH[:TAG]: a TAG follows the last ':', unless PATH with it exists. */
static char *split_tag(char *spec)
{
        char *colon = strrchr(spec, ':');

        if (!colon || strchr(colon, '/') || access(spec, F_OK) == 0)
                return NULL;
        *colon = '\0';
        return colon + 1;
}

/* The store ./layers and ./layers/sha256: root's, mode 0710, group the container's root (host
 * gid 100000), as Docker's userns-remap makes its directories. The container's root can pass
 * through to its layers; a host user cannot, who would run their set-user-ID files as it. */
static void open_store(void)
{
        static const char *const dirs[] = {"layers", "layers/sha256"};

        for (int i = 0; i < 2; i++)
                if (mkdir(dirs[i], 0710) == 0
                        ? chown(dirs[i], 0, 100000) < 0 || chmod(dirs[i], 0710) < 0
                        : errno != EEXIST)
                        error(125, errno, "make the store ./%s", dirs[i]);
        if (!realpath("layers", store))
                error(125, errno, "the store ./layers");
        atexit(remove_unpacking);
}

/* The image at PATH: an OCI layout directory, or an archive of one or of a docker-archive,
 * whose files are extracted into the store to be read as a directory, and removed after. */
static int open_image(const char *path)
{
        struct stat st;
        int fd;

        if (stat(path, &st) < 0)
                error(125, errno, "image %s", path);
        if (!S_ISDIR(st.st_mode)) {
                fd = open(path, O_RDONLY | O_CLOEXEC);
                snprintf(unpacking[1], sizeof(unpacking[1]), "%s/tmp-image-XXXXXX", store);
                if (fd < 0 || !mkdtemp(unpacking[1]))
                        error(125, errno, "image %s", path);
                say("extract the image archive %s into the store", path);
                extract(fd, unpacking[1], 0, path);
                close(fd);
                path = unpacking[1];
        }
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                error(125, errno, "image %s", path);
        return fd;
}

/* -i: read and verify the image, unpack the layers the store lacks, open each, apply the
 * config. The root becomes the store, under which the container mounts its overlay. */
static void load_image(struct container *c, int command_given)
{
        static struct layer layers[MAX_LAYERS];
        char spec[PATH_MAX], *tag;
        json_t *manifest, *config;
        size_t n = 0;
        int dir;

        if (c->rootfs_given)
                error(125, 0, "-i and -r both name the root filesystem: give one of them");
        snprintf(spec, sizeof(spec), "%s", c->image);
        tag = split_tag(spec);
        image_path = spec;
        open_store();
        dir = open_image(spec);
        if (faccessat(dir, "index.json", F_OK, 0) == 0)
                config = read_oci_layout(dir, tag, layers, &n, &manifest);
        else
                config = read_docker_archive(dir, tag, layers, &n, &manifest);
        for (size_t i = 0; i < n; i++) {
                unpack_layer(dir, &layers[i]);
                snprintf(c->layers[c->nlayers++], sizeof(c->layers[0]), "sha256/%s",
                         digest_hex(layers[i].digest, "layer"));
        }
        apply_config(c, config, command_given);
        json_decref(manifest);
        json_decref(config);
        close(dir);
        remove_unpacking();
        image_path = c->image;
        c->rootfs = "layers";
}

/* -i's root: -o's overlay, its read-only lower layers the image's, top first ("lowerdir=
 * top:...:base", filesystems/overlayfs.rst). Overlayfs takes only directories of our own mount
 * namespace, so we open them here, before the tmpfs for the writable layer covers the store
 * (only here). "userxattr": in a user namespace overlayfs reads user.overlay.*, where the
 * opaque directories are marked. */
static void mount_image_root(struct container *c)
{
        char opts[MAX_LAYERS * 24 + 64], path[PATH_MAX];
        int n = snprintf(opts, sizeof(opts), "lowerdir=");

        for (int i = c->nlayers - 1; i >= 0; i--) {
                int fd;

                snprintf(path, sizeof(path), "%s/%s", c->rootfs, c->layers[i]);
                fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        error(125, errno, "open the layer %s", path);
                n += snprintf(opts + n, sizeof(opts) - (size_t)n, "/proc/self/fd/%d%s", fd,
                              i > 0 ? ":" : "");
        }
        snprintf(opts + n, sizeof(opts) - (size_t)n, ",upperdir=upper,workdir=work,userxattr");
        say("overlay: the image's %d layers read-only below, a tmpfs layer above", c->nlayers);
        mount_or_die("tmpfs", c->rootfs, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755");
        if (chdir(c->rootfs) < 0 || mkdir("upper", 0755) < 0 || mkdir("work", 0755) < 0 ||
            mkdir("merged", 0755) < 0)
                error(125, errno, "make the overlay's directories");
        mount_or_die("overlay", "merged", "overlay", 0, opts);
        if (chdir("merged") < 0)
                error(125, errno, "chdir into the overlay");
}

/* The image's Env over the clean environment (the lab's container=cntlab wins), and its
 * WorkingDir. */
static void set_image_environment(struct container *c)
{
        for (char **e = c->env; e && *e; e++)
                if (strchr(*e, '=') && strncmp(*e, "container=", 10) != 0)
                        putenv(*e);
        if (c->workdir) {
                say("chdir %s: the image's WorkingDir", c->workdir);
                if (chdir(c->workdir) < 0)
                        error(125, errno, "the image's WorkingDir %s", c->workdir);
        }
}

/* The image's User, last: leaving uid 0 clears the capabilities (capabilities(7), "Effect of
 * user ID changes") and the parent-death signal, which is armed again. */
static void become_image_user(struct container *c)
{
        if (!c->user_given)
                return;
        say("setresgid(%u) and setresuid(%u): the image's User", c->gid, c->uid);
        if (setresgid(c->gid, c->gid, c->gid) < 0 || setresuid(c->uid, c->uid, c->uid) < 0)
                error(125, errno, "become the image's User %u:%u", c->uid, c->gid);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                error(125, errno, "prctl PR_SET_PDEATHSIG");
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
        if (c->image)
                mount_image_root(c);
        else
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
        set_image_environment(c);
        drop_privileges();
        become_image_user(c);
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
        if (c->image)
                load_image(c, optind < argc);
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
