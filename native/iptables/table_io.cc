#include "iptables/table_io.h"

// netinet/in.h before the linux headers: the other order redefines struct in_addr.
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "netlink/error.h"

namespace kernlb {
namespace iptables {

std::mutex& XtMutex() {
  static std::mutex mu;
  return mu;
}

namespace {

// The raw socket libiptc would open: one per call, closed on every path.
class RawSocket {
 public:
  explicit RawSocket(bool v6) {
    fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd_ < 0) throw KernelFailure(errno, "open raw socket for x_tables");
  }
  ~RawSocket() { close(fd_); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

int Level(bool v6) { return v6 ? IPPROTO_IPV6 : IPPROTO_IP; }

void CheckName(const std::string& table) {
  if (table.empty() || table.size() >= XT_TABLE_MAXNAMELEN) throw InputFailure("bad table name: " + table);
}

// ipt_getinfo and ip6t_getinfo have the same layout; so do the get_entries/replace headers.
static_assert(sizeof(ipt_getinfo) == sizeof(ip6t_getinfo), "getinfo layouts differ");
static_assert(sizeof(ipt_replace) == sizeof(ip6t_replace), "replace layouts differ");
static_assert(sizeof(ipt_get_entries) == sizeof(ip6t_get_entries), "get_entries layouts differ");

TableInfo InfoLocked(int fd, bool v6, const std::string& table, double* kernelMs = nullptr) {
  ipt_getinfo gi;
  memset(&gi, 0, sizeof gi);
  strncpy(gi.name, table.c_str(), sizeof gi.name - 1);
  socklen_t len = sizeof gi;
  const double t0 = kernelMs ? NowMs() : 0;
  const int rc = getsockopt(fd, Level(v6), IPT_SO_GET_INFO, &gi, &len);
  if (kernelMs) *kernelMs += NowMs() - t0;
  if (rc != 0) throw KernelFailure(errno, v6 ? "IP6T_SO_GET_INFO" : "IPT_SO_GET_INFO");
  TableInfo info;
  info.validHooks = gi.valid_hooks;
  for (int i = 0; i < kHooks; i++) {
    info.hookEntry[i] = gi.hook_entry[i];
    info.underflow[i] = gi.underflow[i];
  }
  info.numEntries = gi.num_entries;
  info.size = gi.size;
  return info;
}

TableBlob GetLocked(int fd, bool v6, const std::string& table, uint8_t* scratch = nullptr, size_t scratchLength = 0) {
  // The table can change between GET_INFO and GET_ENTRIES (the kernel then says EAGAIN because the
  // size differs): bounded retries.
  double kernelMs = 0;
  for (int attempt = 0;; attempt++) {
    TableInfo info = InfoLocked(fd, v6, table, &kernelMs);
    size_t total = sizeof(ipt_get_entries) + info.size;
    // Zeroed (calloc: fresh pages for big tables, no memset): the kernel writes an extension's name
    // only up to its NUL (xt_obj_to_user), so the rest of the field keeps what the buffer held, and
    // the digest must see the same bytes every time. The entries are then handed to JavaScript in
    // place, without a second copy (a 10k-service table is ~200 MB).
    const bool inScratch = scratch != nullptr && total <= scratchLength;
    // Room to spare (never touched, so it costs no page): the block is kept by JavaScript as its
    // blob arena, and the next read or commit of a table that grew a little still fits.
    const size_t capacity = total + total / 8 + 4096;
    std::unique_ptr<uint8_t, decltype(&free)> buf(inScratch ? nullptr : static_cast<uint8_t*>(calloc(1, capacity)), &free);
    if (inScratch) memset(scratch, 0, total);
    else if (!buf) throw KernelFailure(ENOMEM, "allocate table buffer");
    uint8_t* block = inScratch ? scratch : buf.get();
    auto* ge = reinterpret_cast<ipt_get_entries*>(block);
    strncpy(ge->name, table.c_str(), sizeof ge->name - 1);
    ge->size = info.size;
    socklen_t len = static_cast<socklen_t>(total);
    const double t0 = NowMs();
    const int rc = getsockopt(fd, Level(v6), IPT_SO_GET_ENTRIES, ge, &len);
    const int e = errno;
    kernelMs += NowMs() - t0;
    if (rc != 0) {
      if (e == EAGAIN && attempt < 8) continue;
      throw KernelFailure(e, v6 ? "IP6T_SO_GET_ENTRIES" : "IPT_SO_GET_ENTRIES");
    }
    TableBlob out;
    out.info = info;
    out.length = info.size;
    out.inScratch = inScratch;
    out.capacity = inScratch ? scratchLength : capacity;
    out.base = inScratch ? scratch : buf.release();
    out.entries = out.base + sizeof(ipt_get_entries);
    out.digest = DigestEntries(v6, out.entries, out.length);
    out.kernelMs = kernelMs;
    return out;
  }
}

}  // namespace

double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}


uint64_t DigestEntries(bool v6, const uint8_t* entries, size_t length) {
  // 8-byte words (entries are 8-aligned) mixed with a multiply-xor into four independent lanes, so
  // that the multiplications overlap (one chain was latency-bound: ~40 ms for a 160 MB table).
  // Counters (16 bytes) and comefrom (4 bytes, set by the kernel's loop check) are skipped.
  const size_t countersWord = (v6 ? offsetof(ip6t_entry, counters) : offsetof(ipt_entry, counters)) / 8;
  const size_t comefromOff = v6 ? offsetof(ip6t_entry, comefrom) : offsetof(ipt_entry, comefrom);
  const size_t comefromWord = comefromOff / 8;
  const size_t nextOff = v6 ? offsetof(ip6t_entry, next_offset) : offsetof(ipt_entry, next_offset);
  const size_t headSize = v6 ? sizeof(ip6t_entry) : sizeof(ipt_entry);
  static_assert(offsetof(ipt_entry, counters) % 8 == 0 && offsetof(ip6t_entry, counters) % 8 == 0, "counters not word-aligned");
  // Little-endian load: comefrom's bytes within its word.
  const uint64_t comefromMask = ~(0xffffffffULL << ((comefromOff % 8) * 8));
  constexpr uint64_t kMul = 0xff51afd7ed558ccdULL;
  uint64_t lane[4] = {0x9e3779b97f4a7c15ULL ^ length, 0xc2b2ae3d27d4eb4fULL, 0x165667b19e3779f9ULL, 0x27d4eb2f165667c5ULL};
  size_t k = 0;
  auto mix = [&](uint64_t w) {
    uint64_t h = lane[k] ^ w;
    h *= kMul;
    lane[k] = h ^ (h >> 32);
    k = (k + 1) & 3;
  };
  size_t off = 0;
  while (off + headSize <= length) {
    const uint8_t* e = entries + off;
    uint16_t next;
    memcpy(&next, e + nextOff, 2);
    if (next < headSize || off + next > length) break;
    const size_t words = next / 8;
    for (size_t i = 0; i < words; i++) {
      if (i == countersWord) {
        i++;
        continue;
      }
      uint64_t w;
      memcpy(&w, e + i * 8, 8);
      if (i == comefromWord) w &= comefromMask;
      mix(w);
    }
    off += next;
  }
  uint64_t h = lane[0];
  for (int i = 1; i < 4; i++) {
    h ^= lane[i] + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= kMul;
    h ^= h >> 29;
  }
  return h;
}

TableInfo GetTableInfo(bool v6, const std::string& table) {
  CheckName(table);
  std::lock_guard<std::mutex> lock(XtMutex());
  RawSocket s(v6);
  return InfoLocked(s.fd(), v6, table);
}

TableBlob GetTable(bool v6, const std::string& table, uint8_t* scratch, size_t scratchLength) {
  CheckName(table);
  std::lock_guard<std::mutex> lock(XtMutex());
  RawSocket s(v6);
  return GetLocked(s.fd(), v6, table, scratch, scratchLength);
}

size_t EntriesOffset() { return sizeof(ipt_get_entries); }

bool GetTableOver(bool v6, const std::string& table, uint8_t* entries, size_t length, TableBlob& out) {
  CheckName(table);
  std::lock_guard<std::mutex> lock(XtMutex());
  RawSocket s(v6);
  double kernelMs = 0;
  out.info = InfoLocked(s.fd(), v6, table, &kernelMs);
  out.kernelMs = kernelMs;
  if (out.info.size != length) return false;
  // The get_entries header goes where the caller's bytes before the entries are (the replace
  // header's tail): kept aside and put back, whatever happens.
  uint8_t saved[sizeof(ipt_get_entries)];
  uint8_t* block = entries - sizeof(ipt_get_entries);
  memcpy(saved, block, sizeof saved);
  auto* ge = reinterpret_cast<ipt_get_entries*>(block);
  memset(ge->name, 0, sizeof ge->name);
  strncpy(ge->name, table.c_str(), sizeof ge->name - 1);
  ge->size = out.info.size;
  socklen_t len = static_cast<socklen_t>(sizeof(ipt_get_entries) + length);
  const double t0 = NowMs();
  const int rc = getsockopt(s.fd(), Level(v6), IPT_SO_GET_ENTRIES, ge, &len);
  const int e = errno;
  out.kernelMs += NowMs() - t0;
  memcpy(block, saved, sizeof saved);
  // (EAGAIN: the size changed since GET_INFO, checked before the kernel copies anything.)
  if (rc != 0 && e == EAGAIN) return false;
  if (rc != 0) throw KernelFailure(e, v6 ? "IP6T_SO_GET_ENTRIES" : "IPT_SO_GET_ENTRIES");
  out.base = entries;
  out.inScratch = true;
  out.capacity = length;
  out.entries = entries;
  out.length = length;
  out.digest = DigestEntries(v6, entries, length);
  return true;
}

namespace {
ReplaceResult Replace(ReplaceRequest& req, PendingReplace* pending) {
  CheckName(req.table);
  if (!pending && req.blobLength < sizeof(ipt_replace)) throw InputFailure("replace blob shorter than its header");
  ReplaceResult out;
  XtablesLock xtLock(req.lock);
  std::lock_guard<std::mutex> lock(XtMutex());
  RawSocket s(req.v6);
  const char* op = req.v6 ? "IP6T_SO_SET_REPLACE" : "IPT_SO_SET_REPLACE";
  uint32_t numCounters;
  if (req.expectUnchanged) {
    // Our own check catches same-size edits; the kernel's num_counters check (EAGAIN) closes the
    // window between this read and the replace for anything that changes the entry count.
    if (req.expectShallow) {
      TableInfo now = InfoLocked(s.fd(), req.v6, req.table);
      if (now.numEntries != req.expectNumEntries || now.size != req.expectSize) throw KernelFailure(EAGAIN, op, "table changed since it was committed");
    } else {
      ExpectUnchangedLocked(req.v6, req.table, req.expectNumEntries, req.expectDigest, op, req.scratch, req.scratchLength);
    }
    numCounters = req.expectNumEntries;
  } else {
    numCounters = InfoLocked(s.fd(), req.v6, req.table).numEntries;
  }
  if (pending) {
    if (!pending->Wait(req)) throw InputFailure("commit abandoned before its table was sent");
    if (req.blobLength < sizeof(ipt_replace)) throw InputFailure("replace blob shorter than its header");
  }
  // The kernel writes the old table's counters here, as they were at the swap (read by `carry`).
  std::unique_ptr<xt_counters[]> old(new xt_counters[numCounters ? numCounters : 1]);
  // The header is patched in place: TypeScript builds this buffer for this one call and keeps it
  // untouched until the promise settles (a copy of a 100+ MB table would cost more than it buys).
  auto* head = reinterpret_cast<ipt_replace*>(req.blob);
  head->num_counters = numCounters;
  head->counters = old.get();
  // The digest of what is sent (the new table's readState) is taken on a second thread while the
  // kernel replaces the table: both only read the blob, and at 10^5 rules it is ~12 ms saved.
  uint64_t digest = 0;
  std::thread digester([&] { digest = DigestEntries(req.v6, req.blob + sizeof(ipt_replace), req.blobLength - sizeof(ipt_replace)); });
  double t0 = NowMs();
  int rc = setsockopt(s.fd(), Level(req.v6), IPT_SO_SET_REPLACE, req.blob, static_cast<socklen_t>(req.blobLength));
  int err = errno;
  out.kernelMs += NowMs() - t0;
  digester.join();
  head->counters = nullptr;
  if (rc != 0) throw KernelFailure(err, op);
  const uint8_t* add = req.counters;
  size_t addLength = req.countersLength;
  std::unique_ptr<xt_counters[]> carried;
  if (req.carry) {
    // New entry i counts on from old entry carry[i], else from the model's counters.
    size_t n = head->num_entries;
    carried.reset(new xt_counters[n ? n : 1]());
    for (size_t i = 0; i < n; i++) {
      int32_t from = i < req.carryLength ? req.carry[i] : -1;
      if (from >= 0 && static_cast<uint32_t>(from) < numCounters) {
        carried[i] = old[from];
        out.carried++;
      } else if (req.counters && (i + 1) * sizeof(xt_counters) <= req.countersLength) {
        memcpy(&carried[i], req.counters + i * sizeof(xt_counters), sizeof(xt_counters));
      }
    }
    add = reinterpret_cast<const uint8_t*>(carried.get());
    addLength = n * sizeof(xt_counters);
  }
  if (addLength) {
    size_t total = sizeof(xt_counters_info) + addLength;
    std::unique_ptr<uint8_t, decltype(&free)> ci(static_cast<uint8_t*>(calloc(1, total)), &free);
    if (!ci) throw KernelFailure(ENOMEM, "allocate counters buffer");
    auto* info = reinterpret_cast<xt_counters_info*>(ci.get());
    strncpy(info->name, req.table.c_str(), sizeof info->name - 1);
    info->num_counters = static_cast<unsigned int>(addLength / sizeof(xt_counters));
    memcpy(ci.get() + sizeof(xt_counters_info), add, addLength);
    t0 = NowMs();
    rc = setsockopt(s.fd(), Level(req.v6), IPT_SO_SET_ADD_COUNTERS, ci.get(), static_cast<socklen_t>(total));
    err = errno;
    out.kernelMs += NowMs() - t0;
    if (rc != 0) throw KernelFailure(err, req.v6 ? "IP6T_SO_SET_ADD_COUNTERS" : "IPT_SO_SET_ADD_COUNTERS");
  }
  out.numEntries = head->num_entries;
  out.digest = digest;
  return out;
}
}  // namespace

ReplaceResult ReplaceTable(const ReplaceRequest& req) {
  ReplaceRequest r = req;
  return Replace(r, nullptr);
}

ReplaceResult ReplaceTablePipelined(ReplaceRequest& req, PendingReplace& pending) { return Replace(req, &pending); }

void PendingReplace::Send(uint8_t* blob, size_t blobLength, const uint8_t* counters, size_t countersLength, const int32_t* carry,
                          size_t carryLength) {
  std::lock_guard<std::mutex> g(m_);
  if (state_ != State::kWaiting) return;
  sent_.blob = blob;
  sent_.blobLength = blobLength;
  sent_.counters = counters;
  sent_.countersLength = countersLength;
  sent_.carry = carry;
  sent_.carryLength = carryLength;
  state_ = State::kSent;
  cv_.notify_all();
}

void PendingReplace::Abort() {
  std::lock_guard<std::mutex> g(m_);
  if (state_ != State::kWaiting) return;
  state_ = State::kAborted;
  cv_.notify_all();
}

bool PendingReplace::Wait(ReplaceRequest& req) {
  std::unique_lock<std::mutex> g(m_);
  if (!cv_.wait_for(g, std::chrono::milliseconds(waitMs_), [this] { return state_ != State::kWaiting; })) {
    state_ = State::kAborted;  // (a Send after this is ignored)
    throw KernelFailure(ETIMEDOUT, "IPT_SO_SET_REPLACE", "the table was not sent within the handle's timeout");
  }
  if (state_ == State::kAborted) return false;
  req.blob = sent_.blob;
  req.blobLength = sent_.blobLength;
  req.counters = sent_.counters;
  req.countersLength = sent_.countersLength;
  req.carry = sent_.carry;
  req.carryLength = sent_.carryLength;
  return true;
}

TableBlob GetTableLocked(bool v6, const std::string& table, uint8_t* scratch, size_t scratchLength) {
  CheckName(table);
  RawSocket s(v6);
  return GetLocked(s.fd(), v6, table, scratch, scratchLength);
}

void ExpectUnchangedLocked(bool v6, const std::string& table, uint32_t numEntries, uint64_t digest, const char* op, uint8_t* scratch,
                           size_t scratchLength) {
  TableBlob now = GetTableLocked(v6, table, scratch, scratchLength);
  if (!now.inScratch) free(now.base);
  if (now.info.numEntries != numEntries || now.digest != digest) throw KernelFailure(EAGAIN, op, "table changed since it was read");
}

int ExtensionKnown(bool v6, bool target, const std::string& name, uint8_t revision) {
  if (name.empty() || name.size() >= XT_EXTENSION_MAXNAMELEN) throw InputFailure("bad extension name: " + name);
  RawSocket s(v6);
  xt_get_revision rev;
  memset(&rev, 0, sizeof rev);
  strncpy(rev.name, name.c_str(), sizeof rev.name - 1);
  rev.revision = revision;
  socklen_t len = sizeof rev;
  int opt = target ? IPT_SO_GET_REVISION_TARGET : IPT_SO_GET_REVISION_MATCH;
  if (getsockopt(s.fd(), Level(v6), opt, &rev, &len) >= 0) return 1;
  if (errno == EPROTONOSUPPORT) return 0;
  if (errno == ENOENT) return -1;
  throw KernelFailure(errno, target ? "IPT_SO_GET_REVISION_TARGET" : "IPT_SO_GET_REVISION_MATCH");
}

std::vector<std::string> TableNames(bool v6) {
  const char* path = v6 ? "/proc/thread-self/net/ip6_tables_names" : "/proc/thread-self/net/ip_tables_names";
  std::vector<std::string> out;
  FILE* f = fopen(path, "re");
  if (!f) {
    if (errno == ENOENT) return out;  // no table instantiated yet
    throw KernelFailure(errno, std::string("open ") + path);
  }
  char line[64];
  while (fgets(line, sizeof line, f)) {
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (!s.empty()) out.push_back(s);
  }
  fclose(f);
  return out;
}

}  // namespace iptables
}  // namespace kernlb
