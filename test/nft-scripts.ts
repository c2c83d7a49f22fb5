/**
 * Scripts of nftables calls written as data for the generated bad-input tests: a statement is
 * `{ $s: 'builder name', args: [...] }`, built only after the script was broken, so a broken
 * argument reaches the builder itself.
 */
import { nftStatements as s } from '../lib';

/** Replaces every `{ $s, args }` with what the statement builder returns, in place (prototypes kept). */
export function resolve(v: unknown): unknown {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = resolve(v[i]);
    return v;
  }
  if (!v || typeof v !== 'object' || v instanceof Uint8Array) return v;
  const o = v as Record<string, unknown>;
  if (Object.keys(o).includes('$s') && typeof o.$s === 'string' && Array.isArray(o.args)) {
    const f = (s as unknown as Record<string, unknown>)[o.$s];
    if (typeof f === 'function') return f(...(o.args as unknown[]).map(resolve));
  }
  for (const k of Object.keys(o)) o[k] = resolve(o[k]);
  return v;
}
