// Named stateful objects, every kind the kernel lists except tunnel and connlimit, field by field;
// the type must be set first because libnftnl picks the attribute table from it. Widths follow
// libnftnl's storage (src/obj/*.c): l3proto u16, l4proto u8, ports and mss u16, wscale and size u8.
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
    case NFT_OBJECT_CT_HELPER:
      if (o.has("helper")) nftnl_obj_set_str(x.get(), NFTNL_OBJ_CT_HELPER_NAME, o.str("helper").c_str());
      if (o.has("l3proto")) nftnl_obj_set_u16(x.get(), NFTNL_OBJ_CT_HELPER_L3PROTO, static_cast<uint16_t>(o.u32("l3proto")));
      if (o.has("l4proto")) nftnl_obj_set_u8(x.get(), NFTNL_OBJ_CT_HELPER_L4PROTO, static_cast<uint8_t>(o.u32("l4proto")));
      break;
    case NFT_OBJECT_CT_TIMEOUT: {
      if (o.has("l3proto")) nftnl_obj_set_u16(x.get(), NFTNL_OBJ_CT_TIMEOUT_L3PROTO, static_cast<uint16_t>(o.u32("l3proto")));
      if (o.has("l4proto")) nftnl_obj_set_u8(x.get(), NFTNL_OBJ_CT_TIMEOUT_L4PROTO, static_cast<uint8_t>(o.u32("l4proto")));
      if (o.has("timeouts")) {
        // libnftnl copies a whole array and writes as many of it as the l4 protocol has states
        uint32_t t[NFTNL_CTTIMEOUT_ARRAY_MAX] = {};
        Napi::Array a = o.arr("timeouts");
        if (a.Length() > NFTNL_CTTIMEOUT_ARRAY_MAX) o.fail("timeouts", "too many timeouts");
        for (uint32_t i = 0; i < a.Length(); i++) t[i] = o.asU32("timeouts", a.Get(i));
        nftnl_obj_set_data(x.get(), NFTNL_OBJ_CT_TIMEOUT_ARRAY, t, sizeof(t));
      }
      break;
    }
    case NFT_OBJECT_CT_EXPECT:
      if (o.has("l3proto")) nftnl_obj_set_u16(x.get(), NFTNL_OBJ_CT_EXPECT_L3PROTO, static_cast<uint16_t>(o.u32("l3proto")));
      if (o.has("l4proto")) nftnl_obj_set_u8(x.get(), NFTNL_OBJ_CT_EXPECT_L4PROTO, static_cast<uint8_t>(o.u32("l4proto")));
      if (o.has("dport")) nftnl_obj_set_u16(x.get(), NFTNL_OBJ_CT_EXPECT_DPORT, static_cast<uint16_t>(o.u32("dport")));
      if (o.has("timeout")) nftnl_obj_set_u32(x.get(), NFTNL_OBJ_CT_EXPECT_TIMEOUT, o.u32("timeout"));
      if (o.has("size")) nftnl_obj_set_u8(x.get(), NFTNL_OBJ_CT_EXPECT_SIZE, static_cast<uint8_t>(o.u32("size")));
      break;
    case NFT_OBJECT_SYNPROXY:
      if (o.has("mss")) nftnl_obj_set_u16(x.get(), NFTNL_OBJ_SYNPROXY_MSS, static_cast<uint16_t>(o.u32("mss")));
      if (o.has("wscale")) nftnl_obj_set_u8(x.get(), NFTNL_OBJ_SYNPROXY_WSCALE, static_cast<uint8_t>(o.u32("wscale")));
      if (o.has("flags")) nftnl_obj_set_u32(x.get(), NFTNL_OBJ_SYNPROXY_FLAGS, o.u32("flags"));
      break;
    case NFT_OBJECT_SECMARK:
      if (o.has("context")) nftnl_obj_set_str(x.get(), NFTNL_OBJ_SECMARK_CTX, o.str("context").c_str());
      break;
    default:
      break;  // deletes name any type
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
  auto u16 = [&](const char* k, uint16_t a) {
    if (nftnl_obj_is_set(x, a)) o.Set(k, nftnl_obj_get_u16(x, a));
  };
  auto u8 = [&](const char* k, uint16_t a) {
    if (nftnl_obj_is_set(x, a)) o.Set(k, nftnl_obj_get_u8(x, a));
  };
  auto str = [&](const char* k, uint16_t a) {
    if (nftnl_obj_is_set(x, a)) o.Set(k, nftnl_obj_get_str(x, a));
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
    case NFT_OBJECT_CT_HELPER:
      str("helper", NFTNL_OBJ_CT_HELPER_NAME); u16("l3proto", NFTNL_OBJ_CT_HELPER_L3PROTO); u8("l4proto", NFTNL_OBJ_CT_HELPER_L4PROTO);
      break;
    case NFT_OBJECT_CT_TIMEOUT: {
      u16("l3proto", NFTNL_OBJ_CT_TIMEOUT_L3PROTO); u8("l4proto", NFTNL_OBJ_CT_TIMEOUT_L4PROTO);
      uint32_t len = 0;
      const uint32_t* t = nftnl_obj_is_set(x, NFTNL_OBJ_CT_TIMEOUT_ARRAY)
          ? static_cast<const uint32_t*>(nftnl_obj_get_data(x, NFTNL_OBJ_CT_TIMEOUT_ARRAY, &len)) : nullptr;
      if (t) {
        // the whole array: states the protocol lacks read as 0 and are not written back
        size_t n = len / sizeof(uint32_t);
        while (n > 0 && t[n - 1] == 0) n--;
        Napi::Array a = Napi::Array::New(env, n);
        for (size_t i = 0; i < n; i++) a.Set(static_cast<uint32_t>(i), t[i]);
        o.Set("timeouts", a);
      }
      break;
    }
    case NFT_OBJECT_CT_EXPECT:
      u16("l3proto", NFTNL_OBJ_CT_EXPECT_L3PROTO); u8("l4proto", NFTNL_OBJ_CT_EXPECT_L4PROTO);
      u16("dport", NFTNL_OBJ_CT_EXPECT_DPORT); u32("timeout", NFTNL_OBJ_CT_EXPECT_TIMEOUT);
      u8("size", NFTNL_OBJ_CT_EXPECT_SIZE);
      break;
    case NFT_OBJECT_SYNPROXY:
      u16("mss", NFTNL_OBJ_SYNPROXY_MSS); u8("wscale", NFTNL_OBJ_SYNPROXY_WSCALE); u32("flags", NFTNL_OBJ_SYNPROXY_FLAGS);
      break;
    case NFT_OBJECT_SECMARK: str("context", NFTNL_OBJ_SECMARK_CTX); break;
    default: break;
  }
  return o;
}

}  // namespace nft
}  // namespace kernlb
