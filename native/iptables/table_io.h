// x_tables table I/O through the legacy socket options (what libiptc's iptc_init/iptc_commit do
// underneath): read a table's blob, replace a whole table in one IPT_SO_SET_REPLACE, add counters.
// TypeScript encodes and decodes the blob; this layer only moves it and guards the compare-and-swap.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "iptables/xtables_lock.h"

namespace kernlb {
namespace iptables {

constexpr int kHooks = 5;  // NF_INET_NUMHOOKS

struct TableInfo {
  uint32_t validHooks = 0;
  uint32_t hookEntry[kHooks] = {};
  uint32_t underflow[kHooks] = {};
  uint32_t numEntries = 0;
  uint32_t size = 0;
};

struct TableBlob {
  TableInfo info;
  uint8_t* base = nullptr;     // malloc'd block, owned by whoever takes it (handed to a JS Buffer),
                               // or the caller's scratch block when inScratch (not owned)
  bool inScratch = false;
  size_t capacity = 0;         // bytes of the block at base
  uint8_t* entries = nullptr;  // inside base: the entries after the ipt_get_entries header
  size_t length = 0;
  uint64_t digest = 0;         // of the entries with counters left out: what "unchanged" compares
  double kernelMs = 0;         // time spent in the IPT_SO_GET_INFO + GET_ENTRIES calls
};

struct ReplaceRequest {
  bool v6 = false;
  std::string table;
  // Complete ipt_replace/ip6t_replace: 96-byte header (num_counters and counters filled here) + entries.
  uint8_t* blob = nullptr;
  size_t blobLength = 0;
  bool expectUnchanged = false;
  uint32_t expectNumEntries = 0;
  uint64_t expectDigest = 0;
  // expectUnchanged by IPT_SO_GET_INFO only: entry count and size, no read of the entries (a caller
  // that committed the table itself and accepts missing a same-size rule edited behind its back).
  bool expectShallow = false;
  uint32_t expectSize = 0;
  // numEntries xt_counters to add after the replace (IPT_SO_SET_ADD_COUNTERS); empty = none.
  const uint8_t* counters = nullptr;
  size_t countersLength = 0;
  // Per new entry, the index of the old entry whose counters it carries over (-1: none, the
  // entry takes `counters` above): read from what the kernel hands back at the swap itself, so
  // nothing counted between a read and the replace is lost (what libiptc's counter map does).
  const int32_t* carry = nullptr;
  size_t carryLength = 0;
  // Where expectUnchanged's read of the current table goes, when it fits (else a fresh block).
  uint8_t* scratch = nullptr;
  size_t scratchLength = 0;
  // iptables' flock, held around the check-then-replace (empty path: none).
  LockSpec lock;
};

// The process-wide x_tables mutex: kernlb's own check-then-replace sequences (and libiptc, which is
// not thread-safe) never interleave. Taken after the xtables file lock, never before.
std::mutex& XtMutex();

// GetTable with XtMutex already held (the caller frees base).
TableBlob GetTableLocked(bool v6, const std::string& table, uint8_t* scratch = nullptr, size_t scratchLength = 0);

// With XtMutex held: reads the table and throws KernelFailure(EAGAIN, op) unless its entry count and
// digest are still the expected ones (what commit(expectUnchanged) compares).
// The read goes into `scratch` when it fits (see GetTable): no fresh pages to fault in.
void ExpectUnchangedLocked(bool v6, const std::string& table, uint32_t numEntries, uint64_t digest, const char* op,
                           uint8_t* scratch = nullptr, size_t scratchLength = 0);

// Both run on a worker thread already inside the target namespace; both take the process-wide
// x_tables mutex so that kernlb's own check-then-replace sequences never interleave.
// With a scratch block of at least the table's size plus the get_entries header, the entries are
// read into it (zeroed first) instead of a fresh allocation: fresh memory costs a page fault per
// 4 KiB while the kernel copies into it, ~100 ms of system time for a 160 MB table.
TableBlob GetTable(bool v6, const std::string& table, uint8_t* scratch = nullptr, size_t scratchLength = 0);

// The table's entries read over `entries` (length bytes, preceded by at least sizeof
// ipt_get_entries bytes of the caller's, saved and put back): the kept blob of the table this
// process committed, whose bytes a read gives back except each entry's counters and comefrom (which
// a replace ignores). Nothing is zeroed and no memory is allocated (a 10k-service table is ~190 MB
// of fresh pages otherwise). Only when the kernel's table has exactly `length` bytes; else false,
// nothing written (out.info says what the kernel has). out.entries is `entries`, out.digest theirs:
// when it is not the caller's table, the bytes are someone else's table now.
bool GetTableOver(bool v6, const std::string& table, uint8_t* entries, size_t length, TableBlob& out);

// Where the entries start in a block read by GetTable (sizeof ipt_get_entries).
size_t EntriesOffset();
TableInfo GetTableInfo(bool v6, const std::string& table);
// What a successful replace leaves in the kernel: the table's entry count and digest (computed from
// the blob sent, which is what a read returns: the kernel copies entries back as they were given,
// with counters and comefrom set by itself and neither digested), and the time the kernel took.
struct ReplaceResult {
  uint32_t numEntries = 0;
  uint64_t digest = 0;
  double kernelMs = 0;  // IPT_SO_SET_REPLACE (+ IPT_SO_SET_ADD_COUNTERS) themselves, CLOCK_MONOTONIC
  uint32_t carried = 0;  // entries whose old counters were carried over (ReplaceRequest::carry)
};
ReplaceResult ReplaceTable(const ReplaceRequest& req);

// A compare-and-swap commit whose check runs while TypeScript still encodes the new table: the
// worker takes the locks and reads the current table (expectUnchanged), then waits for the blob,
// which Send hands over from the JS thread (or Abort: encoding failed, nothing is sent). The locks
// are held from the check to the replace, as in ReplaceTable. The caller keeps the buffers given
// to Send referenced until the commit settles.
class PendingReplace {
 public:
  explicit PendingReplace(int waitMs) : waitMs_(waitMs) {}
  void Send(uint8_t* blob, size_t blobLength, const uint8_t* counters, size_t countersLength, const int32_t* carry, size_t carryLength);
  void Abort();
  // On the worker: waits for Send or Abort (at most waitMs), filling req's blob, counters and carry.
  // False when aborted; a KernelFailure(ETIMEDOUT) when neither came.
  bool Wait(ReplaceRequest& req);

 private:
  std::mutex m_;
  std::condition_variable cv_;
  enum class State { kWaiting, kSent, kAborted } state_ = State::kWaiting;
  int waitMs_;
  ReplaceRequest sent_;  // (only its blob, counters and carry)
};

// ReplaceTable whose blob comes from `pending` once the expectUnchanged check has passed.
ReplaceResult ReplaceTablePipelined(ReplaceRequest& req, PendingReplace& pending);

// CLOCK_MONOTONIC in milliseconds: what the kernelMs fields are measured with.
double NowMs();

// Whether the kernel knows a match or target at a revision: 1 yes, 0 the name but not that revision,
// -1 not the name (IPT_SO_GET_REVISION_MATCH/TARGET; the kernel may load its module on the way).
int ExtensionKnown(bool v6, bool target, const std::string& name, uint8_t revision);

// Names of the tables instantiated in this thread's namespace, in the kernel's order
// (/proc/thread-self/net/ip_tables_names, the list iptables-save walks).
std::vector<std::string> TableNames(bool v6);

// Digest of a table's entries, skipping each entry's counters and comefrom (kernel-owned fields).
uint64_t DigestEntries(bool v6, const uint8_t* entries, size_t length);

}  // namespace iptables
}  // namespace kernlb
