/**
 * taskloom: Parsl-style dataflow for TypeScript. Wrap functions as apps;
 * calls return futures at once; pass futures to other apps to make a
 * dependency graph; a DataFlowKernel runs each task when its inputs are ready.
 *
 * @example
 * ```ts
 * import { load, app, shellApp, File, isWorker } from "taskloom";
 *
 * export const add = app((a: number, b: number) => a + b);
 * export const cat = shellApp((opts: { inputs: File[]; outputs: File[] }) =>
 *   `cat ${opts.inputs.join(" ")} > ${opts.outputs[0]}`);
 *
 * if (!isWorker()) {
 *   const dfk = await load();
 *   console.log(await add(1, add(2, 3))); // 6
 *   await dfk.cleanup();
 * }
 * ```
 * @module
 */
export { app, shellApp, joinApp } from "./app.js";
export type {
  AppFunction,
  AppFactory,
  AppOptions,
  CallOptions,
  FutureOr,
  FutureArgs,
  Joined,
  MethodDecorator,
} from "./app.js";
export { AppFuture, DataFuture } from "./future.js";
export type { FutureHost } from "./future.js";
export { File } from "./file.js";
export type { FileOptions, FileJSON } from "./file.js";
export type { StagingMode, StagingOptions, StagingSettings, StagingPlan } from "./staging/settings.js";
export type { MonitoringOptions } from "./monitoring/monitor.js";
export type { ResourcesMeasured, NodeEvent } from "./monitoring/events.js";
export { startDashboard, type Dashboard, type DashboardOptions } from "./dashboard/server.js";
export type { FileScheme } from "./file.js";
export { load, dfk } from "./dataflow/loader.js";
export { DataFlowKernel } from "./dataflow/kernel.js";
export { getLastCheckpoint, getAllCheckpoints } from "./dataflow/checkpoint.js";
export { isWorker } from "./worker-context.js";
export { TaskState } from "./states.js";
export type { Config, CheckpointMode, RetryInfo, LoggingOption } from "./config.js";
export type { LogLevel, Logger } from "./logging.js";
export type { StagingErrorDetails } from "./errors.js";
export {
  TaskloomError,
  DependencyError,
  JoinError,
  ShellExitError,
  MissingOutputsError,
  AppTimeoutError,
  ManagerLostError,
  WorkerLostError,
  SerializationError,
  ConfigError,
  TaskCancelledError,
  StagingError,
  ProviderError,
  NoKernelError,
  AppNotFoundError,
  ResourceExceededError,
} from "./errors.js";
export { ThreadPoolExecutor } from "../executors/threads/executor.js";
export type { ThreadPoolOptions } from "../executors/threads/executor.js";
export { HighThroughputExecutor } from "../executors/htex/executor.js";
export type { HighThroughputOptions } from "../executors/htex/executor.js";
export type { ManagerInfo } from "../executors/htex/protocol.js";
export { LocalProvider } from "../providers/local/provider.js";
export type { LocalProviderOptions } from "../providers/local/provider.js";
export { SlurmProvider } from "../providers/slurm/provider.js";
export type { SlurmProviderOptions } from "../providers/slurm/provider.js";
export type { ClusterOptions, ClusterJob } from "../providers/cluster.js";
export { GridEngineProvider } from "../providers/gridengine/provider.js";
export type { GridEngineProviderOptions } from "../providers/gridengine/provider.js";
export { LocalRunner } from "../providers/runner.js";
export { SSHRunner } from "../providers/ssh/runner.js";
export type { SSHOptions } from "../providers/ssh/runner.js";
export { CondorProvider } from "../providers/condor/provider.js";
export type { CondorProviderOptions } from "../providers/condor/provider.js";
export { PBSProProvider } from "../providers/pbs/pbspro.js";
export type { PBSProProviderOptions } from "../providers/pbs/pbspro.js";
export { TorqueProvider } from "../providers/pbs/torque.js";
export type { TorqueProviderOptions } from "../providers/pbs/torque.js";
export type { PbsOptions } from "../providers/pbs/base.js";
export { LSFProvider } from "../providers/lsf/provider.js";
export type { LSFProviderOptions } from "../providers/lsf/provider.js";
export { KubernetesProvider } from "../providers/kubernetes/provider.js";
export type { KubernetesProviderOptions } from "../providers/kubernetes/provider.js";
export { AdHocProvider } from "../providers/adhoc/provider.js";
export type { AdHocProviderOptions } from "../providers/adhoc/provider.js";
export type { CommandRunner, CommandResult, RunOptions } from "../providers/runner.js";
export type { Provider, ProviderContext, JobState, JobStatus, BlockOptions } from "../providers/provider.js";
export {
  SimpleLauncher,
  SingleNodeLauncher,
  WrappedLauncher,
  SrunLauncher,
  SrunMPILauncher,
  MpiExecLauncher,
  MpiRunLauncher,
  AprunLauncher,
  JsrunLauncher,
  GnuParallelLauncher,
} from "../launchers/index.js";
export type { Launcher } from "../launchers/index.js";
export type {
  Executor,
  ExecutorContext,
  ExecutorMonitor,
  ScalingSettings,
  ExecTask,
  AppRef,
  Resources,
  ShellSpec,
  ResultInfo,
} from "../executors/executor.js";
