// Reading an expression's attributes back from libnftnl, without JS: the one walk ExprToJs turns into
// a JS object and the fuzz harness (test/fuzz/nft_listing.cc) runs on expressions libnftnl parsed
// from arbitrary bytes. expr.h's tables say which attributes each kind has and how wide they are.
#pragma once
#include "nft/expr.h"

namespace kernlb {
namespace nft {

struct ExprAttrValue {
  uint64_t num = 0;            // U8 .. U64 (I32 as its two's complement u32)
  const char* str = nullptr;   // Str: never null ("" when libnftnl has none)
  const void* data = nullptr;  // Data
  uint32_t len = 0;            // Data: bytes at data (0 when data is null)
};

// Visits each attribute of e that is set, in its kind's table order: f(const AttrSpec&, const
// ExprAttrValue&). Returns the kind's table, or null for a kind without one (named, no attributes).
template <class F>
const ExprSpec* ForEachExprAttr(const nftnl_expr* e, F&& f) {
  const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
  const ExprSpec* spec = name ? FindExprSpec(name) : nullptr;
  if (!spec) return nullptr;
  for (size_t i = 0; i < spec->count; i++) {
    const AttrSpec& a = spec->attrs[i];
    if (!nftnl_expr_is_set(e, a.id)) continue;
    ExprAttrValue v;
    switch (a.kind) {
      case AttrKind::U8: v.num = nftnl_expr_get_u8(e, a.id); break;
      case AttrKind::U16: v.num = nftnl_expr_get_u16(e, a.id); break;
      case AttrKind::U32:
      case AttrKind::I32: v.num = nftnl_expr_get_u32(e, a.id); break;
      case AttrKind::U64: v.num = nftnl_expr_get_u64(e, a.id); break;
      case AttrKind::Str: {
        const char* s = nftnl_expr_get_str(e, a.id);
        v.str = s ? s : "";
        break;
      }
      case AttrKind::Data:
        v.data = nftnl_expr_get(e, a.id, &v.len);
        if (!v.data) v.len = 0;
        break;
    }
    f(a, v);
  }
  return spec;
}

}  // namespace nft
}  // namespace kernlb
