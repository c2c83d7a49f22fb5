/** -j AUDIT: xt_audit_info (revision 0, 1 byte: the record type). `iptables -j AUDIT --type drop` */
import { arg, opt, shown, ParseProblem, VALID, type Codec } from './codec';

export type AuditEvent = 'accept' | 'drop' | 'reject';
export interface AuditTarget {
  type: 'AUDIT';
  /** The record's type (the rule's verdict comes from the next rule: AUDIT does not decide). */
  event: AuditEvent;
}

const EVENTS: AuditEvent[] = ['accept', 'drop', 'reject'];

export const audit: Codec<AuditTarget> = {
  kind: 'target',
  type: 'AUDIT',
  name: 'AUDIT',
  revision: () => 0,
  size: () => 1,
  encode: (v, b) => void (b[0] = EVENTS.indexOf(v.event)),
  decode: (b) => (EVENTS[b[0]!] ? { type: 'AUDIT', event: EVENTS[b[0]!]! } : undefined),
  validate: (v) => (EVENTS.includes(v.event) ? VALID : [['event', `must be one of ${EVENTS.join(', ')}, not ${shown(v.event)}`]]),
  save: (v) => ` --type ${v.event}`,
  options: { type: 1 },
  parse(opts) {
    const o = opt(opts, 'type');
    const e = o && (arg(o).toLowerCase() as AuditEvent);
    if (!e || !EVENTS.includes(e)) throw new ParseProblem('AUDIT needs --type accept, drop or reject');
    return { type: 'AUDIT', event: e };
  },
};
