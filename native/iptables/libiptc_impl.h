// The libiptc commit, written once for both families. Included by libiptc4.cc and libiptc6.cc after
// their own libiptc header; `Api` wraps one family's iptc_* / ip6tc_* functions and entry structs.
#pragma once
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "iptables/libiptc.h"
#include "iptables/table_io.h"
#include "netlink/error.h"

namespace kernlb {
namespace iptables {
namespace libiptc {

// libiptc's chain and policy parameters are xt_chainlabel (char[32]): always hand it 32 bytes.
struct Label {
  char s[32] = {};
  explicit Label(const char* name) { strncpy(s, name, sizeof s - 1); }
};

struct RulePlan {
  size_t chain;       // into Plan::labels
  uint32_t ruleNo;    // 1-based in its chain
  int index;          // entry index in the blob
  const void* entry;  // patched in place in the blob
};

struct PolicyPlan {
  size_t chain;
  const char* verdict;
  xt_counters counters;
  int index;
};

struct UserChainPlan {
  size_t chain;
  int index;  // of its ERROR head
};

struct Plan {
  std::vector<Label> labels;
  std::vector<UserChainPlan> userChains;
  std::vector<RulePlan> rules;
  std::vector<PolicyPlan> policies;
};

constexpr const char* kHookNames[5] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};

inline const char* VerdictLabel(int v) {
  switch (v) {
    case -NF_ACCEPT - 1: return "ACCEPT";
    case -NF_DROP - 1: return "DROP";
    case -NF_QUEUE - 1: return "QUEUE";
    case XT_RETURN: return "RETURN";
    default: return nullptr;
  }
}

inline bool IsErrorTarget(const xt_entry_target* t) { return strncmp(t->u.user.name, XT_ERROR_TARGET, sizeof t->u.user.name) == 0; }

inline xt_counters CountersAt(const LibiptcRequest& req, int index) {
  xt_counters c{};
  size_t at = static_cast<size_t>(index) * sizeof(xt_counters);
  if (req.counters && at + sizeof c <= req.countersLength) memcpy(&c, req.counters + at, sizeof c);
  return c;
}

// Turns the blob into libiptc calls to make: the walk libiptc's own parser (iptcc_cache_build) does,
// with each rule's jump offset replaced by the target chain's name, its verdict by ACCEPT/DROP/...
// (what iptc_append_entry wants in the standard target's name) and its counters filled in.
template <class Api>
Plan MakePlan(LibiptcRequest& req, const std::string& appendOp) {
  using Entry = typename Api::Entry;
  using Replace = typename Api::Replace;
  if (req.blobLength < sizeof(Replace)) throw InputFailure("replace blob shorter than its header");
  const auto* rep = reinterpret_cast<const Replace*>(req.blob);
  uint8_t* ents = req.blob + sizeof(Replace);
  const size_t size = rep->size;
  if (size > req.blobLength - sizeof(Replace)) throw InputFailure("replace blob shorter than its entries");
  auto entryAt = [&](size_t off) { return reinterpret_cast<Entry*>(ents + off); };
  auto targetOf = [](Entry* e) { return reinterpret_cast<xt_entry_target*>(reinterpret_cast<uint8_t*>(e) + e->target_offset); };

  // Pass 1: entry offsets and where each chain starts (jump targets are offsets).
  std::vector<uint32_t> offsets;
  std::unordered_map<uint32_t, std::string> chainAt;
  for (size_t off = 0; off < size;) {
    Entry* e = entryAt(off);
    // (Alignment first: every field below is read through the struct, as the kernel lays it out.)
    if (off % alignof(Entry) != 0 || off + sizeof(Entry) > size || e->next_offset < sizeof(Entry) ||
        off + e->next_offset > size || e->target_offset < sizeof(Entry) || e->target_offset % alignof(xt_entry_target) != 0 ||
        e->target_offset + sizeof(xt_entry_target) > e->next_offset)
      throw InputFailure("malformed entry at offset " + std::to_string(off));
    offsets.push_back(static_cast<uint32_t>(off));
    xt_entry_target* t = targetOf(e);
    // Targets read below as a standard target (a verdict) or an ERROR target (a chain name) must
    // hold one.
    const size_t room = e->next_offset - e->target_offset;
    if ((t->u.user.name[0] == 0 && room < sizeof(xt_standard_target)) || (IsErrorTarget(t) && room < sizeof(xt_error_target)))
      throw InputFailure("target too short for its kind at offset " + std::to_string(off));
    if (IsErrorTarget(t)) {
      const char* name = reinterpret_cast<const xt_error_target*>(t)->errorname;
      chainAt[static_cast<uint32_t>(off + e->next_offset)] = std::string(name, strnlen(name, XT_FUNCTION_MAXNAMELEN));
    }
    off += e->next_offset;
  }
  for (int h = 0; h < 5; h++) {
    if (rep->valid_hooks & (1u << h)) chainAt[rep->hook_entry[h]] = kHookNames[h];
  }
  std::unordered_set<std::string> userNames;
  for (uint32_t off : offsets) {
    Entry* e = entryAt(off);
    if (IsErrorTarget(targetOf(e))) userNames.insert(chainAt[off + e->next_offset]);
  }
  userNames.erase(XT_ERROR_TARGET);

  // Pass 2: chains, rules and policies in blob order.
  Plan plan;
  plan.labels.reserve(chainAt.size());
  std::unordered_map<std::string, size_t> labelOf;
  auto label = [&](const std::string& name) {
    auto it = labelOf.find(name);
    if (it != labelOf.end()) return it->second;
    plan.labels.emplace_back(name.c_str());
    labelOf.emplace(name, plan.labels.size() - 1);
    return plan.labels.size() - 1;
  };
  plan.rules.reserve(offsets.size());
  int builtinHook = -1;      // the built-in chain being walked, or -1
  bool inUser = false;
  size_t cur = 0;
  uint32_t ruleNo = 0;
  for (size_t i = 0; i < offsets.size(); i++) {
    const uint32_t off = offsets[i];
    Entry* e = entryAt(off);
    xt_entry_target* t = targetOf(e);
    for (int h = 0; h < 5; h++) {
      if ((rep->valid_hooks & (1u << h)) && rep->hook_entry[h] == off) {
        builtinHook = h;
        inUser = false;
        cur = label(kHookNames[h]);
        ruleNo = 0;
      }
    }
    const int index = static_cast<int>(i);
    if (IsErrorTarget(t)) {
      const std::string& name = chainAt[off + e->next_offset];
      if (name == XT_ERROR_TARGET) break;  // the table's final entry
      cur = label(name);
      plan.userChains.push_back({cur, index});
      inUser = true;
      builtinHook = -1;
      ruleNo = 0;
      continue;
    }
    if (builtinHook >= 0 && rep->underflow[builtinHook] == off) {
      if (t->u.user.name[0] != 0) throw InputFailure("policy entry without a verdict at offset " + std::to_string(off));
      const int v = reinterpret_cast<const xt_standard_target*>(t)->verdict;
      const char* verdict = VerdictLabel(v);
      if (!verdict) throw InputFailure("policy entry without a verdict at offset " + std::to_string(off));
      plan.policies.push_back({cur, verdict, CountersAt(req, index), index});
      builtinHook = -1;
      continue;
    }
    if (inUser && i + 1 < offsets.size() && IsErrorTarget(targetOf(entryAt(offsets[i + 1])))) {
      inUser = false;  // a user chain's RETURN tail: libiptc adds its own
      continue;
    }
    if (builtinHook < 0 && !inUser) throw InputFailure("entry at offset " + std::to_string(off) + " belongs to no chain");
    ruleNo++;
    if (t->u.user.name[0] == 0) {
      const int v = reinterpret_cast<const xt_standard_target*>(t)->verdict;
      const bool isGoto = Api::Flags(e) & Api::kGoto;
      std::string name;
      if (v < 0) {
        const char* l = VerdictLabel(v);
        if (!l) throw InputFailure("unknown verdict " + std::to_string(v) + " at offset " + std::to_string(off));
        name = l;
      } else if (static_cast<uint32_t>(v) != off + e->next_offset || isGoto) {
        auto it = chainAt.find(static_cast<uint32_t>(v));
        if (it == chainAt.end()) throw InputFailure("jump to offset " + std::to_string(v) + " is not a chain start");
        name = it->second;
      }  // else no target: libiptc's fall-through is the empty name
      memset(t->u.user.name, 0, sizeof t->u.user.name);
      memcpy(t->u.user.name, name.data(), std::min(name.size(), sizeof t->u.user.name - 1));
      t->u.user.revision = 0;
    } else {
      // libiptc reads a target named like a verdict or a user chain as that verdict or a jump;
      // x_tables has no such target, and the direct engine's kernel would refuse it: so do we.
      std::string name(t->u.user.name, strnlen(t->u.user.name, sizeof t->u.user.name));
      if (name == "ACCEPT" || name == "DROP" || name == "QUEUE" || name == "RETURN" || userNames.count(name))
        throw KernelFailure(ENOENT, appendOp, appendOp + ": target \"" + name + "\" is a chain or verdict name, not an extension: libiptc would read it as a jump", index);
    }
    e->counters = CountersAt(req, index);
    plan.rules.push_back({cur, ruleNo, index, e});
  }
  return plan;
}

// Closes the handle on every path.
template <class Api>
struct HandleGuard {
  xtc_handle* h;
  ~HandleGuard() {
    if (h) Api::Free(h);
  }
};

template <class Api>
[[noreturn]] void Fail(const char* fn, int index = -1) {
  int err = errno;
  // errno 0 from libiptc means a version mismatch between library and kernel structures.
  // The op TypeScript shows is its own ("commit iptables"): the libiptc call leads the text.
  std::string op = std::string(Api::kPrefix) + fn;
  std::string text = op + ": " + Api::StrError(err);
  if (!err) err = EPROTO;
  throw KernelFailure(err, op, text, index);
}

template <class Api>
ReplaceResult CommitWith(LibiptcRequest& req) {
  if (req.table.empty() || req.table.size() >= XT_TABLE_MAXNAMELEN) throw InputFailure("bad table name: " + req.table);
  if (req.blobLength < sizeof(typename Api::Replace)) throw InputFailure("replace blob shorter than its header");
  if (req.carry) throw InputFailure("carrying counters over needs the direct engine");
  // The digest of what is sent, taken before the plan patches the entries: libiptc lays the table
  // out as the blob does (the same chain order and offsets), so a read() afterwards digests the same.
  ReplaceResult out;
  out.numEntries = reinterpret_cast<const typename Api::Replace*>(req.blob)->num_entries;
  out.digest = DigestEntries(req.v6, req.blob + sizeof(typename Api::Replace), req.blobLength - sizeof(typename Api::Replace));
  // The plan patches entries (verdict names, counters) in place, so it works on a copy: the blob
  // may hold cached entries of frozen rules (lib/iptables/rule-cache.ts) that other commits copy
  // from while this one runs, and that must stay exactly what the encoder wrote.
  std::vector<uint8_t> own(req.blob, req.blob + req.blobLength);
  req.blob = own.data();
  // Built before any lock: a malformed blob or a bad target name fails here, having touched nothing.
  Plan plan = MakePlan<Api>(req, std::string(Api::kPrefix) + "append_entry");
  XtablesLock xtLock(req.lock);
  std::lock_guard<std::mutex> lock(XtMutex());
  errno = 0;
  HandleGuard<Api> h{Api::Init(req.table.c_str())};
  if (!h.h) Fail<Api>("init");
  // iptc_commit's num_counters comes from this iptc_init, so the kernel's EAGAIN covers changes
  // from here on; the digest check covers everything between the caller's read() and here.
  if (req.expectUnchanged)
    ExpectUnchangedLocked(req.v6, req.table, req.expectNumEntries, req.expectDigest, (std::string(Api::kPrefix) + "init").c_str(), req.scratch,
                          req.scratchLength);

  // Empty what libiptc read: every rule, then the user chains the new table does not have (no
  // references are left once every chain is flushed). A chain in both is kept: deleting and
  // re-creating 10^5 chains costs libiptc more than the rest of the commit (its chain index is
  // rebuilt as chains go and come).
  std::unordered_set<std::string> wanted;
  for (const UserChainPlan& c : plan.userChains) wanted.insert(plan.labels[c.chain].s);
  std::vector<Label> chains;
  for (const char* c = Api::FirstChain(h.h); c; c = Api::NextChain(h.h)) chains.emplace_back(c);
  for (const Label& c : chains)
    if (!Api::FlushEntries(c.s, h.h)) Fail<Api>("flush_entries");
  std::unordered_set<std::string> kept;
  for (const Label& c : chains) {
    if (Api::Builtin(c.s, h.h)) continue;
    if (wanted.count(c.s)) kept.insert(c.s);
    else if (!Api::DeleteChain(c.s, h.h)) Fail<Api>("delete_chain");
  }

  for (const UserChainPlan& c : plan.userChains)
    if (!kept.count(plan.labels[c.chain].s) && !Api::CreateChain(plan.labels[c.chain].s, h.h)) Fail<Api>("create_chain", c.index);
  for (const RulePlan& r : plan.rules)
    if (!Api::Append(plan.labels[r.chain].s, r.entry, h.h)) Fail<Api>("append_entry", r.index);
  for (PolicyPlan& p : plan.policies) {
    Label verdict(p.verdict);
    if (!Api::SetPolicy(plan.labels[p.chain].s, verdict.s, &p.counters, h.h)) Fail<Api>("set_policy", p.index);
  }
  // kernelMs here is all of iptc_commit: libiptc's compile of the table and its two setsockopts.
  double t0 = NowMs();
  int ok = Api::Commit(h.h);
  out.kernelMs = NowMs() - t0;
  if (!ok) Fail<Api>("commit");
  return out;
}


// ---------------------------------------------------------------------------------------------
// read

inline int VerdictOf(const char* label) {
  if (!strcmp(label, "ACCEPT")) return -NF_ACCEPT - 1;
  if (!strcmp(label, "DROP")) return -NF_DROP - 1;
  if (!strcmp(label, "QUEUE")) return -NF_QUEUE - 1;
  if (!strcmp(label, "RETURN")) return XT_RETURN;
  return 0;
}

// The kernel writes a match's or target's name only up to its NUL; the rest of the field is whatever
// the reader's buffer held (libiptc's is malloc'd). Zeroed, as in GetTable's zeroed buffer.
inline void ZeroNameTail(char* name, size_t size) {
  size_t n = strnlen(name, size);
  memset(name + n, 0, size - n);
}

template <class Api>
struct ChainView {
  std::string name;
  int hook = -1;
  int policy = 0;
  xt_counters counters{};
  std::vector<const typename Api::Entry*> rules;
};

// Lays libiptc's view out as the kernel's entries (the layout iptc_commit builds) into `out`.
template <class Api>
void Layout(xtc_handle* h, TableBlob& out) {
  using Entry = typename Api::Entry;
  constexpr size_t kHead = sizeof(Entry) + XT_ALIGN(sizeof(xt_error_target));
  constexpr size_t kFoot = sizeof(Entry) + XT_ALIGN(sizeof(xt_standard_target));
  std::vector<ChainView<Api>> chains;
  for (const char* c = Api::FirstChain(h); c; c = Api::NextChain(h)) {
    ChainView<Api> v;
    v.name = c;
    if (Api::Builtin(c, h)) {
      for (int k = 0; k < 5; k++)
        if (v.name == kHookNames[k]) v.hook = k;
      if (v.hook < 0) throw InputFailure("libiptc reports an unknown built-in chain " + v.name);
      const char* p = Api::GetPolicy(c, &v.counters, h);
      if (!p || !(v.policy = VerdictOf(p))) throw InputFailure("built-in chain " + v.name + " without a policy");
    }
    chains.push_back(std::move(v));
  }
  for (auto& v : chains)
    for (const Entry* e = Api::FirstRule(v.name.c_str(), h); e; e = Api::NextRule(e, h)) v.rules.push_back(e);

  // Offsets: each chain's first rule (jump targets), the total size.
  std::unordered_map<std::string, uint32_t> start;
  size_t size = 0;
  uint32_t count = 0;
  for (auto& v : chains) {
    if (v.hook < 0) size += kHead, count++;
    start[v.name] = static_cast<uint32_t>(size);
    for (const Entry* e : v.rules) size += e->next_offset;
    size += kFoot;
    count += static_cast<uint32_t>(v.rules.size()) + 1;
  }
  size += kHead;
  count++;
  const size_t total = EntriesOffset() + size;
  out.base = static_cast<uint8_t*>(calloc(1, total));
  if (!out.base) throw KernelFailure(ENOMEM, "allocate table buffer");
  out.capacity = total;
  out.entries = out.base + EntriesOffset();
  out.length = size;
  out.info.size = static_cast<uint32_t>(size);
  out.info.numEntries = count;
  for (int k = 0; k < kHooks; k++) out.info.hookEntry[k] = out.info.underflow[k] = 0;

  uint8_t* b = out.entries;
  size_t off = 0;
  auto head = [&](const char* name) {
    auto* e = reinterpret_cast<Entry*>(b + off);
    e->target_offset = sizeof(Entry);
    e->next_offset = kHead;
    auto* t = reinterpret_cast<xt_error_target*>(b + off + sizeof(Entry));
    t->target.u.user.target_size = XT_ALIGN(sizeof(xt_error_target));
    strncpy(t->target.u.user.name, XT_ERROR_TARGET, sizeof t->target.u.user.name - 1);
    strncpy(t->errorname, name, sizeof t->errorname - 1);
    off += kHead;
  };
  for (auto& v : chains) {
    if (v.hook < 0) head(v.name.c_str());
    else out.info.hookEntry[v.hook] = static_cast<uint32_t>(off);
    for (const Entry* src : v.rules) {
      auto* e = reinterpret_cast<Entry*>(b + off);
      memcpy(e, src, src->next_offset);
      for (size_t m = sizeof(Entry); m < e->target_offset;) {
        auto* mt = reinterpret_cast<xt_entry_match*>(reinterpret_cast<uint8_t*>(e) + m);
        if (mt->u.match_size < sizeof(xt_entry_match)) throw InputFailure("malformed match in chain " + v.name);
        ZeroNameTail(mt->u.user.name, sizeof mt->u.user.name);
        m += mt->u.match_size;
      }
      auto* t = reinterpret_cast<xt_entry_target*>(reinterpret_cast<uint8_t*>(e) + e->target_offset);
      ZeroNameTail(t->u.user.name, sizeof t->u.user.name);
      if (t->u.user.name[0] == 0 && t->u.target_size == XT_ALIGN(sizeof(xt_standard_target))) {
        // A standard target: a verdict, a jump (libiptc names its chain) or a fall-through ("").
        const char* to = Api::GetTarget(src, h);
        int& verdict = reinterpret_cast<xt_standard_target*>(t)->verdict;
        if (!to) throw InputFailure("libiptc has no target for a rule of chain " + v.name);
        if (!*to) verdict = static_cast<int>(off + e->next_offset);
        else if (int vv = VerdictOf(to)) verdict = vv;
        else {
          auto it = start.find(to);
          if (it == start.end()) throw InputFailure(std::string("jump to unknown chain ") + to);
          verdict = static_cast<int>(it->second);
        }
      }
      off += e->next_offset;
    }
    auto* e = reinterpret_cast<Entry*>(b + off);
    e->target_offset = sizeof(Entry);
    e->next_offset = kFoot;
    auto* t = reinterpret_cast<xt_standard_target*>(b + off + sizeof(Entry));
    t->target.u.user.target_size = XT_ALIGN(sizeof(xt_standard_target));
    if (v.hook >= 0) {
      out.info.underflow[v.hook] = static_cast<uint32_t>(off);
      t->verdict = v.policy;
      e->counters = v.counters;
    } else {
      t->verdict = XT_RETURN;
    }
    off += kFoot;
  }
  head(XT_ERROR_TARGET);
}

template <class Api>
TableBlob ReadWith(bool v6, const std::string& table, const LockSpec& lockSpec) {
  if (table.empty() || table.size() >= XT_TABLE_MAXNAMELEN) throw InputFailure("bad table name: " + table);
  XtablesLock xtLock(lockSpec);
  std::lock_guard<std::mutex> lock(XtMutex());
  for (int attempt = 0;; attempt++) {
    errno = 0;
    HandleGuard<Api> h{Api::Init(table.c_str())};
    if (!h.h) Fail<Api>("init");
    TableBlob raw = GetTableLocked(v6, table);
    std::unique_ptr<uint8_t, decltype(&free)> rawBase(raw.base, &free);
    TableBlob out;
    std::unique_ptr<uint8_t, decltype(&free)> outBase(nullptr, &free);
    Layout<Api>(h.h, out);
    outBase.reset(out.base);
    out.info.validHooks = raw.info.validHooks;
    out.digest = DigestEntries(v6, out.entries, out.length);
    // Both copies of the same table agree entry for entry: libiptc's view then has the digest and
    // entry count expectUnchanged will compare. They differ when the table changed between the two
    // reads (a writer ignoring the xtables lock), or when the kernel's layout is not libiptc's
    // (user chains out of name order: libiptc sorts them).
    if (out.digest == raw.digest && out.length == raw.length && out.info.numEntries == raw.info.numEntries) {
      outBase.release();
      return out;
    }
    if (attempt >= 2)
      throw KernelFailure(EAGAIN, std::string(Api::kPrefix) + "init",
                          "libiptc's copy of the table and the kernel's differ: it kept changing during the read, or its layout is not libiptc's");
  }
}

}  // namespace libiptc
}  // namespace iptables
}  // namespace kernlb
