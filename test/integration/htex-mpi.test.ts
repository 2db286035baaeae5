// MPI mode of HighThroughputExecutor: a block's nodes lent whole to multi-node tasks, with a real MPI hello world
// (MPICH, on this host) and srun across the two nodes of a real SLURM block.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  load,
  ConfigError,
  HighThroughputExecutor,
  LocalProvider,
  SimpleLauncher,
  SlurmProvider,
  type DataFlowKernel,
} from "taskloom";
import { ensureService, MPI_PROBE, stopService } from "../helpers/services.js";
import { rejection, tmpDir } from "../helpers/tmp.js";
import { lentNodes, mpiRun } from "../fixtures/mpi-apps.js";

describe("HighThroughputExecutor MPI mode", function () {
  this.timeout(180_000);
  const tmp = tmpDir();
  let k: DataFlowKernel | undefined;
  afterEach(async () => {
    await k?.cleanup();
    k = undefined;
  });
  after(() => tmp.remove());

  it("refuses MPI mode with a launcher that starts several pools per block, and numNodes without MPI mode", async () => {
    expect(() => new HighThroughputExecutor({ mpiLauncher: "srun", provider: new LocalProvider() })).to.throw(
      ConfigError,
      /MPI mode needs one worker pool per block: give its provider launcher: new SimpleLauncher\(\)/,
    );
    expect(() => new HighThroughputExecutor({ mpiLauncher: "mpirun" as "srun" })).to.throw(
      ConfigError,
      /options.mpiLauncher: expected "srun" or "mpiexec", got 'mpirun'|"mpirun"/,
    );
    k = await load({
      executors: [new HighThroughputExecutor({ maxWorkersPerNode: 1 })],
      runDir: path.join(tmp.dir, "plain"),
      initializeLogging: false,
    });
    const e = await rejection(lentNodes(1, { resources: { numNodes: 2 } }));
    expect(e).to.be.instanceOf(ConfigError);
    expect((e as Error).message).to.match(/numNodes = 2 needs MPI mode \(options.mpiLauncher "srun" or "mpiexec"\)/);
  });

  describe("with MPICH on this host", () => {
    let hello = "";
    before(function () {
      ensureService(this, "mpi", MPI_PROBE);
      hello = path.join(tmp.dir, "mpi_hello");
      const cc = spawnSync(
        "mpicc.mpich",
        ["-o", hello, path.join(import.meta.dirname, "..", "fixtures", "mpi_hello.c")],
        {
          encoding: "utf8",
        },
      );
      expect(cc.status, cc.stderr).to.equal(0);
    });

    it("runs an MPI hello world over 4 ranks through $TASKLOOM_MPI_PREFIX, and refuses a task larger than a block", async () => {
      k = await load({
        executors: [
          new HighThroughputExecutor({
            mpiLauncher: "mpiexec",
            mpiCommand: "mpiexec.mpich",
            provider: new LocalProvider({ launcher: new SimpleLauncher() }),
          }),
        ],
        runDir: path.join(tmp.dir, "mpich"),
        initializeLogging: false,
      });
      const out = path.join(tmp.dir, "hello.out");
      expect(await mpiRun(hello, { stdout: out, resources: { numNodes: 1, ranksPerNode: 4 } })).to.equal(0);
      expect(fs.readFileSync(out, "utf8").trim().split("\n").sort()).to.deep.equal([
        "hello from rank 0 of 4",
        "hello from rank 1 of 4",
        "hello from rank 2 of 4",
        "hello from rank 3 of 4",
      ]);
      const info = await lentNodes(1, { resources: { ranksPerNode: 2 } });
      expect(info).to.deep.include({
        nodes: "localhost",
        ranks: "2",
        prefix: "mpiexec.mpich -n 2 -ppn 2 -hosts localhost",
      });
      const e = await rejection(lentNodes(1, { resources: { numNodes: 2 } }));
      expect((e as Error).message).to.match(/numNodes = 2 is more than a block has \(nodesPerBlock = 1\)/);
    });
  });

  describe("with srun on a 2-node SLURM block", () => {
    before(function () {
      ensureService(this, "slurm", "sinfo -h -o '%T %D' | grep -q '^idle 2$'");
    });
    after(() => stopService("slurm"));

    it("spreads a 2-node task's ranks over both nodes, and lends single nodes to two tasks at once", async () => {
      k = await load({
        executors: [
          new HighThroughputExecutor({
            mpiLauncher: "srun",
            provider: new SlurmProvider({
              nodesPerBlock: 2,
              launcher: new SimpleLauncher(),
              // Whole nodes, so srun may start as many ranks as they have cores.
              exclusive: true,
              statusPollingInterval: 1,
            }),
          }),
        ],
        runDir: path.join(tmp.dir, "srun"),
        initializeLogging: false,
      });
      const out = path.join(tmp.dir, "ranks.out");
      await mpiRun(`bash -c 'echo "$SLURM_PROCID $SLURMD_NODENAME"'`, {
        stdout: out,
        resources: { numNodes: 2, ranksPerNode: 2 },
      });
      const lines = fs.readFileSync(out, "utf8").trim().split("\n").sort();
      expect(lines).to.deep.equal(["0 n1", "1 n1", "2 n2", "3 n2"]);
      // Two one-node tasks hold one node each at the same time; a third waits for one of them.
      const three = await Promise.all([1, 2, 3].map(() => lentNodes(1500, { resources: { numNodes: 1 } })));
      const [a, b, c] = three.sort((x, y) => x.start - y.start);
      expect(new Set([a!.nodes, b!.nodes])).to.deep.equal(new Set(["n1", "n2"]));
      expect(b!.start).to.be.below(a!.end);
      expect(c!.start).to.be.at.least(Math.min(a!.end, b!.end));
      expect(a!.prefix).to.match(/^srun -N 1 -n 1 --ntasks-per-node=1 --nodelist=n[12]$/);
    });
  });
});
