// What the iptables benches share: kube-proxy's nat table as iptables-save text (from kernlb/testing)
// and a timer for the reference tools run in a namespace.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const { kubeProxyIptablesText: kubeProxyLayout } = require('../dist/testing/index.js');

export const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

/** Runs a shell command in a namespace; returns wall ms and the children's user/sys seconds (bash `times`). */
export function timed(ns, cmd) {
  const t0 = process.hrtime.bigint();
  const out = execFileSync('bash', ['-c', `ip netns exec ${ns} bash -c '${cmd}' ; times`], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const wall = ms(t0);
  const lines = out.trim().split('\n');
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(lines[lines.length - 1]);
  const user = Number(m[1]) * 60 + Number(m[2]), sys = Number(m[3]) * 60 + Number(m[4]);
  return { wall, user, sys, cpu: user + sys };
}
