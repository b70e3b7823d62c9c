/* lib/watchdog: see watchdog.h. */
#define _GNU_SOURCE
#include "watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t watchdog, supervisor;
static int pipe_wr = -1; /* the supervisor's end */

/* At the supervisor's exit: close our end, so the watchdog sees end-of-file at once, and reap
 * it, so it never outlives us, not even as a zombie waiting for init. (Children forked later
 * inherit this handler; they are not the supervisor.) */
static void stop_watchdog(void)
{
        if (getpid() != supervisor)
                return;
        close(pipe_wr);
        waitpid(watchdog, NULL, 0);
}

/* The watchdog itself: wait for end-of-file, then kill. It keeps the supervisor's blocked
 * signals blocked, and ignores the terminal's stop signals, so that nothing but the pipe
 * decides when it acts; it keeps no descriptor but its two, so nothing waits on it. */
static void watch(int pipe_rd, int pidfd)
{
        char byte;

        signal(SIGTSTP, SIG_IGN);
        signal(SIGTTIN, SIG_IGN);
        signal(SIGTTOU, SIG_IGN);
        for (int fd = 0; fd < 3; fd++)
                close(fd);
        while (read(pipe_rd, &byte, 1) < 0 && errno == EINTR)
                ;
        pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
        _exit(0);
}

int watchdog_start(pid_t pid)
{
        int pidfd = pidfd_open(pid, 0);
        int fds[2];

        if (pidfd < 0)
                return -1;
        if (pipe2(fds, O_CLOEXEC) < 0) {
                close(pidfd);
                return -1;
        }
        watchdog = fork();
        if (watchdog == 0) {
                close(fds[1]);
                watch(fds[0], pidfd);
        }
        /* The supervisor keeps only the write end, open until it exits or dies. */
        close(fds[0]);
        close(pidfd);
        if (watchdog < 0) {
                close(fds[1]);
                return -1;
        }
        supervisor = getpid();
        pipe_wr = fds[1];
        atexit(stop_watchdog);
        return 0;
}
