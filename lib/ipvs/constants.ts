/** Numbers from <linux/ip_vs.h> and <linux/socket.h> the IPVS client needs. */

export const AF_INET = 2;
export const AF_INET6 = 10;

export const IPPROTO = { tcp: 6, udp: 17, sctp: 132 } as const;

export const Cmd = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;

export const SvcFlag = {
  PERSISTENT: 0x1,
  HASHED: 0x2,
  ONEPACKET: 0x4,
  SCHED1: 0x8,
  SCHED2: 0x10,
  SCHED3: 0x20,
} as const;

export const Fwd = { masq: 0, local: 1, tunnel: 2, route: 3 } as const;
export const TunType = { ipip: 0, gue: 1, gre: 2 } as const;
export const TunFlags = { none: 0, csum: 1, remcsum: 2 } as const;
export const DaemonStateNum = { master: 1, backup: 2 } as const;

export const SCHED_NAME_MAX = 15;
