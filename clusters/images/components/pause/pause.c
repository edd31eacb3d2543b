/* pause: the sandbox process of every pod. Sleeps until told to stop, reaping orphans it inherits. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static void on_term(int s) { (void)s; _exit(0); }
static void on_chld(int s) { (void)s; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) { puts("aftershock-pause"); return 0; }
  if (getpid() != 1) fprintf(stderr, "warning: pause should be the first process\n");
  struct sigaction sa; memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term; sigaction(SIGINT, &sa, NULL); sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on_chld; sa.sa_flags = SA_NOCLDSTOP; sigaction(SIGCHLD, &sa, NULL);
  for (;;) pause();
}
