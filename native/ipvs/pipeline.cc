#include "ipvs/pipeline.h"

#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <memory>

namespace kernlb {
namespace ipvs {

std::vector<BatchFailure> ApplyOps(NetlinkSocket& sock, uint16_t fam, const std::vector<Op>& ops, size_t chunk,
                                   bool stopOnError, size_t* sent, size_t* sends) {
  std::vector<BatchFailure> failures;
  if (chunk == 0) chunk = 1;
  MsgWriter w;
  size_t i = 0;
  while (i < ops.size()) {
    size_t j = std::min(ops.size(), i + chunk);
    w.Clear();
    w.data().reserve((j - i) * 160);
    for (size_t k = i; k < j; k++) EncodeOp(w, fam, ops[k], NLM_F_REQUEST);
    std::string op = j - i == 1 ? CmdName(ops[i].cmd) : "IPVS batch";
    size_t before = failures.size();
    if (sends) ++*sends;
    for (BatchFailure f : sock.SendBatch(w, op)) {
      f.index += static_cast<int>(i);
      failures.push_back(f);
    }
    i = j;
    if (stopOnError && failures.size() > before) break;
  }
  if (sent) *sent = i;
  return failures;
}

static int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Dump replies are at most 32 KB per datagram (the kernel caps a dump skb at that), so 64 KB slots
// never truncate; a truncated datagram is still detected and reported rather than misread.
static constexpr int kSlots = 8;
static constexpr size_t kSlotSize = 64 * 1024;

// One destination dump per service, one after the other: IPVS dump callbacks always need a second
// round to finish, and a socket runs one dump at a time, so requests cannot be pipelined (the next
// would get EBUSY). What can be saved is syscalls: the first reply is queued during sendmsg, and the
// recvmsg that drains it makes the kernel queue NLMSG_DONE at once, so one recvmmsg usually
// returns both: two syscalls per service, no poll.
void DumpDestinations(NetlinkSocket& sock, uint16_t fam, PackedListing& out) {
  DestRecords recs;
  // Uninitialised: a zero-filled vector touched all 128 pages on every call (a single-service read
  // included); replies touch only what they fill.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[kSlots * kSlotSize]);
  mmsghdr msgs[kSlots];
  iovec iov[kSlots];
  const std::string op = "IPVS_CMD_GET_DEST";
  const int64_t deadline = NowMs() + sock.timeoutMs();
  MsgWriter w;
  for (size_t idx = 0; idx < out.services(); idx++) {
    Op get;
    get.cmd = IPVS_CMD_GET_DEST;
    get.hasService = true;
    get.service = out.ServiceKey(idx);
    w.Clear();
    EncodeOp(w, fam, get, NLM_F_REQUEST | NLM_F_DUMP);
    w.Finish();
    uint32_t seq = sock.Stamp(w.data());
    recs.clear();
    sock.Send(w.data(), op);
    bool done = false;
    while (!done) {
      for (int k = 0; k < kSlots; k++) {
        iov[k] = {buf.get() + k * kSlotSize, kSlotSize};
        msgs[k] = {};
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
      }
      int n = recvmmsg(sock.fd(), msgs, kSlots, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOBUFS) throw KernelFailure(ENOBUFS, op, "replies were lost: the socket's receive buffer overflowed");
        if (errno != EAGAIN) throw KernelFailure(errno, op + " (recvmmsg)");
        int64_t left = deadline - NowMs();
        if (left <= 0) throw KernelFailure(ETIMEDOUT, op, "no reply from the kernel within the timeout");
        pollfd p{sock.fd(), POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) throw KernelFailure(errno, op + " (poll)");
        continue;
      }
      for (int k = 0; k < n; k++) {
        if (msgs[k].msg_hdr.msg_flags & MSG_TRUNC)
          throw KernelFailure(EMSGSIZE, op, "a reply was larger than the receive buffer");
        ForEachMessage(static_cast<const uint8_t*>(iov[k].iov_base), msgs[k].msg_len, [&](const nlmsghdr* h) {
          if (h->nlmsg_seq != seq) return;  // stale reply to an abandoned request
          if (h->nlmsg_type == NLMSG_DONE) {
            if (h->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
              int code = *static_cast<const int*>(NLMSG_DATA(h));
              if (code < 0) throw KernelFailure(-code, op);
            }
            done = true;
          } else if (h->nlmsg_type == NLMSG_ERROR) {
            NlErrorInfo e = ParseError(h);
            if (e.err) throw KernelFailure(e.err, op, e.extack);
            done = true;
          } else {
            AppendDestRecord(h, get.service.af, recs);
          }
        });
      }
    }
    out.SetDests(idx, recs);
  }
}

}  // namespace ipvs
}  // namespace kernlb
