#include "netlink/batch_reply.h"

#include <algorithm>

namespace kernlb {

bool BatchFailureOf(const nlmsghdr* h, uint32_t first, uint32_t count, BatchFailure* out) {
  if (h->nlmsg_type != NLMSG_ERROR) return false;
  const uint32_t index = h->nlmsg_seq - first;  // (unsigned: a seq before `first` is out of range too)
  if (index >= count) return false;
  NlErrorInfo e = ParseError(h);
  if (!e.err) return false;
  out->index = static_cast<int>(index);
  out->error = std::move(e);
  return true;
}

const BatchFailure* FirstFailure(const std::vector<BatchFailure>& fails, const std::vector<int>& itemOfMsg, int* item) {
  *item = -1;
  if (fails.empty()) return nullptr;
  auto first = std::min_element(fails.begin(), fails.end(), [](const BatchFailure& a, const BatchFailure& b) { return a.index < b.index; });
  if (first->index >= 0 && static_cast<size_t>(first->index) < itemOfMsg.size()) *item = itemOfMsg[first->index];
  return &*first;
}

}  // namespace kernlb
