// Kernel-level expressions: one table row per libnftnl attribute (expr_specs.cc) drives both the
// encoder (JS description -> nftnl_expr) and the decoder (nftnl_expr -> JS), so an expression kind
// is supported in both directions by listing its attributes once.
#pragma once
#include "nft/nftnl.h"
#include <napi.h>

#include "nft/js.h"

namespace kernlb {
namespace nft {

enum class AttrKind { U8, U16, U32, I32, U64, Str, Data };

struct AttrSpec {
  const char* key;  // JS property name
  uint16_t id;      // NFTNL_EXPR_* attribute
  AttrKind kind;
};

struct ExprSpec {
  const char* name;   // libnftnl / kernel expression name ("payload", "cmp", ...)
  const AttrSpec* attrs;
  size_t count;
  uint16_t nestedId;  // attribute taking nested expressions (dynset), 0 = none
};

const ExprSpec* FindExprSpec(const std::string& name);
const ExprSpec* FindExprSpec(const char* name, size_t len);  // name need not be NUL-terminated

// Builds an expression from { type: "payload", ...attrs }; throws a JS TypeError on bad input.
// The caller owns the result.
nftnl_expr* ExprFromJs(const JsObj& o);
Napi::Object ExprToJs(Napi::Env env, const nftnl_expr* e);

// Collects the expressions any nftnl_*_expr_foreach visits into a JS array:
//   ExprCollector c{env, Napi::Array::New(env)}; nftnl_expr_foreach(r, ExprCollector::Add, &c);
struct ExprCollector {
  Napi::Env env;
  Napi::Array arr;
  static int Add(nftnl_expr* e, void* self) {
    auto* c = static_cast<ExprCollector*>(self);
    c->arr.Set(c->arr.Length(), ExprToJs(c->env, e));
    return 0;
  }
};

// Reads a JS array of expressions into a callback taking ownership of each.
template <class F>
void ExprsFromJs(const JsObj& o, const char* key, F&& add) {
  Napi::Array a = o.arr(key);
  for (uint32_t i = 0; i < a.Length(); i++) add(ExprFromJs(o.at(a, i, key)));
}

}  // namespace nft
}  // namespace kernlb
