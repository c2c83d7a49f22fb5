// A listing of services and destinations packed into one flat buffer of fixed-size records, written
// on the worker thread and decoded by TypeScript (lib/ipvs/packed.ts) straight into the public
// model. Why: a big listing used to cost ~4 JS objects per destination built property by property
// through N-API, plus C++ vectors per service, plus a TypeScript copy; in User-mode Linux every
// fresh page costs ~80 us, so the bytes touched per call were the bill. Now the worker touches one
// buffer, reused across calls (the caller hands back the previous one), and JS builds each object
// once from a literal.
//
// Layout (host byte order; word = u32; a counter = two words, low then high):
//   services: count x kServiceWords words, then destinations: kDestWords words each, grouped by
//   service (a service's record holds the index of its first destination and their count).
// The word offsets below are mirrored by lib/ipvs/packed.ts (and checked by a unit test).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ipvs/codec.h"

namespace kernlb {
namespace ipvs {

namespace svcw {  // service record words
enum : uint32_t {
  kAf, kProtocol, kPort, kFwmark, kFlags, kTimeout, kNetmask, kSched, kPe, kFirstDest, kDestCount, kPad,
  kAddr,            // 4 words: the 16 address bytes as the kernel sent them
  kStats = 16,      // 10 counters (20 words): conns, inpkts, outpkts, inbytes, outbytes, cps, inpps, outpps, inbps, outbps
  kWords = 36
};
}  // namespace svcw
namespace dstw {  // destination record words
enum : uint32_t {
  kAf, kPort, kFwd, kWeight, kUThresh, kLThresh, kActive, kInact, kPersist, kTunType, kTunPort, kTunFlags,
  kAddr,            // 4 words
  kStats = 16,      // 10 counters
  kWords = 36
};
}  // namespace dstw
constexpr uint32_t kNoTunnel = 0xffffffffu;  // kTunType of a destination the kernel sent no TUN_TYPE for
constexpr size_t kServiceBytes = svcw::kWords * 4;
constexpr size_t kDestBytes = dstw::kWords * 4;

// Destination records of one service, collected apart while dumps interleave (dest_fanout.cc).
using DestRecords = std::vector<uint8_t>;

// Appends the record of the NEW_DEST reply `h` to `out`; false for any other message.
bool AppendDestRecord(const nlmsghdr* h, uint16_t serviceAf, DestRecords& out);

class PackedListing {
 public:
  // `reuse`/`reuseCap`: memory of an earlier listing the caller owns and lets us overwrite (it stays
  // the caller's); nullptr for none. Anything larger is malloc'd here and handed over by Release().
  PackedListing(uint8_t* reuse, size_t reuseCap) : reuse_(reuse), reuseCap_(reuseCap) {}
  ~PackedListing();
  PackedListing(const PackedListing&) = delete;
  PackedListing& operator=(const PackedListing&) = delete;
  PackedListing(PackedListing&& o) noexcept;
  PackedListing& operator=(PackedListing&& o) = delete;

  // Appends a service's record: every service comes before the first destination (SetDests).
  void AddService(const Service& s);
  // Service i's identity (family and fwmark, or protocol, address and port), read back from its record.
  Service ServiceKey(size_t i) const;
  // Appends service i's destination records (all at once: a service's records are contiguous).
  void SetDests(size_t i, const uint8_t* records, size_t bytes);
  void SetDests(size_t i, const DestRecords& r) { SetDests(i, r.data(), r.size()); }

  // Forgets every destination record (a fan-out that gave up half-way is redone by the plain path).
  void ResetDests();

  size_t services() const { return services_; }
  size_t bytes() const { return len_; }
  const std::vector<std::string>& strings() const { return strings_; }
  uint8_t* data() { return base_; }
  // True when the records are in the caller's memory (nothing to hand over).
  bool inReuse() const { return base_ == reuse_ && reuse_ != nullptr; }
  // Hands a malloc'd buffer over to the caller (free() it); nullptr when inReuse() or empty.
  uint8_t* Release();

 private:
  uint32_t Intern(const std::string& s);
  uint8_t* Reserve(size_t n);
  uint8_t* reuse_;
  size_t reuseCap_;
  uint8_t* base_ = nullptr;
  size_t cap_ = 0;
  size_t len_ = 0;
  size_t services_ = 0;
  size_t nextDest_ = 0;
  std::vector<std::string> strings_;
};

}  // namespace ipvs
}  // namespace kernlb
