/** @switchyard/cli — the `switchyard` command; its program is exported for tests. */
export { buildProgram } from './program.ts';
