/**
 * A launcher turns the worker-pool command into the bash that starts it on
 * every node of a block: a pure string function.
 *
 * @example
 * ```ts
 * new SingleNodeLauncher().wrap("taskloom worker-pool --url tcp://…", 1, 1);
 * ```
 * @module
 */

/** Wraps a command so that it runs `tasksPerNode` times on each of `nodesPerBlock` nodes. */
export interface Launcher {
  readonly name: string;
  wrap(command: string, tasksPerNode: number, nodesPerBlock: number): string;
}
