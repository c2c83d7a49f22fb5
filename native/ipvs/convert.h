// JS object <-> codec struct conversion (JS thread only). TypeScript validates and normalizes every
// field first; what reaches here is checked again for type only, and bad values throw a TypeError.
#pragma once
#include <napi.h>

#include <vector>

#include "ipvs/codec.h"

namespace kernlb {
namespace ipvs {

// The property names of service/destination/stats objects, made once per conversion (convert.cc).
class Keys {
 public:
  explicit Keys(Napi::Env env);
  const Napi::String& operator[](int i) const { return v_[static_cast<size_t>(i)]; }

 private:
  std::vector<Napi::String> v_;
};

Op OpFromJs(const Napi::Value& v);
Napi::Object ServiceToJs(Napi::Env env, const Keys& k, const Service& s);
Napi::Object DestToJs(Napi::Env env, const Keys& k, const Dest& d, uint16_t serviceAf);
Napi::Object DaemonToJs(Napi::Env env, const Daemon& d);
Napi::Object TimeoutsToJs(Napi::Env env, const Timeouts& t);
Napi::Object InfoToJs(Napi::Env env, const Info& i);
Napi::Value ReplyToJs(Napi::Env env, const Reply& r);

}  // namespace ipvs
}  // namespace kernlb
