/** nft's chain priority names, both ways (lib/nft/priority.ts); the kernel tier checks them against nft. */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib';
import { parsePriority, priorityText } from '../../lib/nft/priority';
import { Transaction } from '../../lib/nft/transaction';

describe('nft chain priorities by name', () => {
  it('reads names with offsets as nft defines them per family and hook', () => {
    expect(parsePriority('ip', 'prerouting', 'dstnat')).toBe(-100);
    expect(parsePriority('inet', 'prerouting', 'dstnat + 10')).toBe(-90);
    expect(parsePriority('ip6', 'postrouting', 'srcnat - 3')).toBe(97);
    expect(parsePriority('ip', 'forward', 'mangle-5')).toBe(-155);
    expect(parsePriority('ip', 'input', 'raw')).toBe(-300);
    expect(parsePriority('ip', 'input', 'security')).toBe(50);
    expect(parsePriority('arp', 'input', 'filter')).toBe(0);
    expect(parsePriority('netdev', 'ingress', 'filter + 1')).toBe(1);
    // the bridge family's own values
    expect(parsePriority('bridge', 'prerouting', 'dstnat')).toBe(-300);
    expect(parsePriority('bridge', 'forward', 'filter')).toBe(-200);
    expect(parsePriority('bridge', 'output', 'out')).toBe(100);
    expect(parsePriority('bridge', 'postrouting', 'srcnat')).toBe(300);
    expect(parsePriority('ip', 'output', -7)).toBe(-7);
  });

  it('refuses names a family or hook does not take, and anything else that is not a 32-bit integer', () => {
    for (const [fam, hook, v] of [
      ['ip', 'postrouting', 'dstnat'], ['ip', 'prerouting', 'srcnat'], ['bridge', 'input', 'raw'], ['arp', 'input', 'mangle'],
      ['netdev', 'ingress', 'security'], ['bridge', 'prerouting', 'out'], ['ip', 'input', 'filter +'], ['ip', 'input', 'Filter'],
      ['ip', 'input', '0'], ['ip', 'input', 1.5], ['ip', 'input', 2 ** 31], ['ip', 'input', null], ['ip', 'input', 'filter + 99999999999'],
    ] as const) expect(parsePriority(fam, hook, v), `${fam} ${hook} ${String(v)}`).toHaveProperty('problem');
  });

  it('prints numbers as nft does: a name within 10 of its value where the family and hook take it, else the number', () => {
    expect(priorityText('ip', 'prerouting', -100)).toBe('dstnat');
    expect(priorityText('ip', 'prerouting', -90)).toBe('dstnat + 10');
    expect(priorityText('ip', 'prerouting', -89)).toBe('-89');
    expect(priorityText('ip', 'postrouting', -100)).toBe('-100'); // dstnat is for prerouting only
    expect(priorityText('ip', 'forward', -155)).toBe('mangle - 5');
    expect(priorityText('inet', 'input', 50)).toBe('security');
    expect(priorityText('ip', 'output', 123)).toBe('123');
    expect(priorityText('bridge', 'forward', -193)).toBe('filter + 7');
    expect(priorityText('bridge', 'output', 100)).toBe('out');
    expect(priorityText('netdev', 'ingress', -250)).toBe('-250');
    expect(priorityText('arp', 'input', 0)).toBe('filter');
  });

  it('addChain takes a name and sends its number; a wrong one is a ValidationError naming base.priority', () => {
    const t = new Transaction(async () => undefined);
    t.addChain({ family: 'ip', table: 't', name: 'c', base: { type: 'nat', hook: 'prerouting', priority: 'dstnat + 10' } });
    const u = new Transaction(async () => undefined);
    u.addChain({ family: 'ip', table: 't', name: 'c', base: { type: 'nat', hook: 'prerouting', priority: -90 } });
    expect((t.items()[0] as { packed: Buffer }).packed.equals((u.items()[0] as { packed: Buffer }).packed)).toBe(true);
    let err: unknown;
    try {
      t.addChain({ family: 'ip', table: 't', name: 'd', base: { type: 'nat', hook: 'postrouting', priority: 'dstnat' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('items[1].base.priority');
    expect((err as ValidationError).message).toMatch(/raw, mangle, filter, security, srcnat/);
  });
});
