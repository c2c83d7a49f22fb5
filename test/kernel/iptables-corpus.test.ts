/**
 * The iptables corpus (test/fixtures/iptables-corpus/*.v4, *.v6): each file is a ruleset in the exact
 * text iptables-legacy-save 1.8.9 prints, covering the option forms of one extension (or of the rule's
 * standard part). For each file, loaded with iptables-legacy-restore into a fresh namespace:
 * - the tool prints the file back (the case is what the kernel holds);
 * - `iptablesSave(read())` and `kernlb iptables save` print exactly what iptables-legacy-save prints;
 * - `parseIptablesSave` of that text gives the model read from the kernel (counters aside);
 * - `kernlb iptables save --json | kernlb iptables restore` into a second namespace makes
 *   iptables-legacy-save print the same text there.
 * A file this kernel cannot load (an extension, revision or helper it lacks) is a visible skip with
 * the tool's own error, found at collection by loading it into a throwaway namespace.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Iptables, iptablesSave, parseIptablesSave } from '../../lib';
import { main } from '../../lib/cli/main';
import type { CliIO } from '../../lib/cli/command';
import type { IptChain } from '../../lib/iptables/types';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { loadXtables, splitTables, toolRestore, toolSave, type Family } from './iptables-helpers';

const skip = kernelTestsSkipReason();
const DIR = join(__dirname, '../fixtures/iptables-corpus');

export interface CorpusCase {
  file: string;
  family: Family;
  text: string;
}

export function corpusCases(): CorpusCase[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.v4') || f.endsWith('.v6'))
    .sort()
    .map((file) => ({ file, family: file.endsWith('.v6') ? 'ipv6' : 'ipv4', text: readFileSync(join(DIR, file), 'utf8') }));
}

const restoreTool = (f: Family) => (f === 'ipv6' ? 'ip6tables-legacy-restore' : 'iptables-legacy-restore');

/** Why this kernel cannot load a case (the tool's first error line), or undefined when it can. */
function unloadable(c: CorpusCase): string | undefined {
  try {
    execFileSync('unshare', ['-n', restoreTool(c.family)], { input: c.text, stdio: ['pipe', 'ignore', 'pipe'] });
    return undefined;
  } catch (e) {
    const err = String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n')[0];
    return `this kernel cannot load it: ${err}`;
  }
}

function io(input = '') {
  const out: string[] = [], err: string[] = [];
  const cli: CliIO = { out: (t) => void out.push(t), err: (t) => void err.push(t), readInput: async () => input };
  return { cli, out: () => out.join(''), err: () => err.join('') };
}

/** A table's chains without counters (the text has none but the policies' zeros; a read has the kernel's). */
function withoutCounters(chains: IptChain[]): unknown {
  return chains.map((c) => ({ ...c, counters: undefined, rules: c.rules.map((r) => ({ ...r, counters: undefined })) }));
}

const cases = skip === undefined ? corpusCases() : [];
const reasons = new Map(cases.map((c) => [c.file, unloadable(c)]));

describe.skipIf(skip !== undefined)(`iptables corpus: kernlb prints, parses and restores what iptables-legacy-save prints${skip ? ` - skipped: ${skip}` : ''}`, () => {
  // Two namespaces for every case (each case replaces whole tables; a namespace per case cost more
  // than the case itself in the UML guest, where every process start is slow). Tables of earlier
  // cases stay, so comparisons are per table.
  let src: TestNetns, dst: TestNetns;
  beforeAll(async () => {
    src = await createNetns('klcor');
    dst = await createNetns('klcor');
    // Where ip_tables is a module (the UML guest) a tool loads it first.
    await loadXtables(src);
  });
  afterAll(async () => {
    await src?.destroy();
    await dst?.destroy();
  });

  for (const c of cases) {
    const reason = reasons.get(c.file);
    const six = c.family === 'ipv6' ? ['--ipv6'] : [];
    const tables = splitTables(c.text);

    it.skipIf(reason !== undefined)(`${c.file}: save --json | restore reproduces it${reason ? ` - skipped: ${reason}` : ''}`, async () => {
      await toolRestore(src, c.family, c.text);
      for (const [name, expected] of tables) {
        expect(await toolSave(src, c.family, name), `${name}: the tool prints the case file`).toBe(expected);
        const j = io();
        expect(await main(['iptables', 'save', '--json', '--table', name, '--netns', src.name, ...six], j.cli), j.err()).toBe(0);
        const r = io(j.out());
        expect(await main(['iptables', 'restore', '-', '--netns', dst.name, ...six], r.cli), r.err()).toBe(0);
        expect(await toolSave(dst, c.family, name), `${name}: after save --json | restore`).toBe(expected);
      }
    });

    it.skipIf(reason !== undefined)(`${c.file}: save prints and parse reads iptables-legacy-save's text${reason ? ` - skipped: ${reason}` : ''}`, async () => {
      await toolRestore(src, c.family, c.text);
      await using ipt = await Iptables.open({ family: c.family, netns: src.name });
      for (const [name, expected] of tables) {
        const theirs = await toolSave(src, c.family, name);
        expect(theirs, `${name}: the tool prints the case file`).toBe(expected);
        const t = await ipt.read(name);
        expect(iptablesSave(t), `${name}: iptablesSave(read())`).toBe(theirs);
        const [parsed] = parseIptablesSave(theirs, c.family);
        expect(withoutCounters(parsed!.chains), `${name}: parse(save text) = read()`).toEqual(withoutCounters(t.chains));
        const s = io();
        expect(await main(['iptables', 'save', '--table', name, '--netns', src.name, ...six], s.cli), s.err()).toBe(0);
        expect(s.out(), `${name}: kernlb iptables save`).toBe(theirs);
      }
    });
  }
});
