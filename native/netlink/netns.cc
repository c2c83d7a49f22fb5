#include "netlink/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "netlink/error.h"

namespace kernlb {

static unsigned long InodeOf(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? static_cast<unsigned long>(st.st_ino) : 0;
}

std::shared_ptr<Netns> Netns::Open(const std::string& path) {
  // Only opens: entering happens on worker threads (NetnsGuard), which also reports a path that is
  // not a network namespace (EINVAL from setns).
  const char* p = path.empty() ? "/proc/thread-self/ns/net" : path.c_str();
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw KernelFailure(errno, "open netns " + std::string(p));
  return std::shared_ptr<Netns>(new Netns(fd, InodeOf(fd)));
}

Netns::~Netns() {
  if (fd_ >= 0) close(fd_);
}

NetnsGuard::NetnsGuard(const Netns& ns) {
  if (CurrentNetnsInode() == ns.inode()) return;  // already there: nothing to enter or restore
  saved_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved_ < 0) throw KernelFailure(errno, "open current netns");
  if (setns(ns.fd(), CLONE_NEWNET) != 0) {
    int e = errno;
    close(saved_);
    saved_ = -1;
    throw KernelFailure(e, "setns");
  }
}

NetnsGuard::~NetnsGuard() {
  if (saved_ < 0) return;
  if (setns(saved_, CLONE_NEWNET) != 0) {
    fprintf(stderr, "kernlb: cannot restore a worker thread's network namespace; aborting\n");
    abort();
  }
  close(saved_);
}

unsigned long CurrentNetnsInode() {
  struct stat st;
  return stat("/proc/thread-self/ns/net", &st) == 0 ? static_cast<unsigned long>(st.st_ino) : 0;
}

}  // namespace kernlb
