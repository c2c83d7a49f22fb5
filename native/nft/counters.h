// Counters of set elements read without libnftnl (status() of the load balancer's slot maps: issue
// #21). One NFT_MSG_GETSETELEM dump per set (the kernel dumps one named set per request), walked in
// place; out come packed arrays, never an object per element.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "netlink/socket.h"

namespace kernlb {
namespace nft {

struct SetCounters {
  uint32_t generation = 0;
  // False when the ruleset moved during the read (a reply of another generation, a set gone, the
  // generation read after the dumps differs): the caller then reads the whole table instead.
  bool same = true;
  std::vector<uint32_t> count;  // elements per set, in the order asked
  std::vector<uint32_t> keys;   // a key's first 4 bytes in host order (the slot); UINT32_MAX for a shorter key
  // The bytes after those 4 (a shard map's `VIP . port`), element i's at [restEnd[i-1], restEnd[i]).
  std::vector<uint8_t> rest;
  std::vector<uint32_t> restEnd;
  std::vector<double> packets;  // 0 for an element without a counter
  std::vector<double> bytes;
};

// Walks one NEWSETELEM reply, appending its elements to `out` (pure: unit-tested on built messages too).
size_t ParseSetElemCounters(const nlmsghdr* h, SetCounters& out);
SetCounters ReadSetCounters(NetlinkSocket& sock, uint8_t family, const std::string& table,
                            const std::vector<std::string>& sets);
// JS: setCounters(handle, family, table, names[]) -> Promise<{ generation, same, count, keys, rest, restEnd, packets, bytes }>
Napi::Value SetCountersJs(const Napi::CallbackInfo& info);

}  // namespace nft
}  // namespace kernlb
