// The JS-visible handle: a namespace fixed at open time plus, for netlink subsystems, one socket
// created inside it. Work holds shared_ptrs, so closing the handle while a job runs is safe; the
// TypeScript side also waits for in-flight work before it calls close().
#pragma once
#include <napi.h>

#include <memory>

#include "netlink/genl.h"
#include "netlink/netns.h"
#include "netlink/socket.h"

namespace kernlb {

class Handle : public Napi::ObjectWrap<Handle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<Netns> ns, std::shared_ptr<NetlinkSocket> sock);
  // Unwraps a JS handle; throws a JS TypeError for anything else or a closed handle.
  static Handle* From(const Napi::Value& v);

  explicit Handle(const Napi::CallbackInfo& info);
  std::shared_ptr<Netns> netns() const { return ns_; }
  std::shared_ptr<NetlinkSocket> socket(Napi::Env env) const;  // throws if the handle has none

  // A generic netlink family resolved once per handle (first use), under the socket's mutex.
  GenlFamily family(const std::string& name);

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Portid(const Napi::CallbackInfo& info);
  Napi::Value NetnsInode(const Napi::CallbackInfo& info);
  std::shared_ptr<Netns> ns_;
  std::shared_ptr<NetlinkSocket> sock_;
  std::shared_ptr<std::pair<std::string, GenlFamily>> fam_;
  std::mutex famMu_;
  bool closed_ = false;
};

}  // namespace kernlb
