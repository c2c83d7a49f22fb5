#include "nft/expr.h"
#include "nft/objects.h"

namespace kernlb {
namespace nft {

RulePtr RuleFromJs(const JsObj& o) {
  RulePtr r(nftnl_rule_alloc());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, o.u32("family"));
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, o.str("table").c_str());
  if (o.has("chain")) nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, o.str("chain").c_str());
  if (o.has("handle")) nftnl_rule_set_u64(r.get(), NFTNL_RULE_HANDLE, o.u64("handle"));
  if (o.has("position")) nftnl_rule_set_u64(r.get(), NFTNL_RULE_POSITION, o.u64("position"));
  if (o.has("id")) nftnl_rule_set_u32(r.get(), NFTNL_RULE_ID, o.u32("id"));
  if (o.has("positionId")) nftnl_rule_set_u32(r.get(), NFTNL_RULE_POSITION_ID, o.u32("positionId"));
  if (o.has("userdata")) {
    std::vector<uint8_t> u = o.hex("userdata");
    nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, u.data(), static_cast<uint32_t>(u.size()));
  }
  if (o.has("exprs")) ExprsFromJs(o, "exprs", [&](nftnl_expr* e) { nftnl_rule_add_expr(r.get(), e); });
  return r;
}

Napi::Object RuleToJs(Napi::Env env, nftnl_rule* r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY));
  o.Set("table", nftnl_rule_get_str(r, NFTNL_RULE_TABLE));
  o.Set("chain", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
  if (nftnl_rule_is_set(r, NFTNL_RULE_HANDLE))
    o.Set("handle", Napi::Number::New(env, static_cast<double>(nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE))));
  if (nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) {
    uint32_t len = 0;
    const void* d = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
    SetHex(env, o, "userdata", d, len);
  }
  ExprCollector exprs{env, Napi::Array::New(env)};
  nftnl_expr_foreach(r, ExprCollector::Add, &exprs);
  o.Set("exprs", exprs.arr);
  return o;
}

}  // namespace nft
}  // namespace kernlb
