// IPVS_CMD_ATTR_DEST: a real server. NEW/SET need ADDR, PORT, FWD_METHOD, WEIGHT, U/L_THRESH;
// ADDR_FAMILY (3.18) allows mixed families with tunnelling; TUN_* (5.2/5.3) only for tunnels.
#include "ipvs/codec.h"

namespace kernlb {
namespace ipvs {

void PutDest(MsgWriter& w, const Dest& d) {
  size_t nest = w.NestStart(IPVS_CMD_ATTR_DEST);
  w.Put(IPVS_DEST_ATTR_ADDR, d.addr.b, sizeof d.addr.b);
  w.PutBE16(IPVS_DEST_ATTR_PORT, d.port);
  if (d.af) w.PutU16(IPVS_DEST_ATTR_ADDR_FAMILY, d.af);
  w.PutU32(IPVS_DEST_ATTR_FWD_METHOD, d.fwd & IP_VS_CONN_F_FWD_MASK);
  w.PutU32(IPVS_DEST_ATTR_WEIGHT, static_cast<uint32_t>(d.weight));
  if (d.hasTun) {
    w.PutU8(IPVS_DEST_ATTR_TUN_TYPE, d.tunType);
    w.PutBE16(IPVS_DEST_ATTR_TUN_PORT, d.tunPort);
    w.PutU16(IPVS_DEST_ATTR_TUN_FLAGS, d.tunFlags);
  }
  w.PutU32(IPVS_DEST_ATTR_U_THRESH, d.uthresh);
  w.PutU32(IPVS_DEST_ATTR_L_THRESH, d.lthresh);
  w.NestEnd(nest);
}

Dest ParseDest(const uint8_t* p, size_t len) {
  Dest d;
  ForEachAttr(p, len, [&](uint16_t type, const uint8_t* v, size_t n) {
    switch (type) {
      case IPVS_DEST_ATTR_ADDR: memcpy(d.addr.b, v, n < 16 ? n : 16); break;
      case IPVS_DEST_ATTR_PORT: if (n >= 2) d.port = ReadBE16(v); break;
      case IPVS_DEST_ATTR_ADDR_FAMILY: if (n >= 2) d.af = ReadU16(v); break;
      case IPVS_DEST_ATTR_FWD_METHOD: if (n >= 4) d.fwd = ReadU32(v) & IP_VS_CONN_F_FWD_MASK; break;
      case IPVS_DEST_ATTR_WEIGHT: if (n >= 4) d.weight = static_cast<int32_t>(ReadU32(v)); break;
      case IPVS_DEST_ATTR_U_THRESH: if (n >= 4) d.uthresh = ReadU32(v); break;
      case IPVS_DEST_ATTR_L_THRESH: if (n >= 4) d.lthresh = ReadU32(v); break;
      case IPVS_DEST_ATTR_ACTIVE_CONNS: if (n >= 4) d.activeConns = ReadU32(v); break;
      case IPVS_DEST_ATTR_INACT_CONNS: if (n >= 4) d.inactConns = ReadU32(v); break;
      case IPVS_DEST_ATTR_PERSIST_CONNS: if (n >= 4) d.persistConns = ReadU32(v); break;
      case IPVS_DEST_ATTR_TUN_TYPE: if (n >= 1) { d.tunType = v[0]; d.hasTun = true; } break;
      case IPVS_DEST_ATTR_TUN_PORT: if (n >= 2) d.tunPort = ReadBE16(v); break;
      case IPVS_DEST_ATTR_TUN_FLAGS: if (n >= 2) d.tunFlags = ReadU16(v); break;
      case IPVS_DEST_ATTR_STATS:
        if (!d.hasStats) d.stats = ParseStats(v, n);
        d.hasStats = true;
        break;
      case IPVS_DEST_ATTR_STATS64: d.stats = ParseStats(v, n); d.hasStats = true; break;
    }
  });
  return d;
}

}  // namespace ipvs
}  // namespace kernlb
