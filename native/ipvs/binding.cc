// Placeholder until the ipvs subsystem lands: exports an empty object.
#include "subsystems.h"

namespace kernlb {
void InitIpvs(Napi::Env env, Napi::Object exports) { exports.Set("ipvs", Napi::Object::New(env)); }
}  // namespace kernlb
