// Reading plain JS descriptions (on the JS thread) and writing plain JS objects back. Binary values
// (cmp data, set keys, userdata) travel as lowercase hex strings so that the model is JSON and
// compares with deep equality. TypeScript validates first; a bad value here is still a TypeError
// naming the field, never a crash.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nft/hex.h"

namespace kernlb {
namespace nft {

class JsObj {
 public:
  JsObj(Napi::Object o, std::string path) : o_(o), path_(std::move(path)) {}
  bool has(const char* k) const;
  // One property read; undefined/null when absent. The As* helpers convert a value read this way,
  // so hot paths read each property once.
  Napi::Value val(const char* k) const { return o_.Get(k); }
  uint32_t asU32(const char* k, const Napi::Value& v) const;
  uint64_t asU64(const char* k, const Napi::Value& v) const;
  std::string asStr(const char* k, const Napi::Value& v) const;
  std::vector<uint8_t> asHex(const char* k, const Napi::Value& v) const;
  uint32_t u32(const char* k) const;
  int32_t i32(const char* k) const;
  uint64_t u64(const char* k) const;
  std::string str(const char* k) const;
  std::vector<uint8_t> hex(const char* k) const;
  std::vector<std::string> strs(const char* k) const;
  Napi::Array arr(const char* k) const;
  JsObj obj(const char* k) const;
  JsObj at(const Napi::Array& a, uint32_t i, const char* k) const;
  [[noreturn]] void fail(const char* k, const std::string& problem) const;
  const Napi::Object& raw() const { return o_; }
  const std::string& path() const { return path_; }

 private:
  Napi::Value get(const char* k) const;
  Napi::Object o_;
  std::string path_;
};


// Sets o[k] = v for the common value kinds.
inline void SetHex(Napi::Env env, Napi::Object o, const char* k, const void* p, size_t n) {
  o.Set(k, Napi::String::New(env, ToHex(p, n)));
}

}  // namespace nft
}  // namespace kernlb
