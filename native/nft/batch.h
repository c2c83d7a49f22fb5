// A transaction as one nfnetlink batch: BATCH_BEGIN (with NFNL_BATCH_GENID when a generation is
// given), the messages of every item, BATCH_END (left out for a dry run, so the kernel validates and
// aborts). Items are built with libnftnl into a scratch buffer and appended to a MsgWriter; packed
// element lists are written straight into it (elem_packed.cc). Big element lists are split over
// several NEWSETELEM messages because nla_len is 16 bits.
#pragma once
#include <napi.h>

#include <vector>

#include "netlink/message.h"

namespace kernlb {
namespace nft {

// nf_tables message types the installed uapi header may predate (kernel 6.3+).
enum : uint16_t {
  kMsgDestroyTable = 26,
  kMsgDestroyChain = 27,
  kMsgDestroyRule = 28,
  kMsgDestroySet = 29,
  kMsgDestroySetElem = 30,
  kMsgDestroyObj = 31,
};

struct BatchOptions {
  bool hasGeneration = false;
  uint32_t generation = 0;
  bool dryRun = false;
};

struct Batch {
  MsgWriter w;
  std::vector<int> itemOfMsg;  // item index of every message in w (-1 for BEGIN / END)
};

// Reads options { generation?: number, dryRun?: boolean }.
BatchOptions BatchOptionsFromJs(const Napi::Value& v);
// Throws a JS TypeError naming the item and field on bad input.
void BuildBatch(const Napi::Array& items, const BatchOptions& opts, Batch& b);

}  // namespace nft
}  // namespace kernlb
