/**
 * Launchers, one class each.
 * @module
 */
export type { Launcher } from "./launcher.js";
export { SimpleLauncher } from "./simple.js";
export { SingleNodeLauncher } from "./single-node.js";
export { WrappedLauncher } from "./wrapped.js";
