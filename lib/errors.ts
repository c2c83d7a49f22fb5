/**
 * Errors are data. A KernelError carries what the kernel said (errno, its extended-ack text), what
 * kernlb was doing (op), on which object, and for a batch which item failed. A ValidationError is
 * thrown before anything reaches the kernel and names the field at fault.
 */
import { constants } from 'node:os';

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);
// Kernel-internal codes Node does not list.
errnoNames.set(512, 'ERESTARTSYS');
errnoNames.set(85, 'ERESTART');
errnoNames.set(524, 'ENOTSUPP');

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

const errnoText: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such object',
  ESRCH: 'no such object',
  EEXIST: 'already exists',
  EINVAL: 'invalid argument',
  EBUSY: 'busy',
  ENOBUFS: 'no buffer space (replies lost)',
  ETIMEDOUT: 'timed out',
  EAGAIN: 'try again',
  EAFNOSUPPORT: 'address family not supported',
  EOPNOTSUPP: 'operation not supported',
  ENOTSUPP: 'operation not supported',
  ERESTART: 'ruleset changed (generation mismatch)',
  EMSGSIZE: 'message too long',
  ELOOP: 'loop detected',
  ENOTEMPTY: 'not empty',
};

export interface KernelErrorInfo {
  errno: number;
  op: string;
  object?: string;
  extack?: string;
  /** Index of the failing item within a batch or transaction. */
  index?: number;
  /** What that item was, e.g. "rule 3 of chain lb/services". */
  item?: string;
  /** Offset of the offending attribute in the request, when the kernel reported one. */
  attrOffset?: number;
  /** Subsystem-specific hint appended to the message (e.g. IPVS needs the initial user namespace). */
  hint?: string;
}

export class KernelError extends Error {
  override name = 'KernelError';
  readonly errno: number;
  readonly code: string;
  readonly op: string;
  readonly object?: string;
  readonly extack?: string;
  readonly index?: number;
  readonly item?: string;
  readonly attrOffset?: number;

  constructor(info: KernelErrorInfo) {
    const code = errnoName(info.errno);
    let hint = info.hint;
    if ((code === 'EPERM' || code === 'EACCES') && !hint) hint = PERMISSION_HINT;
    const parts = [
      `${info.op}${info.object ? ` ${info.object}` : ''}`,
      info.item ? ` (item ${info.index}: ${info.item})` : info.index !== undefined ? ` (item ${info.index})` : '',
      `: ${code} (${errnoText[code] ?? `errno ${info.errno}`})`,
      info.extack ? `: ${info.extack}` : '',
      hint ? ` - ${hint}` : '',
    ];
    super(parts.join(''));
    this.errno = info.errno;
    this.code = code;
    this.op = info.op;
    if (info.object !== undefined) this.object = info.object;
    if (info.extack) this.extack = info.extack;
    if (info.index !== undefined && info.index >= 0) this.index = info.index;
    if (info.item !== undefined) this.item = info.item;
    if (info.attrOffset !== undefined && info.attrOffset >= 0) this.attrOffset = info.attrOffset;
  }
}

/** What every permission error says at least: the capability kernlb's kernel calls need. */
export const PERMISSION_HINT = 'CAP_NET_ADMIN is needed';

/**
 * The kernel refused for want of privilege (EPERM or EACCES, whichever the subsystem returns):
 * every subsystem, and the load balancer over them, fails this one way. `capability` names what
 * is missing; the message says where it is needed (the namespace's owning user namespace, or the
 * initial one for IPVS).
 */
export class PermissionError extends KernelError {
  override name = 'PermissionError';
  readonly capability = 'CAP_NET_ADMIN';
}

/** A KernelError of the right class for its errno (PermissionError for EPERM and EACCES). */
export function kernelError(info: KernelErrorInfo): KernelError {
  const code = errnoName(info.errno);
  return code === 'EPERM' || code === 'EACCES' ? new PermissionError(info) : new KernelError(info);
}

/** The kernel refused a commit because the state changed since it was read (nft generation, iptables EAGAIN). */
export class ConflictError extends KernelError {
  override name = 'ConflictError';
}

/** Bad input, detected before the kernel is touched. `field` is a path like "services[2].endpoints[0].port". */
export class ValidationError extends Error {
  override name = 'ValidationError';
  constructor(readonly field: string, readonly problem: string, readonly value?: unknown) {
    super(`${field}: ${problem}`);
  }
}

/** Several validation problems found in one input; the first is the message. */
export class ValidationErrors extends ValidationError {
  override name = 'ValidationErrors';
  constructor(readonly errors: ValidationError[]) {
    super(errors[0]!.field, errors.length > 1 ? `${errors[0]!.problem} (and ${errors.length - 1} more)` : errors[0]!.problem);
  }
}

export function isKernelError(e: unknown): e is KernelError {
  return e instanceof KernelError;
}
export function isNotFound(e: unknown): boolean {
  return e instanceof KernelError && (e.code === 'ENOENT' || e.code === 'ESRCH');
}
export function isExists(e: unknown): boolean {
  return e instanceof KernelError && e.code === 'EEXIST';
}
export function isPermissionDenied(e: unknown): boolean {
  return e instanceof PermissionError || (e instanceof KernelError && (e.code === 'EPERM' || e.code === 'EACCES'));
}
export function isConflict(e: unknown): boolean {
  return e instanceof ConflictError;
}

/** Shape of the errors the native layer rejects with (see native/netlink/async.cc). */
interface NativeFailure {
  kind?: 'kernel' | 'input' | 'internal';
  errno?: number;
  op?: string;
  extack?: string;
  index?: number;
  attrOffset?: number;
  message?: string;
}

/**
 * Converts a native rejection into a typed error. `context` adds what TypeScript knows and native
 * does not: the object, a description of batch items, a hint for EPERM.
 */
export function fromNative(
  e: unknown,
  context: { op?: string; object?: string; describeItem?: (index: number) => string | undefined; hint?: string; conflictErrno?: number[] } = {},
): Error {
  if (!e || typeof e !== 'object') return new Error(String(e));
  const f = e as NativeFailure;
  if (f.kind !== 'kernel' || typeof f.errno !== 'number') return e as Error;
  const index = typeof f.index === 'number' && f.index >= 0 ? f.index : undefined;
  const info: KernelErrorInfo = {
    errno: f.errno,
    op: context.op ?? f.op ?? 'kernel call',
    ...(context.object !== undefined ? { object: context.object } : {}),
    ...(f.extack ? { extack: f.extack } : {}),
    ...(index !== undefined ? { index } : {}),
    ...(f.attrOffset !== undefined && f.attrOffset >= 0 ? { attrOffset: f.attrOffset } : {}),
    ...(context.hint && (errnoName(f.errno) === 'EPERM' || errnoName(f.errno) === 'EACCES') ? { hint: context.hint } : {}),
  };
  if (index !== undefined && context.describeItem) {
    const item = context.describeItem(index);
    if (item) info.item = item;
  }
  if (context.conflictErrno?.includes(f.errno)) return new ConflictError(info);
  return kernelError(info);
}
