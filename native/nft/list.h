// Reading the ruleset: GETGEN, then dumps of tables, chains, sets (+ their elements), objects and
// rules parsed with libnftnl on the worker thread. Every dump reply carries the low 16 bits of the
// generation in res_id; if it differs from the generation read before, or the generation read after
// differs, the ruleset changed during the listing and it is read again (bounded).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "netlink/socket.h"
#include "nft/objects.h"

namespace kernlb {
namespace nft {

struct Listing {
  uint32_t generation = 0;
  int attempts = 0;
  std::vector<TablePtr> tables;
  std::vector<ChainPtr> chains;
  std::vector<SetPtr> sets;  // with their elements
  std::vector<ObjPtr> objects;
  std::vector<RulePtr> rules;
};

uint32_t GetGeneration(NetlinkSocket& sock);
// Whether libnftnl can parse a reply without dereferencing a missing attribute or overrunning its
// own stack (found by test/fuzz): every expression a NEWRULE / NEWSET / NEWSETELEM reply carries has
// a name (else strcmp(NULL) in nftnl_expr_alloc), a NEWSETELEM names its table and set (else
// strdup(NULL)), and its elements carry no attribute type above NFTA_SET_ELEM_EXPRESSIONS (else
// libnftnl writes past its attribute table on the stack).
bool ParsableByLibnftnl(const nlmsghdr* h);
// The generation in a NEWGEN reply; false when it has none (or is too short to have one).
bool ParseGeneration(const nlmsghdr* h, uint32_t* gen);
// family: NFPROTO_* (0 = all); table: "" = all tables.
std::shared_ptr<Listing> ListRuleset(NetlinkSocket& sock, uint16_t family, const std::string& table, int maxAttempts);

}  // namespace nft
}  // namespace kernlb
