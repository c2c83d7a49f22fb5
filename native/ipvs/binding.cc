// JS surface of the IPVS client: golden-byte encode/decode for unit tests, and the kernel calls.
// Every kernel call runs on a worker thread under the handle socket's mutex (one request at a time
// per socket, replies matched by seq), with the family id resolved once per handle.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

#include "ipvs/convert.h"
#include "ipvs/pipeline.h"
#include "netlink/async.h"
#include "netlink/handle.h"
#include "subsystems.h"

namespace kernlb {
namespace ipvs {

// What a job needs from a JS handle, copied on the JS thread. The reference keeps the handle object
// (and so its family cache) alive until the job settles.
struct Target {
  Handle* handle;
  std::shared_ptr<NetlinkSocket> sock;
  std::shared_ptr<Netns> ns;
  std::shared_ptr<Napi::ObjectReference> ref;
};

static Target TargetOf(const Napi::Value& v) {
  Handle* h = Handle::From(v);
  auto sock = h->socket(v.Env());
  auto ref = std::make_shared<Napi::ObjectReference>(Napi::Persistent(v.As<Napi::Object>()));
  return Target{h, std::move(sock), h->netns(), std::move(ref)};
}

// The family id, resolved on first use. A kernel without IPVS answers ENOENT: say so plainly instead
// of pretending there is nothing configured.
static uint16_t FamilyId(const Target& t) {
  try {
    return t.handle->family(IPVS_GENL_NAME).id;
  } catch (KernelFailure& f) {
    if (f.err == ENOENT)
      throw KernelFailure(ENOENT, "open IPVS",
                          "kernel has no IPVS (no generic netlink family \"IPVS\"; load the ip_vs module)");
    throw;
  }
}

static std::vector<Op> OpsFromJs(const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "ipvs: ops must be an array");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<Op> ops;
  ops.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) ops.push_back(OpFromJs(a.Get(i)));
  return ops;
}

// encode(op, familyId, flags) -> Buffer: the exact bytes a request would carry (seq 0).
static Napi::Value Encode(const Napi::CallbackInfo& info) {
  Op op = OpFromJs(info[0]);
  uint16_t fam = static_cast<uint16_t>(info[1].As<Napi::Number>().Uint32Value());
  uint16_t flags = info[2].IsNumber() ? static_cast<uint16_t>(info[2].As<Napi::Number>().Uint32Value())
                                      : static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK);
  MsgWriter w;
  EncodeOp(w, fam, op, flags);
  try {
    w.Finish();
  } catch (const InputFailure& f) {
    throw Napi::Error::New(info.Env(), f.what());
  }
  return Napi::Buffer<uint8_t>::Copy(info.Env(), w.data().data(), w.size());
}

// decode(buf) -> replies: decodes kernel reply messages (for unit tests with recorded replies).
static Napi::Value Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Array out = Napi::Array::New(env);
  size_t len = buf.Length();
  uint32_t i = 0;
  for (const nlmsghdr* h = reinterpret_cast<const nlmsghdr*>(buf.Data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
    out.Set(i++, ReplyToJs(env, ParseReply(h)));
  return out;
}

// open(handle) -> family: resolves "IPVS" so that a kernel without it fails at open.
static Napi::Value Open(const Napi::CallbackInfo& info) {
  Target t = TargetOf(info[0]);
  return RunAsync<GenlFamily>(
      info.Env(), [t]() { FamilyId(t); return t.handle->family(IPVS_GENL_NAME); },
      [t](Napi::Env env, GenlFamily& f) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("id", f.id);
        o.Set("version", f.version);
        return o;
      });
}

struct ApplyResult {
  size_t sent = 0;
  std::vector<BatchFailure> failures;
};

// apply(handle, ops, chunk, stopOnError) -> { sent, failures[] }: `chunk` ops per sendmsg without
// ACKs (see pipeline.h). Failures are reported by op index, not thrown.
static Napi::Value Apply(const Napi::CallbackInfo& info) {
  Target t = TargetOf(info[0]);
  auto ops = std::make_shared<std::vector<Op>>(OpsFromJs(info[1]));
  size_t chunk = info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 1024;
  bool stop = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  return RunAsync<ApplyResult>(
      info.Env(),
      [t, ops, chunk, stop]() {
        uint16_t fam = FamilyId(t);
        ApplyResult r;
        std::lock_guard<std::mutex> lock(t.sock->mutex());
        r.failures = ApplyOps(*t.sock, fam, *ops, chunk, stop, &r.sent);
        return r;
      },
      [t](Napi::Env env, ApplyResult& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("sent", Napi::Number::New(env, static_cast<double>(r.sent)));
        Napi::Array fs = Napi::Array::New(env, r.failures.size());
        for (size_t i = 0; i < r.failures.size(); i++) {
          Napi::Object f = Napi::Object::New(env);
          f.Set("index", r.failures[i].index);
          f.Set("errno", r.failures[i].error.err);
          f.Set("extack", r.failures[i].error.extack);
          fs.Set(static_cast<uint32_t>(i), f);
        }
        o.Set("failures", fs);
        return o;
      });
}

struct QueryResult {
  std::vector<Reply> replies;
  uint16_t serviceAf = AF_INET;
};

// query(handle, op, dump) -> replies: a GET command, as a dump or a single request.
static Napi::Value Query(const Napi::CallbackInfo& info) {
  Target t = TargetOf(info[0]);
  Op op = OpFromJs(info[1]);
  bool dump = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  return RunAsync<QueryResult>(
      info.Env(),
      [t, op, dump]() {
        uint16_t fam = FamilyId(t);
        MsgWriter w;
        EncodeOp(w, fam, op, NLM_F_REQUEST);
        QueryResult r;
        r.serviceAf = op.hasService ? op.service.af : AF_INET;
        auto collect = [&](const nlmsghdr* h) { r.replies.push_back(ParseReply(h)); };
        std::lock_guard<std::mutex> lock(t.sock->mutex());
        if (dump) t.sock->Dump(w, CmdName(op.cmd), collect);
        else t.sock->Get(w, CmdName(op.cmd), collect);
        return r;
      },
      [t](Napi::Env env, QueryResult& r) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, r.replies.size());
        Keys keys(env);
        for (size_t i = 0; i < r.replies.size(); i++) {
          Napi::Value v = r.replies[i].kind == Reply::kDest
                              ? DestToJs(env, keys, r.replies[i].dest, r.serviceAf).As<Napi::Value>()
                              : ReplyToJs(env, r.replies[i]);
          if (r.replies[i].kind == Reply::kDest) v.As<Napi::Object>().Set("kind", "dest");
          out.Set(static_cast<uint32_t>(i), v);
        }
        return out;
      });
}

struct Listing {
  std::vector<Service> services;
  std::vector<std::vector<Dest>> dests;
};

// Below this many services the plain path wins: the fan-out's fixed cost (ring setup, one socket per
// service up to the pool size) exceeds the two syscalls per service it saves.
static constexpr size_t kFanoutMin = 8;

// Pool size; KERNLB_IPVS_FANOUT=0 disables the fan-out (benchmarks compare both paths with it).
static size_t FanoutSockets() {
  static const size_t n = [] {
    const char* v = getenv("KERNLB_IPVS_FANOUT");
    return v ? static_cast<size_t>(strtoul(v, nullptr, 10)) : size_t(64);
  }();
  return n;
}

// listAll(handle) -> services with their destinations: one service dump, then the destination dumps
// of all services pipelined (pipeline.h), in one job under one lock.
static Napi::Value ListAll(const Napi::CallbackInfo& info) {
  Target t = TargetOf(info[0]);
  return RunAsync<Listing>(
      info.Env(),
      [t]() {
        uint16_t fam = FamilyId(t);
        Listing l;
        std::lock_guard<std::mutex> lock(t.sock->mutex());
        MsgWriter w;
        Op get;
        get.cmd = IPVS_CMD_GET_SERVICE;
        EncodeOp(w, fam, get, NLM_F_REQUEST);
        t.sock->Dump(w, "IPVS_CMD_GET_SERVICE", [&](const nlmsghdr* h) {
          Reply r = ParseReply(h);
          if (r.kind == Reply::kService) l.services.push_back(std::move(r.service));
        });
        if (!(l.services.size() >= kFanoutMin &&
              DumpDestinationsFanout(*t.ns, fam, l.services, l.dests, t.sock->timeoutMs(), FanoutSockets())))
          DumpDestinations(*t.sock, fam, l.services, l.dests);
        return l;
      },
      [t](Napi::Env env, Listing& l) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, l.services.size());
        Keys keys(env);
        Napi::String destinations = Napi::String::New(env, "destinations");
        for (size_t i = 0; i < l.services.size(); i++) {
          Napi::HandleScope scope(env);  // the objects live on through `out`; the handles need not
          Napi::Object s = ServiceToJs(env, keys, l.services[i]);
          Napi::Array ds = Napi::Array::New(env, l.dests[i].size());
          for (size_t j = 0; j < l.dests[i].size(); j++)
            ds.Set(static_cast<uint32_t>(j), DestToJs(env, keys, l.dests[i][j], l.services[i].af));
          s.Set(destinations, ds);
          out.Set(static_cast<uint32_t>(i), s);
        }
        return out;
      });
}

// readConnections(handle) -> text of the namespace's ip_vs_conn table. /proc/net is the reading
// thread's namespace, so the file is opened on a worker that entered the handle's namespace.
static Napi::Value ReadConnections(const Napi::CallbackInfo& info) {
  Target t = TargetOf(info[0]);
  return RunAsync<std::string>(
      info.Env(),
      [t]() {
        std::string text;
        int fd;
        {
          NetnsGuard in(*t.ns);
          fd = open("/proc/thread-self/net/ip_vs_conn", O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0) {
          int e = errno;
          if (e == ENOENT) throw KernelFailure(e, "read /proc/net/ip_vs_conn", "kernel has no IPVS");
          throw KernelFailure(e, "read /proc/net/ip_vs_conn");
        }
        char buf[65536];
        for (;;) {
          ssize_t n = read(fd, buf, sizeof buf);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            int e = errno;
            close(fd);
            throw KernelFailure(e, "read /proc/net/ip_vs_conn");
          }
          if (n == 0) break;
          text.append(buf, static_cast<size_t>(n));
        }
        close(fd);
        return text;
      },
      [t](Napi::Env env, std::string& s) -> Napi::Value { return Napi::String::New(env, s); });
}

}  // namespace ipvs

void InitIpvs(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("encode", Napi::Function::New(env, ipvs::Encode));
  o.Set("decode", Napi::Function::New(env, ipvs::Decode));
  o.Set("open", Napi::Function::New(env, ipvs::Open));
  o.Set("apply", Napi::Function::New(env, ipvs::Apply));
  o.Set("query", Napi::Function::New(env, ipvs::Query));
  o.Set("listAll", Napi::Function::New(env, ipvs::ListAll));
  o.Set("readConnections", Napi::Function::New(env, ipvs::ReadConnections));
  exports.Set("ipvs", o);
}

}  // namespace kernlb
