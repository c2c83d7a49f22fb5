// The bulk paths. Writes: ops go without NLM_F_ACK in large chunks, one sendmsg each; generic netlink
// processes a whole sendmsg synchronously, so once it returns every failure is already queued as an
// error reply carrying the failed message's seq (SendBatch). Reads: destination dumps read with
// recvmmsg, two syscalls per service.
#pragma once
#include <vector>

#include "ipvs/codec.h"
#include "ipvs/packed.h"
#include "netlink/socket.h"

namespace kernlb {
namespace ipvs {

// Applies ops, `chunk` per sendmsg. Failures are by op index. With stopOnError nothing is sent after
// a chunk with a failure; *sent = number of ops the kernel processed, *sends = sendmsg calls made
// (what a caller's "one change is one message in one syscall" is checked against). Caller holds
// sock.mutex().
std::vector<BatchFailure> ApplyOps(NetlinkSocket& sock, uint16_t fam, const std::vector<Op>& ops, size_t chunk,
                                   bool stopOnError, size_t* sent, size_t* sends = nullptr);

// Packs the destinations of every service of `out` into it. Caller holds sock.mutex().
void DumpDestinations(NetlinkSocket& sock, uint16_t fam, PackedListing& out);

// The same result through io_uring over `sockets` netlink sockets opened in `ns` (dest_fanout.cc).
// Returns false, with nothing half-done, when io_uring is unavailable here (ENOSYS, EPERM, a kernel
// without IORING_OP_SEND/RECV or bounded waits): the caller then uses DumpDestinations.
bool DumpDestinationsFanout(const Netns& ns, uint16_t fam, PackedListing& out, int timeoutMs, size_t sockets);

}  // namespace ipvs
}  // namespace kernlb
