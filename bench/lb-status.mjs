// status() at scale (issue #21: scrapes), against dist/:
//   node bench/lb-status.mjs [--modes nftables] [--n 10000] [--endpoints 10] [--reps 3]
// Per mode, in a fresh namespace: apply N services x E endpoints, then status() `reps` times; reports
// the median time, the process's peak RSS (getrusage maxrss) and the RSS growth over the status calls.
// Target (issue #21, 10k x 10): status() <= 500 ms, process RSS <= 150 MB.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { LoadBalancer } = require('../dist/index.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const N = Number(opt('n', 10000));
const E = Number(opt('endpoints', 10));
const REPS = Number(opt('reps', 3));
const modes = opt('modes', 'nftables').split(',');
const sh = (cmd, argv) => execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });

console.log(`lb status benchmark: N=${N} x ${E}; load average ${(await import('node:os')).loadavg()[0].toFixed(2)}; target <= 500 ms, RSS <= 150 MB`);
for (const mode of modes) {
  const ns = `klstatus-${process.pid}-${mode}`;
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  try {
    let lb = await LoadBalancer.open({ mode, netns: ns, removeOtherModes: false });
    await lb.apply({
      services: Array.from({ length: N }, (_, i) => ({
        name: `s${i}`, vip: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, port: 80, scheduler: mode === 'iptables' ? 'random' : 'wrr',
        endpoints: Array.from({ length: E }, (_, j) => ({ address: `10.${200 + (j >> 4)}.${(i >> 8) & 255}.${((i & 255) ^ j) || 1}`, port: 8000 + j, weight: 1 })),
      })),
    });
    await lb.close();
    // a scraper's process: a fresh handle that never applied anything
    global.gc?.();
    const before = process.memoryUsage().rss;
    lb = await LoadBalancer.open({ mode, netns: ns, removeOtherModes: false });
    const times = [];
    let st;
    for (let r = 0; r < REPS; r++) {
      const t = process.hrtime.bigint();
      st = await lb.status();
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    await lb.close();
    times.sort((a, b) => a - b);
    const eps = st.services.reduce((n, s) => n + s.endpoints.length, 0);
    console.log(`${mode.padEnd(9)} status(): median ${times[Math.floor(times.length / 2)].toFixed(0)} ms [${times[0].toFixed(0)}-${times[times.length - 1].toFixed(0)}] (${st.services.length} services, ${eps} endpoints); RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB (before the status calls ${(before / 1e6).toFixed(0)} MB), peak ${(process.resourceUsage().maxRSS / 1e3).toFixed(0)} MB`);
  } finally {
    sh('ip', ['netns', 'del', ns]);
  }
}
