/** The hand-written IPv4 check agrees with node:net's isIPv4 (the reference it replaces) everywhere. */
import { isIPv4 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isIpv4 } from '../../lib/nft/datatypes';

describe('isIpv4', () => {
  it('agrees with net.isIPv4 on edge cases', () => {
    const cases = ['0.0.0.0', '255.255.255.255', '256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', '1.2.3.0',
      '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', '1.2.3.4a', '1e1.2.3.4', '10.20.30.40', '192.168.001.1',
      '999.1.1.1', '1.1.1.1000', '', '1.2.3.4/8', '::1', '1.2.3.٤'];
    for (const c of cases) expect([c, isIpv4(c)]).toEqual([c, isIPv4(c)]);
  });
  it('agrees with net.isIPv4 on random strings over its alphabet', () => {
    const alphabet = '0123456789.';
    let seed = 12345;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    for (let k = 0; k < 200_000; k++) {
      let s = '';
      for (let i = 0, n = 5 + rnd(12); i < n; i++) s += rnd(5) === 0 ? '.' : alphabet[rnd(10)];
      if (isIpv4(s) !== isIPv4(s)) expect([s, isIpv4(s)]).toEqual([s, isIPv4(s)]);
    }
    for (let a = 0; a < 300; a += 7) for (let b = 0; b < 300; b += 13) {
      const s = `${a}.${b}.0.${(a * b) % 260}`;
      expect([s, isIpv4(s)]).toEqual([s, isIPv4(s)]);
    }
  });
});
