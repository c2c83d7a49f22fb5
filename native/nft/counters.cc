#include "nft/counters.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "netlink/async.h"
#include "netlink/handle.h"
#include "nft/list.h"

namespace kernlb {
namespace nft {

namespace {

// A `counter` expression's packets and bytes; false for any other expression.
bool Counter(const uint8_t* p, size_t len, double* packets, double* bytes) {
  bool isCounter = false;
  const uint8_t* data = nullptr;
  size_t dataLen = 0;
  ForEachAttr(p, len, [&](uint16_t t, const uint8_t* v, size_t n) {
    if (t == NFTA_EXPR_NAME) isCounter = n >= 8 && memcmp(v, "counter", 8) == 0;
    if (t == NFTA_EXPR_DATA) { data = v; dataLen = n; }
  });
  if (!isCounter || !data) return false;
  ForEachAttr(data, dataLen, [&](uint16_t t, const uint8_t* v, size_t n) {
    if (t == NFTA_COUNTER_PACKETS && n >= 8) *packets = static_cast<double>(ReadBE64(v));
    if (t == NFTA_COUNTER_BYTES && n >= 8) *bytes = static_cast<double>(ReadBE64(v));
  });
  return true;
}

}  // namespace

size_t ParseSetElemCounters(const nlmsghdr* h, SetCounters& out) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) return 0;
  const uint8_t* p = static_cast<const uint8_t*>(NLMSG_DATA(h)) + sizeof(nfgenmsg);
  size_t added = 0;
  ForEachAttr(p, h->nlmsg_len - NLMSG_LENGTH(sizeof(nfgenmsg)), [&](uint16_t type, const uint8_t* v, size_t n) {
    if (type != NFTA_SET_ELEM_LIST_ELEMENTS) return;
    ForEachAttr(v, n, [&](uint16_t, const uint8_t* e, size_t en) {
      uint32_t key = UINT32_MAX;
      double packets = 0, bytes = 0;
      ForEachAttr(e, en, [&](uint16_t et, const uint8_t* x, size_t xn) {
        if (et == NFTA_SET_ELEM_KEY) {
          ForEachAttr(x, xn, [&](uint16_t dt, const uint8_t* d, size_t dn) {
            // (a concatenated key: its first 4 bytes are the slot, the rest kept as bytes)
            if (dt == NFTA_DATA_VALUE && dn >= 4) {
              key = ReadU32(d);
              out.rest.insert(out.rest.end(), d + 4, d + dn);
            }
          });
        }
        // One expression per element comes as NFTA_SET_ELEM_EXPR, several as a list (kernel >= 5.13).
        if (et == NFTA_SET_ELEM_EXPR) Counter(x, xn, &packets, &bytes);
        if (et == NFTA_SET_ELEM_EXPRESSIONS) {
          ForEachAttr(x, xn, [&](uint16_t lt, const uint8_t* l, size_t ln) {
            if (lt == NFTA_LIST_ELEM) Counter(l, ln, &packets, &bytes);
          });
        }
      });
      out.keys.push_back(key);
      out.restEnd.push_back(static_cast<uint32_t>(out.rest.size()));
      out.packets.push_back(packets);
      out.bytes.push_back(bytes);
      added++;
    });
  });
  return added;
}

SetCounters ReadSetCounters(NetlinkSocket& sock, uint8_t family, const std::string& table,
                            const std::vector<std::string>& sets) {
  SetCounters out;
  out.generation = GetGeneration(sock);
  out.count.reserve(sets.size());
  out.keys.reserve(sets.size() * 10);
  out.packets.reserve(sets.size() * 10);
  out.bytes.reserve(sets.size() * 10);
  MsgWriter w;
  for (const std::string& name : sets) {
    w.Clear();
    size_t m = w.Begin(static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM), 0);
    w.Nfgen(family, 0);
    w.PutStr(NFTA_SET_ELEM_LIST_TABLE, table);
    w.PutStr(NFTA_SET_ELEM_LIST_SET, name);
    w.End(m);
    uint32_t n = 0;
    try {
      sock.Dump(w, "NFT_MSG_GETSETELEM", [&](const nlmsghdr* h) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) throw KernelFailure(EBADMSG, "NFT_MSG_GETSETELEM", "a reply shorter than its nfgenmsg header");
        // (each reply carries the low 16 bits of the generation it was read at)
        if (ntohs(static_cast<const nfgenmsg*>(NLMSG_DATA(h))->res_id) != (out.generation & 0xffff)) out.same = false;
        n += static_cast<uint32_t>(ParseSetElemCounters(h, out));
      });
    } catch (const KernelFailure& f) {
      if (f.err != ENOENT) throw;
      out.same = false;  // the set (or table) is gone: the ruleset changed since the caller's record
    }
    if (!out.same) return out;
    out.count.push_back(n);
  }
  out.same = GetGeneration(sock) == out.generation;
  return out;
}

template <class T, class A>
static A Typed(Napi::Env env, const std::vector<T>& v) {
  Napi::ArrayBuffer b = Napi::ArrayBuffer::New(env, v.size() * sizeof(T));
  if (!v.empty()) memcpy(b.Data(), v.data(), v.size() * sizeof(T));
  return A::New(env, v.size(), b, 0);
}

Napi::Value SetCountersJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Handle* h = Handle::From(info[0]);
  auto sock = h->socket(env);
  if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "family: expected a number");
  if (!info[2].IsString()) throw Napi::TypeError::New(env, "table: expected a string");
  if (!info[3].IsArray()) throw Napi::TypeError::New(env, "sets: expected an array of names");
  uint8_t family = static_cast<uint8_t>(info[1].As<Napi::Number>().Uint32Value());
  std::string table = info[2].As<Napi::String>().Utf8Value();
  Napi::Array arr = info[3].As<Napi::Array>();
  auto names = std::make_shared<std::vector<std::string>>();
  names->reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsString()) throw Napi::TypeError::New(env, "sets: expected an array of names");
    names->push_back(v.As<Napi::String>().Utf8Value());
  }
  auto ref = std::make_shared<Napi::ObjectReference>(Napi::Persistent(info[0].As<Napi::Object>()));
  using R = std::shared_ptr<SetCounters>;
  return RunAsync<R>(
      env,
      [sock, family, table, names]() {
        std::lock_guard<std::mutex> lock(sock->mutex());
        return std::make_shared<SetCounters>(ReadSetCounters(*sock, family, table, *names));
      },
      [ref](Napi::Env env, R& c) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("generation", c->generation);
        o.Set("same", c->same);
        o.Set("count", Typed<uint32_t, Napi::Uint32Array>(env, c->count));
        o.Set("keys", Typed<uint32_t, Napi::Uint32Array>(env, c->keys));
        o.Set("rest", Typed<uint8_t, Napi::Uint8Array>(env, c->rest));
        o.Set("restEnd", Typed<uint32_t, Napi::Uint32Array>(env, c->restEnd));
        o.Set("packets", Typed<double, Napi::Float64Array>(env, c->packets));
        o.Set("bytes", Typed<double, Napi::Float64Array>(env, c->bytes));
        return o;
      });
}

}  // namespace nft
}  // namespace kernlb
