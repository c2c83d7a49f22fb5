// Failures carried from worker threads back to JavaScript as data (errno, operation, kernel text,
// batch index). Thrown on worker threads only; converted to JS errors by async.h on the JS thread.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace kernlb {

struct KernelFailure : std::runtime_error {
  int err;                  // positive errno
  std::string op;           // what was being done: "sendmsg", "IPVS_CMD_NEW_SERVICE", "commit"...
  std::string extack;       // the kernel's extended-ack text (NLMSGERR_ATTR_MSG), if any
  int index = -1;           // index of the failing item in a batch, -1 when not a batch
  int64_t attrOffset = -1;  // offset of the offending attribute inside the request (NLMSGERR_ATTR_OFFS)

  KernelFailure(int e, std::string o, std::string text = "", int idx = -1)
      : std::runtime_error(o + ": errno " + std::to_string(e)), err(e), op(std::move(o)),
        extack(std::move(text)), index(idx) {}
};

// Input the native layer cannot encode. TypeScript validates first, so reaching this is a bug there,
// but it must still be an error and never a crash.
struct InputFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace kernlb
