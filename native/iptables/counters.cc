// readCounters(handle, v6, table, entries: Uint32Array, over?: Buffer) -> Promise<{ numEntries, digest,
// kernelMs, over: boolean, counters: Float64Array }>: the packets and bytes of the entries at the given indices (ascending),
// as [packets0, bytes0, packets1, ...], with the entry count and digest of the table they were read
// from (what the caller compares with the table it expects). For status() at scale (issue #21):
// IPT_SO_GET_ENTRIES is the only way to the counters, but nothing of the table is kept or handed to
// JavaScript: the block is walked here and freed (glibc gives a block this big back to the kernel).
// `over`: the whole ipt_replace this process committed and keeps (a splice's layout): when the
// kernel's table has its size, the entries are read over it (GetTableOver: no fresh block, whose
// page faults cost ~100-200 ms at 10k services); `over` in the result says they were, and then,
// if the digest is not the caller's, the buffer holds someone else's table.
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "iptables/table_io.h"
#include "netlink/async.h"
#include "netlink/handle.h"

namespace kernlb {
namespace iptables {

struct EntryCounters {
  uint32_t numEntries = 0;
  uint64_t digest = 0;
  double kernelMs = 0;
  bool over = false;
  std::vector<double> counters;
};

// Pure: the counters of entries `want` (ascending indices) of a table's entries.
void CountersAt(bool v6, const uint8_t* entries, size_t length, const std::vector<uint32_t>& want, std::vector<double>& out) {
  const size_t nextOff = v6 ? offsetof(ip6t_entry, next_offset) : offsetof(ipt_entry, next_offset);
  const size_t countersOff = v6 ? offsetof(ip6t_entry, counters) : offsetof(ipt_entry, counters);
  const size_t headSize = v6 ? sizeof(ip6t_entry) : sizeof(ipt_entry);
  out.assign(want.size() * 2, 0);
  size_t off = 0, w = 0;
  for (uint32_t i = 0; w < want.size() && off + headSize <= length; i++) {
    const uint8_t* e = entries + off;
    if (i == want[w]) {
      xt_counters c;
      memcpy(&c, e + countersOff, sizeof c);
      for (; w < want.size() && want[w] == i; w++) {
        out[2 * w] = static_cast<double>(c.pcnt);
        out[2 * w + 1] = static_cast<double>(c.bcnt);
      }
    }
    uint16_t next;
    memcpy(&next, e + nextOff, 2);
    if (next < headSize) break;
    off += next;
  }
}

namespace {

Napi::Value ReadCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Handle* h = Handle::From(info[0]);
  if (!info[1].IsBoolean()) throw Napi::TypeError::New(env, "v6 must be a boolean");
  if (!info[2].IsString()) throw Napi::TypeError::New(env, "table must be a string");
  if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(env, "entries must be a Uint32Array");
  auto ns = h->netns();
  const bool v6 = info[1].As<Napi::Boolean>();
  const std::string table = info[2].As<Napi::String>();
  Napi::Uint32Array idx = info[3].As<Napi::Uint32Array>();
  auto want = std::make_shared<std::vector<uint32_t>>(idx.Data(), idx.Data() + idx.ElementLength());
  uint8_t* over = nullptr;
  size_t overLength = 0;
  // (The buffer stays referenced until the job is destroyed, on the JS thread.)
  auto refs = std::make_shared<std::vector<Napi::ObjectReference>>();
  if (info.Length() > 4 && info[4].IsBuffer()) {
    auto b = info[4].As<Napi::Buffer<uint8_t>>();
    if (b.Length() < sizeof(ipt_replace)) throw Napi::TypeError::New(env, "over must be a whole ipt_replace");
    over = b.Data();
    overLength = b.Length();
    refs->push_back(Napi::Persistent(b.As<Napi::Object>()));
  }
  for (size_t i = 1; i < want->size(); i++)
    if ((*want)[i] < (*want)[i - 1]) throw Napi::TypeError::New(env, "entries must be ascending");
  using R = std::shared_ptr<EntryCounters>;
  return RunAsync<R>(
      env,
      [ns, v6, table, want, over, overLength, refs]() {
        NetnsGuard in(*ns);
        auto r = std::make_shared<EntryCounters>();
        TableBlob b;
        r->over = over != nullptr && GetTableOver(v6, table, over + sizeof(ipt_replace), overLength - sizeof(ipt_replace), b);
        const double infoMs = r->over ? 0 : b.kernelMs;
        if (!r->over) {
          b = GetTable(v6, table);
          b.kernelMs += infoMs;
        }
        std::unique_ptr<uint8_t, decltype(&free)> own(b.inScratch ? nullptr : b.base, &free);
        r->numEntries = b.info.numEntries;
        r->digest = b.digest;
        r->kernelMs = b.kernelMs;
        CountersAt(v6, b.entries, b.length, *want, r->counters);
        return r;
      },
      [](Napi::Env env, R& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("numEntries", r->numEntries);
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, r->digest);
        o.Set("digest", hex);
        o.Set("kernelMs", r->kernelMs);
        o.Set("over", r->over);
        Napi::Float64Array c = Napi::Float64Array::New(env, r->counters.size());
        if (!r->counters.empty()) memcpy(c.Data(), r->counters.data(), r->counters.size() * sizeof(double));
        o.Set("counters", c);
        return o;
      });
}

}  // namespace

void AddCounters(Napi::Env env, Napi::Object o) { o.Set("readCounters", Napi::Function::New(env, ReadCounters)); }

}  // namespace iptables
}  // namespace kernlb
