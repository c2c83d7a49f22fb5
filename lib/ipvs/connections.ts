/**
 * Parser of /proc/net/ip_vs_conn (kernel ip_vs_conn_seq_show): IPv4 addresses as 8 hex digits,
 * IPv6 as %pI6 (full, colon-separated), ports as 4 hex digits, then state, seconds to expiry and,
 * for persistence-engine templates, the engine's name and data.
 */
import type { Connection, Endpoint } from './types';

function addr(text: string): string {
  if (/^[0-9A-Fa-f]{8}$/.test(text)) {
    const n = parseInt(text, 16);
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  }
  // Full IPv6 form: drop leading zeros of each group and compress the longest zero run.
  const groups = text.split(':').map((g) => parseInt(g, 16).toString(16));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function endpoint(a: string, p: string): Endpoint {
  return { address: addr(a), port: parseInt(p, 16) };
}

export function parseConnections(text: string): Connection[] {
  const out: Connection[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 9 || f[0] === 'Pro') continue;
    const c: Connection = {
      protocol: f[0]!.toLowerCase(),
      client: endpoint(f[1]!, f[2]!),
      virtual: endpoint(f[3]!, f[4]!),
      destination: endpoint(f[5]!, f[6]!),
      state: f[7]!,
      expiresSeconds: Number(f[8]),
    };
    if (f[9] !== undefined) c.persistenceEngine = f[9];
    if (f.length > 10) c.persistenceData = f.slice(10).join(' ');
    out.push(c);
  }
  return out;
}
