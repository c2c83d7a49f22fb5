// IPVS_CMD_ATTR_SERVICE: identity (AF + FWMARK, or AF + PROTOCOL + ADDR + PORT) and, for NEW/SET,
// the attributes the kernel insists on (SCHED_NAME, FLAGS, TIMEOUT, NETMASK: missing = EINVAL).
#include "ipvs/codec.h"

namespace kernlb {
namespace ipvs {

void PutService(MsgWriter& w, const Service& s) {
  size_t nest = w.NestStart(IPVS_CMD_ATTR_SERVICE);
  w.PutU16(IPVS_SVC_ATTR_AF, s.af);
  if (s.fwmark) {
    w.PutU32(IPVS_SVC_ATTR_FWMARK, s.fwmark);
  } else {
    w.PutU16(IPVS_SVC_ATTR_PROTOCOL, s.protocol);
    w.Put(IPVS_SVC_ATTR_ADDR, s.addr.b, sizeof s.addr.b);  // always 16 bytes, like the kernel emits
    w.PutBE16(IPVS_SVC_ATTR_PORT, s.port);
  }
  if (s.hasAttrs) {
    w.PutStr(IPVS_SVC_ATTR_SCHED_NAME, s.sched);
    if (!s.pe.empty()) w.PutStr(IPVS_SVC_ATTR_PE_NAME, s.pe);
    // Full mask: the kernel applies (old & ~mask) | (flags & mask), we set the whole word.
    ip_vs_flags f{s.flags, 0xffffffffu};
    w.Put(IPVS_SVC_ATTR_FLAGS, &f, sizeof f);
    w.PutU32(IPVS_SVC_ATTR_TIMEOUT, s.timeout);
    // IPv4: a network-order mask; IPv6: a prefix length as a native-endian u32 (libipvs does the same).
    if (s.af == AF_INET6) w.PutU32(IPVS_SVC_ATTR_NETMASK, s.netmask);
    else w.PutBE32(IPVS_SVC_ATTR_NETMASK, s.netmask);
  }
  w.NestEnd(nest);
}

Service ParseService(const uint8_t* p, size_t len) {
  Service s;
  const uint8_t* mask = nullptr;
  ForEachAttr(p, len, [&](uint16_t type, const uint8_t* v, size_t n) {
    switch (type) {
      case IPVS_SVC_ATTR_AF: if (n >= 2) s.af = ReadU16(v); break;
      case IPVS_SVC_ATTR_PROTOCOL: if (n >= 2) s.protocol = ReadU16(v); break;
      case IPVS_SVC_ATTR_ADDR: memcpy(s.addr.b, v, n < 16 ? n : 16); break;
      case IPVS_SVC_ATTR_PORT: if (n >= 2) s.port = ReadBE16(v); break;
      case IPVS_SVC_ATTR_FWMARK: if (n >= 4) s.fwmark = ReadU32(v); break;
      case IPVS_SVC_ATTR_SCHED_NAME: s.sched = ReadStr(v, n); s.hasAttrs = true; break;
      case IPVS_SVC_ATTR_PE_NAME: s.pe = ReadStr(v, n); break;
      case IPVS_SVC_ATTR_FLAGS: if (n >= 4) s.flags = ReadU32(v); break;
      case IPVS_SVC_ATTR_TIMEOUT: if (n >= 4) s.timeout = ReadU32(v); break;
      case IPVS_SVC_ATTR_NETMASK: if (n >= 4) mask = v; break;
      case IPVS_SVC_ATTR_STATS:
        if (!s.hasStats) s.stats = ParseStats(v, n);  // 32-bit counters: only if STATS64 is absent
        s.hasStats = true;
        break;
      case IPVS_SVC_ATTR_STATS64: s.stats = ParseStats(v, n); s.hasStats = true; break;
    }
  });
  if (mask) s.netmask = s.af == AF_INET6 ? ReadU32(mask) : ReadBE32(mask);  // AF may come after it
  return s;
}

}  // namespace ipvs
}  // namespace kernlb
