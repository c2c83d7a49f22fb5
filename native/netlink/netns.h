// Network namespaces are fixed when a handle is opened: the handle keeps an fd to the namespace, and
// work that must happen inside it (socket creation, libiptc calls, /proc reads) runs on a worker thread
// that enters it and is always put back before the thread returns to the pool.
#pragma once
#include <memory>
#include <string>

namespace kernlb {

class Netns {
 public:
  // path empty: the calling thread's current namespace (captured now, on the JS thread).
  static std::shared_ptr<Netns> Open(const std::string& path);
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  int fd() const { return fd_; }
  unsigned long inode() const { return inode_; }

 private:
  explicit Netns(int fd, unsigned long inode) : fd_(fd), inode_(inode) {}
  int fd_;
  unsigned long inode_;
};

// Enters `ns` on this thread for the guard's lifetime. Restoring can only fail if the process is in
// a state where continuing would run later pool work in the wrong namespace, so that aborts.
class NetnsGuard {
 public:
  explicit NetnsGuard(const Netns& ns);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  int saved_ = -1;
};

// Inode of the namespace this thread is in now (for tests and diagnostics).
unsigned long CurrentNetnsInode();

}  // namespace kernlb
