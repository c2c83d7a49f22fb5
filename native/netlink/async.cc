#include "netlink/async.h"

namespace kernlb {

Napi::Error FailureToJs(Napi::Env env, std::exception_ptr ex) {
  try {
    std::rethrow_exception(ex);
  } catch (const KernelFailure& f) {
    Napi::Error e = Napi::Error::New(env, f.what());
    Napi::Object o = e.Value();
    o.Set("kind", "kernel");
    o.Set("errno", f.err);
    o.Set("op", f.op);
    o.Set("extack", f.extack);
    o.Set("index", f.index);
    o.Set("attrOffset", Napi::Number::New(env, static_cast<double>(f.attrOffset)));
    return e;
  } catch (const InputFailure& f) {
    Napi::Error e = Napi::Error::New(env, f.what());
    e.Value().Set("kind", "input");
    return e;
  } catch (const std::exception& f) {
    Napi::Error e = Napi::Error::New(env, f.what());
    e.Value().Set("kind", "internal");
    return e;
  } catch (...) {
    Napi::Error e = Napi::Error::New(env, "unknown native failure");
    e.Value().Set("kind", "internal");
    return e;
  }
}

}  // namespace kernlb
