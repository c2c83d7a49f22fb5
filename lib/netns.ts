/** Where a handle lives: a named namespace (/run/netns/NAME), a path to a namespace file, or a process's namespace. */
import { ValidationError } from './errors';

export type NetnsSpec = string | { path: string } | { pid: number };

/** Resolves a spec to the path the native layer opens; undefined = the caller's namespace. */
export function netnsPath(spec: NetnsSpec | undefined, field = 'netns'): string | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (typeof spec === 'string') {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(spec) || spec === '.' || spec === '..')
      throw new ValidationError(field, `"${spec}" is not a valid namespace name (letters, digits, _ . -)`, spec);
    return `/run/netns/${spec}`;
  }
  if (typeof spec === 'object' && 'path' in spec) {
    if (typeof spec.path !== 'string' || !spec.path.startsWith('/') || spec.path.includes('\0')) // (native would read up to a NUL)
      throw new ValidationError(`${field}.path`, 'must be an absolute path', spec.path);
    return spec.path;
  }
  if (typeof spec === 'object' && 'pid' in spec) {
    if (!Number.isInteger(spec.pid) || spec.pid <= 0)
      throw new ValidationError(`${field}.pid`, 'must be a positive integer', spec.pid);
    return `/proc/${spec.pid}/ns/net`;
  }
  throw new ValidationError(field, 'must be a name, { path } or { pid }', spec);
}

export function describeNetns(spec: NetnsSpec | undefined): string {
  if (spec === undefined) return 'the caller\'s namespace';
  if (typeof spec === 'string') return `netns ${spec}`;
  return 'path' in spec ? `netns ${spec.path}` : `netns of pid ${spec.pid}`;
}
