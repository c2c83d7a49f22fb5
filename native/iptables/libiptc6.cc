// The libiptc engine for IPv6 (libip6tc, whose header has no extern "C" of its own). See libiptc.h.
extern "C" {
#include <libiptc/libip6tc.h>
}

#include "iptables/libiptc_impl.h"

namespace kernlb {
namespace iptables {
namespace {

struct Api6 {
  using Entry = ip6t_entry;
  using Replace = ip6t_replace;
  static constexpr uint8_t kGoto = IP6T_F_GOTO;
  static constexpr const char* kPrefix = "ip6tc_";
  static uint8_t Flags(const Entry* e) { return e->ipv6.flags; }
  static xtc_handle* Init(const char* t) { return ip6tc_init(t); }
  static void Free(xtc_handle* h) { ip6tc_free(h); }
  static const char* FirstChain(xtc_handle* h) { return ip6tc_first_chain(h); }
  static const char* NextChain(xtc_handle* h) { return ip6tc_next_chain(h); }
  static int Builtin(const char* c, xtc_handle* h) { return ip6tc_builtin(c, h); }
  static int FlushEntries(const char* c, xtc_handle* h) { return ip6tc_flush_entries(c, h); }
  static int DeleteChain(const char* c, xtc_handle* h) { return ip6tc_delete_chain(c, h); }
  static int CreateChain(const char* c, xtc_handle* h) { return ip6tc_create_chain(c, h); }
  static int Append(const char* c, const void* e, xtc_handle* h) { return ip6tc_append_entry(c, static_cast<const Entry*>(e), h); }
  static int SetPolicy(const char* c, const char* p, xt_counters* n, xtc_handle* h) { return ip6tc_set_policy(c, p, n, h); }
  static int Commit(xtc_handle* h) { return ip6tc_commit(h); }
  static const char* StrError(int e) { return ip6tc_strerror(e); }
  static const char* GetPolicy(const char* c, xt_counters* n, xtc_handle* h) { return ip6tc_get_policy(c, n, h); }
  static const Entry* FirstRule(const char* c, xtc_handle* h) { return ip6tc_first_rule(c, h); }
  static const Entry* NextRule(const Entry* e, xtc_handle* h) { return ip6tc_next_rule(e, h); }
  static const char* GetTarget(const Entry* e, xtc_handle* h) { return ip6tc_get_target(e, h); }
};

}  // namespace

ReplaceResult CommitLibiptc6(LibiptcRequest& req) { return libiptc::CommitWith<Api6>(req); }
TableBlob ReadLibiptc6(const std::string& table, const LockSpec& lock) { return libiptc::ReadWith<Api6>(true, table, lock); }

}  // namespace iptables
}  // namespace kernlb
