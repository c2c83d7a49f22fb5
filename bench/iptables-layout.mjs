// What the iptables benches share: kube-proxy's nat table as iptables-save text (from kernlb/testing)
// and one shell that runs the reference tools (and every other command) for the measuring process.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
export const { kubeProxyIptablesText: kubeProxyLayout } = require('../dist/testing/index.js');

export const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

const seconds = (m, s) => Number(m) * 60 + Number(s);

/**
 * One bash started before the measuring process grows: it runs the tools, creates and deletes the
 * namespaces, and saves tables to files. A fork of the measuring process (execFileSync) would leave
 * each of its pages to take a copy-on-write fault when next written, and the next kernlb call would
 * pay for that (~0.1 s at 10k services). Tools enter a namespace with nsenter (setns only: `ip netns
 * exec` also remounts /sys, which is not the tool's work), and are timed by the shell itself.
 */
export function toolShell() {
  const sh = spawn('bash', [], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, LC_ALL: 'C' } });
  const lines = createInterface({ input: sh.stdout })[Symbol.asyncIterator]();
  const line = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error('the tool shell ended');
    return value;
  };
  let children = { user: 0, sys: 0 };
  const inNs = (ns) => (ns ? `nsenter --net=/run/netns/${ns} ` : '');
  return {
    /** Runs `cmd` (a shell fragment; its first word is run in namespace `ns`): wall ms and its user/sys seconds. */
    async timed(ns, cmd) {
      sh.stdin.write(`s=$(date +%s%N); ${inNs(ns)}${cmd} || echo "failed: ${cmd.replace(/["$`\\]/g, '')}" >&2; e=$(date +%s%N); echo $(( (e - s) / 1000 )); times\n`);
      const wall = Number(await line()) / 1000;
      await line(); // the shell's own times
      const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(await line());
      const now = { user: seconds(m[1], m[2]), sys: seconds(m[3], m[4]) };
      const user = now.user - children.user, sys = now.sys - children.sys;
      children = now;
      return { wall, user, sys, cpu: user + sys };
    },
    /** Runs `cmd` and waits for it; throws when it fails. */
    async run(cmd) {
      sh.stdin.write(`${cmd}; echo "rc=$?"; times\n`);
      const rc = await line();
      await line();
      const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(await line());
      children = { user: seconds(m[1], m[2]), sys: seconds(m[3], m[4]) }; // (not charged to the next timed command)
      if (rc !== 'rc=0') throw new Error(`${cmd}: ${rc}`);
    },
    close: () => sh.stdin.end(),
  };
}
