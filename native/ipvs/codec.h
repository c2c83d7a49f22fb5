// IPVS generic-netlink codec: plain C++ descriptions of services, destinations, sync daemons and
// timeouts, encoded into MsgWriter messages and decoded from the kernel's replies. No JS here
// (convert.cc maps these structs to and from JS objects), so the codec runs on worker threads.
#pragma once
#include <linux/ip_vs.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <vector>

#include "netlink/message.h"

namespace kernlb {
namespace ipvs {

// 16 bytes as the kernel carries them (union nf_inet_addr): IPv4 in the first 4 bytes.
struct Addr {
  uint8_t b[16] = {};
};
// Parses text for `af`; false when it is not an address of that family.
bool ParseAddr(int af, const std::string& text, Addr* out);
std::string FormatAddr(int af, const Addr& a);

struct Stats {
  uint64_t conns = 0, inpkts = 0, outpkts = 0, inbytes = 0, outbytes = 0;
  uint64_t cps = 0, inpps = 0, outpps = 0, inbps = 0, outbps = 0;
};

struct Service {
  uint16_t af = AF_INET;
  uint16_t protocol = 0;  // 0 for a fwmark service
  Addr addr;
  uint16_t port = 0;      // host order
  uint32_t fwmark = 0;
  // Attributes, sent with NEW/SET_SERVICE only (hasAttrs); identity alone otherwise.
  bool hasAttrs = false;
  std::string sched;
  uint32_t flags = 0;
  uint32_t timeout = 0;
  uint32_t netmask = 0;   // IPv4: the mask as a host-order number; IPv6: prefix length
  std::string pe;
  // Decode only.
  bool hasStats = false;
  Stats stats;
};

struct Dest {
  uint16_t af = 0;        // address family of the destination (0: same as the service)
  Addr addr;
  uint16_t port = 0;      // host order
  uint32_t fwd = 0;       // IP_VS_CONN_F_MASQ / TUNNEL / DROUTE (LOCALNODE on read)
  int32_t weight = 1;
  uint32_t uthresh = 0, lthresh = 0;
  bool hasTun = false;
  uint8_t tunType = 0;
  uint16_t tunPort = 0;   // host order
  uint16_t tunFlags = 0;
  // Decode only.
  uint32_t activeConns = 0, inactConns = 0, persistConns = 0;
  bool hasStats = false;
  Stats stats;
};

struct Daemon {
  uint32_t state = IP_VS_STATE_MASTER;
  std::string ifname;
  uint32_t syncId = 0;
  uint16_t syncMaxLen = 0;          // 0: not sent (kernel default)
  uint16_t groupAf = 0;             // 0: not sent
  Addr group;
  uint16_t port = 0;                // 0: not sent
  uint8_t ttl = 0;                  // 0: not sent
};

struct Timeouts {
  uint32_t tcp = 0, tcpFin = 0, udp = 0;  // 0 = keep (on write)
};

struct Info {
  uint32_t version = 0;
  uint32_t connTabSize = 0;
};

// One request: a command and whichever parts it carries.
struct Op {
  uint8_t cmd = 0;
  bool hasService = false;
  Service service;
  bool hasDest = false;
  Dest dest;
  bool hasDaemon = false;
  Daemon daemon;
  bool hasTimeouts = false;
  Timeouts timeouts;
};

// Appends one complete genl message for `op` (flags: NLM_F_REQUEST and whatever the caller adds).
void EncodeOp(MsgWriter& w, uint16_t familyId, const Op& op, uint16_t flags);

// Nest encoders (service_codec.cc, dest_codec.cc, daemon_codec.cc).
void PutService(MsgWriter& w, const Service& s);
void PutDest(MsgWriter& w, const Dest& d);
void PutDaemon(MsgWriter& w, const Daemon& d);

// Nest decoders: the nest's payload.
Service ParseService(const uint8_t* p, size_t len);
Dest ParseDest(const uint8_t* p, size_t len);
Daemon ParseDaemon(const uint8_t* p, size_t len);
Stats ParseStats(const uint8_t* p, size_t len);

// A decoded reply message.
struct Reply {
  enum Kind { kNone, kService, kDest, kDaemon, kConfig, kInfo } kind = kNone;
  Service service;
  Dest dest;
  Daemon daemon;
  Timeouts timeouts;
  Info info;
};
Reply ParseReply(const nlmsghdr* h);

const char* CmdName(uint8_t cmd);

}  // namespace ipvs
}  // namespace kernlb
