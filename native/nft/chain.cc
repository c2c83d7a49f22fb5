#include "nft/objects.h"

namespace kernlb {
namespace nft {

ChainPtr ChainFromJs(const JsObj& o) {
  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, o.u32("family"));
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, o.str("table").c_str());
  if (o.has("name")) nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, o.str("name").c_str());
  if (o.has("handle")) nftnl_chain_set_u64(c.get(), NFTNL_CHAIN_HANDLE, o.u64("handle"));
  if (o.has("id")) nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_ID, o.u32("id"));
  if (o.has("hook")) {
    // hook, priority and type go together: the kernel rejects a base chain missing one of them
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, o.u32("hook"));
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, o.i32("priority"));
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, o.str("type").c_str());
  }
  if (o.has("policy")) nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, o.u32("policy"));
  if (o.has("device")) nftnl_chain_set_str(c.get(), NFTNL_CHAIN_DEV, o.str("device").c_str());
  if (o.has("devices")) {
    std::vector<std::string> devs = o.strs("devices");
    std::vector<const char*> ptrs;
    for (auto& d : devs) ptrs.push_back(d.c_str());
    ptrs.push_back(nullptr);
    nftnl_chain_set_array(c.get(), NFTNL_CHAIN_DEVICES, ptrs.data());
  }
  if (o.has("flags")) nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FLAGS, o.u32("flags"));
  if (o.has("userdata")) {
    std::vector<uint8_t> u = o.hex("userdata");
    nftnl_chain_set_data(c.get(), NFTNL_CHAIN_USERDATA, u.data(), static_cast<uint32_t>(u.size()));
  }
  return c;
}

Napi::Object ChainToJs(Napi::Env env, const nftnl_chain* c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY));
  o.Set("table", nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE));
  o.Set("name", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_HANDLE))
    o.Set("handle", Napi::Number::New(env, static_cast<double>(nftnl_chain_get_u64(c, NFTNL_CHAIN_HANDLE))));
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
    o.Set("hook", nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM));
    o.Set("priority", nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO));
    o.Set("type", nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE));
  }
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY)) o.Set("policy", nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY));
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_DEV)) o.Set("device", nftnl_chain_get_str(c, NFTNL_CHAIN_DEV));
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_DEVICES)) {
    Napi::Array a = Napi::Array::New(env);
    const char* const* devs = nftnl_chain_get_array(c, NFTNL_CHAIN_DEVICES);
    for (uint32_t i = 0; devs && devs[i]; i++) a.Set(i, devs[i]);
    o.Set("devices", a);
  }
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_FLAGS)) o.Set("flags", nftnl_chain_get_u32(c, NFTNL_CHAIN_FLAGS));
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_USERDATA)) {
    uint32_t len = 0;
    const void* d = nftnl_chain_get_data(c, NFTNL_CHAIN_USERDATA, &len);
    SetHex(env, o, "userdata", d, len);
  }
  return o;
}

}  // namespace nft
}  // namespace kernlb
