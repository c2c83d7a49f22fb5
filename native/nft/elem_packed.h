// Packed element lists (lib/nft/pack.ts) written straight into a batch as set-element messages.
#pragma once
#include <napi.h>

#include <string>

#include "nft/batch.h"
#include "nft/js.h"

namespace kernlb {
namespace nft {

// What every message of one element list carries: its command and flags, the set it names.
struct ElemListHeader {
  uint16_t cmd;
  uint16_t flags;
  uint16_t family;
  std::string table;
  std::string set;
  bool hasSetId;
  uint32_t setId;
};

// Appends the messages for o.packed (o.count elements) to the batch, as many as the 16-bit
// attribute length needs, each recorded as item `item`. Throws a JS TypeError on malformed input.
void AppendPackedElems(const JsObj& o, const ElemListHeader& h, Batch& b, int item);

}  // namespace nft
}  // namespace kernlb
