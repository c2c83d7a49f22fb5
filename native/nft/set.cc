#include "nft/expr.h"
#include "nft/objects.h"

namespace kernlb {
namespace nft {

SetPtr SetFromJs(const JsObj& o) {
  SetPtr s(nftnl_set_alloc());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, o.u32("family"));
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, o.str("table").c_str());
  if (o.has("name")) nftnl_set_set_str(s.get(), NFTNL_SET_NAME, o.str("name").c_str());
  if (o.has("handle")) nftnl_set_set_u64(s.get(), NFTNL_SET_HANDLE, o.u64("handle"));
  if (o.has("id")) nftnl_set_set_u32(s.get(), NFTNL_SET_ID, o.u32("id"));
  if (o.has("flags")) nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, o.u32("flags"));
  if (o.has("keyType")) nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, o.u32("keyType"));
  if (o.has("keyLen")) nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, o.u32("keyLen"));
  if (o.has("dataType")) nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, o.u32("dataType"));
  if (o.has("dataLen")) nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, o.u32("dataLen"));
  if (o.has("objType")) nftnl_set_set_u32(s.get(), NFTNL_SET_OBJ_TYPE, o.u32("objType"));
  if (o.has("policy")) nftnl_set_set_u32(s.get(), NFTNL_SET_POLICY, o.u32("policy"));
  if (o.has("size")) nftnl_set_set_u32(s.get(), NFTNL_SET_DESC_SIZE, o.u32("size"));
  if (o.has("concat")) {
    Napi::Array a = o.arr("concat");
    uint8_t lens[16];
    if (a.Length() > 16) o.fail("concat", "at most 16 fields");
    for (uint32_t i = 0; i < a.Length(); i++) lens[i] = static_cast<uint8_t>(a.Get(i).As<Napi::Number>().Uint32Value());
    nftnl_set_set_data(s.get(), NFTNL_SET_DESC_CONCAT, lens, a.Length());
  }
  if (o.has("timeout")) nftnl_set_set_u64(s.get(), NFTNL_SET_TIMEOUT, o.u64("timeout"));
  if (o.has("gcInterval")) nftnl_set_set_u32(s.get(), NFTNL_SET_GC_INTERVAL, o.u32("gcInterval"));
  if (o.has("userdata")) {
    std::vector<uint8_t> u = o.hex("userdata");
    nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, u.data(), static_cast<uint32_t>(u.size()));
  }
  if (o.has("exprs")) ExprsFromJs(o, "exprs", [&](nftnl_expr* e) { nftnl_set_add_expr(s.get(), e); });
  return s;
}

Napi::Object SetToJs(Napi::Env env, nftnl_set* s) {
  Napi::Object o = Napi::Object::New(env);
  auto u32 = [&](const char* k, uint16_t a) {
    if (nftnl_set_is_set(s, a)) o.Set(k, nftnl_set_get_u32(s, a));
  };
  o.Set("family", nftnl_set_get_u32(s, NFTNL_SET_FAMILY));
  o.Set("table", nftnl_set_get_str(s, NFTNL_SET_TABLE));
  o.Set("name", nftnl_set_get_str(s, NFTNL_SET_NAME));
  if (nftnl_set_is_set(s, NFTNL_SET_HANDLE))
    o.Set("handle", Napi::Number::New(env, static_cast<double>(nftnl_set_get_u64(s, NFTNL_SET_HANDLE))));
  o.Set("flags", nftnl_set_is_set(s, NFTNL_SET_FLAGS) ? nftnl_set_get_u32(s, NFTNL_SET_FLAGS) : 0);
  u32("keyType", NFTNL_SET_KEY_TYPE);
  u32("keyLen", NFTNL_SET_KEY_LEN);
  u32("dataType", NFTNL_SET_DATA_TYPE);
  u32("dataLen", NFTNL_SET_DATA_LEN);
  u32("objType", NFTNL_SET_OBJ_TYPE);
  u32("policy", NFTNL_SET_POLICY);
  u32("size", NFTNL_SET_DESC_SIZE);
  u32("gcInterval", NFTNL_SET_GC_INTERVAL);
  if (nftnl_set_is_set(s, NFTNL_SET_DESC_CONCAT)) {
    uint32_t len = 0;
    const uint8_t* d = static_cast<const uint8_t*>(nftnl_set_get_data(s, NFTNL_SET_DESC_CONCAT, &len));
    Napi::Array a = Napi::Array::New(env);
    for (uint32_t i = 0; d && i < len; i++) a.Set(i, d[i]);
    o.Set("concat", a);
  }
  if (nftnl_set_is_set(s, NFTNL_SET_TIMEOUT))
    o.Set("timeout", Napi::Number::New(env, static_cast<double>(nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT))));
  if (nftnl_set_is_set(s, NFTNL_SET_USERDATA)) {
    uint32_t len = 0;
    const void* d = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &len);
    SetHex(env, o, "userdata", d, len);
  }
  ExprCollector exprs{env, Napi::Array::New(env)};
  nftnl_set_expr_foreach(s, ExprCollector::Add, &exprs);
  if (exprs.arr.Length()) o.Set("exprs", exprs.arr);
  return o;
}

}  // namespace nft
}  // namespace kernlb
