#include "nft/js.h"

namespace kernlb {
namespace nft {

Napi::Value JsObj::get(const char* k) const { return o_.Get(k); }

bool JsObj::has(const char* k) const {
  Napi::Value v = o_.Get(k);
  return !v.IsUndefined() && !v.IsNull();
}

void JsObj::fail(const char* k, const std::string& problem) const {
  throw Napi::TypeError::New(o_.Env(), path_ + "." + k + ": " + problem);
}

uint32_t JsObj::u32(const char* k) const { return asU32(k, get(k)); }

uint32_t JsObj::asU32(const char* k, const Napi::Value& v) const {
  if (!v.IsNumber()) fail(k, "expected a number");
  double d = v.As<Napi::Number>().DoubleValue();
  // int32 values (verdict codes, priorities) are accepted and passed through as their bit pattern
  if (d < -2147483648.0 || d > 4294967295.0 || d != static_cast<int64_t>(d)) fail(k, "expected a 32-bit integer");
  return static_cast<uint32_t>(static_cast<int64_t>(d));
}

int32_t JsObj::i32(const char* k) const { return static_cast<int32_t>(u32(k)); }

uint64_t JsObj::u64(const char* k) const { return asU64(k, get(k)); }

uint64_t JsObj::asU64(const char* k, const Napi::Value& v) const {
  if (v.IsBigInt()) {
    bool lossless = true;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  if (!v.IsNumber()) fail(k, "expected a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < 0 || d != static_cast<double>(static_cast<uint64_t>(d))) fail(k, "expected a non-negative integer");
  return static_cast<uint64_t>(d);
}

std::string JsObj::str(const char* k) const { return asStr(k, get(k)); }

std::string JsObj::asStr(const char* k, const Napi::Value& v) const {
  if (!v.IsString()) fail(k, "expected a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<uint8_t> JsObj::hex(const char* k) const { return asHex(k, get(k)); }

std::vector<uint8_t> JsObj::asHex(const char* k, const Napi::Value& v) const {
  std::vector<uint8_t> out;
  if (!FromHex(asStr(k, v), out)) fail(k, "expected a hex string");
  return out;
}

std::vector<std::string> JsObj::strs(const char* k) const {
  Napi::Array a = arr(k);
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (!v.IsString()) fail(k, "expected strings");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

Napi::Array JsObj::arr(const char* k) const {
  Napi::Value v = get(k);
  if (!v.IsArray()) fail(k, "expected an array");
  return v.As<Napi::Array>();
}

JsObj JsObj::obj(const char* k) const {
  Napi::Value v = get(k);
  if (!v.IsObject()) fail(k, "expected an object");
  return JsObj(v.As<Napi::Object>(), path_ + "." + k);
}

JsObj JsObj::at(const Napi::Array& a, uint32_t i, const char* k) const {
  Napi::Value v = a.Get(i);
  std::string p = path_ + "." + k + "[" + std::to_string(i) + "]";
  if (!v.IsObject()) throw Napi::TypeError::New(o_.Env(), p + ": expected an object");
  return JsObj(v.As<Napi::Object>(), p);
}

}  // namespace nft
}  // namespace kernlb
