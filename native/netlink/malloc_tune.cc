// glibc malloc settings and trim for a long-running process (`kernlb run`, lib/daemon): what the
// MALLOC_ARENA_MAX / MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ environment variables set, but
// from inside the process (no re-exec), and malloc_trim() after a phase that freed a lot (the first
// apply's batch, a scrape's buffers), which JS cannot call. Elsewhere than glibc both are no-ops.
#include <napi.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace kernlb {

// mallocTune(arenaMax, mmapThreshold, trimThreshold) -> boolean: each value > 0 is set with mallopt
// (0 leaves that one as it is); false when this is not glibc or glibc refused one.
static Napi::Value MallocTune(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  for (size_t i = 0; i < 3; i++) {
    if (!info[i].IsNumber()) throw Napi::TypeError::New(env, "mallocTune: expected three numbers");
  }
#if defined(__GLIBC__)
  const int params[3] = {M_ARENA_MAX, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD};
  bool ok = true;
  for (size_t i = 0; i < 3; i++) {
    int v = info[i].As<Napi::Number>().Int32Value();
    if (v > 0 && mallopt(params[i], v) != 1) ok = false;
  }
  return Napi::Boolean::New(env, ok);
#else
  return Napi::Boolean::New(env, false);
#endif
}

// mallocTrim() -> boolean: malloc_trim(0), free pages of every arena handed back to the system
// (true when some were).
static Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

void InitMalloc(Napi::Env env, Napi::Object nl) {
  nl.Set("mallocTune", Napi::Function::New(env, MallocTune));
  nl.Set("mallocTrim", Napi::Function::New(env, MallocTrim));
}

}  // namespace kernlb
