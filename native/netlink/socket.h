// One netlink socket, created inside a handle's namespace. Every request stamps its own sequence
// numbers and only consumes replies carrying them: a reply to an earlier request that timed out is
// recognised by its seq and dropped, so concurrent callers can never swallow each other's answers.
// Callers hold mutex() for a whole request (send + all replies) so requests never interleave.
#pragma once
#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "netlink/batch_reply.h"
#include "netlink/message.h"
#include "netlink/netns.h"

namespace kernlb {

using MsgFn = std::function<void(const nlmsghdr*)>;


class NetlinkSocket {
 public:
  NetlinkSocket(int protocol, const Netns& ns);
  ~NetlinkSocket();
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;

  std::mutex& mutex() { return mu_; }
  uint32_t portid() const { return portid_; }
  void SetTimeoutMs(int ms) { timeoutMs_ = ms; }
  // For callers that pipeline requests and read many replies per syscall (recvmmsg), under mutex().
  int fd() const { return fd_; }
  int timeoutMs() const { return timeoutMs_; }

  // Stamps consecutive sequence numbers on every message in the buffer; returns the first one.
  uint32_t Stamp(std::vector<uint8_t>& buf);
  // One sendmsg of the whole buffer. Grows the send buffer when the batch needs it.
  void Send(const std::vector<uint8_t>& buf, const std::string& op);

  // Request + ACK for a single message; throws KernelFailure on an error reply.
  void Ack(MsgWriter& w, const std::string& op);
  // Request a single reply (a GET that is not a dump); onMsg sees the reply, then the ACK ends it.
  void Get(MsgWriter& w, const std::string& op, const MsgFn& onMsg);
  // Multi-part dump; onMsg sees every data message until NLMSG_DONE.
  void Dump(MsgWriter& w, const std::string& op, const MsgFn& onMsg);
  // Sends every message of the buffer with NLM_F_ACK, `chunk` messages per sendmsg, and collects one
  // ACK per message. Returns the failures by message index. With stopOnError it sends no further
  // chunk after a chunk had a failure; *sent receives how many messages were sent.
  std::vector<BatchFailure> Pipeline(MsgWriter& w, size_t chunk, bool stopOnError, size_t* sent,
                                     const std::string& op);
  // For nfnetlink batches: sends the buffer as one sendmsg and collects error replies that are
  // already queued once sendmsg returns (the kernel processes a batch synchronously inside sendmsg,
  // and a successful batch without NLM_F_ACK sends nothing back). Failures are by message index.
  std::vector<BatchFailure> SendBatch(MsgWriter& w, const std::string& op);
  // Sends one message as it is (no flags added) and returns the first reply carrying its seq.
  std::vector<uint8_t> Exchange(MsgWriter& w, const std::string& op);
  void SetRcvBuf(int bytes);

 private:
  // Reads replies for seqs in [lo, hi] until onMsg returns true (or, when drainOnly, until nothing is
  // queued). Enforces the timeout over the whole operation.
  void Receive(uint32_t lo, uint32_t hi, const std::string& op, bool drainOnly,
               const std::function<bool(const nlmsghdr*)>& onMsg);

  int fd_ = -1;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
  int timeoutMs_ = 30000;
  int sndbuf_ = 0;
  std::mutex mu_;
  std::vector<uint8_t> rbuf_;
};

}  // namespace kernlb
