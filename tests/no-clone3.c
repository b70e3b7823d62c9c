/* tests/no-clone3 PROGRAM [ARG...]: run PROGRAM with clone3(2) failing with ENOSYS, as
 * Docker's default seccomp profile, valgrind and kernels before 5.3 make it fail. glibc
 * falls back to clone(2) then; a step that uses clone3 must too. The filter stays on
 * PROGRAM and everything it starts. Built by make as build/no-clone3; the tests of 07 and
 * 08 use it. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

        if (argc < 2) {
                fprintf(stderr, "usage: no-clone3 PROGRAM [ARG...]\n");
                return 125;
        }
        if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0 ||
            seccomp_load(ctx) < 0) {
                fprintf(stderr, "no-clone3: cannot load the seccomp filter\n");
                return 125;
        }
        seccomp_release(ctx);
        execvp(argv[1], argv + 1);
        perror("no-clone3: exec");
        return 127;
}
