/**
 * JSON form of table models: raw extension data as hex strings (Buffers otherwise serialise as byte
 * arrays). tablesFromJson accepts what tablesToJson writes, a single table, or a list of tables.
 */
import { ValidationError } from '../errors';
import type { IptFamily, IptTable } from './types';

export function tablesToJson(family: IptFamily, tables: IptTable[]): string {
  return JSON.stringify(
    { family, tables: tables.map(({ readState: _r, ...t }) => t) },
    (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)
      ? Buffer.from((v as { data: number[] }).data).toString('hex') : v),
    2,
  );
}

function reviveRaw(x: unknown, path: string): void {
  if (!x || typeof x !== 'object') return;
  const o = x as { type?: unknown; data?: unknown };
  if (o.type === 'raw') {
    if (typeof o.data === 'string') {
      if (!/^([0-9a-f]{2})*$/i.test(o.data)) throw new ValidationError(`${path}.data`, 'must be a hex string', o.data);
      o.data = Buffer.from(o.data, 'hex');
    } else if (Array.isArray(o.data)) o.data = Buffer.from(o.data as number[]);
  }
}

export function tablesFromJson(text: string, family: IptFamily): IptTable[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ValidationError('input', `not valid JSON: ${(e as Error).message}`);
  }
  const obj = v as { tables?: unknown; family?: unknown; chains?: unknown };
  const list = Array.isArray(v) ? v : Array.isArray(obj?.tables) ? obj.tables : obj?.chains ? [v] : undefined;
  if (!list) throw new ValidationError('input', 'expected { tables: [...] }, a table or a list of tables');
  if (obj && !Array.isArray(v) && obj.family !== undefined && obj.family !== family)
    throw new ValidationError('family', `the file is ${String(obj.family)}; this restore is ${family} (use --ipv6 for ipv6)`);
  return (list as IptTable[]).map((t, i) => {
    if (!t || typeof t !== 'object') throw new ValidationError(`tables[${i}]`, 'must be an object');
    if (t.family !== undefined && t.family !== family) throw new ValidationError(`tables[${i}].family`, `is ${t.family}, expected ${family}`);
    for (const [ci, c] of (Array.isArray(t.chains) ? t.chains : []).entries())
      for (const [ri, r] of (Array.isArray(c?.rules) ? c.rules : []).entries()) {
        for (const [mi, m] of (Array.isArray(r?.matches) ? r.matches : []).entries()) reviveRaw(m, `tables[${i}].chains[${ci}].rules[${ri}].matches[${mi}]`);
        reviveRaw(r?.target, `tables[${i}].chains[${ci}].rules[${ri}].target`);
      }
    return { ...t, family };
  });
}
