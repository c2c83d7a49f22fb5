// The bulk element path: a packed list written by lib/nft/pack.ts (layout documented there) turned
// into libnftnl elements without touching a JS object per element. Truncated or inconsistent input
// is a TypeError naming the element, never a read past the buffer.
#include <cstring>
#include <string>

#include "nft/objects.h"
#include "nft/packed.h"

namespace kernlb {
namespace nft {

namespace {

enum : uint16_t {
  kKey = 1 << 0, kKeyEnd = 1 << 1, kData = 1 << 2, kVerdict = 1 << 3, kChain = 1 << 4, kObjref = 1 << 5,
  kTimeout = 1 << 6, kExpiration = 1 << 7, kFlags = 1 << 8, kUserdata = 1 << 9, kCounter = 1 << 10,
};

}  // namespace

void ElemsFromPacked(const JsObj& o, nftnl_set* s) {
  Napi::Value v = o.raw().Get("packed");
  if (!v.IsBuffer()) o.fail("packed", "expected a Buffer");
  auto buf = v.As<Napi::Buffer<uint8_t>>();
  uint32_t count = o.u32("count");
  PackedReader r{buf.Data(), buf.Length()};
  for (uint32_t i = 0; i < count; i++) {
    ElemPtr e(nftnl_set_elem_alloc());
    uint16_t mask = r.num<uint16_t>();
    auto bytes8 = [&](uint16_t attr) {
      uint8_t n = r.num<uint8_t>();
      const uint8_t* b = r.take(n);
      if (b) nftnl_set_elem_set(e.get(), attr, b, n);
    };
    auto str16 = [&](uint16_t attr) {
      uint16_t n = r.num<uint16_t>();
      const uint8_t* b = r.take(n);
      if (b) nftnl_set_elem_set_str(e.get(), attr, std::string(reinterpret_cast<const char*>(b), n).c_str());
    };
    if (mask & kKey) bytes8(NFTNL_SET_ELEM_KEY);
    if (mask & kKeyEnd) bytes8(NFTNL_SET_ELEM_KEY_END);
    if (mask & kData) bytes8(NFTNL_SET_ELEM_DATA);
    if (mask & kVerdict) nftnl_set_elem_set_u32(e.get(), NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(r.num<int32_t>()));
    if (mask & kChain) str16(NFTNL_SET_ELEM_CHAIN);
    if (mask & kObjref) str16(NFTNL_SET_ELEM_OBJREF);
    if (mask & kTimeout) nftnl_set_elem_set_u64(e.get(), NFTNL_SET_ELEM_TIMEOUT, r.num<uint64_t>());
    if (mask & kExpiration) nftnl_set_elem_set_u64(e.get(), NFTNL_SET_ELEM_EXPIRATION, r.num<uint64_t>());
    if (mask & kFlags) nftnl_set_elem_set_u32(e.get(), NFTNL_SET_ELEM_FLAGS, r.num<uint32_t>());
    if (mask & kUserdata) bytes8(NFTNL_SET_ELEM_USERDATA);
    if (mask & kCounter) {
      nftnl_expr* c = nftnl_expr_alloc("counter");
      nftnl_expr_set_u64(c, NFTNL_EXPR_CTR_PACKETS, r.num<uint64_t>());
      nftnl_expr_set_u64(c, NFTNL_EXPR_CTR_BYTES, r.num<uint64_t>());
      nftnl_set_elem_add_expr(e.get(), c);
    }
    if (!r.ok || (mask >> 11)) o.fail("packed", "malformed at element " + std::to_string(i));
    nftnl_set_elem_add(s, e.release());
  }
  if (r.off != r.len) o.fail("packed", "trailing bytes after " + std::to_string(count) + " elements");
}

}  // namespace nft
}  // namespace kernlb
