// JS surface of the IPVS client: golden-byte encode/decode for unit tests, and the kernel calls.
// Every kernel call runs on a worker thread under the handle socket's mutex (one request at a time
// per socket, replies matched by seq), with the family id resolved once per handle.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

#include "ipvs/convert.h"
#include "ipvs/packed.h"
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
  // A scope per op: the handles of one op's ~25 property reads are released before the next, instead
  // of piling up in the call's scope (2.7M of them for a full apply of 10k x 10).
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::HandleScope scope(v.Env());
    ops.push_back(OpFromJs(a.Get(i)));
  }
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
  uint32_t i = 0;
  ForEachMessage(buf.Data(), buf.Length(), [&](const nlmsghdr* h) { out.Set(i++, ReplyToJs(env, ParseReply(h))); });
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
  size_t sends = 0;
  std::vector<BatchFailure> failures;
};

// apply(handle, ops, chunk, stopOnError) -> { sent, sends, failures[] }: `chunk` ops per sendmsg without
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
        r.failures = ApplyOps(*t.sock, fam, *ops, chunk, stop, &r.sent, &r.sends);
        return r;
      },
      [t](Napi::Env env, ApplyResult& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("sent", Napi::Number::New(env, static_cast<double>(r.sent)));
        o.Set("sends", Napi::Number::New(env, static_cast<double>(r.sends)));
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

// Below this many services the plain path wins: the fan-out's fixed cost (ring setup, one socket per
// service up to the pool size) exceeds the two syscalls per service it saves.
static constexpr size_t kFanoutMin = 8;

struct ListingJob {
  ListingJob(uint8_t* reuse, size_t cap) : packed(reuse, cap) {}
  PackedListing packed;
};

// The JS side of a packed listing: its records are handed over (or were written into `reused`, the
// caller's own buffer), the strings they index are made here.
static Napi::Value ListingToJs(Napi::Env env, PackedListing& l, Napi::Value reused) {
  Napi::Object o = Napi::Object::New(env);
  if (l.inReuse()) {
    o.Set("buffer", reused);
  } else if (size_t n = l.bytes()) {
    uint8_t* p = l.Release();
    o.Set("buffer", Napi::ArrayBuffer::New(env, p, n, [](Napi::Env, void* d) { free(d); }));
  } else {
    o.Set("buffer", Napi::ArrayBuffer::New(env, 0));
  }
  o.Set("services", Napi::Number::New(env, static_cast<double>(l.services())));
  const auto& strs = l.strings();
  Napi::Array a = Napi::Array::New(env, strs.size());
  for (size_t i = 0; i < strs.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::String::New(env, strs[i]));
  o.Set("strings", a);
  return o;
}

// listAll(handle, reuse, dumpSockets, get?) -> { buffer, services, strings }: every service (or the
// one a GET_SERVICE op `get` names: ESRCH when it does not exist; or, `get` an array of GET_SERVICE
// ops, those of them that exist, in the array's order: a missing one is left out) with its
// destinations, packed (packed.h) for lib/ipvs/packed.ts. One service dump (or the gets), then the
// destination dumps, fanned out over `dumpSockets` sockets through io_uring (0: one socket, two
// syscalls per service), in one job under one lock. `reuse` is the buffer of an earlier listing
// that the caller no longer reads: it is overwritten when large enough, so a steady listing touches
// no fresh memory.
static Napi::Value ListAll(const Napi::CallbackInfo& info) {
  Target t = TargetOf(info[0]);
  uint8_t* reuse = nullptr;
  size_t reuseCap = 0;
  std::shared_ptr<Napi::Reference<Napi::ArrayBuffer>> reuseRef;
  if (info[1].IsArrayBuffer()) {
    auto ab = info[1].As<Napi::ArrayBuffer>();
    reuse = static_cast<uint8_t*>(ab.Data());
    reuseCap = ab.ByteLength();
    reuseRef = std::make_shared<Napi::Reference<Napi::ArrayBuffer>>(Napi::Persistent(ab));
  }
  size_t sockets = info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
  // The gets: none (a dump of every service), one (ESRCH when missing) or several (missing left out).
  bool many = info[3].IsArray();
  bool one = !many && info[3].IsObject();
  std::vector<Op> gets;
  auto getOp = [&](const Napi::Value& v) {
    Op get = OpFromJs(v);
    if (get.cmd != IPVS_CMD_GET_SERVICE || !get.hasService)
      throw Napi::TypeError::New(info.Env(), "ipvs: listAll's op must be a GET_SERVICE with a service");
    get.service.hasAttrs = false;  // identity only
    gets.push_back(std::move(get));
  };
  if (one) getOp(info[3]);
  if (many) {
    auto a = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) getOp(a.Get(i));
  }
  auto job = std::make_shared<ListingJob>(reuse, reuseCap);
  return RunAsync<std::shared_ptr<ListingJob>>(
      info.Env(),
      [t, gets = std::move(gets), one, many, sockets, job]() {
        uint16_t fam = FamilyId(t);
        PackedListing& l = job->packed;
        std::lock_guard<std::mutex> lock(t.sock->mutex());
        // Straight into the records: no intermediate vector (its growth was ~1000 fresh pages at 10k).
        auto collect = [&](const nlmsghdr* h) {
          Reply r = ParseReply(h);
          if (r.kind == Reply::kService) l.AddService(r.service);
        };
        if (one || many) {
          // Several gets in one job: one thread hop and one lock for all of them (an apply reads
          // its services with a draining destination this way: ~3 ms a service when each was its
          // own getService in UML).
          for (const Op& get : gets) {
            MsgWriter w;
            EncodeOp(w, fam, get, NLM_F_REQUEST);
            try {
              t.sock->Get(w, CmdName(get.cmd), collect);
            } catch (KernelFailure& f) {
              if (one || f.err != ESRCH) throw;
            }
          }
        } else {
          MsgWriter w;
          Op all;
          all.cmd = IPVS_CMD_GET_SERVICE;
          EncodeOp(w, fam, all, NLM_F_REQUEST);
          t.sock->Dump(w, "IPVS_CMD_GET_SERVICE", collect);
        }
        if (!(l.services() >= kFanoutMin && DumpDestinationsFanout(*t.ns, fam, l, t.sock->timeoutMs(), sockets)))
          DumpDestinations(*t.sock, fam, l);
        return job;
      },
      [t, reuseRef](Napi::Env env, std::shared_ptr<ListingJob>& job) -> Napi::Value {
        return ListingToJs(env, job->packed, reuseRef ? reuseRef->Value() : Napi::Value());
      });
}

// pack(buf) -> { buffer, services, strings }: kernel reply messages (NEW_SERVICE, each followed by
// its NEW_DEST messages) packed as listAll packs them, for unit tests with recorded replies.
static Napi::Value Pack(const Napi::CallbackInfo& info) {
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  std::vector<Service> services;
  std::vector<DestRecords> dests;
  ForEachMessage(buf.Data(), buf.Length(), [&](const nlmsghdr* h) {
    Reply r = ParseReply(h);
    if (r.kind == Reply::kService) {
      services.push_back(std::move(r.service));
      dests.emplace_back();
    } else if (r.kind == Reply::kDest && !services.empty()) {
      AppendDestRecord(h, services.back().af, dests.back());
    }
  });
  PackedListing l(nullptr, 0);
  for (const Service& s : services) l.AddService(s);
  for (size_t i = 0; i < services.size(); i++) l.SetDests(i, dests[i]);
  return ListingToJs(info.Env(), l, Napi::Value());
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
  o.Set("pack", Napi::Function::New(env, ipvs::Pack));
  o.Set("readConnections", Napi::Function::New(env, ipvs::ReadConnections));
  exports.Set("ipvs", o);
}

}  // namespace kernlb
