/* tests/try-call CALL [ARG...]: make one system call inside a container and print what the
 * kernel answered, "ok" or the error, for what busybox cannot ask. Built static by make as
 * build/try-call, so it runs in any rootfs; the tests bind it in with -b.
 *   personality HEX       personality(HEX)
 *   io_uring              io_uring_setup(1, ...)
 *   setuid-sleep UID SEC  setresuid(UID, UID, UID), then sleep SEC seconds
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

static int answer(long r)
{
        if (r < 0) {
                printf("%s\n", strerror(errno));
                return 1;
        }
        printf("ok\n");
        return 0;
}

int main(int argc, char **argv)
{
        const char *call = argc > 1 ? argv[1] : "";

        if (strcmp(call, "personality") == 0 && argc == 3)
                return answer(personality(strtoul(argv[2], NULL, 16)));
        if (strcmp(call, "io_uring") == 0) {
                char params[120] = {0}; /* struct io_uring_params, zeroed */

                return answer(syscall(SYS_io_uring_setup, 1, params));
        }
        if (strcmp(call, "setuid-sleep") == 0 && argc == 4) {
                uid_t uid = (uid_t)atoi(argv[2]);

                if (answer(setresuid(uid, uid, uid)))
                        return 1;
                fflush(stdout);
                sleep((unsigned)atoi(argv[3]));
                return 0;
        }
        fprintf(stderr, "usage: try-call personality HEX | io_uring | setuid-sleep UID SEC\n");
        return 2;
}
