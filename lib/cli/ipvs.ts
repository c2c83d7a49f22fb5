import type { CliCommand } from './command';

/** Placeholder: the ipvs commands land with the ipvs subsystem. */
export const commands: CliCommand[] = [];
