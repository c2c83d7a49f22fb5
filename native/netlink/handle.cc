#include "netlink/handle.h"

#include "netlink/async.h"

namespace kernlb {

void Handle::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "Handle", {
    InstanceMethod<&Handle::Close>("close"),
    InstanceMethod<&Handle::Portid>("portid"),
    InstanceMethod<&Handle::NetnsInode>("netnsInode"),
  });
  // Per environment, not in a static: each worker thread that loads the addon has its own isolate and
  // class, and node deletes the reference when that environment ends (a static was overwritten by
  // the last environment to load, so another thread's handles were checked against a class of a
  // foreign, possibly dead, isolate; and each environment's reference leaked: found by LeakSanitizer).
  env.SetInstanceData<Napi::FunctionReference>(new Napi::FunctionReference(Napi::Persistent(f)));
  exports.Set("Handle", f);
}

struct HandleParts {
  std::shared_ptr<Netns> ns;
  std::shared_ptr<NetlinkSocket> sock;
};

Napi::Object Handle::Wrap(Napi::Env env, std::shared_ptr<Netns> ns, std::shared_ptr<NetlinkSocket> sock) {
  auto* parts = new HandleParts{std::move(ns), std::move(sock)};
  return env.GetInstanceData<Napi::FunctionReference>()->New({Napi::External<HandleParts>::New(env, parts)});
}

Handle::Handle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Handle>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "Handle cannot be constructed directly; use openHandle()");
  std::unique_ptr<HandleParts> parts(info[0].As<Napi::External<HandleParts>>().Data());
  ns_ = std::move(parts->ns);
  sock_ = std::move(parts->sock);
}

Handle* Handle::From(const Napi::Value& v) {
  Napi::Env env = v.Env();
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(env.GetInstanceData<Napi::FunctionReference>()->Value()))
    throw Napi::TypeError::New(env, "expected a kernlb native handle");
  Handle* h = Unwrap(v.As<Napi::Object>());
  if (h->closed_) throw Napi::Error::New(env, "handle is closed");
  return h;
}

std::shared_ptr<NetlinkSocket> Handle::socket(Napi::Env env) const {
  if (!sock_) throw Napi::TypeError::New(env, "this handle has no netlink socket");
  return sock_;
}

GenlFamily Handle::family(const std::string& name) {
  std::lock_guard<std::mutex> lock(famMu_);
  if (fam_ && fam_->first == name) return fam_->second;
  GenlFamily f;
  {
    std::lock_guard<std::mutex> sockLock(sock_->mutex());
    f = ResolveGenlFamily(*sock_, name);
  }
  fam_ = std::make_shared<std::pair<std::string, GenlFamily>>(name, f);
  return f;
}

Napi::Value Handle::Close(const Napi::CallbackInfo& info) {
  closed_ = true;
  sock_.reset();
  ns_.reset();
  return info.Env().Undefined();
}

Napi::Value Handle::Portid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), sock_ ? sock_->portid() : 0);
}

// Enters the handle's namespace on a worker thread and reports the inode seen there: proves both that
// work runs inside the namespace and (compared with the caller's) that the caller was left alone.
Napi::Value Handle::NetnsInode(const Napi::CallbackInfo& info) {
  auto ns = ns_;
  if (!ns) throw Napi::Error::New(info.Env(), "handle is closed");
  return RunAsync<double>(
      info.Env(),
      [ns]() {
        NetnsGuard in(*ns);
        return static_cast<double>(CurrentNetnsInode());
      },
      [](Napi::Env env, double& v) { return Napi::Number::New(env, v); });
}

}  // namespace kernlb
