#include <arpa/inet.h>

#include "ipvs/codec.h"

namespace kernlb {
namespace ipvs {

bool ParseAddr(int af, const std::string& text, Addr* out) {
  *out = Addr{};
  if (af == AF_INET) return inet_pton(AF_INET, text.c_str(), out->b) == 1;
  if (af == AF_INET6) return inet_pton(AF_INET6, text.c_str(), out->b) == 1;
  return false;
}

std::string FormatAddr(int af, const Addr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(af == AF_INET6 ? AF_INET6 : AF_INET, a.b, buf, sizeof buf)) return "";
  return buf;
}

const char* CmdName(uint8_t cmd) {
  switch (cmd) {
    case IPVS_CMD_NEW_SERVICE: return "IPVS_CMD_NEW_SERVICE";
    case IPVS_CMD_SET_SERVICE: return "IPVS_CMD_SET_SERVICE";
    case IPVS_CMD_DEL_SERVICE: return "IPVS_CMD_DEL_SERVICE";
    case IPVS_CMD_GET_SERVICE: return "IPVS_CMD_GET_SERVICE";
    case IPVS_CMD_NEW_DEST: return "IPVS_CMD_NEW_DEST";
    case IPVS_CMD_SET_DEST: return "IPVS_CMD_SET_DEST";
    case IPVS_CMD_DEL_DEST: return "IPVS_CMD_DEL_DEST";
    case IPVS_CMD_GET_DEST: return "IPVS_CMD_GET_DEST";
    case IPVS_CMD_NEW_DAEMON: return "IPVS_CMD_NEW_DAEMON";
    case IPVS_CMD_DEL_DAEMON: return "IPVS_CMD_DEL_DAEMON";
    case IPVS_CMD_GET_DAEMON: return "IPVS_CMD_GET_DAEMON";
    case IPVS_CMD_SET_CONFIG: return "IPVS_CMD_SET_CONFIG";
    case IPVS_CMD_GET_CONFIG: return "IPVS_CMD_GET_CONFIG";
    case IPVS_CMD_SET_INFO: return "IPVS_CMD_SET_INFO";
    case IPVS_CMD_GET_INFO: return "IPVS_CMD_GET_INFO";
    case IPVS_CMD_ZERO: return "IPVS_CMD_ZERO";
    case IPVS_CMD_FLUSH: return "IPVS_CMD_FLUSH";
  }
  return "IPVS_CMD_UNKNOWN";
}

}  // namespace ipvs
}  // namespace kernlb
