// JS object <-> codec struct conversion (JS thread only). TypeScript validates and normalizes every
// field first; what reaches here is checked again for type only, and bad values throw a TypeError.
#pragma once
#include <napi.h>

#include "ipvs/codec.h"

namespace kernlb {
namespace ipvs {

Op OpFromJs(const Napi::Value& v);
Napi::Object ServiceToJs(Napi::Env env, const Service& s);
Napi::Object DestToJs(Napi::Env env, const Dest& d, uint16_t serviceAf);
Napi::Object DaemonToJs(Napi::Env env, const Daemon& d);
Napi::Object TimeoutsToJs(Napi::Env env, const Timeouts& t);
Napi::Object InfoToJs(Napi::Env env, const Info& i);
Napi::Value ReplyToJs(Napi::Env env, const Reply& r);

}  // namespace ipvs
}  // namespace kernlb
