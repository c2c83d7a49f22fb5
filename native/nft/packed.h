// Packed rules and chains: runs of transaction items written by lib/nft/pack.ts into one Buffer
// (layout documented there) and turned into libnftnl objects here without reading a JS property per
// field. Truncated or inconsistent input is a TypeError naming the item, never a read past the end.
#pragma once
#include <napi.h>

#include <cstring>
#include <string>

#include "nft/objects.h"

namespace kernlb {
namespace nft {

struct PackedReader {
  const uint8_t* p;
  size_t len;
  size_t off = 0;
  bool ok = true;
  const uint8_t* take(size_t n) {
    if (!ok || n > len - off) {
      ok = false;
      return nullptr;
    }
    const uint8_t* r = p + off;
    off += n;
    return r;
  }
  template <class T>
  T num() {
    const uint8_t* b = take(sizeof(T));
    T v{};
    if (b) memcpy(&v, b, sizeof(T));  // little endian on every Linux target kernlb builds for
    return v;
  }
  // A length-prefixed string as a std::string (libnftnl copies C strings; short names stay inline).
  template <class Len>
  std::string str() {
    Len n = num<Len>();
    const uint8_t* b = take(n);
    return b ? std::string(reinterpret_cast<const char*>(b), n) : std::string();
  }
};

enum : uint8_t { kPackedRule = 1, kPackedChain = 2 };
enum : uint8_t { kPackedAdd, kPackedCreate, kPackedInsert, kPackedReplace, kPackedDelete, kPackedDestroy };

struct PackedRecord {
  uint8_t kind = 0;
  uint8_t op = 0;
  uint16_t family = 0;
  RulePtr rule;
  ChainPtr chain;
};

// Reads the next record; `item` is its logical item index (for error paths). Throws a JS TypeError.
void ReadPackedRecord(Napi::Env env, PackedReader& r, uint32_t item, PackedRecord& out);

}  // namespace nft
}  // namespace kernlb
