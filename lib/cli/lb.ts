import type { CliCommand } from './command';

/** Placeholder: the lb commands land with the lb subsystem. */
export const commands: CliCommand[] = [];
