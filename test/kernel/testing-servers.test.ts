/** kernlb/testing's HTTP client: IPv6 hosts bare or bracketed, and failures said in one short line. */
import { describe, expect, it } from 'vitest';
import { createNetns, kernelTestsSkipReason, sendRequests, startHttpServer } from '../../lib/testing';

const skip = kernelTestsSkipReason();

describe.skipIf(skip)(`sendRequests (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('takes an IPv6 host as fd00::10 and as [fd00::10] (was "Invalid URL http://[[::1]]:80/")', async () => {
    await using ns = await createNetns('srv');
    const server = await startHttpServer(ns, 'b1', 8080);
    try {
      for (const host of ['::1', '[::1]', '127.0.0.1']) expect(await sendRequests(ns, host, 8080, 3)).toMatchObject({ counts: { b1: 3 }, failures: 0 });
    } finally {
      server.kill('SIGTERM');
    }
  });

  it("a client that cannot run fails in one short line, without the client program's text", async () => {
    await using ns = await createNetns('srv');
    const e = await sendRequests(ns, 'not a host', 80, 1).then(() => undefined, (x: unknown) => x as Error);
    expect(e?.message).toMatch(/^sendRequests http:\/\/not a host:80\/ from srv-\S+: the client failed \(exit 1\): TypeError( \[ERR_INVALID_URL\])?: Invalid URL$/);
    expect(e!.message.length).toBeLessThan(200);
  });
});
