/* cntlab 00-start: where the workshop begins. Not a step: a plain supervisor.
 *
 * It takes the lab's command line, starts COMMAND as a child process with clone(), forwards
 * signals to it, waits for it and returns its exit status, but it puts COMMAND in no namespace
 * at all: COMMAND sees what the host sees. `make exercise STEP=01` starts 01-uts from this
 * file, with a TODO where the UTS namespace goes. Options and exit statuses: docs/cli.md.
 *
 * What runs, in order. The supervisor, main():
 *   parse_options, check_root
 *   start_container: clone() a child
 *   supervise: forward signals, wait, return the exit status
 * The child, container_main():
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

#include "watchdog.h"

static char step[] = "00-start"; /* error(3) and usage() print it */

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
        /* "+": stop at the first word that is not an option, COMMAND; ":" after it: tell a
         * missing value (':') from an unknown option ('?'), both ours to report in one line. */
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "+:n:vh", options, NULL)) != -1) {
                switch (opt) {
                case 'n': set_hostname_option(c, optarg); break;
                case 'v': verbose = 1; break;
                case 'h': usage(stdout); exit(0);
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

/* execvp(3) searches PATH; as in shells, 127 means "not found" and 126 "cannot run". */
static void exec_command(struct container *c)
{
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
        exec_command(c);
        exit(125); /* not reached: exec_command() execs or exits */
}

/* clone(2) starts the container's first process in new namespaces, one flag each. With no new
 * stack (NULL) the child goes on from the call as after fork(2). glibc's clone() insists on a
 * stack and a function, so we make the system call, as crun does. */
static void start_container(struct container *c)
{
        unsigned long flags = SIGCHLD; /* tell us, like any child, when it ends */

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
        sigprocmask(SIG_BLOCK, &c->signals, &c->old_mask);
        c->pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
        if (c->pid < 0)
                error(125, errno, "clone");
        if (c->pid == 0)
                container_main(c);
        say("cloned the container's first process: pid %d on the host", c->pid);
        say("fork a watchdog that kills the container once we are gone, however we die");
        if (watchdog_start(c->pid) < 0 && errno != ENOSYS) /* no pidfd: valgrind 3.19 */
                error(125, errno, "start the watchdog");
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

        /* error(3) starts each message with this name. Line-buffered, stderr writes each line
         * in one write(2): the supervisor's and the container's lines never mix. */
        program_invocation_name = step;
        setvbuf(stderr, NULL, _IOLBF, BUFSIZ);
        parse_options(c, argc, argv);
        check_root();
        start_container(c);
        return supervise(c);
}
