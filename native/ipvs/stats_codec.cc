// IPVS_*_ATTR_STATS (u32 counters) and STATS64 (u64, padded with IPVS_STATS_ATTR_PAD, which the
// walk below ignores). The width is taken from each attribute's length, so one parser serves both.
#include "ipvs/codec.h"

namespace kernlb {
namespace ipvs {

static uint64_t ReadCounter(const uint8_t* v, size_t n) {
  if (n >= 8) return ReadU64(v);
  if (n >= 4) return ReadU32(v);
  return 0;
}

Stats ParseStats(const uint8_t* p, size_t len) {
  Stats s;
  ForEachAttr(p, len, [&](uint16_t type, const uint8_t* v, size_t n) {
    switch (type) {
      case IPVS_STATS_ATTR_CONNS: s.conns = ReadCounter(v, n); break;
      case IPVS_STATS_ATTR_INPKTS: s.inpkts = ReadCounter(v, n); break;
      case IPVS_STATS_ATTR_OUTPKTS: s.outpkts = ReadCounter(v, n); break;
      case IPVS_STATS_ATTR_INBYTES: s.inbytes = ReadCounter(v, n); break;
      case IPVS_STATS_ATTR_OUTBYTES: s.outbytes = ReadCounter(v, n); break;
      case IPVS_STATS_ATTR_CPS: s.cps = ReadCounter(v, n); break;
      case IPVS_STATS_ATTR_INPPS: s.inpps = ReadCounter(v, n); break;
      case IPVS_STATS_ATTR_OUTPPS: s.outpps = ReadCounter(v, n); break;
      case IPVS_STATS_ATTR_INBPS: s.inbps = ReadCounter(v, n); break;
      case IPVS_STATS_ATTR_OUTBPS: s.outbps = ReadCounter(v, n); break;
      default: break;  // IPVS_STATS_ATTR_PAD and anything newer
    }
  });
  return s;
}

}  // namespace ipvs
}  // namespace kernlb
