#include "iptables/xtables_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "netlink/error.h"

namespace kernlb {
namespace iptables {

XtablesLock::XtablesLock(const LockSpec& spec) {
  if (spec.path.empty()) return;
  fd_ = open(spec.path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw KernelFailure(errno, "open xtables lock", "cannot open the xtables lock " + spec.path + " (xtablesLock: false skips it)");
  // iptables waits in a blocking flock under alarm(); a worker thread cannot use a process-wide
  // signal, so it polls LOCK_NB with a growing pause (1 ms .. 20 ms) until the deadline.
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(spec.timeoutMs, 0));
  long pauseUs = 1000;
  for (;;) {
    if (flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    int e = errno;
    if (e == EINTR) continue;
    if (e != EWOULDBLOCK) {
      close(fd_);
      throw KernelFailure(e, "flock xtables lock", "cannot lock " + spec.path);
    }
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      close(fd_);
      throw KernelFailure(ETIMEDOUT, "flock xtables lock",
                          "another process (iptables-legacy?) held the xtables lock " + spec.path + " for the whole " +
                              std::to_string(spec.timeoutMs) + " ms timeout");
    }
    long us = std::min<long>(pauseUs, left);
    timespec ts{us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, nullptr);
    pauseUs = std::min<long>(pauseUs * 2, 20000);
  }
}

XtablesLock::~XtablesLock() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace iptables
}  // namespace kernlb
