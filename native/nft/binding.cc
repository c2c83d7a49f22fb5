// JS surface of the nft subsystem (typed in lib/native.ts, NativeNft):
//   encodeBatch(items, options) -> { buffer, itemOfMessage }   (pure: golden-byte tests)
//   commit(handle, items, options) -> Promise<number>          (one sendmsg; ms to the last ack; failures name the item)
//   generation(handle) -> Promise<number>
//   list(handle, family, table | null, maxAttempts) -> Promise<NativeNftListing>
//   setCounters(handle, family, table, sets) -> Promise<NativeNftSetCounters>   (counters.cc)
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <chrono>

#include "netlink/async.h"
#include "netlink/handle.h"
#include "nft/batch.h"
#include "nft/counters.h"
#include "nft/list.h"
#include "subsystems.h"

namespace kernlb {
namespace nft {

static Napi::Value EncodeBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "items: expected an array");
  Batch b;
  BuildBatch(info[0].As<Napi::Array>(), BatchOptionsFromJs(info[1]), b);
  Napi::Object out = Napi::Object::New(env);
  out.Set("buffer", Napi::Buffer<uint8_t>::Copy(env, b.w.data().data(), b.w.size()));
  Napi::Array idx = Napi::Array::New(env, b.itemOfMsg.size());
  for (size_t i = 0; i < b.itemOfMsg.size(); i++) idx.Set(static_cast<uint32_t>(i), b.itemOfMsg[i]);
  out.Set("itemOfMessage", idx);
  return out;
}

// Keeps the JS handle object alive while a job uses its socket.
static std::shared_ptr<Napi::ObjectReference> Keep(const Napi::Value& v) {
  return std::make_shared<Napi::ObjectReference>(Napi::Persistent(v.As<Napi::Object>()));
}

static Napi::Value Commit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Handle* h = Handle::From(info[0]);
  auto sock = h->socket(env);
  auto ns = h->netns();
  if (!info[1].IsArray()) throw Napi::TypeError::New(env, "items: expected an array");
  auto batch = std::make_shared<Batch>();
  BuildBatch(info[1].As<Napi::Array>(), BatchOptionsFromJs(info[2]), *batch);
  auto ref = Keep(info[0]);
  // Resolves with the milliseconds from the batch's sendmsg to its last ack: the kernel's share of
  // the commit (what a benchmark sets beside kernlb's whole apply), not counting the lock wait.
  return RunAsync<double>(
      env,
      [sock, batch]() {
        std::lock_guard<std::mutex> lock(sock->mutex());
        auto t0 = std::chrono::steady_clock::now();
        std::vector<BatchFailure> fails = sock->SendBatch(batch->w, "nftables commit");
        if (fails.empty()) return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        int item = -1;
        const BatchFailure* first = FirstFailure(fails, batch->itemOfMsg, &item);
        KernelFailure f(first->error.err, "nftables commit", first->error.extack, item);
        f.attrOffset = first->error.attrOffset;
        throw f;
      },
      [ref](Napi::Env env, double& ms) { return Napi::Number::New(env, ms); });
}

static Napi::Value Generation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Handle* h = Handle::From(info[0]);
  auto sock = h->socket(env);
  auto ref = Keep(info[0]);
  return RunAsync<uint32_t>(
      env,
      [sock]() {
        std::lock_guard<std::mutex> lock(sock->mutex());
        return GetGeneration(*sock);
      },
      [ref](Napi::Env env, uint32_t& g) { return Napi::Number::New(env, g); });
}

template <class T, class F>
static Napi::Array ToArray(Napi::Env env, std::vector<T>& v, F&& conv) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), conv(env, v[i].get()));
  return a;
}

static Napi::Value List(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Handle* h = Handle::From(info[0]);
  auto sock = h->socket(env);
  uint16_t family = static_cast<uint16_t>(info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0);
  std::string table = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  int attempts = info[3].IsNumber() ? std::max(1, info[3].As<Napi::Number>().Int32Value()) : 10;
  auto ref = Keep(info[0]);
  using R = std::shared_ptr<Listing>;
  return RunAsync<R>(
      env,
      [sock, family, table, attempts]() {
        std::lock_guard<std::mutex> lock(sock->mutex());
        return ListRuleset(*sock, family, table, attempts);
      },
      [ref](Napi::Env env, R& l) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("generation", l->generation);
        o.Set("attempts", l->attempts);
        o.Set("tables", ToArray(env, l->tables, TableToJs));
        o.Set("chains", ToArray(env, l->chains, ChainToJs));
        o.Set("objects", ToArray(env, l->objects, ObjToJs));
        o.Set("sets", ToArray(env, l->sets, [](Napi::Env env, nftnl_set* s) {
          Napi::Object so = SetToJs(env, s);
          Napi::Array elems = Napi::Array::New(env);
          struct Ctx { Napi::Env env; Napi::Array* arr; };
          Ctx ctx{env, &elems};
          nftnl_set_elem_foreach(s, [](nftnl_set_elem* e, void* d) {
            Ctx* c = static_cast<Ctx*>(d);
            c->arr->Set(c->arr->Length(), ElemToJs(c->env, e));
            return 0;
          }, &ctx);
          so.Set("elements", elems);
          return so;
        }));
        o.Set("rules", ToArray(env, l->rules, RuleToJs));
        return o;
      });
}

}  // namespace nft

void InitNft(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("encodeBatch", Napi::Function::New(env, nft::EncodeBatch));
  o.Set("commit", Napi::Function::New(env, nft::Commit));
  o.Set("generation", Napi::Function::New(env, nft::Generation));
  o.Set("list", Napi::Function::New(env, nft::List));
  o.Set("setCounters", Napi::Function::New(env, nft::SetCountersJs));
  exports.Set("nft", o);
}

}  // namespace kernlb
