// readCounters(handle, v6, table, entries: Uint32Array) -> Promise<{ numEntries, digest, kernelMs,
// counters: Float64Array }>: the packets and bytes of the entries at the given indices (ascending),
// as [packets0, bytes0, packets1, ...], with the entry count and digest of the table they were read
// from (what the caller compares with the table it expects). For status() at scale (issue #21):
// IPT_SO_GET_ENTRIES is the only way to the counters, but nothing of the table is kept or handed to
// JavaScript: the block is walked here and freed (glibc gives a block this big back to the kernel).
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
  for (size_t i = 1; i < want->size(); i++)
    if ((*want)[i] < (*want)[i - 1]) throw Napi::TypeError::New(env, "entries must be ascending");
  using R = std::shared_ptr<EntryCounters>;
  return RunAsync<R>(
      env,
      [ns, v6, table, want]() {
        NetnsGuard in(*ns);
        TableBlob b = GetTable(v6, table);
        std::unique_ptr<uint8_t, decltype(&free)> own(b.inScratch ? nullptr : b.base, &free);
        auto r = std::make_shared<EntryCounters>();
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
