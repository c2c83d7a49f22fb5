import type { CliCommand } from './command';

/** Placeholder: the nft commands land with the nft subsystem. */
export const commands: CliCommand[] = [];
