/* lib/sync: the handshake between the supervisor and the container's first process.
 *
 * Two one-way pipes, one per direction. After clone() each side keeps the read end
 * of one pipe and the write end of the other and closes the rest, so the only writer
 * a side can hear from is the other side. That is what makes the handshake safe:
 * when the other side dies, the kernel closes its end and our wait sees end-of-file
 * instead of hanging. See pipe(7): "If all file descriptors referring to the write
 * end of a pipe have been closed, then an attempt to read(2) from the pipe will see
 * end-of-file".
 *
 * Every function returns 0 on success and -1 with errno set on failure; it never
 * prints or exits, so the caller decides how to report.
 */
#ifndef CNTLAB_SYNC_H
#define CNTLAB_SYNC_H

struct sync {
        int rd; /* our read end: the other side wakes us through it */
        int wr; /* our write end: we wake the other side through it */
        int other_rd; /* the other side's ends, closed by sync_as_parent/child */
        int other_wr;
};

/* Create both pipes (close-on-exec, so COMMAND never inherits them). */
int sync_init(struct sync *s);

/* Keep the supervisor's ends and close the container's; call after clone(). */
void sync_as_parent(struct sync *s);

/* Keep the container's ends and close the supervisor's; call first thing in the child. */
void sync_as_child(struct sync *s);

/* Tell the other side to go on. A dead reader gives -1 with errno EPIPE, not SIGPIPE. */
int sync_wake(struct sync *s);

/* Wait until the other side calls sync_wake(). If it died (or closed its end) first,
 * return -1 with errno EPIPE. */
int sync_wait(struct sync *s);

#endif
