/**
 * What differs between the commit engines, and iptables' lock: libiptc's own refusals name the libiptc
 * call, the chain and the rule and change nothing; target names libiptc would misread are refused by
 * both engines alike; counters are restored or zeroed alike; both wait for the xtables lock a
 * concurrent iptables-legacy holds (flock(1) stands in for it), give up after the handle's timeout
 * with a clear error, and ignore it with xtablesLock: false.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { iptAppendRule as appendRule, ConflictError, iptCreateChain as createChain, iptEmptyTable as emptyTable, Iptables, KernelError, IPT_XTABLES_LOCK_PATH, type IptTable } from '../../lib';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { ALL_IPV4, ALL_IPV6, KUBE_PROXY } from '../unit/iptables-fixtures';
import { ENGINES, loadXtables, splitTables, tool4, toolSave, type Family } from './iptables-helpers';

const skip = kernelTestsSkipReason();

/** A table whose chain USER has, as rule 2, a target named like something other than an extension. */
function withTarget(family: Family, name: string): IptTable {
  const t = emptyTable(family, 'filter');
  createChain(t, 'USER');
  createChain(t, 'OTHER');
  appendRule(t, 'INPUT', { target: { type: 'jump', chain: 'USER' } });
  appendRule(t, 'USER', { target: { type: 'ACCEPT' } });
  appendRule(t, 'USER', { target: { type: 'raw', name, revision: 0, data: Buffer.alloc(8) } });
  return t;
}

/** The save text with distinct counters on every rule and policy (iptables-restore -c input). */
function withCounters(text: string): string {
  let n = 0;
  return text.split('\n').map((l) => {
    if (l.startsWith('-A ')) return `[${++n}:${n * 100}] ${l}`;
    return l.replace(/^(:\S+ (?:ACCEPT|DROP)) \[0:0\]$/, (_, head: string) => `${head} [${++n}:${n * 10}]`);
  }).join('\n');
}

/** Holds `file` with flock(1) (as iptables-legacy would) until release() or `seconds` pass. */
async function holdLock(file: string, seconds: number): Promise<{ release: () => void; gone: Promise<void> }> {
  const child = spawn('flock', ['-o', file, '-c', `echo locked; exec sleep ${seconds}`], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`flock exited with ${code} before taking the lock`)));
  });
  return {
    release: () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
    },
    gone,
  };
}

/** Whether this process holds a flock on `file` (which must exist), per /proc/locks. */
function lockedBy(file: string): () => boolean {
  const re = new RegExp(`^\\d+: FLOCK\\s+ADVISORY\\s+WRITE ${process.pid} [0-9a-f]+:[0-9a-f]+:${statSync(file).ino} `, 'm');
  return () => re.test(readFileSync('/proc/locks', 'utf8'));
}

describe.skipIf(skip !== undefined)(`iptables engines${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let ns: TestNetns;
  beforeAll(async () => {
    ns = await createNetns('klipt');
    await loadXtables(ns);
  });
  afterAll(async () => {
    await ns?.destroy();
  });
  beforeEach(async () => {
    await ns.exec(['iptables-legacy-restore'], { input: '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j ACCEPT\nCOMMIT\n' });
    await ns.exec(['ip6tables-legacy-restore'], { input: '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j ACCEPT\nCOMMIT\n' });
  });

  for (const family of ['ipv4', 'ipv6'] as const) {
    it(`libiptc refusing a rule (${family}) names its call, errno, chain and rule, and changes nothing`, async () => {
      await using ipt = await Iptables.open({ family, netns: ns.name, engine: 'libiptc' });
      const before = await toolSave(ns, family, 'filter');
      // libiptc takes a target named like a built-in chain for a jump to it, which it refuses (EINVAL).
      const err = await ipt.commit(withTarget(family, 'INPUT')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KernelError);
      const k = err as KernelError;
      expect(k.code).toBe('EINVAL');
      expect(k.extack).toBe(`${family === 'ipv6' ? 'ip6tc' : 'iptc'}_append_entry: Invalid argument`);
      // Entries: INPUT's rule and policy, FORWARD's and OUTPUT's policies, OTHER's head and tail, USER's head, rule 1, rule 2.
      expect(k.index).toBe(8);
      expect(k.item).toBe('chain USER rule 2');
      expect(k.message).toMatch(/^commit iptables table filter \(ipv[46]\) \(item 8: chain USER rule 2\): EINVAL/);
      expect(await toolSave(ns, family, 'filter')).toBe(before);
    });
  }

  it('the direct engine names the same rule (the kernel has no target "INPUT")', async () => {
    await using ipt = await Iptables.open({ netns: ns.name, engine: 'direct' });
    const err = (await ipt.commit(withTarget('ipv4', 'INPUT')).catch((e: unknown) => e)) as KernelError;
    expect(err.code).toBe('ENOENT');
    expect(err.item).toBe('chain USER rule 2: target "INPUT" is unknown to this kernel');
  });

  it.each(ENGINES)('a target named like a user chain or a verdict is refused, not read as a jump (%s engine)', async (engine) => {
    await using ipt = await Iptables.open({ netns: ns.name, engine });
    const before = await toolSave(ns, 'ipv4', 'filter');
    for (const name of ['OTHER', 'DROP']) {
      const err = (await ipt.commit(withTarget('ipv4', name)).catch((e: unknown) => e)) as KernelError;
      expect(err).toBeInstanceOf(KernelError);
      expect(err.code).toBe('ENOENT');
      expect(err.item).toBe(`chain USER rule 2: target "${name}" is unknown to this kernel`);
    }
    expect(await toolSave(ns, 'ipv4', 'filter')).toBe(before);
  });

  it.each(ENGINES)('expectUnchanged never loses a concurrent change, whenever it lands (%s engine)', async (engine) => {
    // A concurrent iptables-legacy -A lands before the commit's check, inside its check-to-replace
    // window (caught by the kernel's num_counters EAGAIN; for libiptc that window is iptc_init ..
    // iptc_commit), or after the replace. Whichever: a ConflictError with the table as the other
    // writer left it, or success with the other writer's rule on top. The start of the commit is
    // swept over the tool's run so that each case happens. (The lock is another file: the tool
    // must be able to run at any time.)
    const dir = mkdtempSync(path.join(tmpdir(), 'kernlb-xtlock-'));
    try {
      await using ipt = await Iptables.open({ netns: ns.name, engine, xtablesLock: path.join(dir, 'lock') });
      const outcomes: string[] = [];
      for (let attempt = 0; attempt < 24; attempt++) {
        await ns.exec(['iptables-legacy-restore'], { input: '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j ACCEPT\nCOMMIT\n' });
        const t = await ipt.read('filter');
        createChain(t, 'BIG');
        for (let i = 0; i < 30000; i++) appendRule(t, 'BIG', { source: `10.${(i >> 8) & 255}.${i & 255}.1`, target: { type: 'RETURN' } });
        const other = tool4(ns, 'ipv4', ['-w', '-A', 'OUTPUT', '-j', 'ACCEPT']);
        await new Promise((r) => setTimeout(r, (attempt % 12) * 2));
        const outcome = await ipt.commit(t, { expectUnchanged: true }).then(() => 'committed', (e: unknown) => {
          if (e instanceof ConflictError) return e.extack?.includes('changed since it was read') ? 'conflict at the check' : 'conflict at the replace';
          throw e;
        });
        await other;
        outcomes.push(outcome);
        const text = await toolSave(ns, 'ipv4', 'filter');
        expect(text, outcome).toContain('-A OUTPUT -j ACCEPT');
        expect(text.includes('-A BIG -s 10.0.0.1/32 -j RETURN'), outcome).toBe(outcome === 'committed');
        if (new Set(outcomes).size === 3) break;
      }
      expect(outcomes.some((o) => o.startsWith('conflict'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // (up to 24 commits of a 30k-rule table: 1.5-2 s on the host, 44-62 s in the UML guest, where the
    // default 60 s timed it out once and its loop then ran on into the next test)
  }, 180_000);

  it('libiptc: a change after iptc_init fails iptc_commit with the kernel\'s EAGAIN: a ConflictError, nothing lost', async () => {
    // The tool starts once the commit holds its lock (taken right before iptc_init: /proc/locks shows
    // it); 200k rules keep libiptc busy from there to iptc_commit for far longer than the tool takes.
    const dir = mkdtempSync(path.join(tmpdir(), 'kernlb-xtlock-'));
    try {
      const lock = path.join(dir, 'lock');
      writeFileSync(lock, '');
      const held = lockedBy(lock);
      await using ipt = await Iptables.open({ netns: ns.name, engine: 'libiptc', xtablesLock: lock });
      const t = await ipt.read('filter');
      createChain(t, 'BIG');
      for (let i = 0; i < 200000; i++) appendRule(t, 'BIG', { source: `10.${(i >> 8) & 255}.${i & 255}.1`, target: { type: 'RETURN' } });
      let done = false;
      const commit = ipt.commit(t, { expectUnchanged: true }).catch((e: unknown) => e).finally(() => (done = true));
      while (!done && !held()) await new Promise((r) => setImmediate(r));
      await tool4(ns, 'ipv4', ['-w', '-A', 'OUTPUT', '-j', 'ACCEPT']);
      const err = (await commit) as ConflictError;
      expect(err).toBeInstanceOf(ConflictError);
      expect(err.code).toBe('EAGAIN');
      expect(err.extack).toBe('iptc_commit: Resource temporarily unavailable');
      const text = await toolSave(ns, 'ipv4', 'filter');
      expect(text).toContain('-A OUTPUT -j ACCEPT');
      expect(text).not.toContain('BIG');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('libiptc reads every table exactly as the direct read does, read state and counters included (IPv4 and IPv6)', async () => {
    for (const [family, text] of [['ipv4', ALL_IPV4], ['ipv6', ALL_IPV6], ['ipv4', KUBE_PROXY]] as const) {
      await using scratch = await createNetns('klipt');
      await scratch.exec([family === 'ipv6' ? 'ip6tables-legacy-restore' : 'iptables-legacy-restore', '-c'], { input: withCounters(text) });
      await using direct = await Iptables.open({ family, netns: scratch.name, engine: 'direct' });
      await using viaLibiptc = await Iptables.open({ family, netns: scratch.name, engine: 'libiptc' });
      for (const name of splitTables(text).keys()) {
        const a = await direct.read(name);
        const b = await viaLibiptc.read(name);
        expect(b).toEqual(a);
        expect(b.chains.some((c) => c.rules.some((r) => r.counters))).toBe(true);
      }
    }
  });

  it.each(ENGINES)('counters: a read table keeps them through a commit, counters: false zeroes them (%s engine)', async (engine) => {
    await using ipt = await Iptables.open({ netns: ns.name, engine });
    await ns.exec(['iptables-legacy-restore', '-c'], { input: '*filter\n:INPUT DROP [9:900]\n:USER - [0:0]\n[4:400] -A INPUT -j USER\n[0:0] -A INPUT -p udp\n[2:20] -A USER -j ACCEPT\nCOMMIT\n' });
    const with_ = await toolSave(ns, 'ipv4', 'filter', true);
    await ipt.commit(await ipt.read('filter'));
    expect(await toolSave(ns, 'ipv4', 'filter', true)).toBe(with_);
    await ipt.commit(await ipt.read('filter'), { counters: false });
    expect(await toolSave(ns, 'ipv4', 'filter', true)).toBe(with_.replace(/\[\d+:\d+\]/g, '[0:0]'));
  });

  describe.each(ENGINES)('the xtables lock (%s engine)', (engine) => {
    let dir: string, lock: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'kernlb-xtlock-'));
      lock = path.join(dir, 'xtables.lock');
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const table = () => {
      const t = emptyTable('ipv4', 'filter');
      appendRule(t, 'INPUT', { protocol: 'udp', target: { type: 'DROP' } });
      return t;
    };

    it('gives up after the handle timeout with an error naming the lock, and changes nothing', async () => {
      const holder = await holdLock(lock, 10);
      try {
        await using ipt = await Iptables.open({ netns: ns.name, engine, xtablesLock: lock, timeoutMs: 300 });
        const before = await toolSave(ns, 'ipv4', 'filter');
        const t0 = Date.now();
        const err = (await ipt.commit(table()).catch((e: unknown) => e)) as KernelError;
        const waited = Date.now() - t0;
        expect(err).toBeInstanceOf(KernelError);
        expect(err.code).toBe('ETIMEDOUT');
        expect(err.message).toContain(`held the xtables lock ${lock} for the whole 300 ms timeout`);
        expect(waited).toBeGreaterThanOrEqual(290);
        expect(waited).toBeLessThan(3000);
        expect(await toolSave(ns, 'ipv4', 'filter')).toBe(before);
      } finally {
        holder.release();
        await holder.gone;
      }
    });

    it('waits while it is held and commits once it is free', async () => {
      const holder = await holdLock(lock, 0.4);
      const t0 = Date.now();
      await using ipt = await Iptables.open({ netns: ns.name, engine, xtablesLock: lock, timeoutMs: 10_000 });
      await ipt.commit(table());
      expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
      await holder.gone;
      expect(await toolSave(ns, 'ipv4', 'filter')).toContain('-A INPUT -p udp -j DROP');
    });

    it('with xtablesLock: false proceeds while it is held', async () => {
      const holder = await holdLock(lock, 10);
      try {
        await using ipt = await Iptables.open({ netns: ns.name, engine, xtablesLock: false, timeoutMs: 300 });
        await ipt.commit(table());
        expect(await toolSave(ns, 'ipv4', 'filter')).toContain('-A INPUT -p udp -j DROP');
      } finally {
        holder.release();
        await holder.gone;
      }
    });

    it('holds the lock while it replaces the table (/proc/locks shows its flock)', async () => {
      await using ipt = await Iptables.open({ netns: ns.name, engine, xtablesLock: lock });
      writeFileSync(lock, '');
      const held = lockedBy(lock);
      const t = emptyTable('ipv4', 'filter');
      createChain(t, 'BIG');
      for (let i = 0; i < 50000; i++) appendRule(t, 'BIG', { source: `10.${(i >> 8) & 255}.${i & 255}.1`, target: { type: 'RETURN' } });
      expect(held()).toBe(false);
      // The replace runs on a worker thread; this thread watches the kernel's lock table meanwhile.
      // On a loaded machine (or the UML guest's single CPU, whose kernel does not preempt the replace)
      // this thread may not run at all while the lock is held: up to 20 attempts.
      let sawHeld = false;
      for (let attempt = 0; attempt < 20 && !sawHeld; attempt++) {
        let done = false;
        const commit = ipt.commit(t).finally(() => (done = true));
        while (!sawHeld && !done) {
          sawHeld = held();
          await new Promise((r) => setImmediate(r));
        }
        await commit;
      }
      expect(sawHeld).toBe(true);
      expect(held()).toBe(false);
    });
  });

  it('takes iptables\' own lock file by default', async () => {
    const file = process.env.XTABLES_LOCKFILE || IPT_XTABLES_LOCK_PATH;
    // Held for a moment only: iptables-legacy 1.8.9 commands of other users just wait meanwhile.
    const holder = await holdLock(file, 5);
    try {
      await using ipt = await Iptables.open({ netns: ns.name, timeoutMs: 200 });
      const err = (await ipt.commit(emptyTable('ipv4', 'filter')).catch((e: unknown) => e)) as KernelError;
      expect(err.code).toBe('ETIMEDOUT');
      expect(err.message).toContain(file);
    } finally {
      holder.release();
      await holder.gone;
    }
  });
});
