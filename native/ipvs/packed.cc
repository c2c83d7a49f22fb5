#include "ipvs/packed.h"

#include <linux/genetlink.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace kernlb {
namespace ipvs {

static void PutStats(uint8_t* rec, uint32_t word, const Stats& s) {
  // Each counter as two words, low then high: JS reads a small counter (the usual case) as one
  // Uint32Array element, which V8 keeps as an inline small integer (a Float64Array read would box
  // every counter in a 16-byte heap number).
  const uint64_t v[10] = {s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes, s.cps, s.inpps, s.outpps, s.inbps, s.outbps};
  for (int i = 0; i < 10; i++) {
    uint32_t w[2] = {static_cast<uint32_t>(v[i]), static_cast<uint32_t>(v[i] >> 32)};
    memcpy(rec + (word + 2 * i) * 4, w, 8);
  }
}

// The first allocation without a buffer to reuse: room for ~29k records, mmap'd by malloc, so only
// the pages written are ever touched.
static constexpr size_t kFirstAlloc = 4 << 20;

static void PutWord(uint8_t* rec, uint32_t word, uint32_t v) { memcpy(rec + word * 4, &v, 4); }

bool AppendDestRecord(const nlmsghdr* h, uint16_t serviceAf, DestRecords& out) {
  if (h->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN) return false;
  const genlmsghdr* g = static_cast<const genlmsghdr*>(NLMSG_DATA(h));
  if (g->cmd != IPVS_CMD_NEW_DEST) return false;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(g) + GENL_HDRLEN;
  size_t len = h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
  bool found = false;
  ForEachAttr(p, len, [&](uint16_t type, const uint8_t* v, size_t n) {
    if (type != IPVS_CMD_ATTR_DEST || found) return;
    found = true;
    Dest d = ParseDest(v, n);
    size_t at = out.size();
    out.resize(at + kDestBytes);
    uint8_t* rec = out.data() + at;
    // Kernels before 3.18 send no ADDR_FAMILY: the destination then has the service's family (never
    // guess IPv6 from the 16-byte address field).
    PutWord(rec, dstw::kAf, d.af ? d.af : serviceAf);
    PutWord(rec, dstw::kPort, d.port);
    PutWord(rec, dstw::kFwd, d.fwd);
    PutWord(rec, dstw::kWeight, static_cast<uint32_t>(d.weight));
    PutWord(rec, dstw::kUThresh, d.uthresh);
    PutWord(rec, dstw::kLThresh, d.lthresh);
    PutWord(rec, dstw::kActive, d.activeConns);
    PutWord(rec, dstw::kInact, d.inactConns);
    PutWord(rec, dstw::kPersist, d.persistConns);
    PutWord(rec, dstw::kTunType, d.hasTun ? d.tunType : kNoTunnel);
    PutWord(rec, dstw::kTunPort, d.tunPort);
    PutWord(rec, dstw::kTunFlags, d.tunFlags);
    memcpy(rec + dstw::kAddr * 4, d.addr.b, 16);
    PutStats(rec, dstw::kStats, d.stats);
  });
  return found;
}

PackedListing::~PackedListing() {
  if (base_ && base_ != reuse_) free(base_);
}

PackedListing::PackedListing(PackedListing&& o) noexcept
    : reuse_(o.reuse_), reuseCap_(o.reuseCap_), base_(o.base_), cap_(o.cap_), len_(o.len_),
      services_(o.services_), nextDest_(o.nextDest_), strings_(std::move(o.strings_)) {
  o.base_ = nullptr;
  o.reuse_ = nullptr;
  o.cap_ = o.len_ = 0;
}

uint8_t* PackedListing::Release() {
  if (!base_ || inReuse()) return nullptr;
  uint8_t* p = base_;
  base_ = nullptr;
  cap_ = len_ = 0;
  return p;
}

// Room for n more bytes. The caller's memory first; then malloc (large blocks are mmap'd, so the
// generous first size costs only the pages written) and realloc (mremap: no copy) to grow.
uint8_t* PackedListing::Reserve(size_t n) {
  if (!base_) {
    if (reuse_ && reuseCap_ >= n) {
      base_ = reuse_;
      cap_ = reuseCap_;
    } else {
      cap_ = std::max<size_t>(n, kFirstAlloc);
      base_ = static_cast<uint8_t*>(malloc(cap_));
      if (!base_) throw std::bad_alloc();
    }
  }
  if (len_ + n > cap_) {
    size_t want = std::max(cap_ * 2, len_ + n);
    uint8_t* p;
    if (base_ == reuse_) {
      p = static_cast<uint8_t*>(malloc(want));
      if (!p) throw std::bad_alloc();
      memcpy(p, base_, len_);
    } else {
      p = static_cast<uint8_t*>(realloc(base_, want));
      if (!p) throw std::bad_alloc();
    }
    base_ = p;
    cap_ = want;
  }
  uint8_t* at = base_ + len_;
  len_ += n;
  return at;
}

uint32_t PackedListing::Intern(const std::string& s) {
  for (size_t i = 0; i < strings_.size(); i++)
    if (strings_[i] == s) return static_cast<uint32_t>(i);
  strings_.push_back(s);
  return static_cast<uint32_t>(strings_.size() - 1);
}

void PackedListing::AddService(const Service& s) {
  if (strings_.empty()) Intern("");  // index 0: no persistence engine
  uint8_t* rec = Reserve(kServiceBytes);
  PutWord(rec, svcw::kAf, s.af);
  PutWord(rec, svcw::kProtocol, s.protocol);
  PutWord(rec, svcw::kPort, s.port);
  PutWord(rec, svcw::kFwmark, s.fwmark);
  PutWord(rec, svcw::kFlags, s.flags);
  PutWord(rec, svcw::kTimeout, s.timeout);
  PutWord(rec, svcw::kNetmask, s.netmask);
  PutWord(rec, svcw::kSched, Intern(s.sched));
  PutWord(rec, svcw::kPe, Intern(s.pe));
  PutWord(rec, svcw::kFirstDest, 0);
  PutWord(rec, svcw::kDestCount, 0);
  PutWord(rec, svcw::kPad, 0);
  memcpy(rec + svcw::kAddr * 4, s.addr.b, 16);
  PutStats(rec, svcw::kStats, s.stats);
  services_++;
}

static uint32_t GetWord(const uint8_t* rec, uint32_t word) {
  uint32_t v;
  memcpy(&v, rec + word * 4, 4);
  return v;
}

Service PackedListing::ServiceKey(size_t i) const {
  const uint8_t* rec = base_ + i * kServiceBytes;
  Service s;
  s.af = static_cast<uint16_t>(GetWord(rec, svcw::kAf));
  s.fwmark = GetWord(rec, svcw::kFwmark);
  if (!s.fwmark) {
    s.protocol = static_cast<uint16_t>(GetWord(rec, svcw::kProtocol));
    s.port = static_cast<uint16_t>(GetWord(rec, svcw::kPort));
    memcpy(s.addr.b, rec + svcw::kAddr * 4, 16);
  }
  return s;
}

void PackedListing::ResetDests() {
  len_ = services_ * kServiceBytes;
  nextDest_ = 0;
  for (size_t i = 0; i < services_; i++) {
    PutWord(base_ + i * kServiceBytes, svcw::kFirstDest, 0);
    PutWord(base_ + i * kServiceBytes, svcw::kDestCount, 0);
  }
}

void PackedListing::SetDests(size_t i, const uint8_t* records, size_t bytes) {
  if (bytes == 0) return;
  uint8_t* at = Reserve(bytes);
  memcpy(at, records, bytes);
  uint8_t* rec = base_ + i * kServiceBytes;
  PutWord(rec, svcw::kFirstDest, static_cast<uint32_t>(nextDest_));
  PutWord(rec, svcw::kDestCount, static_cast<uint32_t>(bytes / kDestBytes));
  nextDest_ += bytes / kDestBytes;
}

}  // namespace ipvs
}  // namespace kernlb
