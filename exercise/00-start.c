/* cntlab 00-start: where the workshop begins. Not a step: a plain supervisor.
 *
 * It takes the lab's command line, starts COMMAND as a child process with clone(),
 * forwards signals to it, waits for it and returns its exit status, but it puts COMMAND
 * in no namespace at all: COMMAND sees exactly what the host sees. `make exercise
 * STEP=01` starts 01-uts from this file, with a TODO where the UTS namespace goes. The
 * options and statuses are in docs/cli.md. Read alongside: clone(2).
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

static const char *const step = "00-start";

/* Everything the supervisor knows about the one container it runs. */
struct container {
        char hostname[65];
        char **argv; /* COMMAND and its arguments */
        pid_t pid; /* the container's first process, as the host sees it */
        sigset_t signals; /* what the supervisor waits for: forwarded ones and SIGCHLD */
        sigset_t old_mask; /* the signal mask before we blocked those */
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

static void parse_options(struct container *c, int argc, char **argv)
{
        /* One option per line, so a step that adds options adds lines. */
        // clang-format off
	static const struct option options[] = {
		{"hostname", required_argument, NULL, 'n'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
        // clang-format on
        static char *default_command[] = {"/bin/sh", NULL};
        int opt;

        set_default_hostname(c);
        /* "+": stop at the first word that is not an option; it starts COMMAND. */
        /* ":" after it: tell a missing value (':') from an unknown option ('?'). We report
         * both ourselves, in the contract's one-line form. */
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "+:n:vh", options, NULL)) != -1) {
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
                case ':':
                        die("option %s needs a value: see --help", argv[optind - 1]);
                default:
                        die("unknown option %s: see --help", argv[optind - 1]);
                }
        }
        c->argv = optind < argc ? argv + optind : default_command;
}

static void check_root(void)
{
        if (geteuid() != 0)
                die("needs root to create namespaces: run it as root or with sudo");
}

/* ------------------------------------------------------------------------------------
 * Inside: what the container's first process does before it becomes COMMAND.
 * ------------------------------------------------------------------------------------ */

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
        exec_command(c);
        exit(125); /* not reached: exec_command() execs or exits */
}

/* ------------------------------------------------------------------------------------
 * Outside: what the supervisor does.
 * ------------------------------------------------------------------------------------ */

/* clone(2) starts the container's first process in new namespaces: the kernel creates
 * them together with the process, one flag each. Given no new stack (NULL), the child
 * goes on from the call like after fork(2), on a copy of our memory. glibc's clone()
 * wrapper insists on a stack and a function, so we make the system call directly, as
 * crun does. (On s390 its first two arguments are the other way round.) */
static void start_container(struct container *c)
{
        unsigned long flags = SIGCHLD; /* tell us, like any child, when it ends */

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
        c->pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
        if (c->pid < 0)
                die_errno("clone");
        if (c->pid == 0)
                container_main(c);
        say("cloned the container's first process: pid %d on the host", c->pid);
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
        check_root();
        start_container(c);
        return supervise(c);
}
