#include "netlink/genl.h"

#include <linux/genetlink.h>

namespace kernlb {

void EncodeGetFamily(MsgWriter& w, const std::string& name) {
  size_t m = w.Begin(GENL_ID_CTRL, NLM_F_REQUEST);
  w.Genl(CTRL_CMD_GETFAMILY, 1);
  w.PutStr(CTRL_ATTR_FAMILY_NAME, name);
  w.End(m);
}

GenlFamily ParseFamily(const nlmsghdr* h) {
  GenlFamily f;
  // (A reply shorter than its genl header would make the attribute length wrap around.)
  if (h->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN) return f;
  const uint8_t* p = static_cast<const uint8_t*>(NLMSG_DATA(h)) + GENL_HDRLEN;
  size_t len = h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
  ForEachAttr(p, len, [&](uint16_t type, const uint8_t* v, size_t n) {
    switch (type) {
      case CTRL_ATTR_FAMILY_ID: if (n >= 2) f.id = ReadU16(v); break;
      case CTRL_ATTR_VERSION: if (n >= 4) f.version = ReadU32(v); break;
      case CTRL_ATTR_HDRSIZE: if (n >= 4) f.hdrsize = ReadU32(v); break;
      case CTRL_ATTR_MAXATTR: if (n >= 4) f.maxattr = ReadU32(v); break;
    }
  });
  return f;
}

GenlFamily ResolveGenlFamily(NetlinkSocket& sock, const std::string& name) {
  MsgWriter w;
  EncodeGetFamily(w, name);
  GenlFamily fam;
  try {
    sock.Get(w, "CTRL_CMD_GETFAMILY " + name, [&](const nlmsghdr* h) { fam = ParseFamily(h); });
  } catch (KernelFailure& f) {
    if (f.err == ENOENT && f.extack.empty())
      f.extack = "the kernel has no generic netlink family \"" + name + "\"";
    throw;
  }
  if (fam.id == 0) throw KernelFailure(ENOENT, "CTRL_CMD_GETFAMILY " + name, "no family id in the reply");
  return fam;
}

}  // namespace kernlb
