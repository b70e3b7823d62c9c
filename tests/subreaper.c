/* tests/subreaper COMMAND [ARG...]: run COMMAND below a child subreaper (prctl(2),
 * PR_SET_CHILD_SUBREAPER). A process orphaned anywhere below it is reparented to it, not
 * to init, so its leftovers stay apart from those of another COMMAND beside it. tests/run
 * runs each lane's bats so: the leak checks (tests/helpers.bash) take an orphan for the
 * test's own only if it lands among the test's ancestors. Reaps every child until COMMAND
 * ends, then exits as COMMAND did (128+N for a signal). Built by make as build/subreaper. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        pid_t command, pid;
        int status;

        if (argc < 2) {
                fprintf(stderr, "usage: subreaper COMMAND [ARG...]\n");
                return 125;
        }
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
                fprintf(stderr, "subreaper: prctl PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
                return 125;
        }
        command = fork();
        if (command == -1) {
                fprintf(stderr, "subreaper: fork: %s\n", strerror(errno));
                return 125;
        }
        if (command == 0) {
                execvp(argv[1], argv + 1);
                fprintf(stderr, "subreaper: exec %s: %s\n", argv[1], strerror(errno));
                _exit(errno == ENOENT ? 127 : 126);
        }
        /* An orphan that ends is reaped here; COMMAND's end ends the wait. */
        while ((pid = wait(&status)) != command)
                if (pid == -1 && errno != EINTR) {
                        fprintf(stderr, "subreaper: wait: %s\n", strerror(errno));
                        return 125;
                }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
