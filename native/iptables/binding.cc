// exports.iptables: the x_tables table I/O for lib/iptables. Everything here is mechanism: read a
// table's blob, replace a table with a blob TypeScript encoded; all typing lives in TypeScript.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "iptables/libiptc.h"
#include "iptables/table_io.h"
#include "netlink/async.h"
#include "netlink/handle.h"
#include "subsystems.h"

namespace kernlb {
namespace iptables {
void AddCounters(Napi::Env env, Napi::Object o);  // counters.cc: readCounters
}  // namespace iptables
namespace {

using iptables::TableBlob;
using iptables::TableInfo;

std::string DigestHex(uint64_t d) {
  char buf[17];
  snprintf(buf, sizeof buf, "%016" PRIx64, d);
  return buf;
}

uint64_t ParseDigest(Napi::Env env, const Napi::Value& v) {
  if (!v.IsString()) throw Napi::TypeError::New(env, "digest must be a hex string");
  std::string s = v.As<Napi::String>();
  if (s.size() != 16) throw Napi::TypeError::New(env, "digest must be 16 hex digits");
  return strtoull(s.c_str(), nullptr, 16);
}

Napi::Object InfoToJs(Napi::Env env, const TableInfo& info) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("validHooks", info.validHooks);
  Napi::Array he = Napi::Array::New(env, iptables::kHooks), uf = Napi::Array::New(env, iptables::kHooks);
  for (uint32_t i = 0; i < iptables::kHooks; i++) {
    he.Set(i, info.hookEntry[i]);
    uf.Set(i, info.underflow[i]);
  }
  o.Set("hookEntry", he);
  o.Set("underflow", uf);
  o.Set("numEntries", info.numEntries);
  o.Set("size", info.size);
  return o;
}

struct Args {
  std::shared_ptr<Netns> ns;
  bool v6;
  std::string table;
};

Args CommonArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Handle* h = Handle::From(info[0]);
  if (!info[1].IsBoolean()) throw Napi::TypeError::New(env, "v6 must be a boolean");
  if (!info[2].IsString()) throw Napi::TypeError::New(env, "table must be a string");
  return Args{h->netns(), info[1].As<Napi::Boolean>(), info[2].As<Napi::String>()};
}

// getInfo(handle, v6, table) -> Promise<{validHooks, hookEntry, underflow, numEntries, size}>
Napi::Value GetInfo(const Napi::CallbackInfo& info) {
  Args a = CommonArgs(info);
  return RunAsync<TableInfo>(
      info.Env(),
      [a]() {
        NetnsGuard in(*a.ns);
        return iptables::GetTableInfo(a.v6, a.table);
      },
      [](Napi::Env env, TableInfo& r) { return InfoToJs(env, r); });
}

// A read table as getTable's result: the block (owned by a Buffer from here on) and its header.
Napi::Value BlobToJs(Napi::Env env, std::shared_ptr<TableBlob>& r) {
  Napi::Object o = InfoToJs(env, r->info);
  o.Set("entriesOffset", static_cast<double>(iptables::EntriesOffset()));
  o.Set("digest", DigestHex(r->digest));
  o.Set("kernelMs", r->kernelMs);
  if (r->inScratch) {
    o.Set("block", env.Null());
    return o;
  }
  // The Buffer is the whole block; its finalizer frees it.
  Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(env, r->base, r->capacity, [](Napi::Env, uint8_t* base) { free(base); });
  r->base = nullptr;
  r->entries = nullptr;
  o.Set("block", buf);
  return o;
}

// What a commit left in the kernel: {numEntries, digest, kernelMs}.
Napi::Value ResultToJs(Napi::Env env, iptables::ReplaceResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("numEntries", r.numEntries);
  o.Set("digest", DigestHex(r.digest));
  o.Set("kernelMs", r.kernelMs);
  o.Set("carried", r.carried);
  return o;
}

// A TableBlob that frees its block unless it reached JavaScript.
std::shared_ptr<TableBlob> OwnedBlob(TableBlob&& b) {
  return std::shared_ptr<TableBlob>(new TableBlob(std::move(b)), [](TableBlob* p) {
    if (!p->inScratch) free(p->base);
    delete p;
  });
}

// getTable(handle, v6, table, scratch: Buffer | null) -> Promise<{...info, block: Buffer | null,
// entriesOffset, digest}>. The entries are at [entriesOffset, entriesOffset + size) of `block` (a
// new block owned by the Buffer) or, when `block` is null, of the scratch Buffer they were read into.
Napi::Value GetTable(const Napi::CallbackInfo& info) {
  Args a = CommonArgs(info);
  uint8_t* scratch = nullptr;
  size_t scratchLength = 0;
  // The scratch Buffer stays referenced until the job is destroyed (on the JS thread).
  auto refs = std::make_shared<std::vector<Napi::ObjectReference>>();
  if (info.Length() > 3 && info[3].IsBuffer()) {
    auto sb = info[3].As<Napi::Buffer<uint8_t>>();
    scratch = sb.Data();
    scratchLength = sb.Length();
    refs->push_back(Napi::Persistent(sb.As<Napi::Object>()));
  }
  return RunAsync<std::shared_ptr<TableBlob>>(
      info.Env(),
      [a, scratch, scratchLength, refs]() {
        NetnsGuard in(*a.ns);
        // With a deleter: the entries are freed if the result never reaches JS.
        return OwnedBlob(iptables::GetTable(a.v6, a.table, scratch, scratchLength));
      },
      BlobToJs);
}

// The xtables lock argument: { path, timeoutMs } or null/undefined (no lock).
iptables::LockSpec ParseLock(Napi::Env env, const Napi::Value& v) {
  iptables::LockSpec spec;
  if (!v.IsObject()) return spec;
  Napi::Object o = v.As<Napi::Object>();
  if (!o.Get("path").IsString() || !o.Get("timeoutMs").IsNumber()) throw Napi::TypeError::New(env, "lock must be { path, timeoutMs }");
  spec.path = o.Get("path").As<Napi::String>();
  spec.timeoutMs = o.Get("timeoutMs").As<Napi::Number>().Int32Value();
  return spec;
}

// An optional Buffer argument: its bytes, kept referenced in `refs`; or nothing (null, undefined).
// (P: uint8_t* or const uint8_t*, as the request field is.)
template <class P>
void OptionalBuffer(const Napi::Value& v, std::vector<Napi::ObjectReference>& refs, P& data, size_t& length) {
  if (!v.IsBuffer()) return;
  auto b = v.As<Napi::Buffer<uint8_t>>();
  data = b.Data();
  length = b.Length();
  refs.push_back(Napi::Persistent(b.As<Napi::Object>()));
}

// An optional Int32Array argument (a commit's carry map), kept referenced in `refs`.
void OptionalCarry(const Napi::Value& v, std::vector<Napi::ObjectReference>& refs, const int32_t*& data, size_t& length) {
  if (!v.IsTypedArray()) return;
  if (v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) throw Napi::TypeError::New(v.Env(), "carry must be an Int32Array");
  auto c = v.As<Napi::Int32Array>();
  data = c.Data();
  length = c.ElementLength();
  refs.push_back(Napi::Persistent(c.As<Napi::Object>()));
}

// expect: {numEntries, size, shallow: true}, checked by IPT_SO_GET_INFO alone (the direct engine's only).
void ParseShallow(Napi::Env, const Napi::Object& e, iptables::ReplaceRequest& req) {
  req.expectShallow = true;
  req.expectSize = e.Get("size").As<Napi::Number>().Uint32Value();
}
template <class Request>
void ParseShallow(Napi::Env env, const Napi::Object&, Request&) {
  throw Napi::TypeError::New(env, "a shallow expect needs the direct engine");
}

// expect: {numEntries, digest} (a compare-and-swap) or null.
template <class Request>
void ParseExpect(Napi::Env env, const Napi::Value& v, Request& req) {
  if (!v.IsObject()) return;
  Napi::Object e = v.As<Napi::Object>();
  req.expectUnchanged = true;
  req.expectNumEntries = e.Get("numEntries").As<Napi::Number>().Uint32Value();
  if (e.Get("shallow").ToBoolean()) return ParseShallow(env, e, req);
  req.expectDigest = ParseDigest(env, e.Get("digest"));
}

// The arguments replaceTable and commitLibiptc share: (handle, v6, table, blob, expect: {numEntries,
// digest} | null, counters: Buffer | null, lock: {path, timeoutMs} | null, carry: Int32Array | null
// (the direct engine's only), scratch: Buffer | null for expect's read). The request is handed
// to `apply` on a worker thread inside the handle's namespace; it resolves to {numEntries, digest,
// kernelMs} (what the kernel now holds; see ReplaceResult).
template <class Request, class Apply>
Napi::Value StartCommit(const Napi::CallbackInfo& info, Apply apply) {
  Napi::Env env = info.Env();
  Args a = CommonArgs(info);
  if (!info[3].IsBuffer()) throw Napi::TypeError::New(env, "blob must be a Buffer");
  auto blob = info[3].As<Napi::Buffer<uint8_t>>();
  auto req = std::make_shared<Request>();
  req->v6 = a.v6;
  req->table = a.table;
  req->blob = blob.Data();
  req->blobLength = blob.Length();
  ParseExpect(env, info[4], *req);
  // The buffers stay referenced until the job is destroyed (on the JS thread).
  auto refs = std::make_shared<std::vector<Napi::ObjectReference>>();
  refs->push_back(Napi::Persistent(blob.As<Napi::Object>()));
  OptionalBuffer(info[5], *refs, req->counters, req->countersLength);
  req->lock = ParseLock(env, info[6]);
  OptionalCarry(info[7], *refs, req->carry, req->carryLength);
  OptionalBuffer(info[8], *refs, req->scratch, req->scratchLength);
  return RunAsync<iptables::ReplaceResult>(
      env,
      [a, req, refs, apply]() {
        NetnsGuard in(*a.ns);
        return apply(*req);
      },
      ResultToJs);
}

// replaceTable(...): the direct engine. blob is a whole ipt_replace built by TypeScript for this
// call; its header's num_counters and counters pointer are filled here.
Napi::Value ReplaceTable(const Napi::CallbackInfo& info) {
  return StartCommit<iptables::ReplaceRequest>(info, [](iptables::ReplaceRequest& r) { return iptables::ReplaceTable(r); });
}

// A pipelined compare-and-swap (iptables::PendingReplace) and the JavaScript buffers it was sent,
// referenced until the commit settles (released on the JS thread, with the last owner).
struct Pipelined {
  explicit Pipelined(int waitMs) : pending(waitMs) {}
  iptables::PendingReplace pending;
  std::vector<Napi::ObjectReference> refs;
};

std::shared_ptr<Pipelined>& PipelinedFrom(const Napi::Value& v) {
  if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), "not a pending commit");
  return *v.As<Napi::External<std::shared_ptr<Pipelined>>>().Data();
}

// beginReplace(handle, v6, table, expect: {numEntries, digest}, lock | null, scratch: Buffer | null,
// waitMs) -> { tx, done: Promise<replaceTable's result> }: takes the locks and checks `expect` on a
// worker now; the table follows with sendReplace(tx, ...) or the commit is dropped with abortReplace(tx).
Napi::Value BeginReplace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a = CommonArgs(info);
  if (!info[3].IsObject()) throw Napi::TypeError::New(env, "expect must be { numEntries, digest }");
  if (!info[6].IsNumber()) throw Napi::TypeError::New(env, "waitMs must be a number");
  auto tx = std::make_shared<Pipelined>(info[6].As<Napi::Number>().Int32Value());
  auto req = std::make_shared<iptables::ReplaceRequest>();
  req->v6 = a.v6;
  req->table = a.table;
  ParseExpect(env, info[3], *req);
  req->lock = ParseLock(env, info[4]);
  OptionalBuffer(info[5], tx->refs, req->scratch, req->scratchLength);
  Napi::Object out = Napi::Object::New(env);
  out.Set("done", RunAsync<iptables::ReplaceResult>(
                      env,
                      [a, req, tx]() {
                        NetnsGuard in(*a.ns);
                        return iptables::ReplaceTablePipelined(*req, tx->pending);
                      },
                      ResultToJs));
  out.Set("tx", Napi::External<std::shared_ptr<Pipelined>>::New(env, new std::shared_ptr<Pipelined>(tx),
                                                                 [](Napi::Env, std::shared_ptr<Pipelined>* p) { delete p; }));
  return out;
}

// sendReplace(tx, blob, counters: Buffer | null, carry: Int32Array | null): the table for beginReplace.
Napi::Value SendReplace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& tx = PipelinedFrom(info[0]);
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(env, "blob must be a Buffer");
  auto blob = info[1].As<Napi::Buffer<uint8_t>>();
  tx->refs.push_back(Napi::Persistent(blob.As<Napi::Object>()));
  const uint8_t* counters = nullptr;
  size_t countersLength = 0;
  OptionalBuffer(info[2], tx->refs, counters, countersLength);
  const int32_t* carry = nullptr;
  size_t carryLength = 0;
  OptionalCarry(info[3], tx->refs, carry, carryLength);
  tx->pending.Send(blob.Data(), blob.Length(), counters, countersLength, carry, carryLength);
  return env.Undefined();
}

// abortReplace(tx): encoding failed; the worker releases the locks and the commit rejects.
Napi::Value AbortReplace(const Napi::CallbackInfo& info) {
  PipelinedFrom(info[0])->pending.Abort();
  return info.Env().Undefined();
}

// commitLibiptc(...): the same arguments, applied through libiptc (see iptables/libiptc.h).
Napi::Value CommitLibiptc(const Napi::CallbackInfo& info) {
  return StartCommit<iptables::LibiptcRequest>(info, [](iptables::LibiptcRequest& r) { return iptables::CommitLibiptc(r); });
}

// readLibiptc(handle, v6, table, lock: {path, timeoutMs} | null) -> Promise<getTable's result>:
// the table as libiptc sees it, laid out as the kernel's entries (see iptables/libiptc.h).
Napi::Value ReadLibiptc(const Napi::CallbackInfo& info) {
  Args a = CommonArgs(info);
  iptables::LockSpec lock = ParseLock(info.Env(), info[3]);
  return RunAsync<std::shared_ptr<TableBlob>>(
      info.Env(),
      [a, lock]() {
        NetnsGuard in(*a.ns);
        return OwnedBlob(iptables::ReadLibiptc(a.v6, a.table, lock));
      },
      BlobToJs);
}

// tableNames(handle, v6) -> Promise<string[]>
Napi::Value TableNames(const Napi::CallbackInfo& info) {
  Handle* h = Handle::From(info[0]);
  if (!info[1].IsBoolean()) throw Napi::TypeError::New(info.Env(), "v6 must be a boolean");
  auto ns = h->netns();
  bool v6 = info[1].As<Napi::Boolean>();
  return RunAsync<std::vector<std::string>>(
      info.Env(),
      [ns, v6]() {
        NetnsGuard in(*ns);
        return iptables::TableNames(v6);
      },
      [](Napi::Env env, std::vector<std::string>& names) {
        Napi::Array a = Napi::Array::New(env, names.size());
        for (uint32_t i = 0; i < names.size(); i++) a.Set(i, names[i]);
        return a;
      });
}

// extensionKnown(handle, v6, target: boolean, name, revision) -> Promise<1 | 0 | -1>
Napi::Value ExtensionKnown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Handle* h = Handle::From(info[0]);
  if (!info[1].IsBoolean() || !info[2].IsBoolean() || !info[3].IsString() || !info[4].IsNumber())
    throw Napi::TypeError::New(env, "extensionKnown(handle, v6, target, name, revision)");
  auto ns = h->netns();
  bool v6 = info[1].As<Napi::Boolean>(), target = info[2].As<Napi::Boolean>();
  std::string name = info[3].As<Napi::String>();
  uint8_t rev = static_cast<uint8_t>(info[4].As<Napi::Number>().Uint32Value());
  return RunAsync<int>(
      env,
      [ns, v6, target, name, rev]() {
        NetnsGuard in(*ns);
        return iptables::ExtensionKnown(v6, target, name, rev);
      },
      [](Napi::Env env, int& r) { return Napi::Number::New(env, r); });
}

}  // namespace

void InitIptables(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("getInfo", Napi::Function::New(env, GetInfo));
  o.Set("getTable", Napi::Function::New(env, GetTable));
  o.Set("replaceTable", Napi::Function::New(env, ReplaceTable));
  o.Set("beginReplace", Napi::Function::New(env, BeginReplace));
  o.Set("sendReplace", Napi::Function::New(env, SendReplace));
  o.Set("abortReplace", Napi::Function::New(env, AbortReplace));
  o.Set("commitLibiptc", Napi::Function::New(env, CommitLibiptc));
  o.Set("readLibiptc", Napi::Function::New(env, ReadLibiptc));
  o.Set("tableNames", Napi::Function::New(env, TableNames));
  o.Set("extensionKnown", Napi::Function::New(env, ExtensionKnown));
  iptables::AddCounters(env, o);
  exports.Set("iptables", o);
}

}  // namespace kernlb
