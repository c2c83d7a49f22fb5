// Two small pieces of mechanism for `kernlb run` (lib/daemon): a TCP socket created inside a
// handle's namespace, which JavaScript then connects with its own event loop (a socket belongs to
// the namespace it was created in, whatever thread uses it later), and a non-blocking flock() for
// the daemon's lock file (the kernel releases it when the process dies, so a crash leaves no stale
// lock).
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "netlink/async.h"
#include "netlink/handle.h"

namespace kernlb {

// tcpSocketIn(handle, ipv6: boolean) -> Promise<fd>: an unconnected, non-blocking, close-on-exec TCP
// socket made on a worker thread that entered the handle's namespace and left it again.
static Napi::Value TcpSocketIn(const Napi::CallbackInfo& info) {
  Handle* h = Handle::From(info[0]);
  std::shared_ptr<Netns> ns = h->netns();
  int family = info[1].ToBoolean().Value() ? AF_INET6 : AF_INET;
  return RunAsync<int>(
      info.Env(),
      [ns, family]() {
        NetnsGuard in(*ns);
        int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0) throw KernelFailure(errno, "socket");
        return fd;
      },
      [](Napi::Env env, int& fd) -> Napi::Value { return Napi::Number::New(env, fd); });
}

// flockExclusive(fd) -> boolean: true when this process now holds the lock, false when another
// holds it (EWOULDBLOCK). Never waits.
static Napi::Value FlockExclusive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  for (;;) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return Napi::Boolean::New(env, true);
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
    throw FailureToJs(env, std::make_exception_ptr(KernelFailure(errno, "flock")));
  }
}

void InitInetSocket(Napi::Env env, Napi::Object nl) {
  nl.Set("tcpSocketIn", Napi::Function::New(env, TcpSocketIn));
  nl.Set("flockExclusive", Napi::Function::New(env, FlockExclusive));
}

}  // namespace kernlb
