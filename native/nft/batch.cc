#include "nft/batch.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>

#include "nft/elem_packed.h"
#include "nft/objects.h"
#include "nft/packed.h"

namespace kernlb {
namespace nft {

BatchOptions BatchOptionsFromJs(const Napi::Value& v) {
  BatchOptions o;
  if (!v.IsObject()) return o;
  JsObj js(v.As<Napi::Object>(), "options");
  if (js.has("generation")) {
    o.hasGeneration = true;
    o.generation = js.u32("generation");
  }
  if (js.has("dryRun")) o.dryRun = js.raw().Get("dryRun").ToBoolean().Value();
  return o;
}

namespace {

// libnftnl writes without bounds checks; one message never exceeds this (a nest is at most 64 KiB,
// and a NEWSETELEM is cut at 64 KiB by the iterator).
constexpr size_t kScratch = 1 << 20;

// One scratch per thread for every batch it builds: a zeroed 1 MiB allocated per batch cost more than
// a small batch itself (its 256 pages faulted in and unmapped again: 0.2-1 ms of system time per
// update() on a loaded machine, against ~20 us of building).
char* ThreadScratch() {
  thread_local std::unique_ptr<char[]> scratch(new char[kScratch]());
  return scratch.get();
}

class Builder {
 public:
  // The scratch starts zeroed and is re-zeroed after every message: libmnl 1.0.4 does not clear
  // attribute padding, and stale bytes there would make batches differ from run to run. A batch
  // abandoned by an exception may leave a message's bytes in it: the destructor clears it then.
  Builder(Batch& b) : b_(b), scratch_(ThreadScratch()), exceptions_(std::uncaught_exceptions()) {}
  ~Builder() {
    if (std::uncaught_exceptions() > exceptions_) memset(scratch_, 0, kScratch);
  }
  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;

  nlmsghdr* Hdr(uint16_t cmd, uint16_t family, uint16_t flags) {
    return nftnl_nlmsg_build_hdr(scratch_, static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | cmd), family,
                                 flags, 0);
  }
  // Packed rules and chains are built straight into the batch buffer: it is grown (zero-filled) ahead
  // of the messages and cut back to their end once the run is done, saving a copy and a clear per
  // message. Their payload builders only append (no cancelled nest leaves bytes past a message), so
  // the bytes past the last message stay zero. The caller bounds each message's room.
  // The zero-filled room ahead of the messages grows by at most kRunStep at a time, inside the capacity
  // BuildBatch reserved for the whole batch: zero-filling a run's whole estimate (or doubling the
  // buffer) touched pages the messages never reached, 10-20 MB of resident memory for a 10k-service
  // batch.
  static constexpr size_t kRunStep = 1 << 20;
  void BeginRun(size_t estimate) {
    auto& buf = b_.w.data();
    runEnd_ = NLMSG_ALIGN(buf.size());
    buf.resize(std::max(buf.size(), runEnd_ + std::min(estimate, kRunStep)), 0);
  }
  nlmsghdr* HdrInRun(uint16_t cmd, uint16_t family, uint16_t flags, size_t room) {
    auto& buf = b_.w.data();
    if (runEnd_ + room > buf.size()) buf.resize(runEnd_ + room + kRunStep, 0);
    return nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buf.data() + runEnd_),
                                 static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | cmd), family, flags, 0);
  }
  void AppendInRun(nlmsghdr* h, size_t room, int item) {
    if (h->nlmsg_len > room) throw std::runtime_error("nft message overflowed its room in the batch buffer");
    runEnd_ += NLMSG_ALIGN(h->nlmsg_len);
    b_.itemOfMsg.push_back(item);
  }
  void EndRun() { b_.w.data().resize(runEnd_); }
  // (written into the batch buffer itself, past the scratch: nothing of it to clear)
  void AppendPackedElems(const JsObj& o, const ElemListHeader& h, int item) { nft::AppendPackedElems(o, h, b_, item); }
  // `dropped`: bytes libnftnl wrote past the message's end and took back (the element that did not fit
  // a split element list), cleared too: left there, they showed in the next message's padding.
  void Append(nlmsghdr* h, int item, size_t dropped = 0) {
    if (h->nlmsg_len > kScratch) throw std::runtime_error("nft message overflowed the scratch buffer");
    auto& buf = b_.w.data();
    buf.resize(NLMSG_ALIGN(buf.size()));
    const uint8_t* p = reinterpret_cast<const uint8_t*>(h);
    buf.insert(buf.end(), p, p + h->nlmsg_len);
    buf.resize(NLMSG_ALIGN(buf.size()), 0);
    memset(scratch_, 0, std::min(kScratch, NLMSG_ALIGN(h->nlmsg_len) + dropped));
    b_.itemOfMsg.push_back(item);
  }

 private:
  Batch& b_;
  char* scratch_;
  int exceptions_;
  size_t runEnd_ = 0;
};

struct OpFlags {
  uint16_t cmd;
  uint16_t flags;
};

[[noreturn]] void BadOp(const JsObj& o, const std::string& op, const std::string& kind) {
  o.fail("op", "\"" + op + "\" is not an operation on a " + kind);
}

// add = create-if-missing; create = fail if it exists (EEXIST); nft uses the same flags.
OpFlags NewOrDel(const JsObj& o, const std::string& op, const std::string& kind, uint16_t newCmd, uint16_t delCmd,
                 uint16_t destroyCmd) {
  if (op == "add") return {newCmd, NLM_F_CREATE};
  if (op == "create") return {newCmd, NLM_F_CREATE | NLM_F_EXCL};
  if (op == "delete") return {delCmd, 0};
  if (op == "destroy") return {destroyCmd, 0};
  BadOp(o, op, kind);
}

void BuildItem(Builder& bld, const JsObj& o, int index) {
  std::string op = o.str("op"), kind = o.str("kind");
  uint16_t family = static_cast<uint16_t>(o.u32("family"));
  if (kind == "table") {
    if (op == "flush") {
      RulePtr r(nftnl_rule_alloc());
      nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, family);
      nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, o.str("name").c_str());
      nlmsghdr* h = bld.Hdr(NFT_MSG_DELRULE, family, 0);
      nftnl_rule_nlmsg_build_payload(h, r.get());
      return bld.Append(h, index);
    }
    OpFlags f = NewOrDel(o, op, kind, NFT_MSG_NEWTABLE, NFT_MSG_DELTABLE, kMsgDestroyTable);
    TablePtr t = TableFromJs(o);
    nlmsghdr* h = bld.Hdr(f.cmd, family, f.flags);
    nftnl_table_nlmsg_build_payload(h, t.get());
    return bld.Append(h, index);
  }
  if (kind == "chain") {
    if (op == "flush") {
      RulePtr r(nftnl_rule_alloc());
      nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, family);
      nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, o.str("table").c_str());
      nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, o.str("name").c_str());
      nlmsghdr* h = bld.Hdr(NFT_MSG_DELRULE, family, 0);
      nftnl_rule_nlmsg_build_payload(h, r.get());
      return bld.Append(h, index);
    }
    OpFlags f = NewOrDel(o, op, kind, NFT_MSG_NEWCHAIN, NFT_MSG_DELCHAIN, kMsgDestroyChain);
    ChainPtr c = ChainFromJs(o);
    nlmsghdr* h = bld.Hdr(f.cmd, family, f.flags);
    nftnl_chain_nlmsg_build_payload(h, c.get());
    return bld.Append(h, index);
  }
  if (kind == "rule") {
    OpFlags f;
    if (op == "add") f = {NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND};
    else if (op == "insert") f = {NFT_MSG_NEWRULE, NLM_F_CREATE};
    else if (op == "replace") f = {NFT_MSG_NEWRULE, NLM_F_REPLACE};
    else if (op == "delete") f = {NFT_MSG_DELRULE, 0};
    else if (op == "destroy") f = {kMsgDestroyRule, 0};
    else BadOp(o, op, kind);
    RulePtr r = RuleFromJs(o);
    nlmsghdr* h = bld.Hdr(f.cmd, family, f.flags);
    nftnl_rule_nlmsg_build_payload(h, r.get());
    return bld.Append(h, index);
  }
  if (kind == "set") {
    if (op == "flush") {
      SetPtr s = SetFromJs(o);
      nlmsghdr* h = bld.Hdr(NFT_MSG_DELSETELEM, family, 0);
      nftnl_set_elems_nlmsg_build_payload(h, s.get());
      return bld.Append(h, index);
    }
    OpFlags f = NewOrDel(o, op, kind, NFT_MSG_NEWSET, NFT_MSG_DELSET, kMsgDestroySet);
    SetPtr s = SetFromJs(o);
    nlmsghdr* h = bld.Hdr(f.cmd, family, f.flags);
    nftnl_set_nlmsg_build_payload(h, s.get());
    return bld.Append(h, index);
  }
  if (kind == "elements") {
    OpFlags f = NewOrDel(o, op, kind, NFT_MSG_NEWSETELEM, NFT_MSG_DELSETELEM, kMsgDestroySetElem);
    if (o.has("packed")) {
      // (straight into the batch: no libnftnl object per element, elem_packed.cc)
      ElemListHeader h{f.cmd, f.flags, family, o.str("table"), o.str("set"), o.has("setId"), 0};
      if (h.hasSetId) h.setId = o.u32("setId");
      return bld.AppendPackedElems(o, h, index);
    }
    SetPtr s(nftnl_set_alloc());
    nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, family);
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, o.str("table").c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, o.str("set").c_str());
    if (o.has("setId")) nftnl_set_set_u32(s.get(), NFTNL_SET_ID, o.u32("setId"));
    Napi::Array elems = o.arr("elements");
    if (elems.Length() == 0) return;
    for (uint32_t i = 0; i < elems.Length(); i++) nftnl_set_elem_add(s.get(), ElemFromJs(o.at(elems, i, "elements")).release());
    nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(s.get());
    int more = 1;
    while (more > 0) {
      nlmsghdr* h = bld.Hdr(f.cmd, family, f.flags);
      more = nftnl_set_elems_nlmsg_build_payload_iter(h, it);
      bld.Append(h, index, more > 0 ? 1 << 16 : 0);
    }
    nftnl_set_elems_iter_destroy(it);
    return;
  }
  if (kind == "object") {
    OpFlags f = NewOrDel(o, op, kind, NFT_MSG_NEWOBJ, NFT_MSG_DELOBJ, kMsgDestroyObj);
    ObjPtr x = ObjFromJs(o);
    nlmsghdr* h = bld.Hdr(f.cmd, family, f.flags);
    nftnl_obj_nlmsg_build_payload(h, x.get());
    return bld.Append(h, index);
  }
  o.fail("kind", "unknown kind \"" + kind + "\"");
}

// A run of packed rules and chains (packed.h): record k is logical item `first + k`.
uint32_t BuildPacked(Builder& bld, const JsObj& o, uint32_t first) {
  Napi::Value v = o.raw().Get("packed");
  if (!v.IsBuffer()) o.fail("packed", "expected a Buffer");
  auto buf = v.As<Napi::Buffer<uint8_t>>();
  uint32_t count = o.u32("count");
  PackedReader r{buf.Data(), buf.Length()};
  Napi::Env env = o.raw().Env();
  bld.BeginRun(3 * buf.Length() + 4096);
  for (uint32_t k = 0; k < count; k++) {
    uint32_t item = first + k;
    PackedRecord rec;
    size_t at = r.off;
    ReadPackedRecord(env, r, item, rec);
    // A message is at most a few times its packed record (every packed field costs at least a third
    // of its netlink attribute): this bounds what libnftnl may write, whatever the input.
    size_t room = 4 * (r.off - at) + 4096;
    auto bad = [&](const char* kind) -> OpFlags {
      throw Napi::TypeError::New(env, "items[" + std::to_string(item) + "].op: operation " + std::to_string(rec.op) +
                                          " is not an operation on a " + kind);
    };
    if (rec.rule) {
      OpFlags f;
      switch (rec.op) {
        case kPackedAdd: f = {NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND}; break;
        case kPackedInsert: f = {NFT_MSG_NEWRULE, NLM_F_CREATE}; break;
        case kPackedReplace: f = {NFT_MSG_NEWRULE, NLM_F_REPLACE}; break;
        case kPackedDelete: f = {NFT_MSG_DELRULE, 0}; break;
        case kPackedDestroy: f = {kMsgDestroyRule, 0}; break;
        default: f = bad("rule");
      }
      nlmsghdr* h = bld.HdrInRun(f.cmd, rec.family, f.flags, room);
      nftnl_rule_nlmsg_build_payload(h, rec.rule.get());
      bld.AppendInRun(h, room, static_cast<int>(item));
    } else {
      OpFlags f;
      switch (rec.op) {
        case kPackedAdd: f = {NFT_MSG_NEWCHAIN, NLM_F_CREATE}; break;
        case kPackedCreate: f = {NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL}; break;
        case kPackedDelete: f = {NFT_MSG_DELCHAIN, 0}; break;
        case kPackedDestroy: f = {kMsgDestroyChain, 0}; break;
        default: f = bad("chain");
      }
      nlmsghdr* h = bld.HdrInRun(f.cmd, rec.family, f.flags, room);
      nftnl_chain_nlmsg_build_payload(h, rec.chain.get());
      bld.AppendInRun(h, room, static_cast<int>(item));
    }
  }
  bld.EndRun();
  if (r.off != r.len) o.fail("packed", "trailing bytes after " + std::to_string(count) + " records");
  return count;
}

}  // namespace

void BuildBatch(const Napi::Array& items, const BatchOptions& opts, Batch& b) {
  // The whole batch's room reserved once (address space: pages count only once written): growing
  // by doubling copied the batch at each step and held the old and the new buffer at once (24 MB
  // for a 15 MB batch of 10k services). A message is at most ~3x its packed bytes (elem_packed.cc,
  // BuildPacked), an object item a few hundred bytes.
  size_t packed = 0;
  for (uint32_t i = 0; i < items.Length(); i++) {
    Napi::Value v = items.Get(i);
    if (!v.IsObject()) continue;
    Napi::Value p = v.As<Napi::Object>().Get("packed");
    if (p.IsBuffer()) packed += p.As<Napi::Buffer<uint8_t>>().Length();
  }
  b.w.data().reserve(b.w.data().size() + 3 * packed + 1024 * static_cast<size_t>(items.Length()) + 65536);
  size_t begin = b.w.Begin(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST);
  b.w.Nfgen(AF_UNSPEC, htons(NFNL_SUBSYS_NFTABLES));
  if (opts.hasGeneration) b.w.PutBE32(NFNL_BATCH_GENID, opts.generation);
  b.w.End(begin);
  b.itemOfMsg.push_back(-1);
  Builder bld(b);
  // Item indexes (error paths, itemOfMsg) count logical items: a packed run holds several.
  uint32_t logical = 0;
  for (uint32_t i = 0; i < items.Length(); i++) {
    Napi::Value v = items.Get(i);
    std::string path = "items[" + std::to_string(logical) + "]";
    if (!v.IsObject()) throw Napi::TypeError::New(items.Env(), path + ": expected an object");
    JsObj o(v.As<Napi::Object>(), path);
    Napi::Value kind = o.val("kind");
    if (kind.IsString() && kind.As<Napi::String>().Utf8Value() == "packed") {
      logical += BuildPacked(bld, o, logical);
      continue;
    }
    BuildItem(bld, o, static_cast<int>(logical));
    logical++;
  }
  if (!opts.dryRun) {
    size_t end = b.w.Begin(NFNL_MSG_BATCH_END, NLM_F_REQUEST);
    b.w.Nfgen(AF_UNSPEC, htons(NFNL_SUBSYS_NFTABLES));
    b.w.End(end);
    b.itemOfMsg.push_back(-1);
  }
}

}  // namespace nft
}  // namespace kernlb
