/**
 * Generated bad input sent for real to a kernel with IPVS (the UML guest here): seeded mutations of
 * a valid batch through Ipvs.batch and addService, and of a valid desired state through a
 * LoadBalancer in ipvs mode. A ValidationError sent nothing (the namespace is as it was); the kernel
 * may refuse what only it can judge (a KernelError, raw Ipvs only); nothing else, and no crash.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { IpvsOp, ServiceSpec } from '../../lib/ipvs';
import { LoadBalancer } from '../../lib/lb';
import type { DesiredState, Service, State } from '../../lib/lb/state';
import { caseLine, mutate, outcome, rng } from '../bad-input';
import { bed, normalized, skip, title } from './helpers';

const CASES = 100;

const setup: IpvsOp[] = [
  {
    op: 'addService',
    service: {
      protocol: 'tcp', address: '10.0.0.1', port: 80, scheduler: 'sh', schedulerFlags: ['sh-port'], persistence: { timeout: 600, netmask: '255.255.255.0' },
      destinations: [
        { address: '10.1.0.1', port: 8080, weight: 3, upperThreshold: 100, lowerThreshold: 10 },
        { address: '10.1.0.2', weight: 0, forwarding: 'route' },
        { address: '10.1.0.3', forwarding: 'tunnel', tunnel: { type: 'gue', port: 6080, checksum: 'csum' } },
      ],
    },
  },
  { op: 'addService', service: { protocol: 'udp', address: 'fd00::10', port: 53, scheduler: 'wrr', onePacket: true, destinations: [{ address: 'fd00::1:1', port: 5353, weight: 2 }] } },
  { op: 'addService', service: { fwmark: 7, scheduler: 'lc', destinations: [{ address: '10.3.0.1', port: 80 }] } },
  { op: 'addDestination', service: { fwmark: 7 }, destination: { address: '10.3.0.2', port: 80, weight: 4, forwarding: 'route' } },
];

const lbState: DesiredState = {
  services: [
    { name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'wrr', persistence: { timeout: 300 }, endpoints: [{ address: '10.244.1.2', port: 8080, weight: 2 }, { address: '10.244.1.3', port: 8080 }, { address: '10.244.1.4', port: 8080, weight: 0 }] },
    { name: 'dns', protocol: 'udp', vip: 'fd00::10', port: 53, scheduler: 'mh', endpoints: [{ address: 'fd00::1:1', port: 5353 }] },
    { name: 'sctp', protocol: 'sctp', vip: '10.96.0.11', port: 3868, scheduler: 'lblcr', endpoints: [{ address: '10.244.2.1', port: 3868, weight: 65535 }] },
  ],
};

const byName = (s: State) => [...s.services].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

describe.skipIf(skip)(title('IPVS: generated bad input sent to the kernel'), () => {
  it('Ipvs.batch and addService: a refused batch sent nothing; never an error other than ValidationError or KernelError', async () => {
    const b = await bed();
    try {
      // the unbroken batch is accepted whole by this kernel
      expect((await b.ipvs.batch(setup)).failures).toEqual([]);
      const wrong: string[] = [];
      let validation = 0, sent = 0;
      for (let seed = 1; seed <= CASES; seed++) {
        const { input, mutation } = mutate(setup, rng(seed));
        await b.ipvs.flush();
        const o = await outcome(() => b.ipvs.batch(input));
        if (o.kind === 'validation') {
          validation++;
          const left = await b.ipvs.listServices();
          if (left.length) wrong.push(caseLine(seed, mutation, new Error(`refused, but ${left.length} services were added`)));
        } else if (o.kind === 'ok') sent++;
        else wrong.push(caseLine(seed, mutation, o.error)); // batch() returns kernel failures, never throws them
        // the same mutated service through addService (its own rollback on a destination's failure)
        const first = (input as { service?: ServiceSpec }[]).find((x) => x && typeof x === 'object' && x.service)?.service;
        if (first !== undefined) {
          await b.ipvs.flush();
          const a = await outcome(() => b.ipvs.addService(first));
          if (a.kind === 'validation' || a.kind === 'kernel') {
            const left = await b.ipvs.listServices();
            if (left.length) wrong.push(caseLine(seed, mutation, new Error(`addService refused (${a.kind}), but ${left.length} services are there`)));
          } else if (a.kind !== 'ok') wrong.push(caseLine(seed, mutation, a.error));
        }
      }
      expect(wrong).toEqual([]);
      expect(validation).toBeGreaterThan(CASES / 3);
      expect(sent).toBeGreaterThan(0);
    } finally {
      await b.destroy();
    }
  });

  it('LoadBalancer in ipvs mode: each mutated state is applied or a ValidationError that changed nothing', async () => {
    const b = await bed();
    try {
      await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: b.ns.name });
      await lb.apply(lbState);
      const wrong: string[] = [];
      let validation = 0, ok = 0;
      for (let seed = 1; seed <= CASES; seed++) {
        const { input, mutation } = mutate(lbState, rng(seed));
        const before = normalized(await b.ipvs.listServices());
        const o = await outcome(() => lb.apply(input));
        if (o.kind === 'validation') {
          validation++;
          if (!isDeepStrictEqual(normalized(await b.ipvs.listServices()), before)) wrong.push(caseLine(seed, mutation, new Error('refused, but the kernel changed')));
          const st = await outcome(() => lb.status());
          if (st.kind !== 'ok') wrong.push(caseLine(seed, mutation, st.error));
        } else if (o.kind === 'ok') {
          ok++;
          // Removed endpoints drain in IPVS (weight 0, kept) and status() leaves them out of its
          // state: every service must read back whole, endpoints and weights included.
          const fields = (s: Service) => [s.name, s.vip, s.port, s.protocol, s.scheduler, s.persistence?.timeout ?? 0, s.endpoints.map((e) => `${e.address}:${e.port} w${e.weight}`)];
          const read = byName((await lb.status()).state).map(fields);
          const want = byName(lb.validate(input)).map(fields);
          if (!isDeepStrictEqual(read, want))
            wrong.push(caseLine(seed, mutation, new Error(`accepted, but status() reads ${JSON.stringify(read)} for ${JSON.stringify(want)}`)));
          await lb.apply(lbState);
        } else wrong.push(caseLine(seed, mutation, o.error));
      }
      expect(wrong).toEqual([]);
      expect(validation).toBeGreaterThan(CASES / 3);
      expect(ok).toBeGreaterThan(0);
    } finally {
      await b.destroy();
    }
  });
});
