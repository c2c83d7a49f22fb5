// Runs blocking kernel work on the libuv pool and settles a Promise. The work function gets only
// copied inputs and must never touch JS values; the result conversion runs back on the JS thread.
// KernelFailure/InputFailure become JS errors whose properties TypeScript turns into typed errors.
#pragma once
#include <napi.h>

#include <exception>
#include <functional>
#include <memory>

#include "netlink/error.h"

namespace kernlb {

Napi::Error FailureToJs(Napi::Env env, std::exception_ptr ex);

template <class R>
class Job : public Napi::AsyncWorker {
 public:
  using Work = std::function<R()>;
  using ToJs = std::function<Napi::Value(Napi::Env, R&)>;
  Job(Napi::Env env, Work work, ToJs toJs)
      : Napi::AsyncWorker(env, "kernlb"), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), toJs_(std::move(toJs)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      result_ = work_();
    } catch (...) {
      ex_ = std::current_exception();
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (ex_) {
      deferred_.Reject(FailureToJs(env, ex_).Value());
      return;
    }
    try {
      deferred_.Resolve(toJs_(env, result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(FailureToJs(env, std::current_exception()).Value());
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  ToJs toJs_;
  R result_{};
  std::exception_ptr ex_;
};

template <class R>
Napi::Promise RunAsync(Napi::Env env, typename Job<R>::Work work, typename Job<R>::ToJs toJs) {
  auto* job = new Job<R>(env, std::move(work), std::move(toJs));
  Napi::Promise p = job->Promise();
  job->Queue();
  return p;
}

}  // namespace kernlb
