// Run unprivileged by test/kernel/permission-errors.test.ts (as nobody via setpriv, or in a user
// namespace without rights over the network namespace): uses one subsystem through the built
// package (dist/) and prints how it failed, as one JSON line.
'use strict';
const k = require('../../dist/index.js');

const state = { services: [{ name: 'web', protocol: 'tcp', vip: '10.96.0.1', port: 80, endpoints: [{ address: '10.0.0.1', port: 8080 }] }] };
// (Node 20 has no `await using`: each use closes its handle in a finally.)
async function withHandle(open, use) {
  const h = await open();
  try {
    await use(h);
  } finally {
    await h.close();
  }
}
const uses = {
  'nftables list': () => withHandle(() => k.Nftables.open(), (h) => h.list()),
  'nftables commit': () => withHandle(() => k.Nftables.open(), (h) => h.transaction().addTable({ family: 'inet', name: 'kernlb-perm' }).commit()),
  'iptables read': () => withHandle(() => k.Iptables.open(), (h) => h.read('filter')),
  'iptables commit': () => withHandle(() => k.Iptables.open(), (h) => h.commit(k.iptEmptyTable('ipv4', 'filter'))),
  'ipvs list': () => withHandle(() => k.Ipvs.open(), (h) => h.listServices()),
  'lb nftables': () => withHandle(() => k.LoadBalancer.open({ mode: 'nftables' }), (lb) => lb.apply(state)),
  'lb iptables': () => withHandle(() => k.LoadBalancer.open({ mode: 'iptables' }), (lb) => lb.apply(state)),
  'lb ipvs': () => withHandle(() => k.LoadBalancer.open({ mode: 'ipvs' }), (lb) => lb.apply(state)),
};

(async () => {
  const use = uses[process.argv[2]];
  if (!use) throw new Error(`no use ${process.argv[2]}`);
  try {
    await use();
    console.log(JSON.stringify({ ok: true }));
  } catch (e) {
    console.log(JSON.stringify({
      ok: false, name: e.name, code: e.code, errno: e.errno, capability: e.capability, message: e.message,
      isPermissionError: e instanceof k.PermissionError, isKernelError: e instanceof k.KernelError,
    }));
  }
})();
