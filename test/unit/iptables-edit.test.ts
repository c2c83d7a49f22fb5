/** Edit helpers on a read table: the result encodes to exactly what iptables would print. */
import { describe, expect, it } from 'vitest';
import {
  iptAppendRule as appendRule, iptCreateChain as createChain, iptDeleteChain as deleteChain, iptDeleteRule as deleteRule,
  iptEmptyTable as emptyTable, iptEnsureChain as ensureChain, iptFlushChain as flushChain, iptInsertRule as insertRule,
  iptRenameChain as renameChain, iptReplaceRule as replaceRule, iptSetPolicy as setPolicy, iptZeroCounters as zeroCounters,
  iptablesSave as saveTable,
} from '../../lib';

describe('iptables edit helpers', () => {
  it('append/insert/delete/replace rules, create/flush/rename/delete chains, policy, counters', () => {
    const t = emptyTable('ipv4', 'filter');
    t.chains[0]!.counters = { packets: 3, bytes: 300 };
    createChain(t, 'WEB');
    appendRule(t, 'INPUT', { protocol: 'tcp', matches: [{ type: 'tcp', dport: 80 }], target: { type: 'jump', chain: 'WEB' } });
    appendRule(t, 'WEB', { source: '10.0.0.0/8', target: { type: 'ACCEPT' } });
    insertRule(t, 'WEB', { source: '10.6.6.6', target: { type: 'DROP' } });
    appendRule(t, 'WEB', { target: { type: 'RETURN' }, counters: { packets: 1, bytes: 2 } });
    replaceRule(t, 'WEB', 3, { target: { type: 'DROP' } });
    deleteRule(t, 'WEB', 2);
    setPolicy(t, 'FORWARD', 'DROP');
    expect(ensureChain(t, 'WEB')).toBe(t.chains.find((c) => c.name === 'WEB'));
    ensureChain(t, 'AUDIT');
    renameChain(t, 'WEB', 'WEB2');
    expect(saveTable(t)).toBe([
      '*filter', ':INPUT ACCEPT [3:300]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]', ':AUDIT - [0:0]', ':WEB2 - [0:0]',
      '-A INPUT -p tcp -m tcp --dport 80 -j WEB2', '-A WEB2 -s 10.6.6.6/32 -j DROP', '-A WEB2 -j DROP', 'COMMIT', '',
    ].join('\n'));
    zeroCounters(t);
    expect(t.chains[0]!.counters).toEqual({ packets: 0, bytes: 0 });
    flushChain(t, 'WEB2');
    deleteChain(t, 'AUDIT');
    expect(() => deleteChain(t, 'WEB2')).toThrow(/referenced by INPUT rule 1/);
    expect(t.chains.map((c) => c.name)).toEqual(['INPUT', 'FORWARD', 'OUTPUT', 'WEB2']);
    expect(() => emptyTable('ipv4', 'nosuch')).toThrow(/unknown table/);
  });
});
