// Attribute tables of every expression kernlb reads and writes. Widths follow libnftnl's own
// storage for each attribute (src/expr/*.c): a wrong width would silently truncate.
#include <cstring>
#include <string>

#include "nft/expr.h"

namespace kernlb {
namespace nft {

using K = AttrKind;
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const AttrSpec payload[] = {
    {"dreg", NFTNL_EXPR_PAYLOAD_DREG, K::U32},         {"base", NFTNL_EXPR_PAYLOAD_BASE, K::U32},
    {"offset", NFTNL_EXPR_PAYLOAD_OFFSET, K::U32},     {"len", NFTNL_EXPR_PAYLOAD_LEN, K::U32},
    {"sreg", NFTNL_EXPR_PAYLOAD_SREG, K::U32},         {"csumType", NFTNL_EXPR_PAYLOAD_CSUM_TYPE, K::U32},
    {"csumOffset", NFTNL_EXPR_PAYLOAD_CSUM_OFFSET, K::U32}, {"csumFlags", NFTNL_EXPR_PAYLOAD_FLAGS, K::U32},
};
static const AttrSpec meta[] = {
    {"key", NFTNL_EXPR_META_KEY, K::U32}, {"dreg", NFTNL_EXPR_META_DREG, K::U32}, {"sreg", NFTNL_EXPR_META_SREG, K::U32}};
static const AttrSpec cmp[] = {
    {"sreg", NFTNL_EXPR_CMP_SREG, K::U32}, {"op", NFTNL_EXPR_CMP_OP, K::U32}, {"data", NFTNL_EXPR_CMP_DATA, K::Data}};
static const AttrSpec range[] = {{"sreg", NFTNL_EXPR_RANGE_SREG, K::U32}, {"op", NFTNL_EXPR_RANGE_OP, K::U32},
                                 {"from", NFTNL_EXPR_RANGE_FROM_DATA, K::Data}, {"to", NFTNL_EXPR_RANGE_TO_DATA, K::Data}};
static const AttrSpec immediate[] = {
    {"dreg", NFTNL_EXPR_IMM_DREG, K::U32}, {"data", NFTNL_EXPR_IMM_DATA, K::Data},
    {"verdict", NFTNL_EXPR_IMM_VERDICT, K::I32}, {"chain", NFTNL_EXPR_IMM_CHAIN, K::Str},
    {"chainId", NFTNL_EXPR_IMM_CHAIN_ID, K::U32}};
static const AttrSpec counter[] = {{"packets", NFTNL_EXPR_CTR_PACKETS, K::U64}, {"bytes", NFTNL_EXPR_CTR_BYTES, K::U64}};
static const AttrSpec bitwise[] = {
    {"sreg", NFTNL_EXPR_BITWISE_SREG, K::U32}, {"dreg", NFTNL_EXPR_BITWISE_DREG, K::U32},
    {"len", NFTNL_EXPR_BITWISE_LEN, K::U32},   {"mask", NFTNL_EXPR_BITWISE_MASK, K::Data},
    {"xor", NFTNL_EXPR_BITWISE_XOR, K::Data},  {"op", NFTNL_EXPR_BITWISE_OP, K::U32},
    {"data", NFTNL_EXPR_BITWISE_DATA, K::Data}};
static const AttrSpec byteorder[] = {
    {"dreg", NFTNL_EXPR_BYTEORDER_DREG, K::U32}, {"sreg", NFTNL_EXPR_BYTEORDER_SREG, K::U32},
    {"op", NFTNL_EXPR_BYTEORDER_OP, K::U32},     {"len", NFTNL_EXPR_BYTEORDER_LEN, K::U32},
    {"size", NFTNL_EXPR_BYTEORDER_SIZE, K::U32}};
static const AttrSpec lookup[] = {
    {"sreg", NFTNL_EXPR_LOOKUP_SREG, K::U32}, {"dreg", NFTNL_EXPR_LOOKUP_DREG, K::U32},
    {"set", NFTNL_EXPR_LOOKUP_SET, K::Str},   {"setId", NFTNL_EXPR_LOOKUP_SET_ID, K::U32},
    {"flags", NFTNL_EXPR_LOOKUP_FLAGS, K::U32}};
static const AttrSpec dynset[] = {
    {"sregKey", NFTNL_EXPR_DYNSET_SREG_KEY, K::U32}, {"sregData", NFTNL_EXPR_DYNSET_SREG_DATA, K::U32},
    {"op", NFTNL_EXPR_DYNSET_OP, K::U32},            {"timeout", NFTNL_EXPR_DYNSET_TIMEOUT, K::U64},
    {"set", NFTNL_EXPR_DYNSET_SET_NAME, K::Str},     {"setId", NFTNL_EXPR_DYNSET_SET_ID, K::U32},
    {"flags", NFTNL_EXPR_DYNSET_FLAGS, K::U32}};
static const AttrSpec ct[] = {{"dreg", NFTNL_EXPR_CT_DREG, K::U32}, {"key", NFTNL_EXPR_CT_KEY, K::U32},
                              {"dir", NFTNL_EXPR_CT_DIR, K::U8}, {"sreg", NFTNL_EXPR_CT_SREG, K::U32}};
static const AttrSpec nat[] = {
    {"natType", NFTNL_EXPR_NAT_TYPE, K::U32},          {"family", NFTNL_EXPR_NAT_FAMILY, K::U32},
    {"regAddrMin", NFTNL_EXPR_NAT_REG_ADDR_MIN, K::U32}, {"regAddrMax", NFTNL_EXPR_NAT_REG_ADDR_MAX, K::U32},
    {"regProtoMin", NFTNL_EXPR_NAT_REG_PROTO_MIN, K::U32}, {"regProtoMax", NFTNL_EXPR_NAT_REG_PROTO_MAX, K::U32},
    {"flags", NFTNL_EXPR_NAT_FLAGS, K::U32}};
static const AttrSpec masq[] = {{"flags", NFTNL_EXPR_MASQ_FLAGS, K::U32},
                                {"regProtoMin", NFTNL_EXPR_MASQ_REG_PROTO_MIN, K::U32},
                                {"regProtoMax", NFTNL_EXPR_MASQ_REG_PROTO_MAX, K::U32}};
static const AttrSpec redir[] = {{"regProtoMin", NFTNL_EXPR_REDIR_REG_PROTO_MIN, K::U32},
                                 {"regProtoMax", NFTNL_EXPR_REDIR_REG_PROTO_MAX, K::U32},
                                 {"flags", NFTNL_EXPR_REDIR_FLAGS, K::U32}};
static const AttrSpec numgen[] = {{"dreg", NFTNL_EXPR_NG_DREG, K::U32}, {"modulus", NFTNL_EXPR_NG_MODULUS, K::U32},
                                  {"ngType", NFTNL_EXPR_NG_TYPE, K::U32}, {"offset", NFTNL_EXPR_NG_OFFSET, K::U32}};
static const AttrSpec hash[] = {
    {"sreg", NFTNL_EXPR_HASH_SREG, K::U32},     {"dreg", NFTNL_EXPR_HASH_DREG, K::U32},
    {"len", NFTNL_EXPR_HASH_LEN, K::U32},       {"modulus", NFTNL_EXPR_HASH_MODULUS, K::U32},
    {"seed", NFTNL_EXPR_HASH_SEED, K::U32},     {"offset", NFTNL_EXPR_HASH_OFFSET, K::U32},
    {"hashType", NFTNL_EXPR_HASH_TYPE, K::U32}};
static const AttrSpec limit[] = {
    {"rate", NFTNL_EXPR_LIMIT_RATE, K::U64}, {"unit", NFTNL_EXPR_LIMIT_UNIT, K::U64},
    {"burst", NFTNL_EXPR_LIMIT_BURST, K::U32}, {"limitType", NFTNL_EXPR_LIMIT_TYPE, K::U32},
    {"flags", NFTNL_EXPR_LIMIT_FLAGS, K::U32}};
static const AttrSpec log[] = {
    {"prefix", NFTNL_EXPR_LOG_PREFIX, K::Str}, {"group", NFTNL_EXPR_LOG_GROUP, K::U16},
    {"snaplen", NFTNL_EXPR_LOG_SNAPLEN, K::U32}, {"qthreshold", NFTNL_EXPR_LOG_QTHRESHOLD, K::U16},
    {"level", NFTNL_EXPR_LOG_LEVEL, K::U32},   {"flags", NFTNL_EXPR_LOG_FLAGS, K::U32}};
static const AttrSpec reject[] = {{"rejectType", NFTNL_EXPR_REJECT_TYPE, K::U32}, {"code", NFTNL_EXPR_REJECT_CODE, K::U8}};
static const AttrSpec fib[] = {{"dreg", NFTNL_EXPR_FIB_DREG, K::U32}, {"result", NFTNL_EXPR_FIB_RESULT, K::U32},
                               {"flags", NFTNL_EXPR_FIB_FLAGS, K::U32}};
static const AttrSpec quota[] = {{"bytes", NFTNL_EXPR_QUOTA_BYTES, K::U64}, {"flags", NFTNL_EXPR_QUOTA_FLAGS, K::U32},
                                 {"consumed", NFTNL_EXPR_QUOTA_CONSUMED, K::U64}};
static const AttrSpec objref[] = {
    {"objType", NFTNL_EXPR_OBJREF_IMM_TYPE, K::U32}, {"name", NFTNL_EXPR_OBJREF_IMM_NAME, K::Str},
    {"sreg", NFTNL_EXPR_OBJREF_SET_SREG, K::U32},    {"set", NFTNL_EXPR_OBJREF_SET_NAME, K::Str},
    {"setId", NFTNL_EXPR_OBJREF_SET_ID, K::U32}};
static const AttrSpec exthdr[] = {
    {"dreg", NFTNL_EXPR_EXTHDR_DREG, K::U32}, {"exthdrType", NFTNL_EXPR_EXTHDR_TYPE, K::U8},
    {"offset", NFTNL_EXPR_EXTHDR_OFFSET, K::U32}, {"len", NFTNL_EXPR_EXTHDR_LEN, K::U32},
    {"flags", NFTNL_EXPR_EXTHDR_FLAGS, K::U32}, {"op", NFTNL_EXPR_EXTHDR_OP, K::U32},
    {"sreg", NFTNL_EXPR_EXTHDR_SREG, K::U32}};
static const AttrSpec connlimit[] = {{"count", NFTNL_EXPR_CONNLIMIT_COUNT, K::U32},
                                     {"flags", NFTNL_EXPR_CONNLIMIT_FLAGS, K::U32}};
static const AttrSpec queue[] = {{"num", NFTNL_EXPR_QUEUE_NUM, K::U16}, {"total", NFTNL_EXPR_QUEUE_TOTAL, K::U16},
                                 {"flags", NFTNL_EXPR_QUEUE_FLAGS, K::U16}, {"sregQnum", NFTNL_EXPR_QUEUE_SREG_QNUM, K::U32}};
static const AttrSpec rt[] = {{"key", NFTNL_EXPR_RT_KEY, K::U32}, {"dreg", NFTNL_EXPR_RT_DREG, K::U32}};
static const AttrSpec socket[] = {{"key", NFTNL_EXPR_SOCKET_KEY, K::U32}, {"dreg", NFTNL_EXPR_SOCKET_DREG, K::U32},
                                  {"level", NFTNL_EXPR_SOCKET_LEVEL, K::U32}};
static const AttrSpec fwd[] = {{"sregDev", NFTNL_EXPR_FWD_SREG_DEV, K::U32}, {"sregAddr", NFTNL_EXPR_FWD_SREG_ADDR, K::U32},
                               {"nfproto", NFTNL_EXPR_FWD_NFPROTO, K::U32}};
static const AttrSpec dup[] = {{"sregAddr", NFTNL_EXPR_DUP_SREG_ADDR, K::U32}, {"sregDev", NFTNL_EXPR_DUP_SREG_DEV, K::U32}};
static const AttrSpec tproxy[] = {{"family", NFTNL_EXPR_TPROXY_FAMILY, K::U32}, {"regAddr", NFTNL_EXPR_TPROXY_REG_ADDR, K::U32},
                                  {"regPort", NFTNL_EXPR_TPROXY_REG_PORT, K::U32}};
static const AttrSpec last[] = {{"msecs", NFTNL_EXPR_LAST_MSECS, K::U64}, {"set", NFTNL_EXPR_LAST_SET, K::U32}};
static const AttrSpec match[] = {{"name", NFTNL_EXPR_MT_NAME, K::Str}, {"rev", NFTNL_EXPR_MT_REV, K::U32},
                                 {"info", NFTNL_EXPR_MT_INFO, K::Data}};
static const AttrSpec target[] = {{"name", NFTNL_EXPR_TG_NAME, K::Str}, {"rev", NFTNL_EXPR_TG_REV, K::U32},
                                  {"info", NFTNL_EXPR_TG_INFO, K::Data}};
static const AttrSpec flowOffload[] = {{"name", NFTNL_EXPR_FLOW_TABLE_NAME, K::Str}};
static const AttrSpec synproxy[] = {{"mss", NFTNL_EXPR_SYNPROXY_MSS, K::U16}, {"wscale", NFTNL_EXPR_SYNPROXY_WSCALE, K::U8},
                                    {"flags", NFTNL_EXPR_SYNPROXY_FLAGS, K::U32}};
static const AttrSpec osf[] = {{"dreg", NFTNL_EXPR_OSF_DREG, K::U32}, {"ttl", NFTNL_EXPR_OSF_TTL, K::U8},
                               {"flags", NFTNL_EXPR_OSF_FLAGS, K::U32}};
static const AttrSpec xfrm[] = {{"dreg", NFTNL_EXPR_XFRM_DREG, K::U32}, {"key", NFTNL_EXPR_XFRM_KEY, K::U32},
                                {"dir", NFTNL_EXPR_XFRM_DIR, K::U8}, {"spnum", NFTNL_EXPR_XFRM_SPNUM, K::U32}};
static const AttrSpec tunnel[] = {{"key", NFTNL_EXPR_TUNNEL_KEY, K::U32}, {"dreg", NFTNL_EXPR_TUNNEL_DREG, K::U32}};
static const AttrSpec none[] = {{"", 0, K::U32}};

static const ExprSpec specs[] = {
    {"payload", payload, N(payload), 0},   {"meta", meta, N(meta), 0},
    {"cmp", cmp, N(cmp), 0},               {"range", range, N(range), 0},
    {"immediate", immediate, N(immediate), 0}, {"counter", counter, N(counter), 0},
    {"bitwise", bitwise, N(bitwise), 0},   {"byteorder", byteorder, N(byteorder), 0},
    {"lookup", lookup, N(lookup), 0},      {"dynset", dynset, N(dynset), NFTNL_EXPR_DYNSET_EXPRESSIONS},
    {"ct", ct, N(ct), 0},                  {"nat", nat, N(nat), 0},
    {"masq", masq, N(masq), 0},            {"redir", redir, N(redir), 0},
    {"numgen", numgen, N(numgen), 0},      {"hash", hash, N(hash), 0},
    {"limit", limit, N(limit), 0},         {"log", log, N(log), 0},
    {"reject", reject, N(reject), 0},      {"fib", fib, N(fib), 0},
    {"quota", quota, N(quota), 0},         {"objref", objref, N(objref), 0},
    {"exthdr", exthdr, N(exthdr), 0},      {"connlimit", connlimit, N(connlimit), 0},
    {"queue", queue, N(queue), 0},         {"rt", rt, N(rt), 0},
    {"socket", socket, N(socket), 0},      {"fwd", fwd, N(fwd), 0},
    {"dup", dup, N(dup), 0},               {"tproxy", tproxy, N(tproxy), 0},
    {"last", last, N(last), 0},            {"match", match, N(match), 0},
    {"target", target, N(target), 0},      {"flow_offload", flowOffload, N(flowOffload), 0},
    {"notrack", none, 0, 0},               {"synproxy", synproxy, N(synproxy), 0},
    {"osf", osf, N(osf), 0},               {"xfrm", xfrm, N(xfrm), 0},
    {"tunnel", tunnel, N(tunnel), 0},
};

const ExprSpec* FindExprSpec(const std::string& name) { return FindExprSpec(name.data(), name.size()); }

const ExprSpec* FindExprSpec(const char* name, size_t len) {
  for (const ExprSpec& s : specs)
    if (s.name[0] == (len ? name[0] : 0) && strncmp(s.name, name, len) == 0 && s.name[len] == '\0') return &s;
  return nullptr;
}

}  // namespace nft
}  // namespace kernlb
