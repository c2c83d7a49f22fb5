/** The table blob: encode then decode gives the model back; layout facts libiptc relies on hold. */
import { describe, expect, it } from 'vitest';
import { decodeIptTable as decodeTable, encodeIptTable as encodeTable, parseIptablesSave, iptablesSave as saveTable } from '../../lib';
import { ALL_IPV4, ALL_IPV6, KUBE_PROXY, typedOnly } from './iptables-fixtures';
import type { IptTable } from '../../lib';

function roundTrip(t: IptTable, hooks: number): IptTable {
  const enc = encodeTable(t, hooks);
  const h = enc.blob;
  const hookEntry = [0, 1, 2, 3, 4].map((i) => h.readUInt32LE(44 + i * 4));
  const underflow = [0, 1, 2, 3, 4].map((i) => h.readUInt32LE(64 + i * 4));
  return decodeTable({ validHooks: h.readUInt32LE(32), hookEntry, underflow, entries: h.subarray(96) }, t.family, t.name);
}
const strip = (t: IptTable) => ({ ...t, chains: t.chains.map((c) => ({ ...c, rules: c.rules.map(({ counters: _c, ...r }) => r) })) });

describe('table blob', () => {
  it('encodes and decodes every typed extension (IPv4 and IPv6) and kube-proxy layout', () => {
    const hooks: Record<string, number> = { filter: 0b01110, nat: 0b11011, raw: 0b01001 };
    for (const [text, family] of [[typedOnly(ALL_IPV4), 'ipv4'], [typedOnly(ALL_IPV6), 'ipv6'], [KUBE_PROXY, 'ipv4']] as const) {
      for (const t of parseIptablesSave(text, family)) {
        const back = roundTrip(t, hooks[t.name]!);
        expect(saveTable(back)).toBe(saveTable(t));
        expect(strip(back)).toEqual(strip({ ...t, chains: back.chains.map((c) => t.chains.find((x) => x.name === c.name)!) }));
      }
    }
  });

  it('lays out a nat table like libiptc: hooks, policy underflows, ERROR heads, jump offsets', () => {
    const t = parseIptablesSave('*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING DROP [0:0]\n:B - [0:0]\n:A - [0:0]\n-A PREROUTING -j B\n-A B -j A\nCOMMIT\n')[0]!;
    const { blob, numEntries } = encodeTable(t, 0b11011);
    // PREROUTING: rule (152) + policy (152); INPUT, OUTPUT, POSTROUTING policies; A head(176)+tail(152); B head+rule+tail; ERROR.
    expect(numEntries).toBe(2 + 1 + 1 + 1 + 2 + 3 + 1);
    expect(blob.readUInt32LE(36)).toBe(numEntries);
    expect([0, 1, 2, 3, 4].map((i) => blob.readUInt32LE(44 + i * 4))).toEqual([0, 304, 0xffffffff, 456, 608]);
    expect([0, 1, 2, 3, 4].map((i) => blob.readUInt32LE(64 + i * 4))).toEqual([152, 304, 0xffffffff, 456, 608]);
    const e = blob.subarray(96);
    // POSTROUTING policy DROP = verdict -1; user chain A (sorted first) starts at 760 with an ERROR head.
    expect(e.readInt32LE(608 + 112 + 32)).toBe(-1);
    expect(e.toString('latin1', 760 + 112 + 2, 760 + 112 + 7)).toBe('ERROR');
    expect(e.toString('latin1', 760 + 112 + 32, 760 + 112 + 33)).toBe('A');
    // PREROUTING's rule jumps to B's first rule: B head at 760+176+152 = 1088, first rule at 1088+176.
    expect(e.readInt32LE(112 + 32)).toBe(1088 + 176);
    expect(e.readInt32LE(1264 + 112 + 32)).toBe(760 + 176);
    expect(blob.readUInt32LE(40)).toBe(e.length);
  });
});
