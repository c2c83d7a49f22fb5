// What a batch's replies say failed: each NLMSG_ERROR carries the seq of the message it answers,
// which maps back to the message's index in the batch and from there to the caller's item. Apart
// from the socket so that the fuzz harness (test/fuzz/netlink_replies.cc) runs the same mapping.
#pragma once
#include <linux/netlink.h>

#include <cstdint>
#include <vector>

#include "netlink/message.h"

namespace kernlb {

struct BatchFailure {
  int index;  // index of the message in the batch (0 = first message of the buffer)
  NlErrorInfo error;
};

// The failure an NLMSG_ERROR reply reports for message (seq - first) of a batch of `count` messages;
// false for an ACK, another message type, or a seq outside the batch.
bool BatchFailureOf(const nlmsghdr* h, uint32_t first, uint32_t count, BatchFailure* out);

// The first failing message (the cause: later ones are often its consequences), and in *item the
// caller's item it belongs to (itemOfMsg[index], -1 when outside it). Null when there is none.
const BatchFailure* FirstFailure(const std::vector<BatchFailure>& fails, const std::vector<int>& itemOfMsg, int* item);

}  // namespace kernlb
