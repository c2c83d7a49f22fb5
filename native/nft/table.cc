#include "nft/objects.h"

namespace kernlb {
namespace nft {

TablePtr TableFromJs(const JsObj& o) {
  TablePtr t(nftnl_table_alloc());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, o.u32("family"));
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, o.str("name").c_str());
  if (o.has("flags")) nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, o.u32("flags"));
  if (o.has("handle")) nftnl_table_set_u64(t.get(), NFTNL_TABLE_HANDLE, o.u64("handle"));
  if (o.has("userdata")) {
    std::vector<uint8_t> u = o.hex("userdata");
    nftnl_table_set_data(t.get(), NFTNL_TABLE_USERDATA, u.data(), static_cast<uint32_t>(u.size()));
  }
  return t;
}

Napi::Object TableToJs(Napi::Env env, const nftnl_table* t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY));
  o.Set("name", nftnl_table_get_str(t, NFTNL_TABLE_NAME));
  o.Set("flags", nftnl_table_is_set(t, NFTNL_TABLE_FLAGS) ? nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) : 0);
  if (nftnl_table_is_set(t, NFTNL_TABLE_HANDLE))
    o.Set("handle", Napi::Number::New(env, static_cast<double>(nftnl_table_get_u64(t, NFTNL_TABLE_HANDLE))));
  if (nftnl_table_is_set(t, NFTNL_TABLE_USERDATA)) {
    uint32_t len = 0;
    const void* d = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
    SetHex(env, o, "userdata", d, len);
  }
  return o;
}

}  // namespace nft
}  // namespace kernlb
