/** The README's IPVS example runs as written in a fresh namespace of a kernel with IPVS. */
import { describe, expect, it } from 'vitest';
import { createNetns, ipvsSkipReason } from '../../lib/testing';
import { readmeExamples, runExample } from '../readme-examples';

const skip = ipvsSkipReason();

describe.skipIf(skip !== undefined)(`README IPVS example${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('prints the ipvsadm -Ln table with the drained destination', async () => {
    const [ex] = readmeExamples('ipvs');
    expect(ex?.name).toBe('ipvs');
    await using ns = await createNetns('klreadme');
    const out = await runExample(ex!, ns);
    expect(out).toMatch(/TCP {2}10\.96\.0\.10:80 wrr persistent 300\n {2}-> 10\.0\.1\.2:8080 +Masq +2 +0 +0 *\n {2}-> 10\.0\.2\.2:8080 +Masq +0 +0 +0/);
  });
});
