/**
 * A service's tag (the upper half of the IPVS flags word): the kernel keeps it and returns it,
 * ipvsadm shows the tagged service exactly as the untagged one, and an ipvsadm edit drops it
 * (ipvsadm writes the whole word). kernlb's ipvs mode relies on the first two and documents the third.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors';
import { bed, skip, title, type Bed } from './helpers';

describe.skipIf(skip)(title('ipvs service tag'), () => {
  let b: Bed;
  beforeEach(async () => void (b = await bed()));
  afterEach(async () => b.destroy());

  it('is stored and read back, invisible to ipvsadm -Ln and -Sn, and dropped by ipvsadm -E', async () => {
    await b.ipvs.addService({ protocol: 'tcp', address: '10.0.0.1', port: 80, scheduler: 'rr', tag: 0x6b6c, destinations: [{ address: '10.1.0.1', port: 80 }] });
    await b.ipvs.addService({ protocol: 'tcp', address: '10.0.0.2', port: 80, scheduler: 'rr', tag: 0xffff, onePacket: true, persistence: { timeout: 30 } });
    await b.ipvs.addService({ protocol: 'tcp', address: '10.0.0.3', port: 80, scheduler: 'rr', destinations: [{ address: '10.1.0.1', port: 80 }] });
    const byAddr = async () => new Map((await b.ipvs.listServices()).map((s) => ['address' in s ? s.address : '', s]));
    let m = await byAddr();
    expect(m.get('10.0.0.1')!.tag).toBe(0x6b6c);
    // (the low bits are still the kernel's own: one-packet and persistence next to a full tag)
    expect(m.get('10.0.0.2')).toMatchObject({ tag: 0xffff, onePacket: true, persistence: { timeout: 30 } });
    expect('tag' in m.get('10.0.0.3')!).toBe(false);
    const ln = await b.ipvsadm('-Ln');
    expect(ln).toMatch(/TCP  10\.0\.0\.1:80 rr\n  -> 10\.1\.0\.1:80 +Masq +1 +0 +0 *\nTCP  10\.0\.0\.2:80 rr persistent 30 ops\nTCP  10\.0\.0\.3:80 rr\n/);
    expect(await b.ipvsadm('-Sn')).toBe('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m -w 1\n-A -t 10.0.0.2:80 -s rr -p 30 -o\n-A -t 10.0.0.3:80 -s rr\n-a -t 10.0.0.3:80 -r 10.1.0.1:80 -m -w 1\n');
    await b.ipvsadm('-E', '-t', '10.0.0.1:80', '-s', 'wrr');
    m = await byAddr();
    expect('tag' in m.get('10.0.0.1')!).toBe(false);
    // kernlb's own update keeps it when asked to
    await b.ipvs.updateService({ protocol: 'tcp', address: '10.0.0.2', port: 80, scheduler: 'wlc', tag: 0x6b6c });
    expect((await byAddr()).get('10.0.0.2')).toMatchObject({ tag: 0x6b6c, scheduler: 'wlc', onePacket: false });
  });

  it('refuses a tag out of range before the kernel is touched', async () => {
    for (const tag of [-1, 0x10000, 1.5, '1'])
      await expect(b.ipvs.addService({ protocol: 'tcp', address: '10.0.0.1', port: 80, tag: tag as number })).rejects.toThrow(ValidationError);
    expect(await b.ipvs.listServices()).toEqual([]);
  });
});
