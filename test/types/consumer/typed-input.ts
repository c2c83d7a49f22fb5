// The load balancer's input is typed for typed callers: each @ts-expect-error line must be a compile
// error (tsc fails on an unused one), and the lines without it must compile. Compiled against the
// packed package by scripts/check-types.sh.
import { LoadBalancer, validateState, type DesiredState, type Mode } from 'kernlb';

export async function typedInput(someMode: Mode): Promise<void> {
  const ipt = await LoadBalancer.open({ mode: 'iptables', netns: 'lb' });
  const lb = await LoadBalancer.open({ mode: someMode, netns: 'lb' });

  // @ts-expect-error a number is not a state
  await lb.apply(42);
  // @ts-expect-error ports are numbers
  await lb.apply({ services: [{ name: 'web', vip: '10.0.0.1', port: '80', endpoints: [] }] });
  // @ts-expect-error no scheduler of any mode is called wrrr
  await lb.apply({ services: [{ name: 'web', vip: '10.0.0.1', port: 80, scheduler: 'wrrr', endpoints: [] }] });
  // @ts-expect-error iptables mode has no source hashing: LoadBalancer<'iptables'> takes iptables' schedulers
  await ipt.apply({ services: [{ name: 'web', vip: '10.0.0.1', port: 80, scheduler: 'sh', endpoints: [] }] });
  // @ts-expect-error endpoints' weights are numbers
  await ipt.diff({ services: [{ name: 'web', vip: '10.0.0.1', port: 80, endpoints: [{ address: '10.1.0.1', port: 8080, weight: 'heavy' }] }] });
  // @ts-expect-error validate takes typed input too (text from a file goes through validateState)
  ipt.validate('{"services": []}');
  // @ts-expect-error a misspelled key
  await ipt.apply({ service: [] });

  // what typed callers write compiles
  await ipt.apply({ services: [{ name: 'web', vip: '10.0.0.1', port: 80, scheduler: 'random', endpoints: [{ address: '10.1.0.1', port: 8080, weight: 2 }] }] });
  await lb.apply({ services: [{ name: 'web', vip: '10.0.0.1', port: 80, scheduler: 'rr', endpoints: [] }] }, { dryRun: true });
  // read, edit, apply: what status returns is a state apply takes
  const st = await ipt.status();
  st.state.services[0]!.endpoints[0]!.weight = 3;
  await ipt.apply(st.state);
  // input of unknown shape (a file): validateState takes unknown and returns a State apply takes
  const fromFile: unknown = JSON.parse('{"services": []}');
  await ipt.apply(validateState(fromFile, ipt.mode));
  // the controller's fast path: the Services validate() returned, passed back (taken by identity),
  // a changed or new service as a spec beside them
  const kept = ipt.validate({ services: [{ name: 'web', vip: '10.0.0.1', port: 80, endpoints: [] }] });
  await ipt.apply({ services: [...kept.services, { name: 'new', vip: '10.0.0.2', port: 80, scheduler: 'random', endpoints: [] }] });
  // @ts-expect-error a spec beside Services is still checked against the mode's schedulers
  await ipt.apply({ services: [...kept.services, { name: 'new', vip: '10.0.0.2', port: 80, scheduler: 'sh', endpoints: [] }] });
  const any: DesiredState = { services: [] };
  await lb.apply(any);
  await Promise.all([ipt.close(), lb.close()]);
}
