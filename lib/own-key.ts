/**
 * Lookups in the name tables (families, hooks, modes, verdicts...) with a value the user gave:
 * only strings, since converting a non-string to a key throws for an object without a prototype,
 * and only own keys, since "constructor" or "toString" would find Object.prototype's.
 */
const hasOwn = Object.prototype.hasOwnProperty;

export function isOwnKey<T extends object>(table: T, k: unknown): k is keyof T & string {
  return typeof k === 'string' && hasOwn.call(table, k);
}

/** `table[k]` when `k` is one of its own keys, else undefined. */
export function ownValue<T>(table: Readonly<Record<string, T>>, k: unknown): T | undefined {
  return isOwnKey(table, k) ? table[k] : undefined;
}
