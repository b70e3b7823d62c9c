/* lib/watchdog: the container dies with the supervisor, however the supervisor dies.
 *
 * The container's first process asks for PR_SET_PDEATHSIG, but the kernel clears that
 * request whenever the process changes its user or group IDs (prctl(2)): a COMMAND that
 * runs su, setpriv or su-exec is no longer tied to the supervisor, and a supervisor killed
 * by SIGKILL, which cannot be caught, would leave it running. So the supervisor also
 * forks a watchdog: a small process of its own, outside the container, that holds a pidfd
 * of the container's first process (pidfd_open(2), Linux 5.3) and the read end of a pipe
 * whose write end only the supervisor holds. When the supervisor is gone, by exit or by
 * SIGKILL, the kernel closes that write end (pipe(7)); the watchdog reads end-of-file,
 * sends SIGKILL through the pidfd, which cannot reach a recycled PID, and exits. From
 * 03-pid on the first process is the PID namespace's init, and its death ends every
 * process in the namespace. When the supervisor exits normally, an atexit(3) handler closes
 * its end and reaps the watchdog, so that it never outlives the supervisor.
 *
 * watchdog_start returns 0, or -1 with errno set; it never prints or exits. ENOSYS means no
 * pidfd_open: a kernel before 5.3 (which the lab does not support) or valgrind 3.19, which
 * does not know the call; the steps go on with PR_SET_PDEATHSIG alone then.
 */
#ifndef CNTLAB_WATCHDOG_H
#define CNTLAB_WATCHDOG_H

#include <sys/types.h>

/* Start the watchdog of the container whose first process is PID; call after clone(). */
int watchdog_start(pid_t pid);

#endif
