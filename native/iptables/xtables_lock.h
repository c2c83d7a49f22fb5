// iptables' own lock: iptables-legacy and iptables-legacy-restore (1.8.9) open XTABLES_LOCKFILE or
// /run/xtables.lock (O_RDONLY|O_CREAT, 0600) and flock(LOCK_EX) it around their read-modify-replace.
// kernlb takes the same lock around its check-then-replace, so that such a command cannot change
// the table between kernlb's unchanged-check and its replace. (iptables-legacy-save takes no lock.)
#pragma once
#include <string>

namespace kernlb {
namespace iptables {

struct LockSpec {
  std::string path;    // empty: no lock
  int timeoutMs = 0;   // bounded wait for a holder to let go
};

// Held from construction to destruction (closing the fd releases the flock). Lock order in kernlb:
// this file lock first, then the process-wide x_tables mutex, so no two kernlb commits deadlock.
class XtablesLock {
 public:
  explicit XtablesLock(const LockSpec& spec);
  ~XtablesLock();
  XtablesLock(const XtablesLock&) = delete;
  XtablesLock& operator=(const XtablesLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace iptables
}  // namespace kernlb
