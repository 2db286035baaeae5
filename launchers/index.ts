/**
 * Launchers, one class each.
 * @module
 */
export type { Launcher } from "./launcher.js";
export { SimpleLauncher } from "./simple.js";
export { SingleNodeLauncher } from "./single-node.js";
export { WrappedLauncher } from "./wrapped.js";
export { SrunLauncher } from "./srun.js";
export { SrunMPILauncher } from "./srun-mpi.js";
export { MpiExecLauncher } from "./mpiexec.js";
export { MpiRunLauncher } from "./mpirun.js";
export { AprunLauncher } from "./aprun.js";
export { JsrunLauncher } from "./jsrun.js";
export { GnuParallelLauncher } from "./gnu-parallel.js";
