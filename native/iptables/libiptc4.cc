// The libiptc engine for IPv4 (libip4tc). See libiptc.h.
#include <libiptc/libiptc.h>

#include "iptables/libiptc_impl.h"

namespace kernlb {
namespace iptables {
namespace {

struct Api4 {
  using Entry = ipt_entry;
  using Replace = ipt_replace;
  static constexpr uint8_t kGoto = IPT_F_GOTO;
  static constexpr const char* kPrefix = "iptc_";
  static uint8_t Flags(const Entry* e) { return e->ip.flags; }
  static xtc_handle* Init(const char* t) { return iptc_init(t); }
  static void Free(xtc_handle* h) { iptc_free(h); }
  static const char* FirstChain(xtc_handle* h) { return iptc_first_chain(h); }
  static const char* NextChain(xtc_handle* h) { return iptc_next_chain(h); }
  static int Builtin(const char* c, xtc_handle* h) { return iptc_builtin(c, h); }
  static int FlushEntries(const char* c, xtc_handle* h) { return iptc_flush_entries(c, h); }
  static int DeleteChain(const char* c, xtc_handle* h) { return iptc_delete_chain(c, h); }
  static int CreateChain(const char* c, xtc_handle* h) { return iptc_create_chain(c, h); }
  static int Append(const char* c, const void* e, xtc_handle* h) { return iptc_append_entry(c, static_cast<const Entry*>(e), h); }
  static int SetPolicy(const char* c, const char* p, xt_counters* n, xtc_handle* h) { return iptc_set_policy(c, p, n, h); }
  static int Commit(xtc_handle* h) { return iptc_commit(h); }
  static const char* StrError(int e) { return iptc_strerror(e); }
  static const char* GetPolicy(const char* c, xt_counters* n, xtc_handle* h) { return iptc_get_policy(c, n, h); }
  static const Entry* FirstRule(const char* c, xtc_handle* h) { return iptc_first_rule(c, h); }
  static const Entry* NextRule(const Entry* e, xtc_handle* h) { return iptc_next_rule(e, h); }
  static const char* GetTarget(const Entry* e, xtc_handle* h) { return iptc_get_target(e, h); }
};

}  // namespace

ReplaceResult CommitLibiptc4(LibiptcRequest& req) { return libiptc::CommitWith<Api4>(req); }
TableBlob ReadLibiptc4(const std::string& table, const LockSpec& lock) { return libiptc::ReadWith<Api4>(false, table, lock); }

}  // namespace iptables
}  // namespace kernlb
