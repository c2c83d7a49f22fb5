#include <memory>
#include <vector>

#include "nft/expr.h"
#include "nft/packed.h"

namespace kernlb {
namespace nft {

namespace {

enum : uint16_t {
  kRuleHandle = 1 << 0, kRulePosition = 1 << 1, kRuleId = 1 << 2, kRulePositionId = 1 << 3, kRuleUserdata = 1 << 4,
  kRuleExprs = 1 << 5,
};
enum : uint16_t {
  kChainHandle = 1 << 0, kChainId = 1 << 1, kChainHook = 1 << 2, kChainPolicy = 1 << 3, kChainDevice = 1 << 4,
  kChainDevices = 1 << 5, kChainFlags = 1 << 6, kChainUserdata = 1 << 7,
};
enum : uint8_t { kTagNumber, kTagString, kTagData, kTagExprs, kTagU32, kTagI32 };

struct ExprDeleter {
  void operator()(nftnl_expr* e) const { nftnl_expr_free(e); }
};
using ExprPtr = std::unique_ptr<nftnl_expr, ExprDeleter>;

// Error paths are only built when something is wrong.
struct Where {
  Napi::Env env;
  uint32_t item;
  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw Napi::TypeError::New(env, "items[" + std::to_string(item) + "]" + field + ": " + problem);
  }
  [[noreturn]] void malformed() const { fail("", "malformed packed record"); }
};

// The same range checks as JsObj::asU32 / asU64 for numbers that crossed as doubles.
bool AsU32(double d, uint32_t& out) {
  if (d < -2147483648.0 || d > 4294967295.0 || d != static_cast<double>(static_cast<int64_t>(d))) return false;
  out = static_cast<uint32_t>(static_cast<int64_t>(d));
  return true;
}
bool AsU64(double d, uint64_t& out) {
  if (!(d >= 0) || d >= 18446744073709551616.0 || d != static_cast<double>(static_cast<uint64_t>(d))) return false;
  out = static_cast<uint64_t>(d);
  return true;
}

struct Value {
  bool present = false;
  uint8_t tag = 0;
  double num = 0;
  const uint8_t* bytes = nullptr;
  size_t len = 0;
};

// Where an expression sits (".exprs[2].exprs[0]"), spelled out only for an error.
struct ExprLoc {
  const ExprLoc* parent;
  uint32_t index;
  std::string path() const {
    return (parent ? parent->path() : std::string()) + ".exprs[" + std::to_string(index) + "]";
  }
};

void ReadExprs(const Where& w, PackedReader& r, const ExprLoc* parent, std::vector<ExprPtr>& out);

ExprPtr ReadExpr(const Where& w, PackedReader& r, const ExprLoc& loc) {
  uint8_t tlen = r.num<uint8_t>();
  const uint8_t* tp = r.take(tlen);
  if (!tp) w.malformed();
  const ExprSpec* spec = FindExprSpec(reinterpret_cast<const char*>(tp), tlen);
  auto type = [&] { return std::string(reinterpret_cast<const char*>(tp), tlen); };
  if (!spec) w.fail(loc.path() + ".type", "unknown expression \"" + type() + "\"");
  ExprPtr e(nftnl_expr_alloc(spec->name));
  if (!e) w.fail(loc.path() + ".type", "libnftnl does not know expression \"" + type() + "\"");
  Value vals[16];
  std::vector<ExprPtr> nested;
  uint8_t n = r.num<uint8_t>();
  for (uint8_t i = 0; i < n; i++) {
    uint8_t klen = r.num<uint8_t>();
    const uint8_t* kp = r.take(klen);
    uint8_t tag = r.num<uint8_t>();
    if (!kp) w.malformed();
    Value v;
    v.present = true;
    v.tag = tag;
    switch (tag) {
      case kTagNumber: v.num = r.num<double>(); break;
      case kTagU32: v.num = r.num<uint32_t>(); v.tag = kTagNumber; break;
      case kTagI32: v.num = r.num<int32_t>(); v.tag = kTagNumber; break;
      case kTagString: v.len = r.num<uint16_t>(); v.bytes = r.take(v.len); break;
      case kTagData: v.len = r.num<uint8_t>(); v.bytes = r.take(v.len); break;
      case kTagExprs: {
        std::vector<ExprPtr> sub;
        ReadExprs(w, r, &loc, sub);
        if (spec->nestedId) nested = std::move(sub);  // other kinds ignore nested expressions, as objects do
        continue;
      }
      default: w.malformed();
    }
    if (!r.ok) w.malformed();
    for (size_t a = 0; a < spec->count && a < 16; a++)
      if (klen && spec->attrs[a].key[0] == kp[0] && strncmp(spec->attrs[a].key, reinterpret_cast<const char*>(kp), klen) == 0 &&
          spec->attrs[a].key[klen] == '\0')
        vals[a] = v;
  }
  // in the table's order, as ExprFromJs: libnftnl keeps some attributes in one union (immediate)
  for (size_t a = 0; a < spec->count && a < 16; a++) {
    const Value& v = vals[a];
    if (!v.present) continue;
    const AttrSpec& s = spec->attrs[a];
    auto fail = [&](const char* problem) { w.fail(loc.path() + "." + s.key, problem); };
    switch (s.kind) {
      case AttrKind::U8:
      case AttrKind::U16:
      case AttrKind::U32:
      case AttrKind::I32: {
        uint32_t x = 0;
        if (v.tag != kTagNumber) fail("expected a number");
        if (!AsU32(v.num, x)) fail("expected a 32-bit integer");
        if (s.kind == AttrKind::U8) nftnl_expr_set_u8(e.get(), s.id, static_cast<uint8_t>(x));
        else if (s.kind == AttrKind::U16) nftnl_expr_set_u16(e.get(), s.id, static_cast<uint16_t>(x));
        else nftnl_expr_set_u32(e.get(), s.id, x);
        break;
      }
      case AttrKind::U64: {
        uint64_t x = 0;
        if (v.tag != kTagNumber) fail("expected a number");
        if (!AsU64(v.num, x)) fail("expected a non-negative integer");
        nftnl_expr_set_u64(e.get(), s.id, x);
        break;
      }
      case AttrKind::Str:
        if (v.tag != kTagString) fail("expected a string");
        nftnl_expr_set_str(e.get(), s.id, std::string(reinterpret_cast<const char*>(v.bytes), v.len).c_str());
        break;
      case AttrKind::Data:
        if (v.tag != kTagData) fail("expected a hex string");
        if (v.len > 64) fail("data is longer than 64 bytes");
        nftnl_expr_set(e.get(), s.id, v.bytes, static_cast<uint32_t>(v.len));
        break;
    }
  }
  for (auto& sub : nested) nftnl_expr_add_expr(e.get(), spec->nestedId, sub.release());
  return e;
}

void ReadExprs(const Where& w, PackedReader& r, const ExprLoc* parent, std::vector<ExprPtr>& out) {
  uint16_t n = r.num<uint16_t>();
  if (!r.ok) w.malformed();
  out.reserve(n);
  for (uint16_t i = 0; i < n; i++) out.push_back(ReadExpr(w, r, ExprLoc{parent, i}));
}

RulePtr ReadRule(const Where& w, PackedReader& r, uint16_t family, const std::string& table, const std::string& chain) {
  RulePtr rule(nftnl_rule_alloc());
  nftnl_rule_set_u32(rule.get(), NFTNL_RULE_FAMILY, family);
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, chain.c_str());
  uint16_t mask = r.num<uint16_t>();
  uint64_t u = 0;
  if (mask & kRuleHandle) {
    if (!AsU64(r.num<double>(), u)) w.fail(".handle", "expected a non-negative integer");
    nftnl_rule_set_u64(rule.get(), NFTNL_RULE_HANDLE, u);
  }
  if (mask & kRulePosition) {
    if (!AsU64(r.num<double>(), u)) w.fail(".position", "expected a non-negative integer");
    nftnl_rule_set_u64(rule.get(), NFTNL_RULE_POSITION, u);
  }
  if (mask & kRuleId) nftnl_rule_set_u32(rule.get(), NFTNL_RULE_ID, r.num<uint32_t>());
  if (mask & kRulePositionId) nftnl_rule_set_u32(rule.get(), NFTNL_RULE_POSITION_ID, r.num<uint32_t>());
  if (mask & kRuleUserdata) {
    uint16_t n = r.num<uint16_t>();
    const uint8_t* b = r.take(n);
    if (b) nftnl_rule_set_data(rule.get(), NFTNL_RULE_USERDATA, b, n);
  }
  if (!r.ok || (mask >> 6)) w.malformed();
  if (mask & kRuleExprs) {
    // rules are the bulk of a ruleset: most expressions have a handful of attributes
    std::vector<ExprPtr> exprs;
    ReadExprs(w, r, nullptr, exprs);
    for (auto& e : exprs) nftnl_rule_add_expr(rule.get(), e.release());
  }
  return rule;
}

ChainPtr ReadChain(const Where& w, PackedReader& r, uint16_t family, const std::string& table, const std::string& name) {
  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, family);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, name.c_str());
  uint16_t mask = r.num<uint16_t>();
  if (mask & kChainHandle) {
    uint64_t u = 0;
    if (!AsU64(r.num<double>(), u)) w.fail(".handle", "expected a non-negative integer");
    nftnl_chain_set_u64(c.get(), NFTNL_CHAIN_HANDLE, u);
  }
  if (mask & kChainId) nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_ID, r.num<uint32_t>());
  if (mask & kChainHook) {
    // hook, priority and type go together: the kernel rejects a base chain missing one of them
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, r.num<uint32_t>());
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, r.num<int32_t>());
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, r.str<uint16_t>().c_str());
  }
  if (mask & kChainPolicy) nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, r.num<uint32_t>());
  if (mask & kChainDevice) nftnl_chain_set_str(c.get(), NFTNL_CHAIN_DEV, r.str<uint16_t>().c_str());
  if (mask & kChainDevices) {
    uint16_t n = r.num<uint16_t>();
    std::vector<std::string> devs;
    for (uint16_t i = 0; i < n && r.ok; i++) devs.push_back(r.str<uint16_t>());
    std::vector<const char*> ptrs;
    for (auto& d : devs) ptrs.push_back(d.c_str());
    ptrs.push_back(nullptr);
    nftnl_chain_set_array(c.get(), NFTNL_CHAIN_DEVICES, ptrs.data());
  }
  if (mask & kChainFlags) nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FLAGS, r.num<uint32_t>());
  if (mask & kChainUserdata) {
    uint16_t n = r.num<uint16_t>();
    const uint8_t* b = r.take(n);
    if (b) nftnl_chain_set_data(c.get(), NFTNL_CHAIN_USERDATA, b, n);
  }
  if (!r.ok || (mask >> 8)) w.malformed();
  return c;
}

}  // namespace

void ReadPackedRecord(Napi::Env env, PackedReader& r, uint32_t item, PackedRecord& out) {
  Where w{env, item};
  out.kind = r.num<uint8_t>();
  out.op = r.num<uint8_t>();
  out.family = r.num<uint8_t>();
  std::string table = r.str<uint16_t>();
  std::string name = r.str<uint16_t>();
  if (!r.ok) w.malformed();
  if (out.kind == kPackedRule) out.rule = ReadRule(w, r, out.family, table, name);
  else if (out.kind == kPackedChain) out.chain = ReadChain(w, r, out.family, table, name);
  else w.fail(".kind", "unknown packed record kind " + std::to_string(out.kind));
}

}  // namespace nft
}  // namespace kernlb
