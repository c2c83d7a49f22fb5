/**
 * The IPVS mode sends an apply's steps in chunks of 1024 per Ipvs.batch (backend.ts #send: a full
 * apply of 10k x 10 made its 10k ops, 110k destination specs in them, and their plans at once). Against a handle that records each
 * batch and refuses a chosen op: every step is sent once, in order; the first refusal stops the
 * apply (nothing after its chunk is sent) and its index counts from the apply's first step.
 */
import { describe, expect, it } from 'vitest';
import { KernelError, kernelError } from '../../lib/errors';
import type { Ipvs, IpvsOp } from '../../lib/ipvs';
import { IpvsBackend } from '../../lib/lb/modes/ipvs/backend';
import { validateState } from '../../lib/lb/state';

const state = (n: number) =>
  validateState({
    services: Array.from({ length: n }, (_, i) => ({
      name: `s${i}`, vip: `10.96.${i >> 8}.${i & 255}`, port: 80, scheduler: 'rr',
      endpoints: Array.from({ length: 10 }, (_, j) => ({ address: `10.${200 + j}.${i >> 8}.${i & 255}`, port: 8080 })),
    })),
  }, 'ipvs');

/** A handle whose batch() records what it is sent and refuses the op at `refuse` (counted over all calls). */
function recorder(refuse = -1) {
  const calls: IpvsOp[][] = [];
  let seen = 0;
  const fake = {
    batch: async (ops: IpvsOp[], opts: { stopOnError?: boolean }) => {
      expect(opts.stopOnError).toBe(true);
      calls.push(ops);
      const at = refuse - seen;
      seen += ops.length;
      if (at < 0 || at >= ops.length) return { applied: ops.length, failures: [] };
      return { applied: at, failures: [kernelError({ errno: 17, op: 'IPVS batch', index: at, item: `${ops[at]!.op} #${refuse}` })] };
    },
  };
  return { calls, b: new IpvsBackend(fake as unknown as Ipvs) };
}
const empty = { state: { services: [] }, services: [], draining: [], current: [] };

describe('IPVS mode: an apply sent in chunks', () => {
  it('3000 services x 10: 3000 steps (a service added with its destinations) in three batches, in order, each once', async () => {
    const { calls, b } = recorder();
    const r = await b.apply(state(3000), empty as never, { dryRun: false });
    expect(r.operations).toBe(3000);
    expect(calls.map((c) => c.length)).toEqual([1024, 1024, 952]);
    const ops = calls.flat();
    expect(ops.every((o) => o.op === 'addService')).toBe(true);
    const vips = ops.map((o) => (o.op === 'addService' && 'address' in o.service ? o.service.address : ''));
    expect(new Set(vips).size).toBe(3000);
    expect(ops.reduce((n, o) => n + (o.op === 'addService' ? (o.service.destinations?.length ?? 0) : 0), 0)).toBe(30000);
  });

  for (const [refuse, batches] of [[100, 1], [2500, 3]] as const) {
    it(`a refusal of step ${refuse} (batch ${batches}): the apply stops there and the error's index is ${refuse}`, async () => {
      const { calls, b } = recorder(refuse);
      const e = await b.apply(state(3000), empty as never, { dryRun: false }).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(KernelError);
      expect((e as KernelError).index).toBe(refuse);
      expect((e as KernelError).item).toContain(`#${refuse}`);
      expect((e as KernelError).errno).toBe(17);
      expect(calls).toHaveLength(batches);
    });
  }
});
