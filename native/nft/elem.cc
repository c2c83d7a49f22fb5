#include "nft/expr.h"
#include "nft/objects.h"

namespace kernlb {
namespace nft {

static void SetData(nftnl_set_elem* e, uint16_t attr, const JsObj& o, const char* k) {
  std::vector<uint8_t> d = o.hex(k);
  if (d.size() > 64) o.fail(k, "longer than 64 bytes");
  nftnl_set_elem_set(e, attr, d.data(), static_cast<uint32_t>(d.size()));
}

ElemPtr ElemFromJs(const JsObj& o) {
  ElemPtr e(nftnl_set_elem_alloc());
  if (o.has("key")) SetData(e.get(), NFTNL_SET_ELEM_KEY, o, "key");
  if (o.has("keyEnd")) SetData(e.get(), NFTNL_SET_ELEM_KEY_END, o, "keyEnd");
  if (o.has("data")) SetData(e.get(), NFTNL_SET_ELEM_DATA, o, "data");
  if (o.has("verdict")) nftnl_set_elem_set_u32(e.get(), NFTNL_SET_ELEM_VERDICT, o.u32("verdict"));
  if (o.has("chain")) nftnl_set_elem_set_str(e.get(), NFTNL_SET_ELEM_CHAIN, o.str("chain").c_str());
  if (o.has("objref")) nftnl_set_elem_set_str(e.get(), NFTNL_SET_ELEM_OBJREF, o.str("objref").c_str());
  if (o.has("timeout")) nftnl_set_elem_set_u64(e.get(), NFTNL_SET_ELEM_TIMEOUT, o.u64("timeout"));
  if (o.has("expiration")) nftnl_set_elem_set_u64(e.get(), NFTNL_SET_ELEM_EXPIRATION, o.u64("expiration"));
  if (o.has("flags")) nftnl_set_elem_set_u32(e.get(), NFTNL_SET_ELEM_FLAGS, o.u32("flags"));
  if (o.has("userdata")) SetData(e.get(), NFTNL_SET_ELEM_USERDATA, o, "userdata");
  if (o.has("exprs")) ExprsFromJs(o, "exprs", [&](nftnl_expr* x) { nftnl_set_elem_add_expr(e.get(), x); });
  return e;
}

Napi::Object ElemToJs(Napi::Env env, nftnl_set_elem* e) {
  Napi::Object o = Napi::Object::New(env);
  auto data = [&](const char* k, uint16_t a) {
    if (!nftnl_set_elem_is_set(e, a)) return;
    uint32_t len = 0;
    const void* d = nftnl_set_elem_get(e, a, &len);
    SetHex(env, o, k, d, len);
  };
  auto u64 = [&](const char* k, uint16_t a) {
    if (nftnl_set_elem_is_set(e, a))
      o.Set(k, Napi::Number::New(env, static_cast<double>(nftnl_set_elem_get_u64(e, a))));
  };
  data("key", NFTNL_SET_ELEM_KEY);
  data("keyEnd", NFTNL_SET_ELEM_KEY_END);
  data("data", NFTNL_SET_ELEM_DATA);
  if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT))
    o.Set("verdict", static_cast<int32_t>(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT)));
  if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN)) o.Set("chain", nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN));
  if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_OBJREF)) o.Set("objref", nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_OBJREF));
  u64("timeout", NFTNL_SET_ELEM_TIMEOUT);
  u64("expiration", NFTNL_SET_ELEM_EXPIRATION);
  if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS)) o.Set("flags", nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS));
  data("userdata", NFTNL_SET_ELEM_USERDATA);
  ExprCollector exprs{env, Napi::Array::New(env)};
  nftnl_set_elem_expr_foreach(e, ExprCollector::Add, &exprs);
  if (exprs.arr.Length()) o.Set("exprs", exprs.arr);
  return o;
}

}  // namespace nft
}  // namespace kernlb
