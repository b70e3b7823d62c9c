/* lib/sync: the supervisor/container handshake over two pipes. See sync.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "sync.h"

int sync_init(struct sync *s)
{
        int to_child[2], to_parent[2];

        if (pipe2(to_child, O_CLOEXEC) < 0)
                return -1;
        if (pipe2(to_parent, O_CLOEXEC) < 0) {
                int err = errno;
                close(to_child[0]);
                close(to_child[1]);
                errno = err;
                return -1;
        }
        /* Until a side is picked, "ours" are the supervisor's ends. */
        s->rd = to_parent[0];
        s->wr = to_child[1];
        s->other_rd = to_child[0];
        s->other_wr = to_parent[1];
        return 0;
}

void sync_as_parent(struct sync *s)
{
        close(s->other_rd);
        close(s->other_wr);
        s->other_rd = s->other_wr = -1;
}

void sync_as_child(struct sync *s)
{
        close(s->rd);
        close(s->wr);
        s->rd = s->other_rd;
        s->wr = s->other_wr;
        s->other_rd = s->other_wr = -1;
}

int sync_wake(struct sync *s)
{
        const struct timespec now = {0, 0};
        sigset_t pipe_only, old;
        ssize_t n;
        int err;

        /* Writing to a pipe nobody reads raises SIGPIPE, whose default action would kill
         * the caller. Block it for this one write, then discard it if it was raised, so a
         * dead peer shows up as EPIPE that the caller can report. */
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        sigprocmask(SIG_BLOCK, &pipe_only, &old);
        do {
                n = write(s->wr, "1", 1);
        } while (n < 0 && errno == EINTR);
        err = errno;
        if (n < 0 && err == EPIPE)
                sigtimedwait(&pipe_only, NULL, &now);
        sigprocmask(SIG_SETMASK, &old, NULL);
        errno = err;
        return n == 1 ? 0 : -1;
}

int sync_wait(struct sync *s)
{
        char byte;
        ssize_t n;

        do {
                n = read(s->rd, &byte, 1);
        } while (n < 0 && errno == EINTR);
        if (n == 0)
                errno = EPIPE; /* end-of-file: the other side is gone */
        return n == 1 ? 0 : -1;
}
