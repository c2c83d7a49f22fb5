import type { CliCommand } from './command';

/** Placeholder: the iptables commands land with the iptables subsystem. */
export const commands: CliCommand[] = [];
