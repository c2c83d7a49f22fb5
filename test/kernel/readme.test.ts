/** The README's examples run as written, each in a fresh namespace, and do what the README says. */
import { describe, expect, it } from 'vitest';
import { createNetns, kernelTestsSkipReason } from '../../lib/testing';
import { readmeExamples, runExample } from '../readme-examples';

const skip = kernelTestsSkipReason();
const examples = readmeExamples('kernel');
const expected: Record<string, RegExp> = {
  'lb-nftables': /^\+ service web tcp\/10\.96\.0\.10:80 wrr[^\n]*\nfalse\n10\.244\.1\.2:8080 w2 10\.244\.1\.3:8080 w1\n~ service web tcp\/10\.96\.0\.10:80: 10\.244\.1\.3:8080 w1->w3\n$/,
  nftables: /^2 backends\n$/,
  iptables: /-A PREROUTING -d 10\.96\.0\.10\/32 -p tcp -m tcp --dport 80 -j WEB\n[\s\S]*-A WEB -p tcp -m statistic --mode random --probability 0\.50000000000 -j DNAT --to-destination 10\.0\.1\.2:8080\n-A WEB -p tcp -j DNAT --to-destination 10\.0\.2\.2:8080\nCOMMIT/,
  'testing-kit': /^backend-1,30 backend-2,30 backend-3,30 0\n$/,
  'health-monitor': /^10\.201\.2\.2:8080 down: 3 failed checks in a row \(last: ECONNREFUSED\)\n10\.201\.1\.2 w1 10\.201\.2\.2 w0\n10\.201\.2\.2:8080 up: 2 good checks in a row \(HTTP 200\)\n10\.201\.1\.2 w1 10\.201\.2\.2 w1\n$/,
};

describe.skipIf(skip !== undefined)(`README examples${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('finds every example it knows the outcome of', () => {
    expect(examples.map((e) => e.name).sort()).toEqual(Object.keys(expected).sort());
  });
  it('every example is safe to copy: each handle it opens names a namespace the example made', () => {
    for (const ex of [...examples, ...readmeExamples('ipvs')]) {
      const opens = [...ex.code.matchAll(/\.open\(([^)]*)\)/g)].map((m) => m[1]!);
      expect(opens.length, ex.name).toBeGreaterThan(0);
      for (const args of opens) expect(args, `${ex.name}: ${args}`).toMatch(/netns: (ns|topo\.\w+)\.name/);
      expect(ex.code, ex.name).toMatch(/await (createNetns|createTopology)\(/);
      // plain JavaScript on Node 20: no `await using` (the README says it needs Node 22)
      expect(ex.code, ex.name).not.toMatch(/await using/);
    }
  });
  for (const ex of examples) {
    it(`example "${ex.name}" runs and prints what the README says`, async () => {
      await using ns = await createNetns('klreadme');
      const out = await runExample(ex, ns);
      expect(out).toMatch(expected[ex.name]!);
    });
  }
});
