#include "ipvs/uring.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kernlb {
namespace ipvs {

Uring::~Uring() {
  if (sqes_) munmap(sqes_, sqesSize_);
  if (cqRing_ && cqRing_ != sqRing_) munmap(cqRing_, cqRingSize_);
  if (sqRing_) munmap(sqRing_, sqRingSize_);
  if (fd_ >= 0) close(fd_);
}

int Uring::Init(unsigned entries) {
#ifndef __NR_io_uring_setup
  (void)entries;
  return ENOSYS;
#else
  io_uring_params p;
  std::memset(&p, 0, sizeof p);
  int fd = static_cast<int>(syscall(__NR_io_uring_setup, entries, &p));
  if (fd < 0) return errno;
  fd_ = fd;
  sqRingSize_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cqRingSize_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  bool single = p.features & IORING_FEAT_SINGLE_MMAP;
  if (single && cqRingSize_ > sqRingSize_) sqRingSize_ = cqRingSize_;
  sqRing_ = mmap(nullptr, sqRingSize_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (sqRing_ == MAP_FAILED) {
    sqRing_ = nullptr;
    return errno;
  }
  if (single) {
    cqRing_ = sqRing_;
  } else {
    cqRing_ = mmap(nullptr, cqRingSize_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (cqRing_ == MAP_FAILED) {
      cqRing_ = nullptr;
      return errno;
    }
  }
  sqesSize_ = p.sq_entries * sizeof(io_uring_sqe);
  void* s = mmap(nullptr, sqesSize_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (s == MAP_FAILED) return errno;
  sqes_ = static_cast<io_uring_sqe*>(s);
  auto* sq = static_cast<uint8_t*>(sqRing_);
  auto* cq = static_cast<uint8_t*>(cqRing_);
  sqHead_ = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
  sqTail_ = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
  sqMask_ = reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
  sqArray_ = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
  cqHead_ = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
  cqTail_ = reinterpret_cast<unsigned*>(cq + p.cq_off.tail);
  cqMask_ = reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<io_uring_cqe*>(cq + p.cq_off.cqes);
  sqEntries_ = p.sq_entries;
  cqEntries_ = p.cq_entries;
  sqLocalTail_ = *sqTail_;
  extArg_ = p.features & IORING_FEAT_EXT_ARG;
  // Without bounded waits a lost reply would hang the worker thread: treat such kernels as lacking it.
  return extArg_ ? 0 : ENOSYS;
#endif
}

io_uring_sqe* Uring::Sqe() {
  unsigned head = __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE);
  if (sqLocalTail_ - head >= sqEntries_) return nullptr;
  unsigned idx = sqLocalTail_ & *sqMask_;
  sqArray_[idx] = idx;
  sqLocalTail_++;
  toSubmit_++;
  io_uring_sqe* e = &sqes_[idx];
  std::memset(e, 0, sizeof *e);
  return e;
}

int Uring::Enter(unsigned waitFor, int timeoutMs) {
  __atomic_store_n(sqTail_, sqLocalTail_, __ATOMIC_RELEASE);
  for (;;) {
    unsigned flags = waitFor ? IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG : 0;
    __kernel_timespec ts{timeoutMs / 1000, (timeoutMs % 1000) * 1000000LL};
    io_uring_getevents_arg arg{};
    arg.ts = reinterpret_cast<uint64_t>(&ts);
    long n = waitFor ? syscall(__NR_io_uring_enter, fd_, toSubmit_, waitFor, flags, &arg, sizeof arg)
                     : syscall(__NR_io_uring_enter, fd_, toSubmit_, 0, 0, nullptr, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    toSubmit_ -= static_cast<unsigned>(n) < toSubmit_ ? static_cast<unsigned>(n) : toSubmit_;
    if (toSubmit_ == 0) return 0;
    // The kernel stopped short (a bad SQE, or completions it cannot post): let the caller reap first.
    return EAGAIN;
  }
}

}  // namespace ipvs
}  // namespace kernlb
