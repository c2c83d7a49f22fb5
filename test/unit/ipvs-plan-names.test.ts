/**
 * Ipvs.batch's planner validates a big batch without building a field path per field (it validates
 * unnamed and names an op only when it fails): the error must still name the exact field of the
 * exact op, and each message must still say what it concerns.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors';
import { plan } from '../../lib/ipvs/ipvs';
import type { IpvsOp } from '../../lib/ipvs/types';
import { Cmd } from '../../lib/ipvs/constants';

const svc = (i: number, dests: Record<string, unknown>[]): IpvsOp => ({
  op: 'addService',
  service: { protocol: 'tcp', address: `10.0.0.${i + 1}`, port: 80, scheduler: 'wrr', destinations: dests as never },
});
const dest = (j: number, over: Record<string, unknown> = {}) => ({ address: `10.1.0.${j + 1}`, port: 8000 + j, weight: 1, ...over });

function errorOf(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('Ipvs batch planner: field names and descriptions', () => {
  it('names the failing field of the failing op exactly (a destination deep in a batch, a service field, a single op)', () => {
    const ops = [svc(0, [dest(0), dest(1)]), svc(1, [dest(0), dest(1, { weight: -1 }), dest(2)]), svc(2, [dest(0)])];
    expect(errorOf(() => plan(ops, (i) => `ops[${i}].`)).field).toBe('ops[1].service.destinations[1].weight');
    const badPort = [svc(0, [dest(0)]), { ...svc(1, []), service: { protocol: 'tcp', address: '10.0.0.2', port: 70000 } } as IpvsOp];
    expect(errorOf(() => plan(badPort, (i) => `ops[${i}].`)).field).toBe('ops[1].service.port');
    const badAddr: IpvsOp[] = [{ op: 'updateDestination', service: { protocol: 'tcp', address: '10.0.0.1', port: 80 }, destination: { address: '10.1.0.x', port: 1 } }];
    expect(errorOf(() => plan(badAddr, () => '')).field).toBe('destination.address');
  });

  it('plans one message per service and per destination, each saying what it concerns', () => {
    const planned = plan([svc(0, [dest(0), dest(1)]), svc(1, [dest(0)])], (i) => `ops[${i}].`);
    expect(planned.map((p) => [p.op.cmd, p.from, p.opName, p.what()])).toEqual([
      [Cmd.NEW_SERVICE, 0, 'add', 'service tcp 10.0.0.1:80'],
      [Cmd.NEW_DEST, 0, 'add', 'destination 10.1.0.1:8000 of service tcp 10.0.0.1:80'],
      [Cmd.NEW_DEST, 0, 'add', 'destination 10.1.0.2:8001 of service tcp 10.0.0.1:80'],
      [Cmd.NEW_SERVICE, 1, 'add', 'service tcp 10.0.0.2:80'],
      [Cmd.NEW_DEST, 1, 'add', 'destination 10.1.0.1:8000 of service tcp 10.0.0.2:80'],
    ]);
  });
});
