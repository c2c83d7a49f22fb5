// libFuzzer harness: nftables dump replies as a listing reads them (native/nft/list.cc): each
// message parsed by libnftnl into the object its type names (table, chain, set, set elements,
// object, rule, generation), then read back the way the *ToJs converters do, expressions through
// the same attribute walk as ExprToJs (nft/expr_walk.h), nested expressions included.
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <ucontext.h>
#include <unistd.h>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>

#include <csetjmp>
#include <csignal>
#include <cstdio>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "nft/expr_walk.h"
#include "nft/list.h"

using namespace kernlb;
using namespace kernlb::nft;

static volatile size_t sink = 0;

// libnftnl exit()s the process when an attribute is shorter than its type (its "kernel ABI is
// broken" check, abi_breakage() in libnftnl's parsers): not a memory error, and kernlb's listings
// cannot prevent it without repeating libnftnl's attribute tables (see test/fuzz/README.md). The
// harness catches that exit around each libnftnl parse so that fuzzing goes on past it; no C++
// object is live between the setjmp and the parse, and the object parsed into is freed after.
static sigjmp_buf* parsing = nullptr;
static size_t abiExits = 0;
extern "C" void exit(int code) {
  if (parsing) siglongjmp(*parsing, 1);
  reinterpret_cast<void (*)(int)>(dlsym(RTLD_NEXT, "exit"))(code);
  __builtin_unreachable();
}
// What libnftnl allocates during a parse is not leak-checked: a parse abandoned at that exit leaves
// its half-built expressions behind (the objects parsed into are still freed, and everything
// kernlb's code allocates is checked).
// libnftnl also dereferences attributes it did not check were there (strdup or strcmp of NULL) on
// more malformed inputs than kernlb's pre-check (ParsableByLibnftnl) rules out; those are libnftnl's
// faults, and a SIGSEGV inside a parse is caught the same way (scripts/fuzz.sh runs this harness
// with ASan's and libFuzzer's SEGV handlers off, so a fault anywhere else still kills the run).
// The input being run, written out by the handler below when a fault outside a parse kills the run
// (libFuzzer's own SEGV handling, which would save it, is off for this harness).
static const uint8_t* current = nullptr;
static size_t currentSize = 0;
static const char* faultArtifact = nullptr;  // NFT_LISTING_FAULT_ARTIFACT, set by scripts/fuzz.sh
static void OnSegv(int sig, siginfo_t* si, void* uc) {
  if (parsing) siglongjmp(*parsing, 2);
  // A fault outside libnftnl's parse: keep the input, say where (the faulting instruction: a jump
  // to a bad address leaves no stack to print), then die. Only async-signal-safe calls.
  if (faultArtifact) {
    int fd = open(faultArtifact, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      (void)!write(fd, current, currentSize);
      close(fd);
    }
  }
  char line[160];
  int n = snprintf(line, sizeof line, "nft_listing: SIGSEGV outside a libnftnl parse: address %p, instruction %p; input in %s\n",
                   si->si_addr, reinterpret_cast<void*>(static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RIP]),
                   faultArtifact ? faultArtifact : "(not kept)");
  (void)!write(2, line, n);
  __sanitizer_print_stack_trace();
  signal(sig, SIG_DFL);
  raise(sig);
}
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  faultArtifact = getenv("NFT_LISTING_FAULT_ARTIFACT");
  // Its own stack: a fault whose stack pointer no longer points at a stack still reaches the handler
  // (libnftnl's overrun in test/fuzz/README.md returned with it pointing into the heap).
  static char altStack[1 << 16];
  stack_t ss{};
  ss.ss_sp = altStack;
  ss.ss_size = sizeof altStack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_sigaction = OnSegv;
  sa.sa_flags = SA_NODEFER | SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGSEGV, &sa, nullptr);
  return 0;
}

// A parse abandoned at exit() or a fault leaves the object half-built in a state libnftnl's own free
// may trip over: it is let go (not leak-checked) and the caller gets a fresh one.
template <class P, class T>
static int Parse(int (*parse)(const nlmsghdr*, T*), const nlmsghdr* h, P& obj) {
  sigjmp_buf env;
  __lsan_disable();
  if (sigsetjmp(env, 1)) {
    parsing = nullptr;
    __lsan_ignore_object(obj.release());
    __lsan_enable();
    abiExits++;
    return -1;
  }
  parsing = &env;
  int r = parse(h, obj.get());
  parsing = nullptr;
  __lsan_enable();
  return r;
}

static int VisitExpr(nftnl_expr* e, void*);

static void ReadExpr(const nftnl_expr* e) {
  const ExprSpec* spec = ForEachExprAttr(e, [](const AttrSpec& a, const ExprAttrValue& v) {
    sink = sink + v.num + (v.str ? strlen(v.str) : 0) + ToHex(v.data, v.len).size() + a.id;
  });
  if (spec && spec->nestedId) nftnl_expr_expr_foreach(e, VisitExpr, nullptr);
}
static int VisitExpr(nftnl_expr* e, void*) {
  ReadExpr(e);
  return 0;
}
static void Str(const char* s) { sink = sink + (s ? strlen(s) : 0); }
static void Data(const void* d, uint32_t len) { sink = sink + ToHex(d, d ? len : 0).size(); }

static void ReadElems(nftnl_set* s) {
  nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(s);
  if (!it) return;
  for (nftnl_set_elem* el = nftnl_set_elems_iter_next(it); el; el = nftnl_set_elems_iter_next(it)) {
    static const uint16_t kData[] = {NFTNL_SET_ELEM_KEY, NFTNL_SET_ELEM_KEY_END, NFTNL_SET_ELEM_DATA, NFTNL_SET_ELEM_USERDATA};
    for (uint16_t a : kData) {
      uint32_t len = 0;
      if (nftnl_set_elem_is_set(el, a)) Data(nftnl_set_elem_get(el, a, &len), len);
    }
    if (nftnl_set_elem_is_set(el, NFTNL_SET_ELEM_CHAIN)) Str(nftnl_set_elem_get_str(el, NFTNL_SET_ELEM_CHAIN));
    if (nftnl_set_elem_is_set(el, NFTNL_SET_ELEM_EXPR)) nftnl_set_elem_expr_foreach(el, VisitExpr, nullptr);
  }
  nftnl_set_elems_iter_destroy(it);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // With the NUL the socket keeps after every reply (NetlinkSocket::Receive).
  current = data;
  currentSize = size;
  std::vector<uint8_t> buf(data, data + size);
  buf.push_back(0);
  SetPtr set(nftnl_set_alloc());  // elements go to the last set, as a listing dumps them per set
  ForEachMessage(buf.data(), size, [&](const nlmsghdr* h) {
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg)) || !ParsableByLibnftnl(h)) return;  // what DumpAll refuses
    switch (h->nlmsg_type & 0xff) {
      case NFT_MSG_NEWGEN: {
        uint32_t gen = 0;
        sink = sink + ParseGeneration(h, &gen) + gen;
        break;
      }
      case NFT_MSG_NEWTABLE: {
        TablePtr t(nftnl_table_alloc());
        if (Parse(nftnl_table_nlmsg_parse, h, t) < 0) break;
        Str(nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME));
        uint32_t len = 0;
        if (nftnl_table_is_set(t.get(), NFTNL_TABLE_USERDATA)) Data(nftnl_table_get_data(t.get(), NFTNL_TABLE_USERDATA, &len), len);
        break;
      }
      case NFT_MSG_NEWCHAIN: {
        ChainPtr c(nftnl_chain_alloc());
        if (Parse(nftnl_chain_nlmsg_parse, h, c) < 0) break;
        Str(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME));
        Str(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TYPE));
        Str(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_DEV));
        if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_DEVICES)) {
          const char* const* devs = nftnl_chain_get_array(c.get(), NFTNL_CHAIN_DEVICES);
          for (size_t i = 0; devs && devs[i]; i++) Str(devs[i]);
        }
        uint32_t len = 0;
        if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_USERDATA)) Data(nftnl_chain_get_data(c.get(), NFTNL_CHAIN_USERDATA, &len), len);
        break;
      }
      case NFT_MSG_NEWSET: {
        SetPtr s(nftnl_set_alloc());
        if (Parse(nftnl_set_nlmsg_parse, h, s) < 0) break;
        Str(nftnl_set_get_str(s.get(), NFTNL_SET_NAME));
        uint32_t len = 0;
        if (nftnl_set_is_set(s.get(), NFTNL_SET_USERDATA)) Data(nftnl_set_get_data(s.get(), NFTNL_SET_USERDATA, &len), len);
        if (nftnl_set_is_set(s.get(), NFTNL_SET_EXPR)) nftnl_set_expr_foreach(s.get(), VisitExpr, nullptr);
        set = std::move(s);
        break;
      }
      case NFT_MSG_NEWSETELEM:
        if (Parse(nftnl_set_elems_nlmsg_parse, h, set) >= 0) ReadElems(set.get());
        if (!set) set.reset(nftnl_set_alloc());
        break;
      case NFT_MSG_NEWOBJ: {
        ObjPtr o(nftnl_obj_alloc());
        if (Parse(nftnl_obj_nlmsg_parse, h, o) < 0) break;
        Str(nftnl_obj_get_str(o.get(), NFTNL_OBJ_NAME));
        uint32_t len = 0;
        if (nftnl_obj_is_set(o.get(), NFTNL_OBJ_USERDATA)) Data(nftnl_obj_get_data(o.get(), NFTNL_OBJ_USERDATA, &len), len);
        break;
      }
      case NFT_MSG_NEWRULE: {
        RulePtr r(nftnl_rule_alloc());
        if (Parse(nftnl_rule_nlmsg_parse, h, r) < 0) break;
        Str(nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE));
        Str(nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN));
        uint32_t len = 0;
        if (nftnl_rule_is_set(r.get(), NFTNL_RULE_USERDATA)) Data(nftnl_rule_get_data(r.get(), NFTNL_RULE_USERDATA, &len), len);
        nftnl_expr_foreach(r.get(), VisitExpr, nullptr);
        break;
      }
      default: break;
    }
  });
  return 0;
}
