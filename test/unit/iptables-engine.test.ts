/**
 * Engine and lock options are validated before anything is opened; blob entry indexes (KernelError.index
 * for iptables) map to the chain and rule they are.
 */
import { describe, expect, it } from 'vitest';
import { iptAppendRule as appendRule, iptCreateChain as createChain, iptEmptyTable as emptyTable, Iptables, ValidationError } from '../../lib';
import { describeEntry, resolveXtablesLock } from '../../lib/iptables/engine';

describe('iptables engine options', () => {
  it('rejects an unknown engine and a bad lock option before touching anything', async () => {
    await expect(Iptables.open({ engine: 'iptc' as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(Iptables.open({ engine: 'iptc' as never })).rejects.toThrow('engine: must be "direct" or "libiptc"');
    await expect(Iptables.open({ xtablesLock: '' })).rejects.toBeInstanceOf(ValidationError);
    await expect(Iptables.open({ xtablesLock: 1 as never })).rejects.toThrow(/xtablesLock: must be true, false or the path of a lock file/);
  });

  it('locks what iptables 1.8.9 locks: XTABLES_LOCKFILE, else /run/xtables.lock; a path; or nothing', () => {
    expect(resolveXtablesLock(undefined, 500, {})).toEqual({ path: '/run/xtables.lock', timeoutMs: 500 });
    expect(resolveXtablesLock(true, 1, { XTABLES_LOCKFILE: '/tmp/x.lock' })).toEqual({ path: '/tmp/x.lock', timeoutMs: 1 });
    expect(resolveXtablesLock('/var/lock/mine', 7, { XTABLES_LOCKFILE: '/tmp/x.lock' })).toEqual({ path: '/var/lock/mine', timeoutMs: 7 });
    expect(resolveXtablesLock(false, 7)).toBeNull();
  });

  it('names blob entries: user chain heads and tails, rules, policies (built-ins first, user chains sorted)', () => {
    const t = emptyTable('ipv4', 'filter');
    createChain(t, 'ZED');
    createChain(t, 'ALPHA');
    appendRule(t, 'INPUT', { target: { type: 'jump', chain: 'ZED' } });
    appendRule(t, 'ZED', { target: { type: 'ACCEPT' } });
    appendRule(t, 'ZED', { target: { type: 'DROP' } });
    const names = Array.from({ length: 12 }, (_, i) => describeEntry(t, i));
    expect(names).toEqual([
      'chain INPUT rule 1', 'chain INPUT policy', 'chain FORWARD policy', 'chain OUTPUT policy',
      'chain ALPHA', 'chain ALPHA end', 'chain ZED', 'chain ZED rule 1', 'chain ZED rule 2', 'chain ZED end',
      undefined, undefined,
    ]);
  });
});
