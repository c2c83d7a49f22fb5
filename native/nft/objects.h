// Conversions between plain JS descriptions and libnftnl objects, one pair per object kind
// (table.cc, chain.cc, rule.cc, set.cc, elem.cc, obj.cc). Builders throw a JS TypeError naming the
// field; the caller owns what they return (see Owned<> below).
#pragma once
#include "nft/nftnl.h"
#include <napi.h>

#include <memory>

#include "nft/js.h"

namespace kernlb {
namespace nft {

template <class T, void (*Free)(const T*)>
struct FreeWith {
  void operator()(T* p) const { Free(p); }
};
using TablePtr = std::unique_ptr<nftnl_table, FreeWith<nftnl_table, nftnl_table_free>>;
using ChainPtr = std::unique_ptr<nftnl_chain, FreeWith<nftnl_chain, nftnl_chain_free>>;
using RulePtr = std::unique_ptr<nftnl_rule, FreeWith<nftnl_rule, nftnl_rule_free>>;
using ObjPtr = std::unique_ptr<nftnl_obj, FreeWith<nftnl_obj, nftnl_obj_free>>;
struct SetFree {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};
using SetPtr = std::unique_ptr<nftnl_set, SetFree>;
struct ElemFree {
  void operator()(nftnl_set_elem* e) const { nftnl_set_elem_free(e); }
};
using ElemPtr = std::unique_ptr<nftnl_set_elem, ElemFree>;

TablePtr TableFromJs(const JsObj& o);
Napi::Object TableToJs(Napi::Env env, const nftnl_table* t);
ChainPtr ChainFromJs(const JsObj& o);
Napi::Object ChainToJs(Napi::Env env, const nftnl_chain* c);
RulePtr RuleFromJs(const JsObj& o);
Napi::Object RuleToJs(Napi::Env env, nftnl_rule* r);
// A set without elements (elements are built by ElemFromJs, in chunks, see batch.cc).
SetPtr SetFromJs(const JsObj& o);
Napi::Object SetToJs(Napi::Env env, nftnl_set* s);
ElemPtr ElemFromJs(const JsObj& o);
Napi::Object ElemToJs(Napi::Env env, nftnl_set_elem* e);
ObjPtr ObjFromJs(const JsObj& o);
Napi::Object ObjToJs(Napi::Env env, nftnl_obj* o);

}  // namespace nft
}  // namespace kernlb
