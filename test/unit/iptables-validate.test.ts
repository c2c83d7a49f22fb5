/** Bad input is a ValidationError naming the chain, the rule number and the field, before any kernel call. */
import { describe, expect, it } from 'vitest';
import { iptEmptyTable as emptyTable, iptAppendRule as appendRule, iptCreateChain as createChain, iptDeleteChain as deleteChain, iptRenameChain as renameChain, iptSetPolicy as setPolicy, iptInsertRule as insertRule, iptDeleteRule as deleteRule, iptReplaceRule as replaceRule, ValidationError, validateIptTable as validateTable, type IptRule, type IptTable } from '../../lib';

function table(rules: IptRule[], family: 'ipv4' | 'ipv6' = 'ipv4'): IptTable {
  const t = emptyTable(family, 'nat');
  createChain(t, 'KUBE-SVC-A');
  for (const r of rules) appendRule(t, 'KUBE-SVC-A', r);
  return t;
}
function problem(t: IptTable): string {
  try {
    validateTable(t);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as Error).message;
  }
  throw new Error('no ValidationError');
}

describe('iptables validation', () => {
  it('accepts a kube-proxy style service chain', () => {
    const t = table([
      { matches: [{ type: 'comment', comment: 'ns/svc -> 10.0.0.1:80' }, { type: 'statistic', mode: 'random', probability: 0.5 }], target: { type: 'DNAT', address: '10.0.0.1', port: 80 }, protocol: 'tcp' },
    ]);
    expect(() => validateTable(t)).not.toThrow();
  });

  it('names chain and rule number for each kind of mistake', () => {
    expect(problem(table([{ target: { type: 'jump', chain: 'KUBE-SEP-NOPE' } }]))).toMatch(/chain KUBE-SVC-A rule 1: target.chain: unknown chain "KUBE-SEP-NOPE"/);
    expect(problem(table([{}, { source: '10.0.0.300/8' }]))).toMatch(/chain KUBE-SVC-A rule 2: source: not an ipv4 address/);
    expect(problem(table([{ destination: '10.0.0.0/33' }]))).toMatch(/rule 1: destination/);
    expect(problem(table([{ source: 'fd00::1' }]))).toMatch(/not an ipv4 address/);
    expect(problem(table([{ protocol: 'tcp', matches: [{ type: 'tcp', dport: 70000 }] }]))).toMatch(/rule 1: matches\[0\]\.dport: must be a port/);
    expect(problem(table([{ protocol: 'tcp', matches: [{ type: 'tcp', dport: [90, 80] }] }]))).toMatch(/matches\[0\]\.dport/);
    expect(problem(table([{ matches: [{ type: 'statistic', mode: 'random', probability: 1.5 }] }]))).toMatch(/rule 1: matches\[0\]\.probability: must be between 0 and 1/);
    expect(problem(table([{ matches: [{ type: 'statistic', mode: 'random', probability: -0.1 }] }]))).toMatch(/probability/);
    expect(problem(table([{ target: { type: 'DNAT', address: '10.0.0.1', port: 80 } }]))).toMatch(/target\.port: needs the rule protocol/);
    expect(problem(table([{ target: { type: 'DNAT', address: 'nope' } }]))).toMatch(/target\.address: not an ipv4 address/);
    expect(problem(table([{ matches: [{ type: 'comment', comment: 'x'.repeat(300) }] }]))).toMatch(/longer than 255 bytes/);
    expect(problem(table([{ inInterface: 'a-very-long-interface-name' }]))).toMatch(/inInterface/);
    expect(problem(table([{ matches: [{ type: 'icmp6', icmpType: 128 }] }]))).toMatch(/not available for ipv4/);
    expect(problem(table([{ matches: [{ type: 'multiport', direction: 'destination', ports: [1, 2] }] }]))).toMatch(/needs the rule protocol/);
  });

  it('requires the built-in chains with a policy', () => {
    const t = table([]);
    delete t.chains[0]!.policy;
    expect(problem(t)).toMatch(/chains\[0\] \(PREROUTING\)\.policy: a built-in chain needs a policy/);
    const u = table([]);
    u.chains = u.chains.filter((c) => c.name !== 'OUTPUT');
    expect(problem(u)).toMatch(/needs its built-in chain OUTPUT/);
  });

  it('takes chain names of one byte per character only, without spaces, control characters or "!"', () => {
    for (const bad of ['A\u0001B', 'A\u007fB', 'Ω-CHAIN', 'A B', 'A!B', 'x'.repeat(29)]) {
      const t = table([]);
      t.chains.push({ name: bad, rules: [] });
      expect(problem(t)).toMatch(/\.name: must be 1-28 characters of one byte each/);
    }
    const t = table([]);
    t.chains.push({ name: 'grüße', rules: [] }); // (Latin-1: read back byte for byte)
    expect(() => validateTable(t)).not.toThrow();
  });

  it('refuses a rule whose entry would outgrow the kernel\'s 16-bit offsets (raw extensions of up to 64 KiB each)', () => {
    const raw = (n: number) => ({ type: 'raw' as const, name: 'length', revision: 1, data: Buffer.alloc(n) });
    // An IPv4 entry: 112 bytes, each extension a 32-byte header and its data, a standard target 40.
    const fits = emptyTable('ipv4', 'filter'), over = emptyTable('ipv4', 'filter'), two = emptyTable('ipv4', 'filter');
    appendRule(fits, 'INPUT', { matches: [raw(65344)] }); // 112 + 32 + 65344 + 40 = 65528
    appendRule(over, 'INPUT', { matches: [raw(65352)] }); // 65536
    appendRule(two, 'INPUT', { matches: [raw(32768)], target: { type: 'raw', name: 'TCPMSS', revision: 0, data: Buffer.alloc(32768) } });
    expect(() => validateTable(fits)).not.toThrow();
    for (const [t, bytes] of [[over, 65536], [two, 112 + 32 + 32768 + 32 + 32768]] as const) {
      const e = (() => {
        try {
          validateTable(t);
        } catch (x) {
          return x as ValidationError;
        }
      })();
      expect(e).toBeInstanceOf(ValidationError);
      expect(e!.field).toBe('chain INPUT rule 1: matches');
      expect(e!.message).toContain(`make an entry of ${bytes} bytes; the kernel's limit is 65535`);
    }
  });

  it('collects several problems into one ValidationErrors', () => {
    const t = table([{ source: 'x' }, { destination: 'y' }]);
    expect(problem(t)).toMatch(/\(and 1 more\)/);
  });

  it('edit helpers refuse bad references at once', () => {
    const t = table([{ target: { type: 'ACCEPT' } }]);
    expect(() => appendRule(t, 'NOPE', {})).toThrow(/no chain "NOPE"/);
    expect(() => insertRule(t, 'KUBE-SVC-A', {}, 5)).toThrow(/no rule 5/);
    expect(() => deleteRule(t, 'KUBE-SVC-A', 2)).toThrow(/no rule 2/);
    expect(() => replaceRule(t, 'KUBE-SVC-A', 0, {})).toThrow(/no rule 0/);
    expect(() => createChain(t, 'KUBE-SVC-A')).toThrow(/already exists/);
    expect(() => setPolicy(t, 'KUBE-SVC-A', 'DROP')).toThrow(/only built-in chains/);
    createChain(t, 'KUBE-SEP-1');
    appendRule(t, 'KUBE-SVC-A', { target: { type: 'jump', chain: 'KUBE-SEP-1' } });
    expect(() => deleteChain(t, 'KUBE-SEP-1')).toThrow(/referenced by KUBE-SVC-A rule 2/);
    renameChain(t, 'KUBE-SEP-1', 'KUBE-SEP-2');
    expect(t.chains.find((c) => c.name === 'KUBE-SVC-A')!.rules[1]!.target).toEqual({ type: 'jump', chain: 'KUBE-SEP-2' });
    expect(() => validateTable(t)).not.toThrow();
  });
});
