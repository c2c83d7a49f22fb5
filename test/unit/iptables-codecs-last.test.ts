/**
 * The last extensions typed for the corpus (sctp, u32, rateest/RATEEST, HMARK, devgroup, realm,
 * osf, hashlimit byte rates) against golden bytes: the data the kernel returned after
 * iptables-legacy-restore loaded each command (XT_ALIGN-padded), read by kernlb as raw before these
 * codecs existed. Then bad input: a ValidationError naming the field, from validation and from parse().
 */
import { describe, expect, it } from 'vitest';
import { ValidationError, iptEmptyTable, parseIptablesRule, validateIptTable, type IptRule } from '../../lib';
import { matchByType, targetByType, type AnyCodec } from '../../lib/iptables/extensions';
import { describeGoldens, z, type Golden } from './iptables-goldens';

const sctpFree = 'ff0000'.repeat(4);
const GOLDENS: Golden[] = [
  { cmd: '-p sctp -m sctp --sport 1000:2000 ! --dport 5', rule: { protocol: 'sctp' }, kind: 'match', name: 'sctp', revision: 0,
    value: { type: 'sctp', sport: [1000, 2000], dport: 5, invert: { dport: true } }, hex: '05000500e803d007' + z(256) + '00000000' + sctpFree + '00000000' + '03000000' + '02000000' + z(4) },
  { cmd: '-p sctp -m sctp --chunk-types all DATA:Be', rule: { protocol: 'sctp' }, kind: 'match', name: 'sctp', revision: 0,
    value: { type: 'sctp', chunks: { match: 'all', types: [{ chunk: 'DATA', flags: { B: true, E: false } }] } },
    hex: z(8) + '01000000' + z(252) + '02000000' + '000203' + 'ff0000'.repeat(3) + '01000000' + '04000000' + z(8) },
  { cmd: '-p sctp -m sctp ! --chunk-types only ABORT,SHUTDOWN', rule: { protocol: 'sctp' }, kind: 'match', name: 'sctp', revision: 0,
    value: { type: 'sctp', chunks: { match: 'only', types: [{ chunk: 'ABORT' }, { chunk: 'SHUTDOWN' }] }, invert: { chunks: true } },
    hex: z(8) + 'c0000000' + z(252) + '04000000' + sctpFree + '00000000' + '04000000' + '04000000' + z(4) },
  { cmd: '-m u32 --u32 "0x0&0xffff=0x100:0xffff"', kind: 'match', name: 'u32', revision: 0,
    value: { type: 'u32', tests: [{ start: 0, ops: [{ op: '&', value: 0xffff }], values: [[0x100, 0xffff]] }] },
    hex: z(8) + 'ffff0000' + z(4) + z(72) + '00010000ffff0000' + z(80) + '0201' + z(2) + z(1800) + '0100' + z(2) },
  { cmd: '-m u32 --u32 "0x0>>0x16&0x3c@0x0>>0x10=0x50"', kind: 'match', name: 'u32', revision: 0,
    value: { type: 'u32', tests: [{ start: 0, ops: [{ op: '>>', value: 0x16 }, { op: '&', value: 0x3c }, { op: '@', value: 0 }, { op: '>>', value: 0x10 }], values: [0x50] }] },
    hex: z(8) + '1600000002000000' + '3c00000000000000' + '0000000003000000' + '1000000002000000' + z(48) + '5000000050000000' + z(80) + '0501' + z(2) + z(1800) + '0100' + z(2) },
  { cmd: '-j RATEEST --rateest-name est1 --rateest-interval 250ms --rateest-ewmalog 500ms', kind: 'target', name: 'RATEEST', revision: 0,
    value: { type: 'RATEEST', name: 'est1', intervalMs: 250, ewmaLog: 1 }, hex: '65737431' + z(12) + 'fe01' + z(14) },
  { cmd: '-m rateest --rateest est1 --rateest-gt --rateest-bps 1000Kbit', kind: 'match', name: 'rateest', revision: 0,
    value: { type: 'rateest', name1: 'est1', compare: 'gt', bps: { value2: 125000 } }, hex: '65737431' + z(28) + '12000300' + z(8) + '48e80100' + z(24) },
  { cmd: '-m rateest --rateest est1 --rateest-lt --rateest-pps 100', kind: 'match', name: 'rateest', revision: 0,
    value: { type: 'rateest', name1: 'est1', compare: 'lt', pps: { value2: 100 } }, hex: '65737431' + z(28) + '22000200' + z(12) + '64000000' + z(20) },
  { cmd: '-j HMARK --hmark-tuple src,dst,sport,dport,proto --hmark-rnd 0xfeedcafe --hmark-mod 10 --hmark-offset 100', kind: 'target', name: 'HMARK', revision: 0,
    value: { type: 'HMARK', srcPrefix: 32, dstPrefix: 32, sportMask: 0xffff, dportMask: 0xffff, protoMask: 0xffff, rnd: 0xfeedcafe, mod: 10, offset: 100 },
    hex: 'ffffffff' + z(12) + 'ffffffff' + z(12) + 'ffffffff' + '00000000' + 'c30f0000' + 'ffff0000' + 'fecaedfe' + '0a000000' + '64000000' + z(4) },
  { cmd: '-j HMARK --hmark-sport 0x1 --hmark-dport 0x2 --hmark-mod 2 --hmark-rnd 3', kind: 'target', name: 'HMARK', revision: 0,
    value: { type: 'HMARK', sport: 1, dport: 2, rnd: 3, mod: 2 }, hex: z(32) + '00000000' + '00010002' + '30060000' + z(4) + '03000000' + '02000000' + z(8) },
  { cmd: '-m devgroup --src-group 0x1', kind: 'match', name: 'devgroup', revision: 0, value: { type: 'devgroup', src: { group: 1 } }, hex: '0100000001000000ffffffff' + z(12) },
  { cmd: '-m devgroup ! --dst-group 0x2/0xf', kind: 'match', name: 'devgroup', revision: 0,
    value: { type: 'devgroup', dst: { group: 2, mask: 0xf }, invert: { dst: true } }, hex: '0c' + z(11) + '020000000f000000' + z(4) },
  { cmd: '-m realm ! --realm 0x10/0xff', kind: 'match', name: 'realm', revision: 0, value: { type: 'realm', realm: 16, mask: 0xff, invert: true }, hex: '10000000ff000000' + '01' + z(7) },
  { cmd: '-p tcp -m osf --genre Linux --ttl 2 --log 1', rule: { protocol: 'tcp' }, kind: 'match', name: 'osf', revision: 0,
    value: { type: 'osf', genre: 'Linux', ttl: 2, log: 1 }, hex: '4c696e7578' + z(27) + '05000000' + '06000000' + '01000000' + '02000000' },
  { cmd: '-m hashlimit --hashlimit-upto 100kb/s --hashlimit-name h3', kind: 'match', name: 'hashlimit', revision: 3,
    value: { type: 'hashlimit', name: 'h3', rate: { bytes: 102400 } }, hex: '6833' + z(254) + '073d0a0000000000' + z(8) + '20000000' + z(8) + 'e8030000983a0000' + z(4) + '2020' + z(14) },
  { cmd: '-m hashlimit --hashlimit-above 1mb/s --hashlimit-burst 2mb --hashlimit-mode dstip --hashlimit-name h5', kind: 'match', name: 'hashlimit', revision: 3,
    value: { type: 'hashlimit', name: 'h5', rate: { bytes: 1048576 }, above: true, burst: 2097152, mode: ['dstip'] },
    hex: '6835' + z(254) + 'ffff000000000000' + '0200000000000000' + '31000000' + z(8) + 'e803000060ea0000' + z(4) + '2020' + z(14) },
];

describeGoldens('the last extensions typed for the corpus: golden bytes', GOLDENS);

/** The field a ValidationError names for one rule in a fresh table (undefined: valid). */
function fieldOf(rule: IptRule, family: 'ipv4' | 'ipv6' = 'ipv4'): string | undefined {
  const t = iptEmptyTable(family, 'mangle');
  t.chains[0]!.rules.push(rule);
  try {
    validateIptTable(t);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).field;
  }
}

describe('the last typed extensions: bad input is a ValidationError naming the field', () => {
  it('validation names the field of each codec', () => {
    const m = (match: Record<string, unknown>, rule: IptRule = {}) => fieldOf({ ...rule, matches: [match as never] });
    const t = (target: Record<string, unknown>) => fieldOf({ target: target as never });
    const sctp = { protocol: 'sctp' } as IptRule;
    expect(m({ type: 'sctp', chunks: { match: 'some', types: [] } }, sctp)).toMatch(/matches\[0\]\.chunks\.match$/);
    expect(m({ type: 'sctp', chunks: { match: 'any', types: [{ chunk: 'INIT', flags: { T: true } }] } }, sctp)).toMatch(/matches\[0\]\.chunks\.types\[0\]\.flags$/);
    expect(m({ type: 'sctp', chunks: { match: 'any', types: [{ chunk: 'NOPE' }] } }, sctp)).toMatch(/chunks\.types\[0\]\.chunk$/);
    expect(m({ type: 'sctp', chunks: { match: 'any', types: [{ chunk: 'INIT' }, { chunk: 'INIT' }] } }, sctp)).toMatch(/chunks\.types\[1\]\.chunk$/);
    expect(m({ type: 'sctp', dport: 70000 }, sctp)).toMatch(/matches\[0\]\.dport$/);
    expect(m({ type: 'sctp', dport: 1 })).toMatch(/matches\[0\]/); // without -p sctp the kernel refuses the table
    expect(m({ type: 'u32', tests: [] })).toMatch(/matches\[0\]\.tests$/);
    expect(m({ type: 'u32', tests: [{ start: 0, ops: [{ op: '+', value: 1 }], values: [1] }] })).toMatch(/tests\[0\]\.ops\[0\]\.op$/);
    expect(m({ type: 'u32', tests: [{ start: 0, values: [[1, 2, 3]] }] })).toMatch(/tests\[0\]\.values\[0\]$/);
    expect(m({ type: 'u32', tests: [{ start: 2 ** 32, values: [1] }] })).toMatch(/tests\[0\]\.start$/);
    expect(m({ type: 'rateest', name1: 'e1', compare: 'gt', bps: { value1: 8 } })).toMatch(/matches\[0\]\.bps\.value1$/);
    expect(m({ type: 'rateest', name1: 'e1', compare: 'gt', bps: { value2: 125001 } })).toMatch(/matches\[0\]\.bps\.value2$/);
    expect(m({ type: 'rateest', name1: 'e1', compare: 'ne', pps: {} })).toMatch(/matches\[0\]\.compare$/);
    expect(m({ type: 'rateest', name1: 'a-name-longer-than-15', compare: 'gt', pps: {} })).toMatch(/matches\[0\]\.name1$/);
    expect(t({ type: 'RATEEST', name: 'e', intervalMs: 300, ewmaLog: 1 })).toMatch(/target\.intervalMs$/);
    expect(t({ type: 'RATEEST', name: 'e', intervalMs: 8000, ewmaLog: 20 })).toMatch(/target\.ewmaLog$/);
    expect(t({ type: 'HMARK', rnd: 1, mod: 0 })).toMatch(/target\.mod$/);
    expect(t({ type: 'HMARK', mod: 1 })).toMatch(/target\.rnd$/);
    expect(t({ type: 'HMARK', rnd: 1, mod: 1, spiMask: 1, sportMask: 1 })).toMatch(/target\.spiMask$/);
    expect(t({ type: 'HMARK', rnd: 1, mod: 1, srcPrefix: 33 })).toMatch(/target\.srcPrefix$/);
    expect(m({ type: 'devgroup' })).toMatch(/matches\[0\]\.src$/);
    expect(m({ type: 'devgroup', dst: { group: -1 } })).toMatch(/matches\[0\]\.dst\.group$/);
    expect(m({ type: 'realm', realm: 1, mask: 2 ** 32 })).toMatch(/matches\[0\]\.mask$/);
    expect(m({ type: 'osf', genre: 'Linux', ttl: 3 }, { protocol: 'tcp' })).toMatch(/matches\[0\]\.ttl$/);
    expect(m({ type: 'osf', genre: 'x'.repeat(32) }, { protocol: 'tcp' })).toMatch(/matches\[0\]\.genre$/);
    expect(m({ type: 'hashlimit', name: 'h', rate: { bytes: 1000 } })).toMatch(/matches\[0\]\.rate\.bytes$/);
    expect(m({ type: 'hashlimit', name: 'h', rate: { bytes: 1024 }, burst: 1500 })).toMatch(/matches\[0\]\.burst$/);
    // And the valid neighbours of those, so the checks above are not refusing everything.
    expect(m({ type: 'hashlimit', name: 'h', rate: { bytes: 1024 }, burst: 2048 })).toBeUndefined();
    expect(m({ type: 'rateest', name1: 'e1', compare: 'gt', bps: { value2: 125000 } })).toBeUndefined();
    expect(t({ type: 'RATEEST', name: 'e', intervalMs: 8000, ewmaLog: 9 })).toBeUndefined();
    expect(m({ type: 'u32', tests: [{ start: 0, values: [1, [2, 3]] }] })).toBeUndefined();
  });

  it('parse() of bad option text is a ValidationError naming the rule and the option', () => {
    const bad = (args: string, family: 'ipv4' | 'ipv6' = 'ipv4') => {
      try {
        parseIptablesRule(['-A', 'INPUT', ...args.split(' ')], family);
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        expect((e as ValidationError).field).toBe('rule');
        return (e as ValidationError).problem;
      }
      throw new Error(`parsed: ${args}`);
    };
    expect(bad('-p sctp -m sctp --chunk-types some INIT')).toMatch(/--chunk-types/);
    expect(bad('-p sctp -m sctp --chunk-types any INIT:T')).toMatch(/flag "T" for sctp chunk INIT/);
    expect(bad('-p sctp -m sctp --chunk-types any BOGUS')).toMatch(/unknown sctp chunk/);
    expect(bad('-m u32 --u32 0x0=')).toMatch(/u32 test/);
    expect(bad('-m u32 --u32 0x0&&0x1=1')).toMatch(/u32 test/);
    expect(bad('-m u32 --u32 0x0+1=1')).toMatch(/bad number/);
    expect(bad('-m u32 --u32 0=0x100000000')).toMatch(/bad number/);
    expect(bad('-j RATEEST --rateest-name e --rateest-interval 9s --rateest-ewmalog 20s')).toMatch(/over 8s/);
    expect(bad('-j RATEEST --rateest-name e --rateest-interval 1s')).toMatch(/needs --rateest-name, --rateest-interval and --rateest-ewmalog/);
    expect(bad('-m rateest --rateest e --rateest-bps 1mbit')).toMatch(/--rateest-eq/);
    expect(bad('-m rateest --rateest e --rateest-gt --rateest-bps 1furlong')).toMatch(/--rateest-bps/);
    expect(bad('-j HMARK --hmark-mod 2')).toMatch(/--hmark-rnd and --hmark-mod/);
    expect(bad('-j HMARK --hmark-rnd 1 --hmark-mod 2 --hmark-tuple src,mac')).toMatch(/--hmark-tuple field "mac"/);
    expect(bad('-j HMARK --hmark-rnd 1 --hmark-mod 2 --hmark-src-prefix 33')).toMatch(/--hmark-src-prefix/);
    expect(bad('-m devgroup --src-group lan')).toMatch(/--src-group/);
    expect(bad('-m realm --realm 0x1/zz')).toMatch(/--realm/);
    expect(bad('-p tcp -m osf --genre Linux --ttl 3')).toMatch(/--ttl/);
    expect(bad('-m hashlimit --hashlimit-upto 5gb/s --hashlimit-name h')).toMatch(/bad rate/);
    expect(bad('-m hashlimit --hashlimit-upto 4096mb/s --hashlimit-name h')).toMatch(/--hashlimit-upto/);
    expect(bad('-m hashlimit --hashlimit-upto 3kb/s --hashlimit-burst 100b --hashlimit-name h')).toMatch(/at least the rate/);
  });

  it('parse() reads what save() prints for each form (byte rates and bursts as the kernel will hold them)', () => {
    const rule = (args: string) => parseIptablesRule(['-A', 'INPUT', ...args.split(' ')], 'ipv4').rule;
    expect(rule('-m hashlimit --hashlimit-upto 1000b/s --hashlimit-burst 2000b --hashlimit-name h').matches![0]).toEqual({ type: 'hashlimit', name: 'h', rate: { bytes: 992 }, burst: 2976 });
    expect(rule('-m rateest --rateest e --rateest-gt --rateest-bps 20').matches![0]).toEqual({ type: 'rateest', name1: 'e', compare: 'gt', bps: { value2: 2 } });
    expect(rule('-j RATEEST --rateest-name e --rateest-interval 300ms --rateest-ewmalog 2s').target).toEqual({ type: 'RATEEST', name: 'e', intervalMs: 500, ewmaLog: 2 });
    expect(rule('-m u32 --u32 "6&0xFF=1:1,010"'.replace(/"/g, '')).matches![0]).toEqual({ type: 'u32', tests: [{ start: 6, ops: [{ op: '&', value: 255 }], values: [1, 8] }] });
    expect(rule('-p sctp -m sctp --chunk-types any abort:t,DATA:E,data:b').matches![0]).toEqual({
      type: 'sctp', chunks: { match: 'any', types: [{ chunk: 'DATA', flags: { B: false, E: true } }, { chunk: 'ABORT', flags: { T: false } }] },
    });
  });
});

describe('the last typed extensions: what validation would refuse is read as raw', () => {
  // Kernel data another writer could leave (iptables itself writes none of it): the decoder declines,
  // so the entry stays raw and is written back byte for byte.
  const decline = (g: Golden, patch: (b: Buffer) => void) => {
    const codec = (g.kind === 'match' ? matchByType : targetByType).get(g.value.type) as AnyCodec;
    const b = Buffer.from(g.hex, 'hex');
    expect(codec.decode(b, g.family ?? 'ipv4', g.revision)).toEqual(g.value);
    patch(b);
    return codec.decode(b, g.family ?? 'ipv4', g.revision);
  };
  const golden = (cmd: string) => GOLDENS.find((g) => g.cmd.startsWith(cmd))!;
  it('names with blanks, empty names, a zero modulus, unknown chunks, stray bits', () => {
    expect(decline(golden('-j RATEEST'), (b) => (b[2] = 0x20))).toBeUndefined();
    expect(decline(golden('-m rateest --rateest est1 --rateest-gt'), (b) => b.fill(0, 0, 16))).toBeUndefined();
    expect(decline(golden('-p tcp -m osf'), (b) => (b[1] = 0x22))).toBeUndefined();
    expect(decline(golden('-m hashlimit --hashlimit-upto 100kb/s'), (b) => (b[1] = 0x20))).toBeUndefined();
    expect(decline(golden('-j HMARK --hmark-sport'), (b) => b.writeUInt32LE(0, 52))).toBeUndefined();
    expect(decline(golden('-p sctp -m sctp --chunk-types all'), (b) => (b[8 + 4] = 1))).toBeUndefined(); // chunk type 32 has no name
    expect(decline(golden('-m devgroup --src-group'), (b) => (b[0] |= 0x10))).toBeUndefined();
    expect(decline(golden('-m u32 --u32 "0x0&0xffff'), (b) => (b[4] = 1))).toBeUndefined(); // the first location has no operation
    expect(decline(golden('-m hashlimit --hashlimit-above 1mb/s'), (b) => b.writeUInt32LE(3, 256))).toBeUndefined(); // a byte cost iptables prints rounded
  });
});
