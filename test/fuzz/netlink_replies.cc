// libFuzzer harness: a buffer of netlink replies as the kernel hands them to recv(), walked and
// decoded the way the socket does (native/netlink): messages, NLMSG_ERROR with extended acks,
// NLMSG_DONE codes, generic-netlink family replies, nested attributes, and a batch's error replies
// mapped to the failing item (what an nftables commit or an IPVS batch reports).
#include <linux/genetlink.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "netlink/batch_reply.h"
#include "netlink/genl.h"
#include "netlink/message.h"

using namespace kernlb;

static size_t Walk(const uint8_t* p, size_t len, int depth) {
  size_t n = 0;
  ForEachAttr(p, len, [&](uint16_t, const uint8_t* v, size_t vlen) {
    n += vlen;
    if (depth < 4) n += Walk(v, vlen, depth + 1);  // every attribute may be a nest
  });
  return n;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  // The first 4 bytes: the batch's first seq (the rest is the reply buffer, 4-aligned like recv's).
  const uint32_t first = ReadU32(data);
  std::vector<uint8_t> buf(data + 4, data + size);
  std::vector<BatchFailure> fails;
  uint32_t count = 0;
  volatile size_t sink = 0;
  ForEachMessage(buf.data(), buf.size(), [&](const nlmsghdr* h) {
    count++;
    if (h->nlmsg_type == NLMSG_ERROR) {
      NlErrorInfo e = ParseError(h);
      sink = sink + e.extack.size() + static_cast<size_t>(e.attrOffset);
      BatchFailure f;
      if (BatchFailureOf(h, first, 64, &f)) fails.push_back(f);
    } else if (h->nlmsg_type == NLMSG_DONE) {
      if (h->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) sink = sink + static_cast<size_t>(*static_cast<const int*>(NLMSG_DATA(h)));
    } else if (h->nlmsg_type == GENL_ID_CTRL) {
      GenlFamily f = ParseFamily(h);
      sink = sink + f.id + f.maxattr;
    }
    if (h->nlmsg_len >= NLMSG_HDRLEN + GENL_HDRLEN)
      sink = sink + Walk(reinterpret_cast<const uint8_t*>(h) + NLMSG_HDRLEN + GENL_HDRLEN, h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN, 0);
  });
  // The batch's messages belong to items: BEGIN, count items, END (like an nftables batch).
  std::vector<int> itemOfMsg(count % 70);
  for (size_t i = 0; i < itemOfMsg.size(); i++) itemOfMsg[i] = i == 0 || i + 1 == itemOfMsg.size() ? -1 : static_cast<int>(i - 1);
  int item = -1;
  const BatchFailure* f = FirstFailure(fails, itemOfMsg, &item);
  if (f) sink = sink + f->error.extack.size() + static_cast<size_t>(item + 1);
  return 0;
}
