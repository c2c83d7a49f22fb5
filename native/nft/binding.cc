// Placeholder until the nft subsystem lands: exports an empty object.
#include "subsystems.h"

namespace kernlb {
void InitNft(Napi::Env env, Napi::Object exports) { exports.Set("nft", Napi::Object::New(env)); }
}  // namespace kernlb
