// Generic netlink family resolution (CTRL_CMD_GETFAMILY). Cached per handle by the caller, never
// globally: family ids differ between namespaces' kernels only in theory, but a handle is the unit.
#pragma once
#include <cstdint>
#include <string>

#include "netlink/message.h"
#include "netlink/socket.h"

namespace kernlb {

struct GenlFamily {
  uint16_t id = 0;
  uint32_t version = 0;
  uint32_t hdrsize = 0;
  uint32_t maxattr = 0;
};

void EncodeGetFamily(MsgWriter& w, const std::string& name);
GenlFamily ParseFamily(const nlmsghdr* h);
// Throws KernelFailure(ENOENT) with a readable text when the kernel has no such family.
GenlFamily ResolveGenlFamily(NetlinkSocket& sock, const std::string& name);

}  // namespace kernlb
