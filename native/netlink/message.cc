#include "netlink/message.h"

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/netfilter/nfnetlink.h>

namespace kernlb {

void MsgWriter::Pad() { buf_.resize(NLMSG_ALIGN(buf_.size()), 0); }

size_t MsgWriter::Begin(uint16_t type, uint16_t flags, uint32_t seq) {
  Pad();
  size_t off = buf_.size();
  buf_.resize(off + NLMSG_HDRLEN, 0);
  nlmsghdr* h = At(off);
  h->nlmsg_len = NLMSG_HDRLEN;
  h->nlmsg_type = type;
  h->nlmsg_flags = flags;
  h->nlmsg_seq = seq;
  h->nlmsg_pid = 0;
  return off;
}

void MsgWriter::End(size_t msg) {
  Pad();
  At(msg)->nlmsg_len = static_cast<uint32_t>(buf_.size() - msg);
}

void MsgWriter::Raw(const void* data, size_t len) {
  size_t off = buf_.size();
  buf_.resize(off + len);
  if (len) memcpy(buf_.data() + off, data, len);
  Pad();
}

void MsgWriter::Genl(uint8_t cmd, uint8_t version) {
  genlmsghdr g{};
  g.cmd = cmd;
  g.version = version;
  Raw(&g, sizeof g);
}

void MsgWriter::Nfgen(uint8_t family, uint16_t resIdBE) {
  nfgenmsg n{};
  n.nfgen_family = family;
  n.version = NFNETLINK_V0;
  n.res_id = resIdBE;
  Raw(&n, sizeof n);
}

void MsgWriter::Put(uint16_t type, const void* data, size_t len) {
  if (NLA_HDRLEN + len > 0xffff) {
    if (error_.empty()) error_ = "attribute " + std::to_string(type) + " is larger than 65535 bytes";
    return;
  }
  size_t off = buf_.size();
  buf_.resize(off + NLA_HDRLEN + len);
  nlattr* a = reinterpret_cast<nlattr*>(buf_.data() + off);
  a->nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  a->nla_type = type;
  if (len) memcpy(buf_.data() + off + NLA_HDRLEN, data, len);
  Pad();
}

void MsgWriter::PutBE16(uint16_t type, uint16_t v) { v = htons(v); Put(type, &v, 2); }
void MsgWriter::PutBE32(uint16_t type, uint32_t v) { v = htonl(v); Put(type, &v, 4); }
void MsgWriter::PutStr(uint16_t type, const std::string& s) { Put(type, s.c_str(), s.size() + 1); }

size_t MsgWriter::NestStart(uint16_t type) {
  Pad();
  size_t off = buf_.size();
  buf_.resize(off + NLA_HDRLEN, 0);
  nlattr* a = reinterpret_cast<nlattr*>(buf_.data() + off);
  a->nla_type = type | NLA_F_NESTED;
  return off;
}

void MsgWriter::NestEnd(size_t nest) {
  size_t len = buf_.size() - nest;
  if (len > 0xffff) {
    if (error_.empty()) error_ = "nested attribute is larger than 65535 bytes";
    return;
  }
  reinterpret_cast<nlattr*>(buf_.data() + nest)->nla_len = static_cast<uint16_t>(len);
}

void MsgWriter::Finish() const {
  if (!error_.empty()) throw InputFailure(error_);
}

NlErrorInfo ParseError(const nlmsghdr* h) {
  NlErrorInfo info;
  if (h->nlmsg_len < NLMSG_HDRLEN + sizeof(nlmsgerr)) {
    info.err = EBADMSG;
    return info;
  }
  const nlmsgerr* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
  // A negative errno, or 0 for an ACK; anything else is not a kernel's reply (and INT_MIN would not
  // even negate).
  info.err = e->error <= 0 && e->error >= -4095 ? -e->error : EBADMSG;
  info.seq = e->msg.nlmsg_seq;
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return info;
  // With NETLINK_CAP_ACK the original request is not echoed back; otherwise skip its payload too.
  size_t off = NLMSG_HDRLEN + sizeof(nlmsgerr);
  // (The kernel appends the echo padded to 4 bytes: nlmsg_append.)
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
    if (e->msg.nlmsg_len < NLMSG_HDRLEN) return info;
    off += NLMSG_ALIGN(static_cast<size_t>(e->msg.nlmsg_len) - NLMSG_HDRLEN);
  }
  if (off > h->nlmsg_len) return info;
  const uint8_t* base = reinterpret_cast<const uint8_t*>(h);
  ForEachAttr(base + off, h->nlmsg_len - off, [&](uint16_t type, const uint8_t* p, size_t len) {
    if (type == NLMSGERR_ATTR_MSG) info.extack = ReadStr(p, len);
    if (type == NLMSGERR_ATTR_OFFS && len >= 4) info.attrOffset = ReadU32(p);
  });
  return info;
}

}  // namespace kernlb
