/**
 * Issue #21, the iptables mode's heap: once a service's chains are committed, the mode keeps them
 * in the kernel's model only (the objects the next commit copies and carries counters by), not
 * also the compiled ones: compile.ts' cache entry is let go, so the next compile of that Service
 * makes new objects. A change after that still carries the untouched services' counters.
 */
import { describe, expect, it } from 'vitest';
import { LoadBalancer } from '../../lib/lb';
import { serviceChains } from '../../lib/lb/modes/iptables/compile';
import { createTopology, kernelTestsSkipReason, sendRequests } from '../../lib/testing';

const skip = kernelTestsSkipReason();

describe.skipIf(skip)(`lb iptables heap kept (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  // (direct: a change is a splice; libiptc: the whole table again, its rules found by identity)
  it.each(['direct', 'libiptc'] as const)('%s engine: the compiled chains are let go after the commit; counters of an untouched service survive a change', async (engine) => {
    await using topo = await createTopology({ backends: 2 });
    await using lb = await LoadBalancer.open({ mode: 'iptables', netns: topo.balancer.name, iptables: { engine } });
    const st = lb.validate({
      services: [
        { name: 'web', vip: topo.vip4, port: 80, scheduler: 'rr', endpoints: topo.backends.map((b) => ({ address: b.ipv4, port: b.port })) },
        { name: 'api', vip: topo.vip4, port: 81, scheduler: 'rr', endpoints: topo.backends.map((b) => ({ address: b.ipv4, port: b.port })) },
      ],
    });
    const web = st.services.find((s) => s.name === 'web')!;
    const compiled = serviceChains(web); // (cached now: the apply compiles these very objects)
    expect(serviceChains(web)).toBe(compiled);
    await lb.apply(st);
    expect(serviceChains(web)).not.toBe(compiled);
    expect(serviceChains(web)).toEqual(compiled);
    expect((await sendRequests(topo.client, topo.vip4, 80, 4, { concurrency: 1 })).failures).toBe(0);
    // a change of the other service, through apply(state) with the same web Service: web's counters carry on
    await lb.apply({ services: [web, { ...st.services.find((s) => s.name === 'api')!, endpoints: [{ address: topo.backends[0]!.ipv4, port: topo.backends[0]!.port, weight: 1 }] }] });
    const after = await lb.status();
    expect(after.services.find((s) => s.name === 'web')!.endpoints.map((e) => e.counters.connections)).toEqual([2, 2]);
  });
});
