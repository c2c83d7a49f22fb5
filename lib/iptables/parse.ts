/**
 * iptables-save syntax in (what iptables-legacy-restore reads), for the typed extensions and the
 * `--kernlb-raw REV:HEX` form save() prints for raw ones. Errors are ValidationErrors naming the line.
 */
import { ValidationError } from '../errors';
import { ParseProblem, type ParsedOption } from './extensions/codec';
import { isOwnKey } from '../own-key';
import { matchBySaveName, targetBySaveName, type AnyCodec } from './extensions';
import { isHook } from './layout';
import type { IptFamily, IptMatch, IptRule, IptTable, IptTarget, RawExtension } from './types';

export type ParsedTables = IptTable[];

// Common forms in one regex pass: bare words and whole "quoted" words (with \" escapes).
const FAST_TOKEN = /[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^\s"']+))(?=[ \t]|$)/y;

/** Splits a line like iptables-restore: blanks separate, "..." and '...' group, backslash escapes inside quotes. */
export function tokenize(line: string): string[] {
  const fast: string[] = [];
  FAST_TOKEN.lastIndex = 0;
  for (;;) {
    const at = FAST_TOKEN.lastIndex;
    if (/^[ \t]*$/.test(line.slice(at))) return fast;
    const m = FAST_TOKEN.exec(line);
    if (!m) break;
    fast.push(m[2] ?? m[1]!.replace(/\\(.)/g, '$1'));
  }
  return tokenizeSlow(line);
}

function tokenizeSlow(line: string): string[] {
  const out: string[] = [];
  let cur = '', quote = '', has = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === '\\' && i + 1 < line.length) cur += line[++i];
      else if (ch === quote) quote = '';
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (ch === ' ' || ch === '\t') {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += ch;
  }
  if (quote) throw new ParseProblem('unterminated quote');
  if (has || cur) out.push(cur);
  return out;
}

function counters(s: string): { packets: number; bytes: number } {
  const m = /^\[(\d+):(\d+)\]$/.exec(s);
  if (!m) throw new ParseProblem(`bad counters "${s}"`);
  return { packets: Number(m[1]), bytes: Number(m[2]) };
}

function rawExt(name: string, opts: ParsedOption[]): RawExtension {
  const o = opts.find((x) => x.name === 'kernlb-raw');
  const m = o && /^(\d+):([0-9a-f]*)$/i.exec(o.args[0] ?? '');
  if (!m) throw new ParseProblem(`extension "${name}" is not typed by kernlb (only --kernlb-raw REV:HEX is accepted for it)`);
  return { type: 'raw', name, revision: Number(m[1]), data: Buffer.from(m[2]!, 'hex') };
}

const IMPLICIT: Record<string, string> = { tcp: 'tcp', udp: 'udp', icmp: 'icmp', icmpv6: 'icmp6', 'ipv6-icmp': 'icmp6' };

const STD = new Set(['-s', '--source', '--src', '-d', '--destination', '--dst', '-i', '--in-interface', '-o', '--out-interface',
  '-p', '--protocol', '-f', '--fragment', '-m', '--match', '-j', '--jump', '-g', '--goto', '-c', '--set-counters', '-A', '--append']);

/** Parses the arguments of one rule ("-A CHAIN ..."), as tokenize() splits them; a problem is a ValidationError. */
export function parseRuleArgs(tokens: string[], family: IptFamily): { chain: string; rule: IptRule } {
  if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== 'string')) throw new ValidationError('tokens', 'must be an array of strings', tokens);
  if (family !== 'ipv4' && family !== 'ipv6') throw new ValidationError('family', 'must be "ipv4" or "ipv6"', family);
  try {
    return ruleArgs(tokens, family);
  } catch (e) {
    if (e instanceof ParseProblem) throw new ValidationError('rule', e.message, tokens.join(' '));
    throw e;
  }
}

function ruleArgs(tokens: string[], family: IptFamily): { chain: string; rule: IptRule } {
  const rule: IptRule = {};
  const invert: NonNullable<IptRule['invert']> = {};
  let chain: string | undefined;
  let bang = false;
  let i = 0;
  const next = (what: string) => {
    const v = tokens[++i];
    if (v === undefined) throw new ParseProblem(`${what} needs a value`);
    return v;
  };
  // Options of one extension: "--opt [args]" with "!" in front allowed, until a standard option.
  const extOptions = (codec: AnyCodec | undefined, ext: string): ParsedOption[] => {
    const opts: ParsedOption[] = [];
    let inv = false;
    while (i + 1 < tokens.length) {
      const t = tokens[i + 1]!;
      if (t === '!') {
        if (tokens[i + 2] && STD.has(tokens[i + 2]!)) break;
        inv = true;
        i++;
        continue;
      }
      if (STD.has(t) || !t.startsWith('--')) break;
      const name = t.slice(2);
      const arity = name === 'kernlb-raw' ? 1 : codec && isOwnKey(codec.options, name) ? codec.options[name] : undefined;
      if (arity === undefined) throw new ParseProblem(`unknown option ${t} for ${ext}`);
      i++;
      const args: string[] = [];
      // -1: one optional value, present unless the next word is an option, "!" or a standard option.
      if (arity < 0) {
        const a = tokens[i + 1];
        if (a !== undefined && a !== '!' && !a.startsWith('-')) args.push(next(t));
      } else for (let k = 0; k < arity; k++) args.push(next(t));
      opts.push({ name, args, invert: inv });
      inv = false;
    }
    return opts;
  };
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '!') {
      bang = true;
      continue;
    }
    const inv = bang;
    bang = false;
    switch (t) {
      case '-A': case '--append':
        chain = next(t);
        break;
      case '-s': case '--source': case '--src':
        rule.source = next(t);
        if (inv) invert.source = true;
        break;
      case '-d': case '--destination': case '--dst':
        rule.destination = next(t);
        if (inv) invert.destination = true;
        break;
      case '-i': case '--in-interface':
        rule.inInterface = next(t);
        if (inv) invert.inInterface = true;
        break;
      case '-o': case '--out-interface':
        rule.outInterface = next(t);
        if (inv) invert.outInterface = true;
        break;
      case '-p': case '--protocol': {
        const p = next(t);
        rule.protocol = /^\d+$/.test(p) ? Number(p) : p.toLowerCase();
        if (inv) invert.protocol = true;
        break;
      }
      case '-f': case '--fragment':
        rule.fragment = true;
        if (inv) invert.fragment = true;
        break;
      case '-c': case '--set-counters':
        rule.counters = { packets: Number(next(t)), bytes: Number(next(t)) };
        break;
      case '-m': case '--match': {
        const name = next(t);
        const codec = matchBySaveName.get(name);
        const opts = extOptions(codec, `-m ${name}`);
        const m: IptMatch = codec && !opts.some((o) => o.name === 'kernlb-raw') ? (codec.parse(opts, family) as IptMatch) : rawExt(name, opts);
        (rule.matches ??= []).push(m);
        break;
      }
      case '-g': case '--goto':
        rule.target = { type: 'goto', chain: next(t) };
        break;
      case '-j': case '--jump': {
        const name = next(t);
        if (name === 'ACCEPT' || name === 'DROP' || name === 'RETURN' || name === 'QUEUE') {
          rule.target = { type: name };
          break;
        }
        const codec = targetBySaveName.get(name);
        const opts = extOptions(codec, `-j ${name}`);
        if (opts.some((o) => o.name === 'kernlb-raw')) rule.target = rawExt(name, opts);
        else if (codec) rule.target = codec.parse(opts, family) as IptTarget;
        else if (opts.length) throw new ParseProblem(`target ${name} is not typed by kernlb`);
        else rule.target = { type: 'jump', chain: name };
        break;
      }
      default: {
        // iptables loads the protocol's match implicitly: "-p tcp --dport 80" = "-p tcp -m tcp --dport 80".
        const implicit = isOwnKey(IMPLICIT, rule.protocol) ? IMPLICIT[rule.protocol] : undefined;
        const codec = implicit && matchBySaveName.get(implicit);
        if (codec && t.startsWith('--') && isOwnKey(codec.options, t.slice(2))) {
          i -= inv ? 2 : 1;
          const opts = extOptions(codec, `-p ${String(rule.protocol)}`);
          (rule.matches ??= []).push(codec.parse(opts, family) as IptMatch);
          break;
        }
        throw new ParseProblem(`unexpected "${t}"`);
      }
    }
  }
  if (!chain) throw new ParseProblem('rule without -A CHAIN');
  if (Object.keys(invert).length) rule.invert = invert;
  return { chain, rule };
}

/** Parses iptables-save output (one or more tables) into table models. */
export function parseIptablesSave(text: string, family: IptFamily = 'ipv4'): ParsedTables {
  if (typeof text !== 'string') throw new ValidationError('text', 'must be a string (iptables-save output)', text);
  if (family !== 'ipv4' && family !== 'ipv6') throw new ValidationError('family', 'must be "ipv4" or "ipv6"', family);
  const tables: IptTable[] = [];
  let cur: IptTable | undefined;
  let byName = new Map<string, IptTable['chains'][number]>();
  const lines = text.split('\n');
  lines.forEach((raw, n) => {
    const line = raw.trim();
    const at = `line ${n + 1}`;
    try {
      if (!line || line.startsWith('#')) return;
      if (line.startsWith('*')) {
        if (cur) throw new ParseProblem(`table ${cur.name} has no COMMIT`);
        cur = { family, name: line.slice(1), chains: [] };
        byName = new Map();
        return;
      }
      if (!cur) throw new ParseProblem('expected "*table"');
      if (line === 'COMMIT') {
        tables.push(cur);
        cur = undefined;
        return;
      }
      if (line.startsWith(':')) {
        const [name, policy, cnt] = line.slice(1).split(/\s+/);
        if (!name) throw new ParseProblem('chain line without a name');
        if (byName.has(name)) throw new ParseProblem(`chain ${name} declared twice`);
        let chain: IptTable['chains'][number];
        if (policy === '-' || policy === undefined) chain = { name, rules: [] };
        else {
          if (policy !== 'ACCEPT' && policy !== 'DROP') throw new ParseProblem(`bad policy "${policy}"`);
          if (!isHook(name)) throw new ParseProblem(`only built-in chains have a policy: ${name}`);
          chain = { name, policy, counters: cnt ? counters(cnt) : { packets: 0, bytes: 0 }, rules: [] };
        }
        cur.chains.push(chain);
        byName.set(name, chain);
        return;
      }
      let tokens = tokenize(line);
      let cnt: { packets: number; bytes: number } | undefined;
      if (tokens[0]?.startsWith('[')) {
        cnt = counters(tokens[0]);
        tokens = tokens.slice(1);
      }
      if (tokens[0] !== '-A' && tokens[0] !== '--append') throw new ParseProblem(`only -A rules are supported, not "${tokens[0]}"`);
      const { chain, rule } = ruleArgs(tokens, family);
      if (cnt) rule.counters = cnt;
      // A jump names its chain with the declared name's own string: comparing them (the encoder
      // checks jumps by name) is then a pointer comparison.
      const t = rule.target;
      if (t && (t.type === 'jump' || t.type === 'goto')) t.chain = byName.get(t.chain)?.name ?? t.chain;
      const c = byName.get(chain);
      if (!c) throw new ParseProblem(`rule for undeclared chain ${chain}`);
      c.rules.push(rule);
    } catch (e) {
      if (e instanceof ParseProblem) throw new ValidationError(at, e.message, raw);
      throw e;
    }
  });
  if (cur) throw new ValidationError('end of input', `table ${cur.name} has no COMMIT`);
  return tables;
}
