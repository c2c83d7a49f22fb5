// The libiptc engine. Commit: the table TypeScript encoded (the same ipt_replace blob the direct
// engine hands to IPT_SO_SET_REPLACE) is applied through libiptc's own calls instead: iptc_init,
// flush and delete what is there, create the user chains, iptc_append_entry each rule,
// iptc_set_policy, iptc_commit. libip4tc and libip6tc cannot share a translation unit (their headers
// clash), so each family has its own file (libiptc4.cc, libiptc6.cc) over one template
// (libiptc_impl.h); this header is all the rest of the addon sees.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "iptables/table_io.h"
#include "iptables/xtables_lock.h"

namespace kernlb {
namespace iptables {

struct LibiptcRequest {
  bool v6 = false;
  std::string table;
  // A whole ipt_replace/ip6t_replace as TypeScript encodes it for the direct engine (jumps as
  // offsets, user chains framed by ERROR heads and RETURN tails). Its entries are patched in place
  // (counters, jump targets turned into chain names): the buffer is built for this one call.
  uint8_t* blob = nullptr;
  size_t blobLength = 0;
  // xt_counters per entry of the blob, or null (every counter starts at zero).
  const uint8_t* counters = nullptr;
  size_t countersLength = 0;
  // Refused: libiptc does not hand back the old counters (TypeScript refuses it before this).
  const int32_t* carry = nullptr;
  size_t carryLength = 0;
  // Where expectUnchanged's read of the current table goes, when it fits (else a fresh block).
  uint8_t* scratch = nullptr;
  size_t scratchLength = 0;
  bool expectUnchanged = false;
  uint32_t expectNumEntries = 0;
  uint64_t expectDigest = 0;
  LockSpec lock;
};

// On a worker thread already inside the target namespace. Takes the xtables file lock, then the
// process-wide x_tables mutex (libiptc keeps global state: iptc_strerror reads the last call's).
// A failure is a KernelFailure whose op is the libiptc call, extack its iptc_strerror text and
// index the blob entry it concerned (a rule, a user chain's head or a policy), when there is one.
// Nothing reaches the kernel before iptc_commit, so a failure before it changes nothing.
// Resolves to what the kernel now holds (entry count and digest of the blob as sent) and the time
// iptc_commit took.
ReplaceResult CommitLibiptc4(LibiptcRequest& req);
ReplaceResult CommitLibiptc6(LibiptcRequest& req);
inline ReplaceResult CommitLibiptc(LibiptcRequest& req) { return req.v6 ? CommitLibiptc6(req) : CommitLibiptc4(req); }

// Read: iptc_init, then every chain (iptc_first_chain/next_chain), policy (iptc_get_policy) and rule
// (iptc_first_rule/next_rule, jump targets by name from iptc_get_target) laid out again as the
// kernel's entries (what GetTable returns, for the same TypeScript decoder). The kernel's own copy is
// read in the same locked section (xtables lock, then the x_tables mutex) for the digest
// expectUnchanged compares, and must match libiptc's entry for entry (counters aside), else the read
// is retried and finally fails with EAGAIN.
TableBlob ReadLibiptc4(const std::string& table, const LockSpec& lock);
TableBlob ReadLibiptc6(const std::string& table, const LockSpec& lock);
inline TableBlob ReadLibiptc(bool v6, const std::string& table, const LockSpec& lock) {
  return v6 ? ReadLibiptc6(table, lock) : ReadLibiptc4(table, lock);
}

}  // namespace iptables
}  // namespace kernlb
