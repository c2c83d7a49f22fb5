/**
 * The forms a kernel table holds that iptables-save does not print (test/kernel/iptables-read-valid
 * checks them against the kernel): the model keeps them so they validate and encode to the same
 * bytes, and save() prints what iptables-legacy-save 1.8.9 prints for them: nothing.
 */
import { describe, expect, it } from 'vitest';
import { iptEmptyTable, iptAppendRule } from '../../lib';
import { matchByType } from '../../lib/iptables/extensions';
import { decodeIface, encodeIface, xtAlign } from '../../lib/iptables/extensions/codec';
import { saveRule } from '../../lib/iptables/save';
import { validateTable } from '../../lib/iptables/validate';
import type { IptRule } from '../../lib/iptables/types';

const roundTrip = (type: string, v: Record<string, unknown>) => {
  const c = matchByType.get(type)!;
  const b = Buffer.alloc(xtAlign(c.size('ipv4', c.revision('ipv4'))));
  c.encode(v as never, b, 'ipv4');
  return c.decode(b, 'ipv4', c.revision('ipv4'));
};

describe('iptables: kernel forms iptables-save leaves out', () => {
  it('"-i +" keeps its name with an empty mask, inverted or not, and prints nothing', () => {
    const b = Buffer.alloc(32);
    encodeIface(b, 0, 16, '+');
    expect(b.subarray(0, 16).toString('latin1').replace(/\0+$/, '')).toBe('+');
    expect(b.subarray(16).every((x) => x === 0)).toBe(true);
    expect(decodeIface(b, 0, 16)).toBe('+');
    const r: IptRule = { inInterface: '+', invert: { inInterface: true }, target: { type: 'ACCEPT' } };
    expect(saveRule('INPUT', r, 'ipv4')).toBe('-A INPUT -j ACCEPT');
    const t = iptEmptyTable('ipv4', 'filter');
    iptAppendRule(t, 'INPUT', r);
    expect(() => validateTable(t)).not.toThrow();
  });

  it('an inverted full port range stays in the model, encodes as the kernel holds it and prints nothing', () => {
    for (const type of ['tcp', 'udp']) {
      const v = { type, sport: [0, 65535], invert: { sport: true } };
      expect(roundTrip(type, v)).toEqual(v);
      const r: IptRule = { protocol: type, matches: [v as never], target: { type: 'DROP' } };
      expect(saveRule('INPUT', r, 'ipv4')).toBe(`-A INPUT -p ${type} -m ${type} -j DROP`);
    }
    // Not inverted, the whole range is "no option" (what iptables writes without --sport).
    expect(roundTrip('tcp', { type: 'tcp', sport: [0, 65535] })).toEqual({ type: 'tcp' });
  });

  it('--ctstatus NONE is an empty status list that validates and prints NONE', () => {
    const v = { type: 'conntrack', status: [] };
    expect(roundTrip('conntrack', v)).toEqual(v);
    const r: IptRule = { matches: [v as never], target: { type: 'ACCEPT' } };
    expect(saveRule('INPUT', r, 'ipv4')).toBe('-A INPUT -m conntrack --ctstatus NONE -j ACCEPT');
    const t = iptEmptyTable('ipv4', 'filter');
    iptAppendRule(t, 'INPUT', r);
    expect(() => validateTable(t)).not.toThrow();
  });
});
