// A minimal io_uring over raw syscalls (liburing is not a dependency): setup, the mmap'd rings, SQE
// acquisition, submit-and-wait, and CQE reaping. Only what the destination-dump fan-out needs.
#pragma once
#include <linux/io_uring.h>

#include <cstddef>
#include <cstdint>

namespace kernlb {
namespace ipvs {

class Uring {
 public:
  Uring() = default;
  ~Uring();
  Uring(const Uring&) = delete;
  Uring& operator=(const Uring&) = delete;

  // Creates the ring; returns 0 or an errno (ENOSYS/EPERM/ENOMEM: io_uring unavailable here).
  int Init(unsigned entries);
  unsigned sqEntries() const { return sqEntries_; }
  unsigned cqEntries() const { return cqEntries_; }

  // The next free submission slot (zeroed), or nullptr when every slot is queued.
  io_uring_sqe* Sqe();
  // Submits everything queued and waits until at least `waitFor` completions are available, at most
  // timeoutMs. Returns 0, ETIME (timed out), EAGAIN (not everything was submitted: reap, then call
  // again) or another errno. EINTR is retried.
  int Enter(unsigned waitFor, int timeoutMs);
  // Completions not yet reaped (to wait only when there is nothing to do).
  unsigned Ready() const { return __atomic_load_n(cqTail_, __ATOMIC_ACQUIRE) - *cqHead_; }
  // Calls fn(cqe) for every available completion and releases them; returns how many.
  template <typename F>
  unsigned Reap(F&& fn) {
    unsigned head = *cqHead_;
    unsigned tail = __atomic_load_n(cqTail_, __ATOMIC_ACQUIRE);
    unsigned n = 0;
    // Each completion is released before fn sees it, so a throwing fn never sees one twice.
    for (; head != tail; n++) {
      io_uring_cqe c = cqes_[head & *cqMask_];
      __atomic_store_n(cqHead_, ++head, __ATOMIC_RELEASE);
      fn(c);
    }
    return n;
  }

 private:
  int fd_ = -1;
  void* sqRing_ = nullptr;
  size_t sqRingSize_ = 0;
  void* cqRing_ = nullptr;  // == sqRing_ with IORING_FEAT_SINGLE_MMAP
  size_t cqRingSize_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqesSize_ = 0;
  unsigned sqEntries_ = 0, cqEntries_ = 0;
  unsigned* sqHead_ = nullptr;
  unsigned* sqTail_ = nullptr;
  unsigned* sqMask_ = nullptr;
  unsigned* sqArray_ = nullptr;
  unsigned* cqHead_ = nullptr;
  unsigned* cqTail_ = nullptr;
  unsigned* cqMask_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
  unsigned sqLocalTail_ = 0;  // slots handed out by Sqe() but not yet published
  unsigned toSubmit_ = 0;
  bool extArg_ = false;  // IORING_FEAT_EXT_ARG (5.11): a timeout on io_uring_enter itself
};

}  // namespace ipvs
}  // namespace kernlb
