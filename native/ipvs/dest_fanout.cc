// Destination dumps fanned out over a pool of netlink sockets driven by one io_uring.
//
// Why: a socket runs one dump at a time (a second gets EBUSY), so the plain path costs two syscalls
// per service. Where syscalls are expensive (measured in User-mode Linux 6.1: ~50 us each, 10k
// services = 1 s of traps alone) that dominates. Here each of K sockets gets a linked chain
// SEND(dump request) -> RECV -> RECV per service, and one io_uring_enter runs the chains of all K.
// Generic netlink handles a dump request inside sendmsg (the first reply is queued before SEND
// completes) and every recvmsg refills the next part (IPVS needs a second round that carries only
// NLMSG_DONE), so the RECVs are MSG_DONTWAIT: they never wait, they find the data already queued.
// If a RECV does find nothing (EAGAIN) or the dump is longer, the socket gets one more RECV, and a
// plain (poll-armed) RECV if nothing was queued, so correctness never rests on the timing above.
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "ipvs/pipeline.h"
#include "ipvs/uring.h"

namespace kernlb {
namespace ipvs {

namespace {

constexpr size_t kBuf = 64 * 1024;  // a dump datagram is at most 32 KB; MSG_TRUNC reports more
constexpr uint64_t kSend = 0, kRecv1 = 1, kRecv2 = 2;

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// One pool socket and the dump it is running.
struct Slot {
  int fd = -1;
  size_t service = 0;
  uint16_t af = 0;  // the service's family (destinations of kernels before 3.18 have no other)
  uint32_t seq = 0;
  unsigned inflight = 0;  // SQEs of this socket not yet completed
  bool done = false;      // NLMSG_DONE (or the error) of the current dump was seen
  bool sawData = false;   // a RECV of the current round returned bytes
  std::vector<uint8_t> req;
  DestRecords scratch;  // the current dump's destination records (reused: its memory is touched once)
  std::unique_ptr<uint8_t[]> buf[2];  // uninitialised: untouched pages cost nothing
};

class Fanout {
 public:
  Fanout(uint16_t fam, PackedListing& out, int timeoutMs)
      : fam_(fam), services_(out.services()), out_(out), deadline_(NowMs() + timeoutMs) {}
  ~Fanout() {
    Drain();
    for (Slot& s : slots_)
      if (s.fd >= 0) close(s.fd);
  }

  // 0, or the errno that makes io_uring unusable here (the caller then takes the plain path).
  int Init(const Netns& ns, size_t k) {
    if (int e = ring_.Init(static_cast<unsigned>(4 * k))) return e;
    slots_.resize(k);
    NetnsGuard in(ns);  // the sockets belong to the handle's namespace
    for (Slot& s : slots_) {
      s.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
      if (s.fd < 0) throw KernelFailure(errno, "socket(AF_NETLINK)");
      s.buf[0].reset(new uint8_t[kBuf]);
      s.buf[1].reset(new uint8_t[kBuf]);
    }
    return 0;
  }

  void Run() {
    for (Slot& s : slots_)
      if (next_ < services_) Start(s);
    while (inflight_ > 0) {
      if (ring_.Ready() == 0) {
        int64_t left = deadline_ - NowMs();
        if (left <= 0) throw KernelFailure(ETIMEDOUT, kOp, "no reply from the kernel within the timeout");
        int e = ring_.Enter(1, static_cast<int>(left));
        if (e && e != ETIME && e != EAGAIN) throw KernelFailure(e, "io_uring_enter");
      }
      ring_.Reap([this](const io_uring_cqe& c) { Complete(c); });
    }
  }

  // Set when the kernel refused an io_uring operation itself (too old for SEND/RECV).
  bool unsupported = false;

 private:
  static constexpr const char* kOp = "IPVS_CMD_GET_DEST";

  void Start(Slot& s) {
    s.service = next_++;
    s.seq = static_cast<uint32_t>(s.service + 1);
    s.done = false;
    Op get;
    get.cmd = IPVS_CMD_GET_DEST;
    get.hasService = true;
    get.service = out_.ServiceKey(s.service);
    s.af = get.service.af;
    MsgWriter w;
    EncodeOp(w, fam_, get, NLM_F_REQUEST | NLM_F_DUMP);
    w.Finish();
    s.req = std::move(w.data());
    reinterpret_cast<nlmsghdr*>(s.req.data())->nlmsg_seq = s.seq;
    size_t i = &s - slots_.data();
    io_uring_sqe* e = Sqe();
    e->opcode = IORING_OP_SEND;
    e->fd = s.fd;
    e->addr = reinterpret_cast<uint64_t>(s.req.data());
    e->len = static_cast<uint32_t>(s.req.size());
    e->flags = IOSQE_IO_LINK;
    e->user_data = (i << 2) | kSend;
    Recv(s, kRecv1, MSG_DONTWAIT, true);
    Recv(s, kRecv2, MSG_DONTWAIT, false);
    s.inflight += 1;
    s.sawData = false;
  }

  void Recv(Slot& s, uint64_t which, int flags, bool link) {
    size_t i = &s - slots_.data();
    io_uring_sqe* e = Sqe();
    e->opcode = IORING_OP_RECV;
    e->fd = s.fd;
    e->addr = reinterpret_cast<uint64_t>(s.buf[which - 1].get());
    e->len = kBuf;
    e->msg_flags = static_cast<uint32_t>(flags | MSG_TRUNC);  // res = the datagram's real length
    if (link) e->flags = IOSQE_IO_LINK;
    e->user_data = (i << 2) | which;
    s.inflight++;
  }

  io_uring_sqe* Sqe() {
    // Every socket holds at most 3 SQEs and the ring has 4 per socket, so this only guards a bug.
    io_uring_sqe* e = ring_.Sqe();
    if (!e) throw KernelFailure(EOVERFLOW, kOp, "io_uring submission queue full");
    inflight_++;
    return e;
  }

  void Complete(const io_uring_cqe& c) {
    inflight_--;
    Slot& s = slots_[c.user_data >> 2];
    uint64_t which = c.user_data & 3;
    s.inflight--;
    if (failed_) return;  // draining after an error
    if (which == kSend) {
      if (c.res < 0) {
        if (c.res == -EINVAL || c.res == -EOPNOTSUPP) unsupported = true;
        Fail(KernelFailure(-c.res, std::string(kOp) + " (io_uring send)"));
      }
    } else if (c.res >= 0) {
      if (static_cast<size_t>(c.res) > kBuf) Fail(KernelFailure(EMSGSIZE, kOp, "a reply was larger than the receive buffer"));
      s.sawData = true;
      Parse(s, s.buf[which - 1].get(), static_cast<size_t>(c.res));
    } else if (c.res != -EAGAIN && c.res != -ECANCELED) {
      if (c.res == -ENOBUFS) Fail(KernelFailure(ENOBUFS, kOp, "replies were lost: the socket's receive buffer overflowed"));
      Fail(KernelFailure(-c.res, std::string(kOp) + " (io_uring recv)"));
    }
    if (s.inflight > 0) return;
    if (s.done) {
      if (next_ < services_) Start(s);
    } else {
      // The dump needs more rounds (big service), or nothing was queued yet: read on; wait in the
      // kernel (poll-armed) only when the last round found nothing.
      bool wait = !s.sawData;
      s.sawData = false;
      Recv(s, kRecv1, wait ? 0 : MSG_DONTWAIT, false);
    }
  }

  void Parse(Slot& s, const uint8_t* p, size_t len) {
    ForEachMessage(p, len, [&](const nlmsghdr* h) {
      if (h->nlmsg_seq != s.seq || s.done) return;
      if (h->nlmsg_type == NLMSG_DONE) {
        if (h->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
          int code = *static_cast<const int*>(NLMSG_DATA(h));
          if (code < 0) Fail(KernelFailure(-code, kOp));
        }
        Finish(s);
      } else if (h->nlmsg_type == NLMSG_ERROR) {
        NlErrorInfo e = ParseError(h);
        if (e.err) Fail(KernelFailure(e.err, kOp, e.extack));
        Finish(s);
      } else {
        AppendDestRecord(h, s.af, s.scratch);
      }
    });
  }

  // A service's records go to the listing in one piece once its dump is complete (dumps of other
  // services interleave with it until then).
  void Finish(Slot& s) {
    s.done = true;
    out_.SetDests(s.service, s.scratch);
    s.scratch.clear();
  }

  [[noreturn]] void Fail(KernelFailure f) {
    failed_ = true;
    throw f;
  }

  // Nothing may still write into our buffers once we return: cancel what is in flight and wait for it.
  void Drain() {
    if (inflight_ == 0) return;
    failed_ = true;
    if (io_uring_sqe* e = ring_.Sqe()) {
      e->opcode = IORING_OP_ASYNC_CANCEL;
      e->cancel_flags = IORING_ASYNC_CANCEL_ANY;
      e->user_data = ~uint64_t(0);
    }
    int64_t until = NowMs() + 5000;
    while (inflight_ > 0 && NowMs() < until) {
      ring_.Enter(1, 100);
      ring_.Reap([this](const io_uring_cqe& c) {
        if (c.user_data != ~uint64_t(0)) inflight_--;
      });
    }
  }

  uint16_t fam_;
  size_t services_;
  PackedListing& out_;
  int64_t deadline_;
  Uring ring_;
  std::vector<Slot> slots_;
  size_t next_ = 0;
  size_t inflight_ = 0;
  bool failed_ = false;
};

}  // namespace

bool DumpDestinationsFanout(const Netns& ns, uint16_t fam, PackedListing& out, int timeoutMs, size_t sockets) {
  if (sockets == 0 || out.services() == 0) return false;
  size_t k = std::min(sockets, out.services());
  Fanout f(fam, out, timeoutMs);
  if (f.Init(ns, k) != 0) return false;
  try {
    f.Run();
  } catch (const KernelFailure&) {
    if (!f.unsupported) throw;
    out.ResetDests();
    return false;
  }
  return true;
}

}  // namespace ipvs
}  // namespace kernlb
