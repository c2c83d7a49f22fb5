// Placeholder until the iptables subsystem lands: exports an empty object.
#include "subsystems.h"

namespace kernlb {
void InitIptables(Napi::Env env, Napi::Object exports) { exports.Set("iptables", Napi::Object::New(env)); }
}  // namespace kernlb
