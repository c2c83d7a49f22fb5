// JS surface of the netlink core: opening handles in a namespace, family resolution, and the codec
// entry points the unit tests check against golden bytes.
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "netlink/async.h"
#include "netlink/genl.h"
#include "netlink/handle.h"
#include "subsystems.h"

namespace kernlb {

struct Opened {
  std::shared_ptr<Netns> ns;
  std::shared_ptr<NetlinkSocket> sock;
};

// openHandle(protocol: number (-1: no socket), netnsPath: string | null, timeoutMs: number)
static Napi::Value OpenHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int protocol = info[0].As<Napi::Number>().Int32Value();
  std::string path = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  int timeoutMs = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 30000;
  int rcvbuf = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : 0;
  std::shared_ptr<Netns> ns;
  try {
    ns = Netns::Open(path);  // open() only: the caller's namespace is captured on the JS thread
  } catch (...) {
    throw FailureToJs(env, std::current_exception());
  }
  return RunAsync<Opened>(
      env,
      [ns, protocol, timeoutMs, rcvbuf]() {
        Opened o{ns, nullptr};
        if (protocol >= 0) {
          o.sock = std::make_shared<NetlinkSocket>(protocol, *ns);
          o.sock->SetTimeoutMs(timeoutMs);
          if (rcvbuf > 0) o.sock->SetRcvBuf(rcvbuf);
        } else {
          NetnsGuard check(*ns);  // reports a path that is not a network namespace
        }
        return o;
      },
      [](Napi::Env env, Opened& o) -> Napi::Value { return Handle::Wrap(env, o.ns, o.sock); });
}

static Napi::Value FamilyToJs(Napi::Env env, const GenlFamily& f) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", f.id);
  o.Set("version", f.version);
  o.Set("hdrsize", f.hdrsize);
  o.Set("maxattr", f.maxattr);
  return o;
}

static Napi::Value ResolveFamily(const Napi::CallbackInfo& info) {
  Handle* h = Handle::From(info[0]);
  h->socket(info.Env());
  std::string name = info[1].As<Napi::String>().Utf8Value();
  Napi::ObjectReference keep = Napi::Persistent(info[0].As<Napi::Object>());
  auto ref = std::make_shared<Napi::ObjectReference>(std::move(keep));
  return RunAsync<GenlFamily>(
      info.Env(), [h, name, ref]() { return h->family(name); },
      [ref](Napi::Env env, GenlFamily& f) { return FamilyToJs(env, f); });
}

static Napi::Value EncodeGetFamilyJs(const Napi::CallbackInfo& info) {
  MsgWriter w;
  EncodeGetFamily(w, info[0].As<Napi::String>().Utf8Value());
  w.At(0)->nlmsg_seq = info[1].As<Napi::Number>().Uint32Value();
  w.At(0)->nlmsg_flags |= NLM_F_ACK;
  return Napi::Buffer<uint8_t>::Copy(info.Env(), w.data().data(), w.size());
}

static Napi::Value DecodeMessages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  ForEachMessage(buf.Data(), buf.Length(), [&](const nlmsghdr* h) {
    Napi::Object m = Napi::Object::New(env);
    m.Set("type", h->nlmsg_type);
    m.Set("flags", h->nlmsg_flags);
    m.Set("seq", h->nlmsg_seq);
    m.Set("pid", h->nlmsg_pid);
    m.Set("payload", Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(NLMSG_DATA(h)),
                                                 h->nlmsg_len - NLMSG_HDRLEN));
    if (h->nlmsg_type == NLMSG_ERROR) {
      NlErrorInfo e = ParseError(h);
      Napi::Object eo = Napi::Object::New(env);
      eo.Set("errno", e.err);
      eo.Set("seq", e.seq);
      eo.Set("extack", e.extack);
      eo.Set("attrOffset", Napi::Number::New(env, static_cast<double>(e.attrOffset)));
      m.Set("error", eo);
    }
    if (h->nlmsg_type == GENL_ID_CTRL) m.Set("family", FamilyToJs(env, ParseFamily(h)));
    out.Set(i++, m);
  });
  return out;
}

// request(handle, bytes, mode, chunk?): raw access to the socket for any netlink protocol.
//   'ack'      one message, NLM_F_ACK added; resolves [] or rejects with the error
//   'get'      one message, NLM_F_ACK added; resolves the reply messages
//   'dump'     one message, NLM_F_DUMP added; resolves every part
//   'exchange' one message sent as is; resolves the first reply with its seq (or times out)
//   'pipeline' many messages, NLM_F_ACK added to each, `chunk` per sendmsg; resolves the failures
//   'batch'    many messages in one sendmsg (nfnetlink style); resolves the failures
static Napi::Value Request(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Handle* h = Handle::From(info[0]);
  auto sock = h->socket(env);
  auto bytes = info[1].As<Napi::Buffer<uint8_t>>();
  auto w = std::make_shared<MsgWriter>();
  w->Raw(bytes.Data(), bytes.Length());
  std::string mode = info[2].As<Napi::String>().Utf8Value();
  size_t chunk = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Uint32Value() : 256;
  struct Out {
    std::vector<std::vector<uint8_t>> msgs;
    std::vector<BatchFailure> failures;
  };
  if (mode != "ack" && mode != "get" && mode != "dump" && mode != "exchange" && mode != "pipeline" && mode != "batch")
    throw Napi::TypeError::New(env, "unknown request mode " + mode);
  return RunAsync<Out>(
      env,
      [sock, w, mode, chunk]() {
        std::lock_guard<std::mutex> lock(sock->mutex());
        Out out;
        auto keep = [&](const nlmsghdr* m) {
          const uint8_t* p = reinterpret_cast<const uint8_t*>(m);
          out.msgs.emplace_back(p, p + m->nlmsg_len);
        };
        if (mode == "ack") sock->Ack(*w, "request");
        else if (mode == "get") sock->Get(*w, "request", keep);
        else if (mode == "dump") sock->Dump(*w, "request", keep);
        else if (mode == "exchange") out.msgs.push_back(sock->Exchange(*w, "request"));
        else if (mode == "pipeline") out.failures = sock->Pipeline(*w, chunk, false, nullptr, "request");
        else out.failures = sock->SendBatch(*w, "request");
        return out;
      },
      [](Napi::Env env, Out& out) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        Napi::Array msgs = Napi::Array::New(env, out.msgs.size());
        for (size_t i = 0; i < out.msgs.size(); i++)
          msgs.Set(i, Napi::Buffer<uint8_t>::Copy(env, out.msgs[i].data(), out.msgs[i].size()));
        Napi::Array fails = Napi::Array::New(env, out.failures.size());
        for (size_t i = 0; i < out.failures.size(); i++) {
          Napi::Object f = Napi::Object::New(env);
          f.Set("index", out.failures[i].index);
          f.Set("errno", out.failures[i].error.err);
          f.Set("extack", out.failures[i].error.extack);
          fails.Set(i, f);
        }
        o.Set("messages", msgs);
        o.Set("failures", fails);
        return o;
      });
}

static Napi::Value CurrentInode(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CurrentNetnsInode()));
}

void InitInetSocket(Napi::Env env, Napi::Object nl);  // inet_socket.cc
void InitMalloc(Napi::Env env, Napi::Object nl);      // malloc_tune.cc

void InitNetlink(Napi::Env env, Napi::Object exports) {
  Napi::Object nl = Napi::Object::New(env);
  Handle::Init(env, nl);
  nl.Set("openHandle", Napi::Function::New(env, OpenHandle));
  nl.Set("request", Napi::Function::New(env, Request));
  nl.Set("resolveFamily", Napi::Function::New(env, ResolveFamily));
  nl.Set("encodeGetFamily", Napi::Function::New(env, EncodeGetFamilyJs));
  nl.Set("decodeMessages", Napi::Function::New(env, DecodeMessages));
  nl.Set("currentNetnsInode", Napi::Function::New(env, CurrentInode));
  InitInetSocket(env, nl);
  InitMalloc(env, nl);
  exports.Set("netlink", nl);
}

}  // namespace kernlb
