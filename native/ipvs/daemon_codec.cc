// Sync daemons (IPVS_CMD_ATTR_DAEMON), timeouts (IPVS_CMD_ATTR_TIMEOUT_*), info (IPVS_INFO_ATTR_*),
// and the message-level encoder/decoder shared by every command.
#include <linux/genetlink.h>

#include "ipvs/codec.h"

namespace kernlb {
namespace ipvs {

void PutDaemon(MsgWriter& w, const Daemon& d) {
  size_t nest = w.NestStart(IPVS_CMD_ATTR_DAEMON);
  w.PutU32(IPVS_DAEMON_ATTR_STATE, d.state);
  if (!d.ifname.empty()) w.PutStr(IPVS_DAEMON_ATTR_MCAST_IFN, d.ifname);
  w.PutU32(IPVS_DAEMON_ATTR_SYNC_ID, d.syncId);
  if (d.syncMaxLen) w.PutU16(IPVS_DAEMON_ATTR_SYNC_MAXLEN, d.syncMaxLen);
  if (d.groupAf == AF_INET) w.Put(IPVS_DAEMON_ATTR_MCAST_GROUP, d.group.b, 4);  // in_addr, network order
  if (d.groupAf == AF_INET6) w.Put(IPVS_DAEMON_ATTR_MCAST_GROUP6, d.group.b, 16);
  if (d.port) w.PutU16(IPVS_DAEMON_ATTR_MCAST_PORT, d.port);  // host order, like libipvs
  if (d.ttl) w.PutU8(IPVS_DAEMON_ATTR_MCAST_TTL, d.ttl);
  w.NestEnd(nest);
}

Daemon ParseDaemon(const uint8_t* p, size_t len) {
  Daemon d;
  ForEachAttr(p, len, [&](uint16_t type, const uint8_t* v, size_t n) {
    switch (type) {
      case IPVS_DAEMON_ATTR_STATE: if (n >= 4) d.state = ReadU32(v); break;
      case IPVS_DAEMON_ATTR_MCAST_IFN: d.ifname = ReadStr(v, n); break;
      case IPVS_DAEMON_ATTR_SYNC_ID: if (n >= 4) d.syncId = ReadU32(v); break;
      case IPVS_DAEMON_ATTR_SYNC_MAXLEN: if (n >= 2) d.syncMaxLen = ReadU16(v); break;
      case IPVS_DAEMON_ATTR_MCAST_GROUP:
        if (n >= 4) { d.groupAf = AF_INET; d.group = Addr{}; memcpy(d.group.b, v, 4); }
        break;
      case IPVS_DAEMON_ATTR_MCAST_GROUP6:
        if (n >= 16) { d.groupAf = AF_INET6; memcpy(d.group.b, v, 16); }
        break;
      case IPVS_DAEMON_ATTR_MCAST_PORT: if (n >= 2) d.port = ReadU16(v); break;
      case IPVS_DAEMON_ATTR_MCAST_TTL: if (n >= 1) d.ttl = v[0]; break;
    }
  });
  return d;
}

void EncodeOp(MsgWriter& w, uint16_t familyId, const Op& op, uint16_t flags) {
  size_t m = w.Begin(familyId, flags);
  w.Genl(op.cmd, IPVS_GENL_VERSION);
  if (op.hasService) PutService(w, op.service);
  if (op.hasDest) PutDest(w, op.dest);
  if (op.hasDaemon) PutDaemon(w, op.daemon);
  if (op.hasTimeouts) {
    w.PutU32(IPVS_CMD_ATTR_TIMEOUT_TCP, op.timeouts.tcp);
    w.PutU32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, op.timeouts.tcpFin);
    w.PutU32(IPVS_CMD_ATTR_TIMEOUT_UDP, op.timeouts.udp);
  }
  w.End(m);
}

Reply ParseReply(const nlmsghdr* h) {
  Reply r;
  if (h->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN) return r;
  const genlmsghdr* g = static_cast<const genlmsghdr*>(NLMSG_DATA(h));
  const uint8_t* p = reinterpret_cast<const uint8_t*>(g) + GENL_HDRLEN;
  size_t len = h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
  ForEachAttr(p, len, [&](uint16_t type, const uint8_t* v, size_t n) {
    switch (g->cmd) {
      case IPVS_CMD_NEW_SERVICE:
        if (type == IPVS_CMD_ATTR_SERVICE) { r.kind = Reply::kService; r.service = ParseService(v, n); }
        break;
      case IPVS_CMD_NEW_DEST:
        if (type == IPVS_CMD_ATTR_DEST) { r.kind = Reply::kDest; r.dest = ParseDest(v, n); }
        break;
      case IPVS_CMD_NEW_DAEMON:
        if (type == IPVS_CMD_ATTR_DAEMON) { r.kind = Reply::kDaemon; r.daemon = ParseDaemon(v, n); }
        break;
      case IPVS_CMD_SET_CONFIG:  // reply to GET_CONFIG
        r.kind = Reply::kConfig;
        if (n < 4) break;
        if (type == IPVS_CMD_ATTR_TIMEOUT_TCP) r.timeouts.tcp = ReadU32(v);
        if (type == IPVS_CMD_ATTR_TIMEOUT_TCP_FIN) r.timeouts.tcpFin = ReadU32(v);
        if (type == IPVS_CMD_ATTR_TIMEOUT_UDP) r.timeouts.udp = ReadU32(v);
        break;
      case IPVS_CMD_SET_INFO:  // reply to GET_INFO
        r.kind = Reply::kInfo;
        if (n < 4) break;
        if (type == IPVS_INFO_ATTR_VERSION) r.info.version = ReadU32(v);
        if (type == IPVS_INFO_ATTR_CONN_TAB_SIZE) r.info.connTabSize = ReadU32(v);
        break;
    }
  });
  return r;
}

}  // namespace ipvs
}  // namespace kernlb
