// The MPI launchers run for real with Open MPI and MPICH (installed by test/services/mpi-up.sh): N ranks of the
// command, each told its rank by the MPI library.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { MpiExecLauncher, MpiRunLauncher, type Launcher } from "taskloom";
import { ensureService, MPI_PROBE } from "../helpers/services.js";
import { tmpDir } from "../helpers/tmp.js";

describe("MPI launchers with real Open MPI and MPICH", function () {
  this.timeout(120_000);
  const tmp = tmpDir();
  before(function () {
    ensureService(this, "mpi", MPI_PROBE);
  });
  after(() => tmp.remove());

  const run = (l: Launcher, tasksPerNode: number, nodes: number, name: string): string[] => {
    const out = path.join(tmp.dir, `${name}.txt`);
    const script = l.wrap(
      `echo "rank \${OMPI_COMM_WORLD_RANK:-$PMI_RANK} of \${OMPI_COMM_WORLD_SIZE:-$PMI_SIZE}" >> ${out}`,
      tasksPerNode,
      nodes,
    );
    const r = spawnSync("/bin/bash", ["-c", script], {
      encoding: "utf8",
      cwd: tmp.dir,
      env: {
        ...process.env,
        JOBNAME: name,
        TASKLOOM_SCRIPT_DIR: tmp.dir,
        OMPI_ALLOW_RUN_AS_ROOT: "1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1",
      },
    });
    expect(r.status, r.stderr).to.equal(0);
    expect(fs.existsSync(path.join(tmp.dir, `cmd_${name}.sh`))).to.equal(true);
    return fs.readFileSync(out, "utf8").trim().split("\n").sort();
  };

  it("MpiExecLauncher starts tasksPerNode × nodesPerBlock ranks with Open MPI", () => {
    const l = new MpiExecLauncher({ mpiexec: "mpiexec.openmpi", overrides: "--oversubscribe" });
    expect(run(l, 2, 2, "ompi")).to.deep.equal(["rank 0 of 4", "rank 1 of 4", "rank 2 of 4", "rank 3 of 4"]);
  });

  it("MpiExecLauncher starts them with MPICH, over a host file when $HOSTFILE is set", () => {
    const hosts = path.join(tmp.dir, "hosts");
    fs.writeFileSync(hosts, "localhost:3\n");
    process.env.HOSTFILE = hosts;
    try {
      const l = new MpiExecLauncher({ mpiexec: "mpiexec.mpich" });
      expect(run(l, 3, 1, "mpich")).to.deep.equal(["rank 0 of 3", "rank 1 of 3", "rank 2 of 3"]);
    } finally {
      delete process.env.HOSTFILE;
    }
  });

  it("MpiRunLauncher starts them through mpirun", () => {
    expect(run(new MpiRunLauncher({ overrides: "--oversubscribe" }), 2, 1, "mpirun")).to.deep.equal([
      "rank 0 of 2",
      "rank 1 of 2",
    ]);
  });
});
