// Each subsystem folder defines one Init that adds its object (exports.netlink, exports.ipvs, ...).
#pragma once
#include <napi.h>

namespace kernlb {
void InitNetlink(Napi::Env env, Napi::Object exports);
void InitIpvs(Napi::Env env, Napi::Object exports);
void InitNft(Napi::Env env, Napi::Object exports);
void InitIptables(Napi::Env env, Napi::Object exports);
}  // namespace kernlb
