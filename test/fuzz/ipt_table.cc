// libFuzzer harness: x_tables blobs (native/iptables). The first byte chooses the family; the rest
// is (a) a table's entries as IPT_SO_GET_ENTRIES returns them, digested as every read and
// compare-and-swap digests them (DigestEntries), and (b) a whole ipt_replace/ip6t_replace walked by
// the libiptc engine's planner (MakePlan: entry offsets, chain heads, verdicts, jumps), which must
// turn any malformed blob into an InputFailure and never read outside it.
#include <libiptc/libiptc.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "iptables/libiptc_impl.h"

using namespace kernlb;
using namespace kernlb::iptables;

namespace {
// The entry and header layouts of each family, as libiptc4.cc / libiptc6.cc give them to MakePlan
// (MakePlan calls nothing else of Api).
struct Plan4 {
  using Entry = ipt_entry;
  using Replace = ipt_replace;
  static constexpr uint8_t kGoto = IPT_F_GOTO;
  static uint8_t Flags(const Entry* e) { return e->ip.flags; }
};
struct Plan6 {
  using Entry = ip6t_entry;
  using Replace = ip6t_replace;
  static constexpr uint8_t kGoto = IP6T_F_GOTO;
  static uint8_t Flags(const Entry* e) { return e->ipv6.flags; }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool v6 = data[0] & 1;
  std::vector<uint8_t> buf(data + 1, data + size);
  volatile uint64_t sink = DigestEntries(v6, buf.data(), buf.size());
  LibiptcRequest req;
  req.v6 = v6;
  req.blob = buf.data();
  req.blobLength = buf.size();
  try {
    libiptc::Plan plan = v6 ? libiptc::MakePlan<Plan6>(req, "ip6tc_append_entry") : libiptc::MakePlan<Plan4>(req, "iptc_append_entry");
    sink = sink + plan.rules.size() + plan.labels.size();
  } catch (const InputFailure&) {
  } catch (const KernelFailure&) {
  }
  (void)sink;
  return 0;
}
