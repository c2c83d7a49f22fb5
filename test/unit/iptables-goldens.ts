/**
 * Extension codecs against golden bytes: each golden is the data the kernel returned
 * (IPT_SO_GET_ENTRIES) after iptables-legacy-restore loaded `cmd`, XT_ALIGN-padded.
 */
import { describe, expect, it } from 'vitest';
import { matchByType, targetByType, type AnyCodec } from '../../lib/iptables/extensions';
import { xtAlign } from '../../lib/iptables/extensions/codec';
import type { IptFamily, IptRule } from '../../lib/iptables/types';

export interface Golden {
  cmd: string;
  family?: IptFamily;
  rule?: IptRule;
  value: { type: string } & Record<string, unknown>;
  kind: 'match' | 'target';
  name: string;
  revision: number;
  hex: string;
}

/** n zero bytes in hex. */
export const z = (n: number) => '00'.repeat(n);

/** One test per golden: codec name and revision, valid, encodes to the kernel's bytes and decodes back. */
export function describeGoldens(title: string, goldens: Golden[]): void {
  describe(title, () => {
    for (const g of goldens) {
      it(`${g.cmd}`, () => {
        const family = g.family ?? 'ipv4';
        const codec = (g.kind === 'match' ? matchByType : targetByType).get(g.value.type) as AnyCodec;
        expect(codec.name).toBe(g.name);
        expect(codec.revision(family)).toBe(g.revision);
        expect(codec.validate(g.value, family, g.rule ?? {})).toEqual([]);
        const b = Buffer.alloc(xtAlign(codec.size(family, g.revision)));
        codec.encode(g.value, b, family);
        expect(b.toString('hex')).toBe(g.hex);
        expect(codec.decode(Buffer.from(g.hex, 'hex'), family, g.revision)).toEqual(g.value);
      });
    }
  });
}
