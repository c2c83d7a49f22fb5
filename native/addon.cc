#include "subsystems.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kernlb::InitNetlink(env, exports);
  kernlb::InitIpvs(env, exports);
  kernlb::InitNft(env, exports);
  kernlb::InitIptables(env, exports);
  return exports;
}

NODE_API_MODULE(kernlb, Init)
