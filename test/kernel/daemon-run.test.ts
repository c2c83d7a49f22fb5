/**
 * kernlb run as a process: SIGHUP with a new endpoint and with a broken file, a reload on file
 * change, one run per namespace and mode, exit 0 on SIGTERM leaving the kernel as it is, and
 * --clear-on-exit (nftables on the host kernel, checked with nft).
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, kernelTestsSkipReason, sendRequests, type Topology } from '../../lib/testing';
import { healthState, noDist, startRun, tempDir } from '../fixtures/daemon-run';

const skip = kernelTestsSkipReason() ?? noDist;

describe.skipIf(skip)(`kernlb run as a process (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let topo: Topology;
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    topo = await createTopology({ backends: 2 });
    tmp = tempDir('kernlb-run-');
  });
  afterAll(async () => {
    await topo?.destroy();
    tmp?.remove();
  });
  const nft = async () => (await topo.balancer.exec(['nft', 'list', 'ruleset'])).stdout;

  it('SIGHUP applies a new endpoint; a broken file is logged and the running state kept; a file change reloads', async () => {
    const file = path.join(tmp.dir, 'hup.json');
    writeFileSync(file, JSON.stringify(healthState(topo, 'rr', topo.backends.slice(0, 2))));
    const d = await startRun([file, '--mode', 'nftables', '--netns', topo.balancer.name, '--resync-interval', '1']);
    try {
      expect((await sendRequests(topo.client, topo.vip4, 80, 40)).counts).toEqual({ 'backend-1': 20, 'backend-2': 20 });
      const b3 = await topo.addBackend();
      // (the file watch sees the write too, 100 ms later: by then the text is the running one, no second reload)
      let mark = d.log().length;
      writeFileSync(file, JSON.stringify(healthState(topo, 'rr')));
      d.child.kill('SIGHUP');
      await d.waitFor(/reloaded .* \(SIGHUP\): 1 service\(s\)/, 10_000, mark);
      expect(await nft()).toMatch(/comment "w1" : 10\.201\.3\.2 \. 8080/);
      const r = await sendRequests(topo.client, topo.vip4, 80, 60);
      expect(r.failures).toBe(0);
      expect(r.counts[b3.name]).toBe(20);

      const before = await nft();
      mark = d.log().length;
      writeFileSync(file, '{ "services": [ { "name": "web", "vip": "10.96.0.10", "port": 80, "endpoints": [ { "address": "10.201.1.2", "port": 99999 } ] } ] }');
      d.child.kill('SIGHUP');
      const refused = await d.waitFor(/reload \(SIGHUP\) refused, keeping the running state/, 10_000, mark);
      expect(refused).toMatch(/services\[0\]\.endpoints\[0\]\.port/);
      expect((await nft()).replace(/packets \d+ bytes \d+/g, '')).toBe(before.replace(/packets \d+ bytes \d+/g, ''));
      expect((await sendRequests(topo.client, topo.vip4, 80, 30)).failures).toBe(0);

      // not JSON at all, noticed by the file watch (no signal)
      mark = d.log().length;
      writeFileSync(file, '{ "services": [');
      expect(await d.waitFor(/reload \(file changed\) refused/, 10_000, mark)).toMatch(/not valid JSON/);
      // and a good file again, by the watch alone: back to two endpoints
      mark = d.log().length;
      writeFileSync(file, JSON.stringify(healthState(topo, 'rr', topo.backends.slice(0, 2))));
      await d.waitFor(/reloaded .*\(file changed\)/, 10_000, mark);
      expect(await nft()).not.toMatch(/10\.201\.3\.2/);
      // the periodic resync (every second here) ran all along without a failure
      expect(d.log()).not.toMatch(/failed/);
      expect(await d.stop('SIGTERM')).toBe(0);
      expect(d.log()).toMatch(/SIGTERM: stopping, leaving the kernel as it is/);
      // left as it was
      expect(await nft()).toMatch(/comment "w1" : 10\.201\.2\.2 \. 8080/);
    } finally {
      await d.stop('SIGKILL');
    }
  }, 90_000);

  it('a second run on the same namespace and mode refuses to start; after a crash the lock is free again; --clear-on-exit', async () => {
    const file = path.join(tmp.dir, 'lock.json');
    writeFileSync(file, JSON.stringify(healthState(topo, 'rr', topo.backends.slice(0, 2))));
    const args = [file, '--mode', 'nftables', '--netns', topo.balancer.name];
    const first = await startRun(args);
    try {
      const second = await startRun(args).then(
        () => 'started',
        (e: Error) => e.message,
      );
      expect(second).toMatch(/exited \(1\)[\s\S]*another kernlb run \(pid \d+\) is running for mode nftables in this namespace \(lock \/run\/kernlb\/run-nftables-netns-\d+\.lock\)/);
      // another mode in the same namespace is another lock
      const ipt = await startRun([file, '--mode', 'iptables', '--netns', topo.balancer.name]);
      expect(await ipt.stop('SIGINT')).toBe(0);
      // a crash (SIGKILL: no cleanup at all) leaves the file but not the lock
      expect(await first.stop('SIGKILL')).toBe(null);
      const third = await startRun([...args, '--clear-on-exit']);
      expect(await nft()).toMatch(/table inet kernlb/);
      expect(await third.stop('SIGINT')).toBe(0);
      expect(third.log()).toMatch(/SIGINT: stopping and removing the rules \(--clear-on-exit\)/);
      expect(await nft()).not.toMatch(/kernlb/);
    } finally {
      await first.stop('SIGKILL');
    }
  }, 90_000);

  it('a restart keeps an endpoint the previous run drained down until its checks pass (never back in the slots meanwhile)', async () => {
    const file = path.join(tmp.dir, 'restart.json');
    writeFileSync(file, JSON.stringify(healthState(topo, 'rr', topo.backends.slice(0, 2))));
    const args = [file, '--mode', 'nftables', '--netns', topo.balancer.name, '--resync-interval', '0'];
    const b2 = topo.backends[1]!;
    const first = await startRun(args);
    try {
      b2.server!.kill('SIGTERM');
      await first.waitFor(/endpoint 10\.201\.2\.2:8080 of web down, drained/);
      await first.waitFor(/update \(health\)/);
      expect(await first.stop('SIGKILL')).toBe(null);
      const second = await startRun(args);
      try {
        await second.waitFor(/endpoint 10\.201\.2\.2:8080 of web starts down: drained in the kernel/);
        await second.waitFor(/applied \(start\): no change/);
        expect(await nft()).toMatch(/comment "w0" : 10\.201\.2\.2 \. 8080/);
        const r = await sendRequests(topo.client, topo.vip4, 80, 30);
        expect(r.failures).toBe(0);
        expect(r.counts).toEqual({ 'backend-1': 30 });
        const { startHttpServer } = await import('../../lib/testing');
        b2.server = await startHttpServer(b2.ns, b2.name, b2.port);
        await second.waitFor(/endpoint 10\.201\.2\.2:8080 of web up, restored/);
        await second.waitFor(/update \(health\).*10\.201\.2\.2:8080 w0->w1/);
        expect(await nft()).toMatch(/comment "w1" : 10\.201\.2\.2 \. 8080/);
      } finally {
        await second.stop('SIGKILL');
      }
    } finally {
      await first.stop('SIGKILL');
    }
  }, 90_000);
});
