/**
 * -j IDLETIMER: idletimer_tg_info_v1 (revision 1, 34 bytes: timeout, label[28], send_nl_msg,
 * timer_type, then the kernel's private pointer). `iptables -t mangle -j IDLETIMER --timeout 60 --label foo --alarm`
 */
import { arg, opt, readCString, u32, writeCString, ParseProblem, VALID, type Codec } from './codec';

export interface IdletimerTarget {
  type: 'IDLETIMER';
  /** Seconds without a packet before the timer fires. */
  timeout: number;
  /** The timer's name (sysfs: /sys/class/xt_idletimer/timers/LABEL). */
  label: string;
  /** Also send a netlink message when it fires. */
  sendNlMsg?: boolean;
  /** An alarm timer (wakes the system) instead of a plain one. */
  alarm?: boolean;
}

export const idletimer: Codec<IdletimerTarget> = {
  kind: 'target',
  type: 'IDLETIMER',
  name: 'IDLETIMER',
  revision: () => 1,
  size: () => 48,
  encode(v, b) {
    b.writeUInt32LE(v.timeout, 0);
    writeCString(b, 4, 28, v.label);
    b[32] = v.sendNlMsg ? 1 : 0;
    b[33] = v.alarm ? 1 : 0;
  },
  decode(b, _f, rev) {
    if (rev !== 1 || b[32]! > 1 || b[33]! > 1) return undefined;
    const v: IdletimerTarget = { type: 'IDLETIMER', timeout: b.readUInt32LE(0), label: readCString(b, 4, 28) };
    if (b[32]) v.sendNlMsg = true;
    if (b[33]) v.alarm = true;
    return v;
  },
  validate(v) {
    if (!u32(v.timeout) || v.timeout === 0) return [['timeout', 'must be 1..2^32-1 seconds']];
    return typeof v.label === 'string' && /^[\w.-]{1,27}$/.test(v.label) ? VALID : [['label', 'must be 1-27 characters (letters, digits, _ . -)']];
  },
  save: (v) => ` --timeout ${v.timeout} --label ${v.label}${v.sendNlMsg ? ' --send_nl_msg' : ''}${v.alarm ? ' --alarm' : ''}`,
  options: { timeout: 1, label: 1, send_nl_msg: 0, alarm: 0 },
  parse(opts) {
    const t = opt(opts, 'timeout'), l = opt(opts, 'label');
    const n = t && /^\d+$/.test(arg(t)) ? Number(arg(t)) : NaN;
    if (!l || !u32(n)) throw new ParseProblem('IDLETIMER needs --timeout SECONDS and --label NAME');
    const v: IdletimerTarget = { type: 'IDLETIMER', timeout: n, label: arg(l) };
    if (opt(opts, 'send_nl_msg')) v.sendNlMsg = true;
    if (opt(opts, 'alarm')) v.alarm = true;
    return v;
  },
};
