/** Proves the IPVS tier runs in a kernel that has IPVS (inside UML here) by reading its proc file. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ipvsSkipReason } from '../../lib/testing';

const skip = ipvsSkipReason();

describe('IPVS kernel probe', () => {
  it.skipIf(skip !== undefined)(`reads /proc/net/ip_vs${skip ? ` - skipped: ${skip}` : ''}`, () => {
    const text = readFileSync('/proc/net/ip_vs', 'utf8');
    process.stdout.write(text.split('\n')[0] + '\n');
    expect(text).toMatch(/^IP Virtual Server version \d+\.\d+\.\d+/);
  });
});
