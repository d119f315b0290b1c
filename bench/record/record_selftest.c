/* Checks of the recorder: this program runs itself again with the recorder
 * preloaded, doing allocations whose sizes it knows (every hooked entry,
 * realloc in its three forms, two extra threads), then reads the log with
 * the replay's own parser and checks what a user replaying it relies on:
 * the log parses, every logged free closes a logged alloc, each known
 * request is there with its free, and the size filter leaves out small
 * requests and their frees. Exit status 0 passes. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "event_log.h"
#include "selftest_check.h"

/* Sizes no start-up code of the C library asks for, so each is ours. */
enum {
  MALLOC_BYTES = 1111,
  CALLOC_EACH = 37,
  CALLOC_COUNT = 3, /* 111 bytes: under the filter */
  REALLOC_FROM = 2222,
  REALLOC_TO = 77777,
  REALLOC_NEW = 3333,
  MEMALIGN_BYTES = 4444,
  ALIGNED_BYTES = 5120,
  POSIX_BYTES = 6666,
  SMALL_BYTES = 99,
  THREAD_BYTES = 1234,
  THREAD_BLOCKS = 50
};

static void *thread_work(void *arg) {
  (void)arg;
  void *blocks[THREAD_BLOCKS];
  for (int i = 0; i < THREAD_BLOCKS; i++)
    blocks[i] = malloc(THREAD_BYTES);
  for (int i = 0; i < THREAD_BLOCKS; i++)
    free(blocks[i]);
  return NULL;
}

/* What the recorded child does. volatile stores keep the compiler from
 * pairing a malloc with its free and removing both. */
static int child(void) {
  void *volatile keep;
  keep = malloc(MALLOC_BYTES);
  free(keep);
  keep = calloc(CALLOC_COUNT, CALLOC_EACH);
  free(keep);
  keep = malloc(REALLOC_FROM);
  keep = realloc(keep, REALLOC_TO);
  free(keep);
  keep = realloc(NULL, REALLOC_NEW); /* an alloc */
  keep = realloc(keep, 0);           /* glibc: a free, NULL back */
  free(keep);
  keep = memalign(64, MEMALIGN_BYTES);
  free(keep);
  keep = aligned_alloc(512, ALIGNED_BYTES);
  free(keep);
  void *p = NULL;
  if (posix_memalign(&p, 128, POSIX_BYTES) != 0)
    return 1;
  free(p);
  keep = malloc(SMALL_BYTES);
  free(keep);
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create(&t[i], NULL, thread_work, NULL) != 0)
      return 1;
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  return 0;
}

/* Runs the child under the recorder with `min_size`; 0 if it exited 0. */
static int record(const char *self, const char *log, const char *min_size) {
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    setenv("LD_PRELOAD", TP_RECORD_LIBRARY, 1);
    setenv("TP_RECORD_LOG", log, 1);
    setenv("TP_RECORD_MIN_SIZE", min_size, 1);
    unsetenv("TP_RECORD_PID");
    execl(self, self, "--child", (char *)NULL);
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
    return -1;
  return WEXITSTATUS(status);
}

/* Allocs of exactly `size` bytes, and how many of them the log frees. */
static void count_size(const replay_log *log, uint64_t size, int *allocs,
                       int *freed) {
  *allocs = *freed = 0;
  for (size_t i = 0; i < log->count; i++) {
    const replay_event *e = &log->events[i];
    if (e->op != REPLAY_ALLOC || e->size != size)
      continue;
    ++*allocs;
    for (size_t j = i + 1; j < log->count; j++)
      if (log->events[j].op == REPLAY_FREE && log->events[j].slot == e->slot) {
        ++*freed;
        break;
      }
  }
}

static void check_log(const char *path, bool filtered) {
  replay_log log;
  char err[512];
  int rc = replay_log_read(path, &log, err, sizeof err);
  CHECK(rc == 0);
  if (rc != 0) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  CHECK(log.pools == 1 && strcmp(log.pool_names[0], "malloc") == 0);
  CHECK(log.orphan_frees == 0);
  CHECK(log.reused_live_ptr == 0);
  CHECK(log.threads >= 3); /* main and two workers */
  const struct {
    uint64_t size;
    int allocs;
  } want[] = {{MALLOC_BYTES, 1},
              {CALLOC_COUNT * CALLOC_EACH, filtered ? 0 : 1},
              {REALLOC_FROM, 1},
              {REALLOC_TO, 1},
              {REALLOC_NEW, 1},
              {MEMALIGN_BYTES, 1},
              {ALIGNED_BYTES, 1},
              {POSIX_BYTES, 1},
              {SMALL_BYTES, filtered ? 0 : 1},
              {THREAD_BYTES, 2 * THREAD_BLOCKS}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    int allocs = 0, freed = 0;
    count_size(&log, want[i].size, &allocs, &freed);
    if (allocs != want[i].allocs || freed != want[i].allocs) {
      fprintf(stderr, "%s: %llu bytes: %d allocs, %d freed, want %d\n", path,
              (unsigned long long)want[i].size, allocs, freed, want[i].allocs);
      failures++;
    }
  }
  if (filtered)
    for (size_t i = 0; i < log.count; i++)
      if (log.events[i].op == REPLAY_ALLOC && log.events[i].size < 256) {
        CHECK(!"an alloc under the filter was logged");
        break;
      }
  replay_log_free(&log);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--child") == 0)
    return child();
  char dir[] = "/tmp/tp_record_selftestXXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  char all[64], filtered[64];
  snprintf(all, sizeof all, "%s/all.csv", dir);
  snprintf(filtered, sizeof filtered, "%s/min256.csv", dir);
  CHECK(record("/proc/self/exe", all, "0") == 0);
  check_log(all, false);
  CHECK(record("/proc/self/exe", filtered, "256") == 0);
  check_log(filtered, true);
  unlink(all);
  unlink(filtered);
  rmdir(dir);
  if (failures == 0)
    printf("record_selftest: all checks passed\n");
  return failures ? 1 : 0;
}
