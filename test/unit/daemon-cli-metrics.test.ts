/** kernlb run's usage errors (before anything is opened) and the Prometheus text of status counters. */
import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ExitCode, type CliIO } from '../../lib/cli/command';
import { main } from '../../lib/cli/main';
import { LabelArena, MetricsWriter, renderStatusMetrics, writeStatusMetrics } from '../../lib/daemon/endpoint-metrics';
import type { LbStatus, PackedStatus } from '../../lib/lb/types';

async function cli(argv: string[], files: Record<string, string> = {}) {
  const o = { out: '', err: '' };
  const io: CliIO = {
    out: (t) => void (o.out += t),
    err: (t) => void (o.err += t),
    readInput: async (p) => {
      if (p in files) return files[p]!;
      throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    },
  };
  return { code: await main(argv, io), ...o };
}

const good = JSON.stringify({ services: [{ name: 'web', vip: '10.96.0.10', port: 80, endpoints: [{ address: '10.0.0.2', port: 8080 }] }] });

describe('kernlb run: usage', () => {
  it('--help says what it does', async () => {
    const r = await cli(['run', '--help']);
    expect(r.code).toBe(ExitCode.ok);
    expect(r.out).toMatch(/^usage: kernlb run STATE\.json --mode/);
    expect(r.out).toMatch(/SIGHUP/);
  });

  it.each([
    [['run', 's.json'], /--mode is required/],
    [['run', 's.json', '--mode', 'lvs'], /--mode must be one of/],
    [['run', '--mode', 'nftables'], /a STATE\.json file is required/],
    [['run', '-', '--mode', 'nftables'], /needs a file .*not stdin/],
    [['run', 's.json', '--mode', 'nftables', '--metrics', '9469'], /--metrics must be HOST:PORT/],
    [['run', 's.json', '--mode', 'nftables', '--metrics', '127.0.0.1:70000'], /--metrics must be HOST:PORT/],
    [['run', 's.json', '--mode', 'nftables', '--resync-interval', '-1'], /--resync-interval must be a whole number/],
    [['run', 's.json', '--mode', 'nftables', '--health-concurrency', '0'], /--health-concurrency must be a whole number 1\.\.65536/],
    [['run', 's.json', 'extra', '--mode', 'nftables'], /unexpected argument "extra"/],
    [['run', 'missing.json', '--mode', 'nftables'], /cannot read missing\.json: no such file/],
  ])('%j is a usage error (exit 2)', async (argv, msg) => {
    const r = await cli(argv, { 's.json': good });
    expect(r.code).toBe(ExitCode.input);
    expect(r.err).toMatch(msg);
  });

  it('a state that does not validate is exit 2 naming the field, before any namespace or lock is looked at', async () => {
    const bad = JSON.stringify({ services: [{ name: 'web', vip: '10.96.0.10', port: 80, healthCheck: { type: 'http', fall: 0 }, endpoints: [] }] });
    const r = await cli(['run', 's.json', '--mode', 'nftables', '--netns', 'klunit-no-such-namespace'], { 's.json': bad });
    expect(r.code).toBe(ExitCode.input);
    expect(r.err).toMatch(/services\[0\]\.healthCheck\.fall/);
  });
});

describe('renderStatusMetrics', () => {
  const ep = (address: string, port: number, weight: number, connections: number, extra = {}) => ({ address, port, weight, counters: { connections, packets: connections * 2, bytes: connections * 100, ...extra } });
  const nft: LbStatus = {
    mode: 'nftables', state: { services: [] },
    services: [{ name: 'web', protocol: 'tcp', family: 'ipv4', vip: '10.96.0.10', port: 80, scheduler: 'rr', endpoints: [ep('10.0.0.2', 8080, 1, 7), ep('10.0.0.3', 8080, 0, 3)] }],
  };
  const ipvs: LbStatus = {
    mode: 'ipvs', state: { services: [] },
    services: [{ name: 'v6', protocol: 'tcp', family: 'ipv6', vip: 'fd00::10', port: 80, scheduler: 'wrr', endpoints: [ep('fd00::2', 80, 2, 5, { activeConnections: 1, inactiveConnections: 4 })] }],
  };

  it('per endpoint connections and weight, per service endpoints and active ones; packets and bytes only where IPVS counts them', () => {
    expect(renderStatusMetrics(nft)).toBe([
      '# HELP kernlb_endpoint_connections_total New connections sent to the endpoint (nftables/iptables: hits of its DNAT rule; IPVS: connections scheduled to it).',
      '# TYPE kernlb_endpoint_connections_total counter',
      'kernlb_endpoint_connections_total{service="web",endpoint="10.0.0.2:8080",mode="nftables"} 7',
      'kernlb_endpoint_connections_total{service="web",endpoint="10.0.0.3:8080",mode="nftables"} 3',
      '# HELP kernlb_endpoint_weight Weight the kernel holds for the endpoint (0: drained, no new connections).',
      '# TYPE kernlb_endpoint_weight gauge',
      'kernlb_endpoint_weight{service="web",endpoint="10.0.0.2:8080",mode="nftables"} 1',
      'kernlb_endpoint_weight{service="web",endpoint="10.0.0.3:8080",mode="nftables"} 0',
      '# HELP kernlb_service_endpoints Endpoints the kernel holds for the service.',
      '# TYPE kernlb_service_endpoints gauge',
      'kernlb_service_endpoints{service="web",mode="nftables"} 2',
      '# HELP kernlb_service_endpoints_active Endpoints of the service with a weight above 0 (receiving new connections).',
      '# TYPE kernlb_service_endpoints_active gauge',
      'kernlb_service_endpoints_active{service="web",mode="nftables"} 1',
      '',
    ].join('\n'));
  });

  it('two modes share one HELP/TYPE per metric; IPVS adds packets, bytes and connection counts for its endpoints only', () => {
    const t = renderStatusMetrics([nft, ipvs]);
    for (const m of ['kernlb_endpoint_connections_total', 'kernlb_endpoint_weight', 'kernlb_endpoint_packets_total', 'kernlb_service_endpoints']) {
      expect(t.match(new RegExp(`^# TYPE ${m} `, 'gm'))).toHaveLength(1);
    }
    expect(t).toMatch(/^kernlb_endpoint_connections_total\{service="v6",endpoint="\[fd00::2\]:80",mode="ipvs"\} 5$/m);
    expect(t).toMatch(/^kernlb_endpoint_packets_total\{service="v6",endpoint="\[fd00::2\]:80",mode="ipvs"\} 10$/m);
    expect(t).toMatch(/^kernlb_endpoint_bytes_total\{service="v6",endpoint="\[fd00::2\]:80",mode="ipvs"\} 500$/m);
    expect(t).toMatch(/^kernlb_endpoint_active_connections\{service="v6",endpoint="\[fd00::2\]:80",mode="ipvs"\} 1$/m);
    expect(t).toMatch(/^kernlb_endpoint_inactive_connections\{service="v6",endpoint="\[fd00::2\]:80",mode="ipvs"\} 4$/m);
    expect(t).not.toMatch(/^kernlb_endpoint_packets_total\{service="web"/m);
    expect(renderStatusMetrics({ ...nft, services: [] })).toBe('');
  });

  it('packed counters (LoadBalancer.counters()) render as the same status objects do, also beside another mode', () => {
    const objects: LbStatus = { ...nft, services: [...nft.services, { ...nft.services[0]!, name: 'two', endpoints: [ep('10.0.1.2', 80, 2, 40), ep('10.0.1.3', 80, 1, 50)] }] };
    const flat = objects.services.flatMap((s) => s.endpoints.map((e) => e.counters));
    const packed: PackedStatus = {
      mode: 'nftables',
      services: objects.services.map(({ endpoints, ...s }) => ({ ...s, endpoints: endpoints.map(({ address, port, weight }) => ({ address, port, weight })) })),
      connections: Float64Array.from(flat, (c) => c.connections),
      packets: Float64Array.from(flat, (c) => c.packets),
      bytes: Float64Array.from(flat, (c) => c.bytes),
    };
    expect(renderStatusMetrics(packed)).toBe(renderStatusMetrics(objects));
    expect(renderStatusMetrics([packed, ipvs])).toBe(renderStatusMetrics([objects, ipvs]));
    expect(renderStatusMetrics([ipvs, packed])).toBe(renderStatusMetrics([ipvs, objects]));
    expect(renderStatusMetrics(packed)).toMatch(/^kernlb_endpoint_connections_total\{service="two",endpoint="10\.0\.1\.3:80",mode="nftables"\} 50$/m);
  });

  it('a label arena reused across scrapes gives the same text as a new one, also after endpoints change and when it grows', () => {
    const arena = new LabelArena();
    const scrape = (st: LbStatus) => {
      const w = new MetricsWriter();
      writeStatusMetrics(w, [st], arena);
      return w.toString();
    };
    expect(scrape(nft)).toBe(renderStatusMetrics(nft));
    expect(scrape(nft)).toBe(renderStatusMetrics(nft));
    // same count, one port changed; then one address changed; then an endpoint fewer; then 600
    // endpoints (past the arena's first 4 KiB and 256 label sets), then the first state again
    const many = Array.from({ length: 600 }, (_, i) => ep(`fd00::${(i + 1).toString(16)}`, 1000 + i, i % 3, i));
    const variants: LbStatus[] = [
      { ...nft, services: [{ ...nft.services[0]!, endpoints: [ep('10.0.0.2', 8080, 1, 7), ep('10.0.0.3', 9090, 1, 3)] }] },
      { ...nft, services: [{ ...nft.services[0]!, endpoints: [ep('10.0.0.9', 8080, 1, 7), ep('10.0.0.3', 9090, 1, 3)] }] },
      { ...nft, services: [{ ...nft.services[0]!, endpoints: [ep('10.0.0.9', 8080, 1, 8)] }] },
      { ...nft, services: [{ ...nft.services[0]!, name: 'big', endpoints: many }] },
      nft,
    ];
    for (const v of variants) expect(scrape(v)).toBe(renderStatusMetrics(v));
    expect(scrape({ ...nft, services: [{ ...nft.services[0]!, name: 'a"b\\c\n' }] })).toMatch(/^kernlb_endpoint_weight\{service="a\\"b\\\\c\\n",endpoint="10\.0\.0\.2:8080",mode="nftables"\} 1$/m);
    const big = renderStatusMetrics(variants[3]!); // (a new arena: it grows while writing this)
    // (written out independently of the writer: renderStatusMetrics above shares its code)
    expect(big.split('\n').filter((l) => l.startsWith('kernlb_endpoint_connections_total{'))).toEqual(
      many.map((e, i) => `kernlb_endpoint_connections_total{service="big",endpoint="[${e.address}]:${1000 + i}",mode="nftables"} ${i}`),
    );
    expect(big.split('\n').filter((l) => l.startsWith('kernlb_endpoint_weight{'))).toEqual(
      many.map((e, i) => `kernlb_endpoint_weight{service="big",endpoint="[${e.address}]:${1000 + i}",mode="nftables"} ${i % 3}`),
    );
  });
});

describe('LabelArena', () => {
  it('grows when not told the size first, keeping every label set written before', () => {
    const arena = new LabelArena();
    arena.reset();
    for (let i = 0; i < 600; i++) arena.add(`svc${i}`, i % 2 ? `fd00::${i}` : `10.0.${i >> 8}.${i & 255}`, 1000 + i, 'nftables');
    const w = new MetricsWriter();
    for (let i = 0; i < 600; i++) arena.writeTo(w, i);
    const want = Array.from({ length: 600 }, (_, i) => `{service="svc${i}",endpoint="${i % 2 ? `[fd00::${i}]` : `10.0.${i >> 8}.${i & 255}`}:${1000 + i}",mode="nftables"} `).join('');
    expect(w.toString()).toBe(want);
  });
});

describe('MetricsWriter', () => {
  it('writes whole numbers as digits and anything else as JavaScript prints it', () => {
    const w = new MetricsWriter();
    for (const v of [0, 7, 10, 99, 100, 1234567890123, Number.MAX_SAFE_INTEGER, 2 ** 64, 0.5, -1, NaN]) {
      w.number(v);
      w.ascii(' ');
    }
    expect(w.toString()).toBe(`0 7 10 99 100 1234567890123 ${Number.MAX_SAFE_INTEGER} ${2 ** 64} 0.5 -1 NaN `);
  });

  it('ascii() falls back to UTF-8 for other text', () => {
    const w = new MetricsWriter();
    w.ascii('abc');
    w.ascii('é∑x');
    w.write('ü');
    expect(w.toString()).toBe('abcé∑xü');
  });

  it('fills 256 KiB chunks: no byte lost or reordered across chunk ends, one buffer or the chunks give the same text', () => {
    const w = new MetricsWriter();
    let want = '';
    for (let i = 0; i < 40000; i++) {
      const line = `line${i} ${'x'.repeat(i % 17)}\n`;
      want += line;
      if (i % 3 === 0) w.ascii(line);
      else if (i % 3 === 1) w.write(line);
      else {
        const b = Buffer.from(line);
        w.copy(b, 0, b.length);
      }
    }
    w.write('y'.repeat(300000)); // longer than a chunk
    want += 'y'.repeat(300000);
    const chunks = w.chunks();
    expect(chunks.length).toBeGreaterThan(2);
    expect(w.length).toBe(Buffer.byteLength(want));
    expect(Buffer.concat(chunks).toString()).toBe(want);
    expect(w.toString()).toBe(want);
  });

  it('gzip: one gzip stream (one member: curl reads no further) of the same text, holding one chunk of text', () => {
    const plain = new MetricsWriter();
    const pool: Buffer[] = [];
    const gz = new MetricsWriter(pool, { gzip: true });
    for (let i = 0; i < 40000; i++) {
      const line = `kernlb_endpoint_connections_total{service="s${i >> 3}",endpoint="10.1.${i >> 8}.${i & 255}:8080",mode="nftables"} `;
      for (const w of [plain, gz]) {
        w.ascii(line);
        w.number(i * 7);
        w.ascii('\n');
      }
    }
    for (const w of [plain, gz]) w.write('z'.repeat(300000)); // (longer than a chunk)
    const want = plain.bytes();
    const body = Buffer.concat(gz.chunks());
    expect(want.length).toBeGreaterThan(4 << 20);
    expect(body.length).toBeLessThan(want.length / 5);
    expect(gz.length).toBe(body.length);
    expect(gunzipSync(body).equals(want)).toBe(true);
    // one member: its deflate data alone inflates to the whole text, and its trailer is the whole text's
    expect([...body.subarray(0, 3)]).toEqual([0x1f, 0x8b, 8]);
    expect(inflateRawSync(body.subarray(10, body.length - 8)).equals(want)).toBe(true);
    expect(body.readUInt32LE(body.length - 8)).toBe(crc32(want));
    expect(body.readUInt32LE(body.length - 4)).toBe(want.length);
    expect(gz.owned).toHaveLength(1); // (one chunk of text, written into again and again)
    expect(gz.chunks()).toEqual(gz.chunks()); // (ending the stream twice adds nothing)
  });
});
