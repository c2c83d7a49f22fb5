#include "nft/list.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <cstring>

namespace kernlb {
namespace nft {

static uint16_t Type(uint16_t cmd) { return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | cmd); }

uint32_t GetGeneration(NetlinkSocket& sock) {
  MsgWriter w;
  size_t m = w.Begin(Type(NFT_MSG_GETGEN), 0);
  w.Nfgen(AF_UNSPEC, 0);
  w.End(m);
  uint32_t gen = 0;
  bool seen = false;
  sock.Get(w, "NFT_MSG_GETGEN", [&](const nlmsghdr* h) { seen |= ParseGeneration(h, &gen); });
  if (!seen) throw KernelFailure(EBADMSG, "NFT_MSG_GETGEN", "no generation in the reply");
  return gen;
}

bool ParseGeneration(const nlmsghdr* h, uint32_t* gen) {
  // (A reply shorter than its nfgenmsg would make the attribute length wrap around.)
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) return false;
  bool seen = false;
  const uint8_t* p = static_cast<const uint8_t*>(NLMSG_DATA(h)) + sizeof(nfgenmsg);
  ForEachAttr(p, h->nlmsg_len - NLMSG_LENGTH(sizeof(nfgenmsg)), [&](uint16_t type, const uint8_t* v, size_t n) {
    if (type == NFTA_GEN_ID && n >= 4) {
      *gen = ReadBE32(v);
      seen = true;
    }
  });
  return seen;
}

namespace {

bool ExprNamed(const uint8_t* p, size_t len);
// A list of expressions (NFTA_LIST_ELEM each).
bool ExprListNamed(const uint8_t* p, size_t len) {
  bool ok = true;
  ForEachAttr(p, len, [&](uint16_t type, const uint8_t* v, size_t n) {
    if (type == NFTA_LIST_ELEM) ok = ok && ExprNamed(v, n);
  });
  return ok;
}
// One expression: a NUL-terminated NFTA_EXPR_NAME; a dynset's own expressions too.
bool ExprNamed(const uint8_t* p, size_t len) {
  const uint8_t* name = nullptr;
  size_t nameLen = 0;
  const uint8_t* data = nullptr;
  size_t dataLen = 0;
  ForEachAttr(p, len, [&](uint16_t type, const uint8_t* v, size_t n) {
    if (type == NFTA_EXPR_NAME) { name = v; nameLen = n; }
    if (type == NFTA_EXPR_DATA) { data = v; dataLen = n; }
  });
  if (!name || nameLen == 0 || memchr(name, 0, nameLen) == nullptr) return false;
  if (!data || strcmp(reinterpret_cast<const char*>(name), "dynset") != 0) return true;
  bool ok = true;
  ForEachAttr(data, dataLen, [&](uint16_t type, const uint8_t* v, size_t n) {
    if (type == NFTA_DYNSET_EXPR) ok = ok && ExprNamed(v, n);
    if (type == NFTA_DYNSET_EXPRESSIONS) ok = ok && ExprListNamed(v, n);
  });
  return ok;
}

}  // namespace

// The last set element attribute libnftnl 1.2.x has room for (see ParsableByLibnftnl).
constexpr uint16_t kLastElemAttr = 11;
static_assert(NFTA_SET_ELEM_EXPRESSIONS == kLastElemAttr, "the element attributes libnftnl knows");

bool ParsableByLibnftnl(const nlmsghdr* h) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) return false;
  const uint8_t* p = static_cast<const uint8_t*>(NLMSG_DATA(h)) + sizeof(nfgenmsg);
  const size_t len = h->nlmsg_len - NLMSG_LENGTH(sizeof(nfgenmsg));
  const uint16_t cmd = h->nlmsg_type & 0xff;
  bool ok = true;
  // libnftnl also strdup()s a set element list's table and set names without checking they came.
  bool table = cmd != NFT_MSG_NEWSETELEM, set = table;
  auto isStr = [](const uint8_t* v, size_t n) { return n > 0 && memchr(v, 0, n) != nullptr; };
  ForEachAttr(p, len, [&](uint16_t type, const uint8_t* v, size_t n) {
    if (cmd == NFT_MSG_NEWSETELEM && type == NFTA_SET_ELEM_LIST_TABLE) table = isStr(v, n);
    if (cmd == NFT_MSG_NEWSETELEM && type == NFTA_SET_ELEM_LIST_SET) set = isStr(v, n);
    if (cmd == NFT_MSG_NEWRULE && type == NFTA_RULE_EXPRESSIONS) ok = ok && ExprListNamed(v, n);
    if (cmd == NFT_MSG_NEWSET && type == NFTA_SET_EXPR) ok = ok && ExprNamed(v, n);
    if (cmd == NFT_MSG_NEWSET && type == NFTA_SET_EXPRESSIONS) ok = ok && ExprListNamed(v, n);
    if (cmd == NFT_MSG_NEWSETELEM && type == NFTA_SET_ELEM_LIST_ELEMENTS) {
      ForEachAttr(v, n, [&](uint16_t, const uint8_t* e, size_t en) {
        ForEachAttr(e, en, [&](uint16_t et, const uint8_t* x, size_t xn) {
          // libnftnl (1.2.x) bounds an element's attribute types by NFTA_SET_MAX (18) but stores
          // them in an array sized for NFTA_SET_ELEM_MAX (11): a type from 12 to 18 is written past
          // that array on its stack (found by test/fuzz: the return address was overwritten). A
          // kernel newer than libnftnl could send such a type, so it is refused, not only a forged one.
          if (et > kLastElemAttr) ok = false;
          if (et == NFTA_SET_ELEM_EXPR) ok = ok && ExprNamed(x, xn);
          if (et == NFTA_SET_ELEM_EXPRESSIONS) ok = ok && ExprListNamed(x, xn);
        });
      });
    }
  });
  return ok && table && set;
}

namespace {

// Runs one dump; returns false when a reply carried another generation than `gen`.
template <class F>
bool DumpAll(NetlinkSocket& sock, MsgWriter& w, const char* op, uint32_t gen, F&& onMsg) {
  bool same = true;
  sock.Dump(w, op, [&](const nlmsghdr* h) {
    // Every nftables reply starts with an nfgenmsg (libnftnl's parsers read it unchecked).
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) throw KernelFailure(EBADMSG, op, "a reply shorter than its nfgenmsg header");
    if (!ParsableByLibnftnl(h)) throw KernelFailure(EBADMSG, op, "a malformed reply (an expression without a name, a set element list without its table or set, or an unknown set element attribute)");
    const nfgenmsg* g = static_cast<const nfgenmsg*>(NLMSG_DATA(h));
    if (ntohs(g->res_id) != (gen & 0xffff)) same = false;
    onMsg(h);
  });
  return same;
}

static_assert(NFTA_RULE_TABLE == 1 && NFTA_SET_TABLE == 1 && NFTA_OBJ_TABLE == 1 && NFTA_CHAIN_TABLE == 1, "one table attribute");
constexpr uint16_t kTableAttr = 1;
// From how many chains a listing reads rules chain by chain (see ReadOnce): about where a round trip
// per chain (~25-90 us) costs what one dump's re-walks of the rules cost.
constexpr size_t kChainByChainFrom = 1000;

// A dump request; with `table`, the kernel's own filter by table name (the *_TABLE attribute, 1 in
// every message kind dumped here): a listing of one table then reads only that table's rules, sets
// and objects, however big the other tables are. (Chain dumps ignore it: chains are few beside rules.
// Every reply is still filtered here too.)
void Request(MsgWriter& w, uint16_t cmd, uint16_t family, const std::string& table = std::string(), const char* chain = nullptr) {
  w.Clear();
  size_t m = w.Begin(Type(cmd), 0);
  w.Nfgen(static_cast<uint8_t>(family), 0);
  if (!table.empty()) w.PutStr(kTableAttr, table);
  if (chain) w.PutStr(NFTA_RULE_CHAIN, chain);
  w.End(m);
}

bool ReadOnce(NetlinkSocket& sock, uint16_t family, const std::string& table, Listing& out) {
  MsgWriter w;
  uint32_t gen = out.generation;
  bool same = true;
  auto inTable = [&](const char* t) { return table.empty() || (t && table == t); };

  Request(w, NFT_MSG_GETTABLE, family);
  same &= DumpAll(sock, w, "NFT_MSG_GETTABLE", gen, [&](const nlmsghdr* h) {
    TablePtr t(nftnl_table_alloc());
    if (nftnl_table_nlmsg_parse(h, t.get()) < 0) return;
    if (inTable(nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME))) out.tables.push_back(std::move(t));
  });
  // (Without the table, nothing below has anything to list: a set dump would even fail, ENOENT.)
  if (!table.empty() && out.tables.empty()) return same;
  // The kernel filters by table within one family only: a set dump looks the table up in the
  // request's family (ENOENT without one), and a rule dump stops after the first table of that
  // name. Without a family, the replies are filtered here only.
  const std::string byTable = family != 0 ? table : std::string();
  Request(w, NFT_MSG_GETCHAIN, family, byTable);
  same &= DumpAll(sock, w, "NFT_MSG_GETCHAIN", gen, [&](const nlmsghdr* h) {
    ChainPtr c(nftnl_chain_alloc());
    if (nftnl_chain_nlmsg_parse(h, c.get()) < 0) return;
    if (inTable(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE))) out.chains.push_back(std::move(c));
  });
  Request(w, NFT_MSG_GETOBJ, family, byTable);
  same &= DumpAll(sock, w, "NFT_MSG_GETOBJ", gen, [&](const nlmsghdr* h) {
    ObjPtr x(nftnl_obj_alloc());
    if (nftnl_obj_nlmsg_parse(h, x.get()) < 0) return;
    if (inTable(nftnl_obj_get_str(x.get(), NFTNL_OBJ_TABLE))) out.objects.push_back(std::move(x));
  });
  Request(w, NFT_MSG_GETSET, family, byTable);
  try {
    same &= DumpAll(sock, w, "NFT_MSG_GETSET", gen, [&](const nlmsghdr* h) {
      SetPtr s(nftnl_set_alloc());
      if (nftnl_set_nlmsg_parse(h, s.get()) < 0) return;
      if (inTable(nftnl_set_get_str(s.get(), NFTNL_SET_TABLE))) out.sets.push_back(std::move(s));
    });
  } catch (const KernelFailure& f) {
    if (f.err != ENOENT || byTable.empty()) throw;
    return false;  // the table went away after the table dump: the ruleset changed, read again
  }
  std::unique_ptr<char[]> scratch(new char[4096]());
  for (auto& s : out.sets) {
    uint16_t fam = static_cast<uint16_t>(nftnl_set_get_u32(s.get(), NFTNL_SET_FAMILY));
    SetPtr key(nftnl_set_alloc());
    nftnl_set_set_str(key.get(), NFTNL_SET_TABLE, nftnl_set_get_str(s.get(), NFTNL_SET_TABLE));
    nftnl_set_set_str(key.get(), NFTNL_SET_NAME, nftnl_set_get_str(s.get(), NFTNL_SET_NAME));
    nftnl_set_set_u32(key.get(), NFTNL_SET_FAMILY, fam);
    nlmsghdr* h = nftnl_nlmsg_build_hdr(scratch.get(), Type(NFT_MSG_GETSETELEM), fam, 0, 0);
    nftnl_set_elems_nlmsg_build_payload(h, key.get());
    w.Clear();
    w.data().assign(reinterpret_cast<uint8_t*>(h), reinterpret_cast<uint8_t*>(h) + h->nlmsg_len);
    try {
      same &= DumpAll(sock, w, "NFT_MSG_GETSETELEM", gen, [&](const nlmsghdr* m) { nftnl_set_elems_nlmsg_parse(m, s.get()); });
    } catch (const KernelFailure& f) {
      if (f.err != ENOENT) throw;
      same = false;  // the set went away after the set dump: the ruleset changed, read again
    }
  }
  // Rules in one dump, or chain by chain in the chain dump's order (the order one dump gives). A
  // rule dump that resumes (one reply buffer of ~32 KiB at a time) walks every rule before where it
  // stopped: one dump of 10^5 rules costs the kernel ~10 s (nft's `list table` too), where a dump
  // per chain walks only that chain. But each dump is a round trip, and a listing that takes longer
  // is more often overtaken by someone's commit (and read again): with few chains, one dump.
  auto onRule = [&](const nlmsghdr* h) {
    RulePtr r(nftnl_rule_alloc());
    if (nftnl_rule_nlmsg_parse(h, r.get()) < 0) return;
    if (inTable(nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE))) out.rules.push_back(std::move(r));
  };
  if (out.chains.size() < kChainByChainFrom) {
    Request(w, NFT_MSG_GETRULE, family, byTable);
    return same & DumpAll(sock, w, "NFT_MSG_GETRULE", gen, onRule);
  }
  for (auto& c : out.chains) {
    const char* t = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE);
    const char* name = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME);
    if (!t || !name) return false;  // (never from the kernel: read again, and fail as a changing ruleset)
    // (The chain's family and table too: the kernel looks the chain up in the first table of that name it meets.)
    Request(w, NFT_MSG_GETRULE, static_cast<uint16_t>(nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_FAMILY)), t, name);
    same &= DumpAll(sock, w, "NFT_MSG_GETRULE", gen, onRule);
  }
  return same;
}

}  // namespace

std::shared_ptr<Listing> ListRuleset(NetlinkSocket& sock, uint16_t family, const std::string& table, int maxAttempts) {
  for (int attempt = 1; attempt <= maxAttempts; attempt++) {
    auto out = std::make_shared<Listing>();
    out->attempts = attempt;
    out->generation = GetGeneration(sock);
    bool same = ReadOnce(sock, family, table, *out);
    if (same && GetGeneration(sock) == out->generation) return out;
  }
  throw KernelFailure(EAGAIN, "list ruleset",
                      "the ruleset changed during every one of " + std::to_string(maxAttempts) + " listings");
}

}  // namespace nft
}  // namespace kernlb
