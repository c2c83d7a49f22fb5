/*
 * How long each CPU is kept from running a waiting task, for bench/lb-traffic.mjs. One thread pinned
 * to each CPU, SCHED_FIFO when allowed, sleeps 1 ms at a time (absolute deadlines) and records how
 * late it woke. This kernel runs with "Dynamic Preempt: none": a task woken on a CPU that is inside a
 * long system call waits for that call's next cond_resched(), so the lateness is the longest stretch
 * the kernel ran there without giving the CPU up (interrupts and softirqs still ran in it).
 *
 *   wake [THRESHOLD_US]   runs until SIGTERM; prints one JSON object on stdout: per CPU the wakeups,
 *                         the latest one and how many were late by more than 1/10/100 ms, and every
 *                         wakeup later than THRESHOLD_US (default 5000) with its CLOCK_MONOTONIC time
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int s) {
  (void)s;
  stop = 1;
}

static int64_t ts_ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec; }

#define MAX_EVENTS 4096
struct cpu_stats {
  int cpu;
  long wakeups, over1, over10, over100;
  int64_t max_ns, max_at;
  long nevents;
  int64_t at[MAX_EVENTS], late[MAX_EVENTS];
};

static int64_t threshold_ns;

static void *run(void *arg) {
  struct cpu_stats *st = arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(st->cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  struct sched_param sp = {.sched_priority = 50};
  pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);  // (stays SCHED_OTHER where not allowed)
  struct timespec next, now;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (!stop) {
    next.tv_nsec += 1000000;
    if (next.tv_nsec >= 1000000000) {
      next.tv_nsec -= 1000000000;
      next.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t late = ts_ns(&now) - ts_ns(&next);
    st->wakeups++;
    if (late > 1000000) st->over1++;
    if (late > 10000000) st->over10++;
    if (late > 100000000) st->over100++;
    if (late > st->max_ns) {
      st->max_ns = late;
      st->max_at = ts_ns(&next);
    }
    if (late > threshold_ns && st->nevents < MAX_EVENTS) {
      st->at[st->nevents] = ts_ns(&next);
      st->late[st->nevents++] = late;
    }
    // After a long stall, start again from now rather than firing the missed deadlines back to back.
    if (late > 1000000) next = now;
  }
  return NULL;
}

int main(int argc, char **argv) {
  threshold_ns = (argc > 1 ? atol(argv[1]) : 5000) * 1000LL;
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
  struct cpu_stats *st = calloc(ncpu, sizeof *st);
  pthread_t *th = calloc(ncpu, sizeof *th);
  for (int i = 0; i < ncpu; i++) {
    st[i].cpu = i;
    pthread_create(&th[i], NULL, run, &st[i]);
  }
  fputs("running\n", stderr);
  fflush(stderr);
  while (!stop) usleep(50000);  // (the signal may land on any thread)
  for (int i = 0; i < ncpu; i++) pthread_join(th[i], NULL);
  printf("{\"cpus\":[");
  for (int i = 0; i < ncpu; i++) {
    struct cpu_stats *s = &st[i];
    printf("%s{\"cpu\":%d,\"wakeups\":%ld,\"over1ms\":%ld,\"over10ms\":%ld,\"over100ms\":%ld,\"max_ns\":%lld,\"max_at_ns\":%lld,\"late\":[", i ? "," : "", s->cpu,
           s->wakeups, s->over1, s->over10, s->over100, (long long)s->max_ns, (long long)s->max_at);
    for (long k = 0; k < s->nevents; k++) printf("%s[%lld,%lld]", k ? "," : "", (long long)s->at[k], (long long)s->late[k]);
    printf("]}");
  }
  printf("]}\n");
  return 0;
}
