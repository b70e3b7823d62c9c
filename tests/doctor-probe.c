/* tests/doctor-probe SYSCALL: ask the kernel whether it has a system call the steps use,
 * for tests/doctor (make doctor), which has no other way to make one from the shell.
 * Prints one line, "yes ..." or "no: ...", and exits 0 or 1; 2 for bad usage.
 *
 *   openat2   openat2(2) with RESOLVE_BENEATH (Linux 5.6): 08-sec opens the paths it
 *             masks with it
 *   clone3    clone3(2) with CLONE_INTO_CGROUP (Linux 5.7): 07 and 08 start the
 *             container in its cgroup with it on cgroup v2, and fall back to clone(2)
 *   seccomp   a seccomp filter (SECCOMP_SET_MODE_FILTER) under no_new_privs: 08-sec
 *
 * Nothing is left behind: clone3 is given a cgroup descriptor that cannot be open, so a
 * kernel that knows the flag fails with EBADF before a child exists, and the seccomp
 * filter is loaded in a child that exits at once. Built by make as build/doctor-probe. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

static int probe_openat2(void)
{
        struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH};
        int fd = (int)syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how));

        if (fd < 0) {
                printf("no: openat2: %s\n", strerror(errno));
                return 1;
        }
        close(fd);
        printf("yes\n");
        return 0;
}

static int probe_clone3(void)
{
        struct clone_args args = {.flags = CLONE_INTO_CGROUP,
                                  .exit_signal = SIGCHLD,
                                  .cgroup = INT_MAX}; /* no such descriptor */
        long pid = syscall(SYS_clone3, &args, sizeof(args));

        if (pid == 0)
                _exit(0);
        if (pid > 0) { /* INT_MAX was open after all: a child came and went */
                waitpid((pid_t)pid, NULL, 0);
                printf("yes\n");
                return 0;
        }
        if (errno == EBADF) {
                printf("yes\n");
                return 0;
        }
        if (errno == ENOSYS)
                printf("no: clone3: %s (before Linux 5.3, or a seccomp filter)\n", strerror(errno));
        else /* E2BIG or EINVAL: a clone3 without the cgroup field */
                printf("no: clone3 with CLONE_INTO_CGROUP: %s (before Linux 5.7)\n",
                       strerror(errno));
        return 1;
}

static int probe_seccomp(void)
{
        struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
        struct sock_fprog prog = {.len = 1, .filter = allow};
        int status;
        pid_t pid = fork();

        if (pid < 0) {
                printf("no: fork: %s\n", strerror(errno));
                return 1;
        }
        if (pid == 0) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(10 + (errno & 0x7f));
                if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
                        _exit(10 + (errno & 0x7f));
                _exit(0);
        }
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) {
                printf("no: the probe's child did not exit normally\n");
                return 1;
        }
        if (WEXITSTATUS(status) != 0) {
                printf("no: seccomp filter: %s\n", strerror(WEXITSTATUS(status) - 10));
                return 1;
        }
        printf("yes\n");
        return 0;
}

int main(int argc, char **argv)
{
        if (argc == 2 && strcmp(argv[1], "openat2") == 0)
                return probe_openat2();
        if (argc == 2 && strcmp(argv[1], "clone3") == 0)
                return probe_clone3();
        if (argc == 2 && strcmp(argv[1], "seccomp") == 0)
                return probe_seccomp();
        fprintf(stderr, "usage: doctor-probe openat2|clone3|seccomp\n");
        return 2;
}
