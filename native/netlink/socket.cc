#include "netlink/socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

namespace kernlb {

static int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

NetlinkSocket::NetlinkSocket(int protocol, const Netns& ns) : rbuf_(256 * 1024) {
  {
    NetnsGuard in(ns);  // the socket belongs to the namespace it is created in
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  }
  if (fd_ < 0) throw KernelFailure(errno, "socket(AF_NETLINK)");
  int one = 1;
  // Extended ACKs carry the kernel's text; capped ACKs do not echo whole requests back (big batches).
  setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  // Room for many queued ACKs of a pipelined bulk load; FORCE needs CAP_NET_ADMIN, fall back quietly.
  int rcv = 8 << 20;
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) != 0)
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    int e = errno;
    close(fd_);
    throw KernelFailure(e, "bind(AF_NETLINK)");
  }
  socklen_t len = sizeof sa;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  portid_ = sa.nl_pid;
  seq_ = static_cast<uint32_t>(time(nullptr));
}

NetlinkSocket::~NetlinkSocket() {
  if (fd_ >= 0) close(fd_);
}

uint32_t NetlinkSocket::Stamp(std::vector<uint8_t>& buf) {
  uint32_t first = seq_ + 1;
  size_t off = 0;
  while (off + NLMSG_HDRLEN <= buf.size()) {
    nlmsghdr* h = reinterpret_cast<nlmsghdr*>(buf.data() + off);
    if (h->nlmsg_len < NLMSG_HDRLEN) break;
    h->nlmsg_seq = ++seq_;
    if (seq_ == 0) h->nlmsg_seq = ++seq_;  // never use 0: some kernels treat it as "no seq"
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  return first;
}

void NetlinkSocket::Send(const std::vector<uint8_t>& buf, const std::string& op) {
  if (static_cast<int64_t>(buf.size()) > sndbuf_ && buf.size() > 64 * 1024) {
    int want = static_cast<int>(buf.size() + 64 * 1024);
    if (setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) != 0)
      setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
    sndbuf_ = want;
  }
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = sendto(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    if (n >= 0) return;
    if (errno == EINTR) continue;
    throw KernelFailure(errno, op + " (sendmsg)");
  }
}

void NetlinkSocket::Receive(uint32_t lo, uint32_t hi, const std::string& op, bool drainOnly,
                            const std::function<bool(const nlmsghdr*)>& onMsg) {
  const int64_t deadline = NowMs() + timeoutMs_;
  for (;;) {
    int wait = 0;
    if (!drainOnly) {
      int64_t left = deadline - NowMs();
      if (left <= 0) throw KernelFailure(ETIMEDOUT, op, "no reply from the kernel within the timeout");
      wait = static_cast<int>(left);
    }
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, wait);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw KernelFailure(errno, op + " (poll)");
    }
    if (r == 0) {
      if (drainOnly) return;
      continue;  // the deadline check above ends the wait
    }
    // One byte is kept back for a NUL after the data: libnftnl's parsers strdup() string attributes
    // without checking that they are terminated, which must end inside this buffer.
    const size_t room = rbuf_.size() - 1;
    ssize_t n = recv(fd_, rbuf_.data(), room, MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ENOBUFS)
        throw KernelFailure(ENOBUFS, op, "replies were lost: the socket's receive buffer overflowed");
      throw KernelFailure(errno, op + " (recv)");
    }
    if (static_cast<size_t>(n) > room)
      throw KernelFailure(EMSGSIZE, op, "a reply was larger than the receive buffer");
    rbuf_[static_cast<size_t>(n)] = 0;
    bool done = false;
    ForEachMessage(rbuf_.data(), static_cast<size_t>(n), [&](const nlmsghdr* h) {
      if (h->nlmsg_seq < lo || h->nlmsg_seq > hi) return false;  // stale reply to an abandoned request
      return done = onMsg(h);
    });
    if (done) return;
  }
}

static KernelFailure ToFailure(const NlErrorInfo& e, const std::string& op, int index = -1) {
  KernelFailure f(e.err, op, e.extack, index);
  f.attrOffset = e.attrOffset;
  return f;
}

void NetlinkSocket::Ack(MsgWriter& w, const std::string& op) {
  Get(w, op, [](const nlmsghdr*) {});  // an ACK-only request is a GET whose data replies are ignored
}

void NetlinkSocket::Get(MsgWriter& w, const std::string& op, const MsgFn& onMsg) {
  w.Finish();
  w.At(0)->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  uint32_t seq = Stamp(w.data());
  Send(w.data(), op);
  Receive(seq, seq, op, false, [&](const nlmsghdr* h) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      NlErrorInfo e = ParseError(h);
      if (e.err) throw ToFailure(e, op);
      return true;
    }
    onMsg(h);
    return false;
  });
}

void NetlinkSocket::Dump(MsgWriter& w, const std::string& op, const MsgFn& onMsg) {
  w.Finish();
  w.At(0)->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
  uint32_t seq = Stamp(w.data());
  Send(w.data(), op);
  Receive(seq, seq, op, false, [&](const nlmsghdr* h) {
    if (h->nlmsg_type == NLMSG_DONE) {
      // DONE may carry the dump's error code (and, with NLM_F_ACK_TLVS, ext-ack text).
      if (h->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
        int code = *static_cast<const int*>(NLMSG_DATA(h));
        if (code < 0) throw KernelFailure(-code, op);
      }
      return true;
    }
    if (h->nlmsg_type == NLMSG_ERROR) {
      NlErrorInfo e = ParseError(h);
      if (e.err) throw ToFailure(e, op);
      return true;
    }
    onMsg(h);
    return false;
  });
}

// Offsets of the messages in a buffer, in order.
static std::vector<size_t> MessageOffsets(const std::vector<uint8_t>& buf) {
  std::vector<size_t> offs;
  size_t off = 0;
  while (off + NLMSG_HDRLEN <= buf.size()) {
    const nlmsghdr* h = reinterpret_cast<const nlmsghdr*>(buf.data() + off);
    if (h->nlmsg_len < NLMSG_HDRLEN) break;
    offs.push_back(off);
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  return offs;
}

std::vector<BatchFailure> NetlinkSocket::Pipeline(MsgWriter& w, size_t chunk, bool stopOnError,
                                                  size_t* sent, const std::string& op) {
  w.Finish();
  std::vector<uint8_t>& buf = w.data();
  std::vector<size_t> offs = MessageOffsets(buf);
  for (size_t o : offs) reinterpret_cast<nlmsghdr*>(buf.data() + o)->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  std::vector<BatchFailure> failures;
  if (chunk == 0) chunk = 1;
  size_t i = 0;
  std::vector<uint8_t> part;
  while (i < offs.size()) {
    size_t j = std::min(offs.size(), i + chunk);
    size_t end = j < offs.size() ? offs[j] : buf.size();
    part.assign(buf.begin() + offs[i], buf.begin() + end);
    uint32_t first = Stamp(part);
    uint32_t last = first + static_cast<uint32_t>(j - i) - 1;
    Send(part, op);
    size_t acked = 0;
    size_t before = failures.size();
    Receive(first, last, op, false, [&](const nlmsghdr* h) {
      if (h->nlmsg_type != NLMSG_ERROR) return false;
      NlErrorInfo e = ParseError(h);
      if (e.err) failures.push_back({static_cast<int>(i + (h->nlmsg_seq - first)), e});
      return ++acked == j - i;
    });
    i = j;
    if (stopOnError && failures.size() > before) break;
  }
  if (sent) *sent = i;
  return failures;
}

std::vector<BatchFailure> NetlinkSocket::SendBatch(MsgWriter& w, const std::string& op) {
  w.Finish();
  for (size_t o : MessageOffsets(w.data())) w.At(o)->nlmsg_flags |= NLM_F_REQUEST;
  uint32_t first = Stamp(w.data());
  uint32_t last = seq_;
  Send(w.data(), op);
  std::vector<BatchFailure> failures;
  Receive(first, last, op, true, [&](const nlmsghdr* h) {
    BatchFailure f;
    if (BatchFailureOf(h, first, last - first + 1, &f)) failures.push_back(std::move(f));
    return false;
  });
  return failures;
}

std::vector<uint8_t> NetlinkSocket::Exchange(MsgWriter& w, const std::string& op) {
  w.Finish();
  uint32_t seq = Stamp(w.data());
  Send(w.data(), op);
  std::vector<uint8_t> reply;
  Receive(seq, seq, op, false, [&](const nlmsghdr* h) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(h);
    reply.assign(p, p + h->nlmsg_len);
    return true;
  });
  return reply;
}

void NetlinkSocket::SetRcvBuf(int bytes) {
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

}  // namespace kernlb
