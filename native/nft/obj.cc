// Named stateful objects. Only the kinds kernlb models are decoded field by field (counter, quota,
// limit); the type must be set first because libnftnl picks the attribute table from it.
#include <linux/netfilter/nf_tables.h>

#include "nft/objects.h"

namespace kernlb {
namespace nft {

ObjPtr ObjFromJs(const JsObj& o) {
  ObjPtr x(nftnl_obj_alloc());
  uint32_t type = o.u32("objType");
  nftnl_obj_set_u32(x.get(), NFTNL_OBJ_FAMILY, o.u32("family"));
  nftnl_obj_set_str(x.get(), NFTNL_OBJ_TABLE, o.str("table").c_str());
  if (o.has("name")) nftnl_obj_set_str(x.get(), NFTNL_OBJ_NAME, o.str("name").c_str());
  nftnl_obj_set_u32(x.get(), NFTNL_OBJ_TYPE, type);
  if (o.has("handle")) nftnl_obj_set_u64(x.get(), NFTNL_OBJ_HANDLE, o.u64("handle"));
  if (o.has("userdata")) {
    std::vector<uint8_t> u = o.hex("userdata");
    nftnl_obj_set_data(x.get(), NFTNL_OBJ_USERDATA, u.data(), static_cast<uint32_t>(u.size()));
  }
  switch (type) {
    case NFT_OBJECT_COUNTER:
      if (o.has("packets")) nftnl_obj_set_u64(x.get(), NFTNL_OBJ_CTR_PKTS, o.u64("packets"));
      if (o.has("bytes")) nftnl_obj_set_u64(x.get(), NFTNL_OBJ_CTR_BYTES, o.u64("bytes"));
      break;
    case NFT_OBJECT_QUOTA:
      nftnl_obj_set_u64(x.get(), NFTNL_OBJ_QUOTA_BYTES, o.u64("bytes"));
      if (o.has("consumed")) nftnl_obj_set_u64(x.get(), NFTNL_OBJ_QUOTA_CONSUMED, o.u64("consumed"));
      if (o.has("flags")) nftnl_obj_set_u32(x.get(), NFTNL_OBJ_QUOTA_FLAGS, o.u32("flags"));
      break;
    case NFT_OBJECT_LIMIT:
      nftnl_obj_set_u64(x.get(), NFTNL_OBJ_LIMIT_RATE, o.u64("rate"));
      nftnl_obj_set_u64(x.get(), NFTNL_OBJ_LIMIT_UNIT, o.u64("unit"));
      if (o.has("burst")) nftnl_obj_set_u32(x.get(), NFTNL_OBJ_LIMIT_BURST, o.u32("burst"));
      if (o.has("limitType")) nftnl_obj_set_u32(x.get(), NFTNL_OBJ_LIMIT_TYPE, o.u32("limitType"));
      if (o.has("flags")) nftnl_obj_set_u32(x.get(), NFTNL_OBJ_LIMIT_FLAGS, o.u32("flags"));
      break;
    default:
      break;  // deletes name any type; other kinds carry no modelled fields
  }
  return x;
}

Napi::Object ObjToJs(Napi::Env env, nftnl_obj* x) {
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  uint32_t type = nftnl_obj_get_u32(x, NFTNL_OBJ_TYPE);
  o.Set("family", nftnl_obj_get_u32(x, NFTNL_OBJ_FAMILY));
  o.Set("table", nftnl_obj_get_str(x, NFTNL_OBJ_TABLE));
  o.Set("name", nftnl_obj_get_str(x, NFTNL_OBJ_NAME));
  o.Set("objType", type);
  if (nftnl_obj_is_set(x, NFTNL_OBJ_HANDLE)) num("handle", nftnl_obj_get_u64(x, NFTNL_OBJ_HANDLE));
  if (nftnl_obj_is_set(x, NFTNL_OBJ_USERDATA)) {
    uint32_t len = 0;
    const void* d = nftnl_obj_get_data(x, NFTNL_OBJ_USERDATA, &len);
    SetHex(env, o, "userdata", d, len);
  }
  auto u64 = [&](const char* k, uint16_t a) {
    if (nftnl_obj_is_set(x, a)) num(k, nftnl_obj_get_u64(x, a));
  };
  auto u32 = [&](const char* k, uint16_t a) {
    if (nftnl_obj_is_set(x, a)) o.Set(k, nftnl_obj_get_u32(x, a));
  };
  switch (type) {
    case NFT_OBJECT_COUNTER: u64("packets", NFTNL_OBJ_CTR_PKTS); u64("bytes", NFTNL_OBJ_CTR_BYTES); break;
    case NFT_OBJECT_QUOTA:
      u64("bytes", NFTNL_OBJ_QUOTA_BYTES); u64("consumed", NFTNL_OBJ_QUOTA_CONSUMED); u32("flags", NFTNL_OBJ_QUOTA_FLAGS);
      break;
    case NFT_OBJECT_LIMIT:
      u64("rate", NFTNL_OBJ_LIMIT_RATE); u64("unit", NFTNL_OBJ_LIMIT_UNIT); u32("burst", NFTNL_OBJ_LIMIT_BURST);
      u32("limitType", NFTNL_OBJ_LIMIT_TYPE); u32("flags", NFTNL_OBJ_LIMIT_FLAGS);
      break;
    default: break;
  }
  return o;
}

}  // namespace nft
}  // namespace kernlb
