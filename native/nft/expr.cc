#include "nft/expr.h"
#include "nft/expr_walk.h"

#include <memory>

namespace kernlb {
namespace nft {

struct ExprDeleter {
  void operator()(nftnl_expr* e) const { nftnl_expr_free(e); }
};

nftnl_expr* ExprFromJs(const JsObj& o) {
  std::string type = o.str("type");
  const ExprSpec* spec = FindExprSpec(type);
  if (!spec) o.fail("type", "unknown expression \"" + type + "\"");
  std::unique_ptr<nftnl_expr, ExprDeleter> e(nftnl_expr_alloc(spec->name));
  if (!e) o.fail("type", "libnftnl does not know expression \"" + type + "\"");
  for (size_t i = 0; i < spec->count; i++) {
    const AttrSpec& a = spec->attrs[i];
    Napi::Value v = o.val(a.key);
    if (v.IsUndefined() || v.IsNull()) continue;
    switch (a.kind) {
      case AttrKind::U8: nftnl_expr_set_u8(e.get(), a.id, static_cast<uint8_t>(o.asU32(a.key, v))); break;
      case AttrKind::U16: nftnl_expr_set_u16(e.get(), a.id, static_cast<uint16_t>(o.asU32(a.key, v))); break;
      case AttrKind::U32:
      case AttrKind::I32: nftnl_expr_set_u32(e.get(), a.id, o.asU32(a.key, v)); break;
      case AttrKind::U64: nftnl_expr_set_u64(e.get(), a.id, o.asU64(a.key, v)); break;
      case AttrKind::Str: nftnl_expr_set_str(e.get(), a.id, o.asStr(a.key, v).c_str()); break;
      case AttrKind::Data: {
        std::vector<uint8_t> d = o.asHex(a.key, v);
        if (d.size() > 64) o.fail(a.key, "data is longer than 64 bytes");
        nftnl_expr_set(e.get(), a.id, d.data(), static_cast<uint32_t>(d.size()));
        break;
      }
    }
  }
  if (spec->nestedId && o.has("exprs"))
    ExprsFromJs(o, "exprs", [&](nftnl_expr* sub) { nftnl_expr_add_expr(e.get(), spec->nestedId, sub); });
  return e.release();
}

Napi::Object ExprToJs(Napi::Env env, const nftnl_expr* e) {
  Napi::Object o = Napi::Object::New(env);
  const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
  o.Set("type", name ? name : "");
  const ExprSpec* spec = ForEachExprAttr(e, [&](const AttrSpec& a, const ExprAttrValue& v) {
    switch (a.kind) {
      case AttrKind::U8:
      case AttrKind::U16:
      case AttrKind::U32: o.Set(a.key, static_cast<uint32_t>(v.num)); break;
      case AttrKind::I32: o.Set(a.key, static_cast<int32_t>(static_cast<uint32_t>(v.num))); break;
      case AttrKind::U64: o.Set(a.key, Napi::Number::New(env, static_cast<double>(v.num))); break;
      case AttrKind::Str: o.Set(a.key, v.str); break;
      case AttrKind::Data: SetHex(env, o, a.key, v.data, v.len); break;
    }
  });
  if (!spec) return o;  // unknown kinds are named but carry no attributes
  if (spec->nestedId) {
    ExprCollector subs{env, Napi::Array::New(env)};
    nftnl_expr_expr_foreach(e, ExprCollector::Add, &subs);
    if (subs.arr.Length()) o.Set("exprs", subs.arr);
  }
  return o;
}

}  // namespace nft
}  // namespace kernlb
