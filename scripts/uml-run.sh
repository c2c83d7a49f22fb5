#!/usr/bin/env bash
# Runs one command inside a User-mode Linux guest (Debian's user-mode-linux, kernel 6.1) whose root is
# this machine's / (hostfs), with the IPVS schedulers loaded and module autoloading working. The
# command runs in the current directory with PATH/HOME/CI kept; its output streams to stdout and its
# exit code becomes this script's. Used for the IPVS test tier (the host kernel has no IPVS) and to
# run the iptables tier on a second kernel version.
#
# usage: scripts/uml-run.sh [--mem SIZE] [--timeout SECONDS] -- command [args...]
set -euo pipefail

mem=3G
timeout_s=1200
while [ $# -gt 0 ]; do
  case "$1" in
    --mem) mem=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--mem SIZE] [--timeout S] -- command [args...]" >&2; exit 2; }

uml=/usr/bin/linux.uml
[ -x "$uml" ] || { echo "uml-run: $uml missing: apt-get install -y user-mode-linux" >&2; exit 4; }
command -v depmod >/dev/null || [ -x /usr/sbin/depmod ] || { echo "uml-run: depmod missing: apt-get install -y kmod" >&2; exit 4; }
ver=$(ls /usr/lib/uml/modules | sort -V | tail -n 1)

state=$(mktemp -d /tmp/kernlb-uml.XXXXXX)
trap 'rm -rf "$state"' EXIT
mkdir -p "$state/lib" "$state/uml"
ln -s /usr/lib/uml/modules "$state/lib/modules"
/usr/sbin/depmod -b "$state" "$ver"

# The command, with its environment, as a script the guest's init runs.
{
  echo '#!/bin/sh'
  printf 'cd %q || exit 97\n' "$PWD"
  for v in PATH HOME CI TERM LANG NODE_OPTIONS KERNLB_TEST_FILTER FORCE_COLOR NO_COLOR; do
    if [ -n "${!v:-}" ]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
  done
  echo 'export KERNLB_IN_UML=1'
  printf 'exec'; printf ' %q' "$@"; echo
} > "$state/cmd"
chmod +x "$state/cmd"

cat > "$state/modprobe" <<MOD
#!/bin/sh
exec /usr/sbin/modprobe -d $state "\$@"
MOD
chmod +x "$state/modprobe"

cat > "$state/init" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm 2>/dev/null
mkdir -p /run/netns
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
echo $state/modprobe > /proc/sys/kernel/modprobe
ip link set lo up
for m in ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_dh ip_vs_sh ip_vs_sed \
         ip_vs_nq ip_vs_mh ip_vs_fo ip_vs_ovf ip_vs_pe_sip veth dummy ipip ip_gre; do
  /usr/sbin/modprobe -d $state \$m 2>/dev/null
done
$state/cmd
echo \$? > $state/rc
sync
halt -f 2>/dev/null || perl -e "syscall(169, 0xfee1dead, 672274793, 0x4321fedc)"
INIT
chmod +x "$state/init"

set +e
timeout --kill-after=10 "$timeout_s" "$uml" mem="$mem" root=/dev/root rootfstype=hostfs rootflags=/ rw \
  init="$state/init" uml_dir="$state/uml" quiet loglevel=1 con=null con0=null,fd:1 </dev/null
uml_rc=$?
set -e
if [ -f "$state/rc" ]; then
  exit "$(cat "$state/rc")"
fi
echo "uml-run: the guest did not report an exit code (linux.uml exited with $uml_rc)" >&2
exit 98
