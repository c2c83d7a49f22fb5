// The bulk element path: a packed list written by lib/nft/pack.ts (layout documented there) turned
// straight into NEWSETELEM / DELSETELEM messages, with no libnftnl object per element (allocating,
// filling and walking 10^5 element objects and their counter expressions was most of a full apply's
// native time). The bytes are libnftnl 1.2.4's for the same elements (nftnl_set_elems_nlmsg_build_payload_iter:
// test/unit/nft-batch.test.ts compares both), including its quirks: each element's nest is typed by
// its 1-based index in the message, and a message ends before the element that would take the
// elements nest past 65535 bytes. Truncated or inconsistent input is a TypeError naming the element,
// never a read past the buffer.
#include <arpa/inet.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "nft/elem_packed.h"
#include "nft/packed.h"

namespace kernlb {
namespace nft {

namespace {

enum : uint16_t {
  kKey = 1 << 0, kKeyEnd = 1 << 1, kData = 1 << 2, kVerdict = 1 << 3, kChain = 1 << 4, kObjref = 1 << 5,
  kTimeout = 1 << 6, kExpiration = 1 << 7, kFlags = 1 << 8, kUserdata = 1 << 9, kCounter = 1 << 10,
};

constexpr size_t A4(size_t n) { return (n + 3) & ~size_t(3); }

// One element's fields as views into the packed bytes (strings up to their first NUL, as libnftnl
// copies them with strdup).
struct Fields {
  uint16_t mask = 0;
  const uint8_t* key = nullptr;
  uint8_t keyLen = 0;
  const uint8_t* keyEnd = nullptr;
  uint8_t keyEndLen = 0;
  const uint8_t* data = nullptr;
  uint8_t dataLen = 0;
  uint32_t verdict = 0;
  const uint8_t* chain = nullptr;
  size_t chainLen = 0;
  const uint8_t* objref = nullptr;
  size_t objrefLen = 0;
  uint64_t timeout = 0, expiration = 0;
  uint32_t flags = 0;
  const uint8_t* user = nullptr;
  uint8_t userLen = 0;
  uint64_t packets = 0, bytes = 0;

  // The bytes this element's nest takes (header included).
  size_t Size() const {
    size_t n = NLA_HDRLEN;
    if (mask & kFlags) n += 8;
    if (mask & kTimeout) n += 12;
    if (mask & kExpiration) n += 12;
    if (mask & kKey) n += 8 + A4(keyLen);
    if (mask & kKeyEnd) n += 8 + A4(keyEndLen);
    if (mask & kVerdict) n += 16 + ((mask & kChain) ? 4 + A4(chainLen + 1) : 0);
    if (mask & kData) n += 8 + A4(dataLen);
    if (mask & kUserdata) n += 4 + A4(userLen);
    if (mask & kObjref) n += 4 + A4(objrefLen + 1);
    if (mask & kCounter) n += 44;  // EXPR { NAME "counter", DATA { BYTES u64, PACKETS u64 } }
    return n;
  }
};

bool ReadFields(PackedReader& r, Fields& f) {
  f.mask = r.num<uint16_t>();
  auto bytes8 = [&](const uint8_t*& p, uint8_t& n) {
    n = r.num<uint8_t>();
    p = r.take(n);
  };
  auto str16 = [&](const uint8_t*& p, size_t& n) {
    uint16_t len = r.num<uint16_t>();
    p = r.take(len);
    n = p ? strnlen(reinterpret_cast<const char*>(p), len) : 0;
  };
  if (f.mask & kKey) bytes8(f.key, f.keyLen);
  if (f.mask & kKeyEnd) bytes8(f.keyEnd, f.keyEndLen);
  if (f.mask & kData) bytes8(f.data, f.dataLen);
  if (f.mask & kVerdict) f.verdict = static_cast<uint32_t>(r.num<int32_t>());
  if (f.mask & kChain) str16(f.chain, f.chainLen);
  if (f.mask & kObjref) str16(f.objref, f.objrefLen);
  if (f.mask & kTimeout) f.timeout = r.num<uint64_t>();
  if (f.mask & kExpiration) f.expiration = r.num<uint64_t>();
  if (f.mask & kFlags) f.flags = r.num<uint32_t>();
  if (f.mask & kUserdata) bytes8(f.user, f.userLen);
  if (f.mask & kCounter) {
    f.packets = r.num<uint64_t>();
    f.bytes = r.num<uint64_t>();
  }
  // (libnftnl keeps at most 64 bytes of a key or data: NFT_DATA_VALUE_MAXLEN)
  return r.ok && !(f.mask >> 11) && f.keyLen <= 64 && f.keyEndLen <= 64 && f.dataLen <= 64;
}

// Writes attributes at p (room already reserved); padding is written as zeros.
struct AttrOut {
  uint8_t* p;
  uint8_t* Hdr(uint16_t type, size_t len) {
    nlattr a{static_cast<uint16_t>(NLA_HDRLEN + len), type};
    memcpy(p, &a, sizeof a);
    uint8_t* at = p;
    p += NLA_HDRLEN;
    return at;
  }
  void Put(uint16_t type, const void* data, size_t len) {
    Hdr(type, len);
    if (len) memcpy(p, data, len);
    memset(p + len, 0, A4(len) - len);
    p += A4(len);
  }
  void Strz(uint16_t type, const uint8_t* s, size_t len) {
    Hdr(type, len + 1);
    if (len) memcpy(p, s, len);
    memset(p + len, 0, A4(len + 1) - len);
    p += A4(len + 1);
  }
  void U32BE(uint16_t type, uint32_t v) {
    v = htonl(v);
    Put(type, &v, 4);
  }
  void U64BE(uint16_t type, uint64_t v) {
    v = htobe64(v);
    Put(type, &v, 8);
  }
  uint8_t* Nest(uint16_t type) { return Hdr(type | NLA_F_NESTED, 0); }
  void End(uint8_t* nest) {
    uint16_t len = static_cast<uint16_t>(p - nest);
    memcpy(nest, &len, 2);
  }
  void Value(uint16_t type, const uint8_t* b, size_t len) {
    uint8_t* n = Nest(type);
    Put(NFTA_DATA_VALUE, b, len);
    End(n);
  }
};

// The element's nest, in libnftnl's attribute order (nftnl_set_elem_nlmsg_build_payload).
void WriteElem(AttrOut& o, const Fields& f, uint16_t index) {
  uint8_t* nest = o.Nest(index);
  if (f.mask & kFlags) o.U32BE(NFTA_SET_ELEM_FLAGS, f.flags);
  if (f.mask & kTimeout) o.U64BE(NFTA_SET_ELEM_TIMEOUT, f.timeout);
  if (f.mask & kExpiration) o.U64BE(NFTA_SET_ELEM_EXPIRATION, f.expiration);
  if (f.mask & kKey) o.Value(NFTA_SET_ELEM_KEY, f.key, f.keyLen);
  if (f.mask & kKeyEnd) o.Value(NFTA_SET_ELEM_KEY_END, f.keyEnd, f.keyEndLen);
  if (f.mask & kVerdict) {
    uint8_t* data = o.Nest(NFTA_SET_ELEM_DATA);
    uint8_t* verdict = o.Nest(NFTA_DATA_VERDICT);
    o.U32BE(NFTA_VERDICT_CODE, f.verdict);
    if (f.mask & kChain) o.Strz(NFTA_VERDICT_CHAIN, f.chain, f.chainLen);
    o.End(verdict);
    o.End(data);
  }
  if (f.mask & kData) o.Value(NFTA_SET_ELEM_DATA, f.data, f.dataLen);
  if (f.mask & kUserdata) o.Put(NFTA_SET_ELEM_USERDATA, f.user, f.userLen);
  if (f.mask & kObjref) o.Strz(NFTA_SET_ELEM_OBJREF, f.objref, f.objrefLen);
  if (f.mask & kCounter) {
    uint8_t* expr = o.Nest(NFTA_SET_ELEM_EXPR);
    static const uint8_t kName[] = "counter";
    o.Strz(NFTA_EXPR_NAME, kName, sizeof kName - 1);
    uint8_t* data = o.Nest(NFTA_EXPR_DATA);
    o.U64BE(NFTA_COUNTER_BYTES, f.bytes);
    o.U64BE(NFTA_COUNTER_PACKETS, f.packets);
    o.End(data);
    o.End(expr);
  }
  o.End(nest);
}

}  // namespace

void AppendPackedElems(const JsObj& o, const ElemListHeader& h, Batch& b, int item) {
  Napi::Value v = o.raw().Get("packed");
  if (!v.IsBuffer()) o.fail("packed", "expected a Buffer");
  auto buf = v.As<Napi::Buffer<uint8_t>>();
  uint32_t count = o.u32("count");
  if (count == 0) return;  // nothing to send; an empty NEWSETELEM is a no-op anyway
  PackedReader r{buf.Data(), buf.Length()};
  std::vector<uint8_t>& out = b.w.data();
  const size_t setLen = strnlen(h.set.c_str(), h.set.size()), tableLen = strnlen(h.table.c_str(), h.table.size());
  // header, NFTA_SET_ELEM_LIST_SET, _SET_ID, _TABLE, and the elements nest's header
  const size_t head = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)) + NLA_HDRLEN + A4(setLen + 1) +
                      (h.hasSetId ? 8 : 0) + NLA_HDRLEN + A4(tableLen + 1) + NLA_HDRLEN;
  // most of what is written (a packed element is at least a third of its netlink form), growing
  // geometrically: an exact reserve per list would copy the whole batch once per list
  size_t want = NLMSG_ALIGN(out.size()) + 3 * buf.Length() + head * (buf.Length() / 60000 + 2);
  if (want > out.capacity()) out.reserve(std::max(want, 2 * out.capacity()));
  Fields f;
  bool pending = false;  // f holds an element read but not yet written (it did not fit the last message)
  uint32_t done = 0;
  while (done < count) {
    size_t msg = NLMSG_ALIGN(out.size());
    out.resize(msg + head);
    AttrOut a{out.data() + msg};
    nlmsghdr nh{};
    nh.nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | h.cmd);
    nh.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | h.flags);
    memcpy(a.p, &nh, sizeof nh);
    a.p += NLMSG_HDRLEN;
    nfgenmsg g{};
    g.nfgen_family = static_cast<uint8_t>(h.family);
    g.version = NFNETLINK_V0;
    memcpy(a.p, &g, sizeof g);
    a.p += NLMSG_ALIGN(sizeof g);
    a.Strz(NFTA_SET_ELEM_LIST_SET, reinterpret_cast<const uint8_t*>(h.set.data()), setLen);
    if (h.hasSetId) a.U32BE(NFTA_SET_ELEM_LIST_SET_ID, h.setId);
    a.Strz(NFTA_SET_ELEM_LIST_TABLE, reinterpret_cast<const uint8_t*>(h.table.data()), tableLen);
    size_t list = a.p - out.data();
    a.Nest(NFTA_SET_ELEM_LIST_ELEMENTS);
    size_t end = a.p - out.data();
    uint16_t index = 0;
    while (done < count) {
      if (!pending && !ReadFields(r, f)) o.fail("packed", "malformed at element " + std::to_string(done));
      pending = true;
      size_t size = f.Size();
      // libnftnl builds the element, then drops it again when the list's nest passed 65535 bytes
      if (end + size - list > UINT16_MAX) {
        if (index == 0) o.fail("packed", "element " + std::to_string(done) + " does not fit in one message");
        break;
      }
      out.resize(end + size);
      AttrOut e{out.data() + end};
      WriteElem(e, f, ++index);
      end += size;
      pending = false;
      done++;
    }
    uint16_t listLen = static_cast<uint16_t>(end - list);
    memcpy(out.data() + list, &listLen, 2);
    uint32_t len = static_cast<uint32_t>(end - msg);
    memcpy(out.data() + msg, &len, 4);
    b.itemOfMsg.push_back(item);
  }
  if (r.off != r.len) o.fail("packed", "trailing bytes after " + std::to_string(count) + " elements");
}

}  // namespace nft
}  // namespace kernlb
