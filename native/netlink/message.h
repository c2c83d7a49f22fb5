// Netlink message building and attribute parsing. The writer appends any number of messages to one
// buffer (a batch is one buffer, sent with one sendmsg) and records the first encoding error instead
// of throwing mid-message; Finish() reports it.
#pragma once
#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "netlink/error.h"

namespace kernlb {

class MsgWriter {
 public:
  // Starts a message; returns its offset in the buffer. seq is filled in by the socket when sent.
  size_t Begin(uint16_t type, uint16_t flags, uint32_t seq = 0);
  void End(size_t msg);  // fixes nlmsg_len of the message started at `msg`

  // Family headers (written right after Begin).
  void Genl(uint8_t cmd, uint8_t version);
  void Nfgen(uint8_t family, uint16_t resIdBE);
  void Raw(const void* data, size_t len);  // aligned to 4

  void Put(uint16_t type, const void* data, size_t len);
  void PutU8(uint16_t type, uint8_t v) { Put(type, &v, 1); }
  void PutU16(uint16_t type, uint16_t v) { Put(type, &v, 2); }
  void PutU32(uint16_t type, uint32_t v) { Put(type, &v, 4); }
  void PutU64(uint16_t type, uint64_t v) { Put(type, &v, 8); }
  void PutBE16(uint16_t type, uint16_t v);
  void PutBE32(uint16_t type, uint32_t v);
  void PutStr(uint16_t type, const std::string& s);  // NUL-terminated
  size_t NestStart(uint16_t type);
  void NestEnd(size_t nest);

  const std::vector<uint8_t>& data() const { return buf_; }
  std::vector<uint8_t>& data() { return buf_; }
  size_t size() const { return buf_.size(); }
  nlmsghdr* At(size_t off) { return reinterpret_cast<nlmsghdr*>(buf_.data() + off); }
  // Throws InputFailure with the first recorded error, if any.
  void Finish() const;
  void Clear() { buf_.clear(); error_.clear(); }

 private:
  void Pad();
  std::vector<uint8_t> buf_;
  std::string error_;
};

// Iterates the attributes in [data, data+len). The callback gets the type with NLA_F_NESTED and
// NLA_F_NET_BYTEORDER masked off. Malformed trailing bytes end the walk (the kernel never sends them).
template <class F>
void ForEachAttr(const uint8_t* data, size_t len, F&& f) {
  size_t off = 0;
  while (off + NLA_HDRLEN <= len) {
    nlattr a;  // copied: a nest inside an oddly placed payload need not be 2-byte aligned
    memcpy(&a, data + off, sizeof a);
    if (a.nla_len < NLA_HDRLEN || off + a.nla_len > len) break;
    f(static_cast<uint16_t>(a.nla_type & NLA_TYPE_MASK), data + off + NLA_HDRLEN,
      static_cast<size_t>(a.nla_len - NLA_HDRLEN));
    off += NLA_ALIGN(a.nla_len);
  }
}

// Walks the messages in [data, data+len): a header that does not fit, or a length shorter than a header
// or running past the end, ends the walk. f(h) returns true to stop (or nothing, to walk them all).
// Why not NLMSG_OK/NLMSG_NEXT: on a size_t length, NLMSG_NEXT after a last message whose length is
// not a multiple of 4 wraps the remaining length around, and NLMSG_OK then reads past the buffer.
template <class F>
void ForEachMessage(const uint8_t* data, size_t len, F&& f) {
  size_t off = 0;
  while (len - off >= NLMSG_HDRLEN) {
    const nlmsghdr* h = reinterpret_cast<const nlmsghdr*>(data + off);
    if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > len - off) return;
    if constexpr (std::is_void_v<decltype(f(h))>) f(h);
    else if (f(h)) return;
    off += NLMSG_ALIGN(h->nlmsg_len);
    if (off > len) return;
  }
}

inline uint16_t ReadU16(const uint8_t* p) { uint16_t v; memcpy(&v, p, 2); return v; }
inline uint32_t ReadU32(const uint8_t* p) { uint32_t v; memcpy(&v, p, 4); return v; }
inline uint64_t ReadU64(const uint8_t* p) { uint64_t v; memcpy(&v, p, 8); return v; }
inline uint16_t ReadBE16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t ReadBE32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
inline uint64_t ReadBE64(const uint8_t* p) { return (uint64_t(ReadBE32(p)) << 32) | ReadBE32(p + 4); }
inline std::string ReadStr(const uint8_t* p, size_t len) {
  size_t n = strnlen(reinterpret_cast<const char*>(p), len);
  return std::string(reinterpret_cast<const char*>(p), n);
}

// An NLMSG_ERROR message decoded: err is a positive errno, 0 for an ACK.
struct NlErrorInfo {
  int err = 0;
  uint32_t seq = 0;          // seq of the request it answers
  std::string extack;        // NLMSGERR_ATTR_MSG
  int64_t attrOffset = -1;   // NLMSGERR_ATTR_OFFS, relative to the request's start
};
NlErrorInfo ParseError(const nlmsghdr* h);

}  // namespace kernlb
