// Binary values (cmp data, set keys, userdata) as lowercase hex strings, the form they take in the
// JS model. No JS here: the fuzz harnesses use them too.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kernlb {
namespace nft {

std::string ToHex(const void* p, size_t n);
// Returns false on a malformed string.
bool FromHex(const std::string& s, std::vector<uint8_t>& out);

}  // namespace nft
}  // namespace kernlb
