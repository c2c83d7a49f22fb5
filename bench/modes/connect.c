/*
 * The client of bench/modes.mjs. A Node net.connect loop costs about 70 us per connection on this
 * machine, more than the differences between modes it has to resolve; this one times each connection
 * with clock_gettime(CLOCK_MONOTONIC) around the blocking connect() (SYN out, SYN-ACK back: the whole
 * NAT path once each way) and the read of the server's greeting byte, then closes with RST (SO_LINGER
 * 0) so that no TIME_WAIT piles up on the client's ports. Prints one JSON object on stdout.
 *
 *   connect latency  HOST PORT COUNT [TIMEOUT_MS [GAP_US]]  sequential connections, GAP_US apart;
 *                                                   COUNT 0 = until SIGTERM; raw samples in ns
 *                                                   (connect, first byte); each failure and each
 *                                                   connection slower than 50 ms with its start
 *                                                   (CLOCK_MONOTONIC ns, as Node's hrtime) and stage;
 *                                                   with CONNECT_SEND set in the environment, it is
 *                                                   written after connect() (an HTTP server's request:
 *                                                   its answer's first byte stands for the greeting)
 *   connect rate     HOST PORT COUNT CONC [TIMEOUT_MS]  COUNT connections, CONC in flight at a time
 *                                                   (epoll): wall time and the process's CPU time
 *   connect requests HOST PORT SECONDS SIZE         one kept-alive connection, SIZE-byte ping-pong
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int s) {
  (void)s;
  stop = 1;
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static struct sockaddr_storage dst;
static socklen_t dst_len;

static void parse_dst(const char *host, int port) {
  struct sockaddr_in *a4 = (struct sockaddr_in *)&dst;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&dst;
  memset(&dst, 0, sizeof dst);
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    dst_len = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    dst_len = sizeof *a6;
  } else {
    fprintf(stderr, "bad address %s\n", host);
    exit(2);
  }
}

static void close_rst(int fd) {
  struct linger l = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

/* Failures by kind, printed as an object. */
enum { F_REFUSED, F_TIMEOUT, F_RESET, F_EOF, F_OTHER, F_KINDS };
static const char *fname[F_KINDS] = {"refused", "timeout", "reset", "eof", "other"};
static long failed[F_KINDS];

static int kind_of(int err) {
  switch (err) {
    case ECONNREFUSED: return F_REFUSED;
    case EINPROGRESS: case EAGAIN: case ETIMEDOUT: return F_TIMEOUT;
    case ECONNRESET: return F_RESET;
    default: return F_OTHER;
  }
}

static void print_tail(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  long total = 0;
  printf("\"failures\":{");
  for (int k = 0; k < F_KINDS; k++) {
    printf("%s\"%s\":%ld", k ? "," : "", fname[k], failed[k]);
    total += failed[k];
  }
  printf("},\"failed\":%ld,\"utime_ns\":%lld,\"stime_ns\":%lld}\n", total,
         (long long)ru.ru_utime.tv_sec * 1000000000 + ru.ru_utime.tv_usec * 1000,
         (long long)ru.ru_stime.tv_sec * 1000000000 + ru.ru_stime.tv_usec * 1000);
}

/* Failures and slow connections of latency(), with when they started: bench/lb-traffic.mjs lays
 * them beside the times of the table replaces. stage: 0 connect(), 1 the greeting's read(). */
#define MAX_EVENTS 4096
#define SLOW_NS 50000000
struct event {
  int64_t at, connect, first;
  int stage, err;
};
static struct event fails[MAX_EVENTS], slows[MAX_EVENTS];
static long nfails, nslows;

static void note_fail(int64_t at, int stage, int err, int64_t took) {
  if (nfails < MAX_EVENTS) fails[nfails++] = (struct event){.at = at, .connect = took, .stage = stage, .err = err};
}

static void print_events(const char *key, const struct event *ev, long n) {
  printf("\"%s\":[", key);
  for (long i = 0; i < n; i++)
    printf("%s{\"at_ns\":%lld,\"stage\":\"%s\",\"errno\":%d,\"connect_ns\":%lld,\"first_byte_ns\":%lld}", i ? "," : "", (long long)ev[i].at,
           ev[i].stage ? "read" : "connect", ev[i].err, (long long)ev[i].connect, (long long)ev[i].first);
  printf("],");
}

static int latency(long count, int timeout_ms, long gap_us) {
  struct timespec gap = {.tv_sec = gap_us / 1000000, .tv_nsec = (gap_us % 1000000) * 1000};
  long cap = count ? count : 1 << 20, n = 0;
  int64_t *conn = malloc(cap * sizeof *conn), *first = malloc(cap * sizeof *first);
  struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  const char *send_first = getenv("CONNECT_SEND");
  size_t send_len = send_first ? strlen(send_first) : 0;
  int64_t began = now_ns();
  while (!stop && (count == 0 || n + failed[0] + failed[1] + failed[2] + failed[3] + failed[4] < count)) {
    if (gap_us > 0) nanosleep(&gap, NULL);  // paced: leaves the CPU to what runs beside the load
    int fd = socket(dst.ss_family, SOCK_STREAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect()
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int64_t t0 = now_ns();
    if (connect(fd, (struct sockaddr *)&dst, dst_len) != 0) {
      int e = errno;
      int64_t took = now_ns() - t0;
      close_rst(fd);
      if (e == EINTR && stop) break;  // stopped mid-connect: neither success nor failure
      failed[kind_of(e)]++;
      note_fail(t0, 0, e, took);
      continue;
    }
    int64_t t1 = now_ns();
    char b;
    if (send_first && write(fd, send_first, send_len) != (ssize_t)send_len) {
      int e = errno;
      close_rst(fd);
      failed[kind_of(e)]++;
      note_fail(t0, 1, e, now_ns() - t0);
      continue;
    }
    ssize_t r = read(fd, &b, 1);
    int64_t t2 = now_ns();
    int e = errno;
    close_rst(fd);
    if (r != 1) {
      if (r < 0 && e == EINTR && stop) break;
      failed[r == 0 ? F_EOF : kind_of(e)]++;
      note_fail(t0, 1, r == 0 ? 0 : e, t2 - t0);
      continue;
    }
    if (t2 - t0 > SLOW_NS && nslows < MAX_EVENTS) slows[nslows++] = (struct event){.at = t0, .connect = t1 - t0, .first = t2 - t0};
    if (n == cap) {
      cap *= 2;
      conn = realloc(conn, cap * sizeof *conn);
      first = realloc(first, cap * sizeof *first);
    }
    conn[n] = t1 - t0;
    first[n] = t2 - t0;
    // An open-ended run says when it is under way (its starter waits for this before changing anything).
    if (n++ == 0 && count == 0) {
      fputs("running\n", stderr);
      fflush(stderr);
    }
  }
  int64_t wall = now_ns() - began;
  printf("{\"mode\":\"latency\",\"ok\":%ld,\"wall_ns\":%lld,\"connect_ns\":[", n, (long long)wall);
  for (long i = 0; i < n; i++) printf("%s%lld", i ? "," : "", (long long)conn[i]);
  printf("],\"first_byte_ns\":[");
  for (long i = 0; i < n; i++) printf("%s%lld", i ? "," : "", (long long)first[i]);
  printf("],");
  print_events("failed_at", fails, nfails);
  print_events("slow_at", slows, nslows);
  print_tail();
  return 0;
}

struct slot {
  int fd;
  int connected;
  int64_t started;
};

/* rate(): the connections in flight, and how many were opened, succeeded, finished of how many. */
static int rate_ep;
static struct slot *slots;
static long r_count, r_started, r_ok, r_done;

/* Opens a connection into slot i (nonblocking: connect returns EINPROGRESS); -1 when all are opened. */
static void open_slot(int i) {
  for (;;) {
    slots[i].fd = -1;
    if (r_started >= r_count) return;
    r_started++;
    int fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    slots[i].connected = 0;
    slots[i].started = now_ns();
    if (connect(fd, (struct sockaddr *)&dst, dst_len) != 0 && errno != EINPROGRESS) {
      failed[kind_of(errno)]++;
      r_done++;
      close_rst(fd);
      continue;
    }
    slots[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(rate_ep, EPOLL_CTL_ADD, fd, &ev);
    return;
  }
}

/* kind < 0: success. Closing removes the socket from the epoll set; the slot starts the next one. */
static void finish(int i, int kind) {
  if (kind < 0) r_ok++;
  else failed[kind]++;
  r_done++;
  close_rst(slots[i].fd);
  open_slot(i);
}

static int rate(long count, int conc, int timeout_ms) {
  rate_ep = epoll_create1(0);
  slots = calloc(conc, sizeof *slots);
  r_count = count;
  int64_t timeout = (int64_t)timeout_ms * 1000000;
  int64_t began = now_ns();
  for (int i = 0; i < conc; i++) open_slot(i);
  struct epoll_event evs[256];
  while (r_done < r_count && !stop) {
    int n = epoll_wait(rate_ep, evs, 256, 50);
    for (int k = 0; k < n; k++) {
      int i = (int)evs[k].data.u32;
      struct slot *s = &slots[i];
      if (s->fd < 0) continue;
      if (!s->connected) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
          finish(i, kind_of(err));
          continue;
        }
        s->connected = 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(rate_ep, EPOLL_CTL_MOD, s->fd, &ev);
      }
      if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        char b;
        ssize_t r = read(s->fd, &b, 1);
        if (r == 1) finish(i, -1);
        else if (r == 0) finish(i, F_EOF);
        else if (errno != EAGAIN) finish(i, kind_of(errno));
      }
    }
    int64_t t = now_ns();
    for (int i = 0; i < conc; i++)
      if (slots[i].fd >= 0 && t - slots[i].started > timeout) finish(i, F_TIMEOUT);
  }
  int64_t wall = now_ns() - began;
  printf("{\"mode\":\"rate\",\"ok\":%ld,\"wall_ns\":%lld,", r_ok, (long long)wall);
  print_tail();
  return 0;
}

static int requests(double seconds, int size) {
  int fd = socket(dst.ss_family, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct timeval tv = {.tv_sec = 3};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char greeting, *buf = calloc(1, size);
  if (connect(fd, (struct sockaddr *)&dst, dst_len) != 0 || read(fd, &greeting, 1) != 1) {
    failed[kind_of(errno)]++;
    printf("{\"mode\":\"requests\",\"ok\":0,\"wall_ns\":0,");
    print_tail();
    return 0;
  }
  long n = 0;
  int64_t began = now_ns(), end = began + (int64_t)(seconds * 1e9), t = began;
  while (!stop && t < end) {
    if (write(fd, buf, size) != size) {
      failed[kind_of(errno)]++;
      break;
    }
    int got = 0;
    while (got < size) {
      ssize_t r = read(fd, buf + got, size - got);
      if (r <= 0) break;
      got += (int)r;
    }
    if (got < size) {
      failed[got == 0 ? F_EOF : F_OTHER]++;
      break;
    }
    n++;
    t = now_ns();
  }
  close_rst(fd);
  printf("{\"mode\":\"requests\",\"ok\":%ld,\"wall_ns\":%lld,", n, (long long)(t - began));
  print_tail();
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s latency|rate|requests HOST PORT ...\n", argv[0]);
    return 2;
  }
  struct sigaction sa = {.sa_handler = on_signal};  // no SA_RESTART: a blocked connect() returns EINTR
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  parse_dst(argv[2], atoi(argv[3]));
  if (!strcmp(argv[1], "latency")) return latency(atol(argv[4]), argc > 5 ? atoi(argv[5]) : 1000, argc > 6 ? atol(argv[6]) : 0);
  if (!strcmp(argv[1], "rate") && argc >= 6) return rate(atol(argv[4]), atoi(argv[5]), argc > 6 ? atoi(argv[6]) : 1000);
  if (!strcmp(argv[1], "requests") && argc >= 6) return requests(atof(argv[4]), atoi(argv[5]));
  fprintf(stderr, "bad arguments\n");
  return 2;
}
