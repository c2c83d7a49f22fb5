// libFuzzer harness: IPVS generic-netlink replies (native/ipvs codecs). The first byte chooses: a
// buffer of messages decoded as listings are (services, their destinations packed as listAll packs
// them, daemons, config, info), or a single nest's payload for one nest decoder directly.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ipvs/codec.h"
#include "ipvs/packed.h"

using namespace kernlb;
using namespace kernlb::ipvs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::vector<uint8_t> buf(data + 1, data + size);
  volatile size_t sink = 0;
  switch (data[0] & 7) {
    case 1: sink = sink + ParseService(buf.data(), buf.size()).sched.size(); return 0;
    case 2: sink = sink + ParseDest(buf.data(), buf.size()).port; return 0;
    case 3: sink = sink + ParseDaemon(buf.data(), buf.size()).ifname.size(); return 0;
    case 4: sink = sink + ParseStats(buf.data(), buf.size()).conns; return 0;
    default: break;
  }
  std::vector<Service> services;
  std::vector<DestRecords> dests;
  ForEachMessage(buf.data(), buf.size(), [&](const nlmsghdr* h) {
    Reply r = ParseReply(h);
    switch (r.kind) {
      case Reply::kService:
        sink = sink + FormatAddr(r.service.af, r.service.addr).size();
        services.push_back(std::move(r.service));
        dests.emplace_back();
        break;
      case Reply::kDest:
        sink = sink + FormatAddr(r.dest.af ? r.dest.af : AF_INET, r.dest.addr).size();
        if (!services.empty()) AppendDestRecord(h, services.back().af, dests.back());
        break;
      case Reply::kDaemon: sink = sink + FormatAddr(r.daemon.groupAf, r.daemon.group).size(); break;
      default: break;
    }
  });
  // Half the time into memory "the caller handed back", as listAll reuses the previous listing's.
  std::vector<uint8_t> reuse((data[0] & 8) ? 4096 : 0);
  PackedListing l(reuse.empty() ? nullptr : reuse.data(), reuse.size());
  for (const Service& s : services) l.AddService(s);
  for (size_t i = 0; i < services.size(); i++) {
    Service k = l.ServiceKey(i);
    sink = sink + k.port;
    l.SetDests(i, dests[i]);
  }
  free(l.Release());
  return 0;
}
