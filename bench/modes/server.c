/*
 * The backends' server for bench/modes.mjs: accepts TCP connections on [::]:PORT (IPv4 too), sends one
 * greeting byte at once (the client's "first byte"), then echoes whatever it reads (the kept-alive
 * request loop). One thread, epoll, no allocation per connection: it should cost the backend as little
 * as possible so that the path through the balancer is what the client measures.
 *
 *   server PORT          prints "ready" once listening; runs until killed
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  int ls = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int zero = 0, one = 1;
  setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_any};
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) {
    perror("bind/listen");
    return 1;
  }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  printf("ready\n");
  fflush(stdout);

  struct epoll_event evs[256];
  char buf[65536];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        int c;
        while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          // The greeting: a client that reads it knows the whole NAT path works both ways.
          if (write(c, "H", 1) != 1) {
            close(c);
            continue;
          }
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        close(fd);  // also removes it from the epoll set
        continue;
      }
      // Requests are small (one segment); a short write only happens when the client stopped reading.
      if (write(fd, buf, (size_t)r) != r) close(fd);
    }
  }
}
