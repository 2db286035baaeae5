// Each launcher's bash, as text: the command line it builds, the command file it writes, and valid bash syntax.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import {
  AprunLauncher,
  ConfigError,
  GnuParallelLauncher,
  JsrunLauncher,
  MpiExecLauncher,
  MpiRunLauncher,
  SimpleLauncher,
  SingleNodeLauncher,
  SrunLauncher,
  SrunMPILauncher,
  WrappedLauncher,
  type Launcher,
} from "taskloom";

const CMD = "node main.js worker-pool --url tcp://10.0.0.1:5555 --block 3";

function syntaxOk(script: string): void {
  const r = spawnSync("/bin/bash", ["-n"], { input: script, encoding: "utf8" });
  expect(r.status, r.stderr).to.equal(0);
}

describe("launchers build the bash Parsl's do", () => {
  const cases: [Launcher, RegExp][] = [
    [
      new SrunLauncher({ overrides: "--cpu-bind=none" }),
      /^srun --ntasks 6 --ntasks-per-node 3 -l --cpu-bind=none bash "\$TASKLOOM_CMD"$/m,
    ],
    [
      new SrunMPILauncher(),
      /srun --exclusive --nodes \$NODES_PER_BLOCK --ntasks \$NODES_PER_BLOCK -l bash "\$TASKLOOM_CMD" &/,
    ],
    [
      new MpiExecLauncher({ overrides: "--oversubscribe" }),
      /^mpiexec --bind-to none --oversubscribe -n \$WORKERCOUNT \$\{HOSTFILE:\+-hostfile "\$HOSTFILE"\} \/bin\/bash "\$TASKLOOM_CMD"$/m,
    ],
    [new MpiRunLauncher({ overrides: "-x PATH" }), /^mpirun -np \$WORKERCOUNT -x PATH \/bin\/bash "\$TASKLOOM_CMD"$/m],
    [new AprunLauncher({ overrides: "-cc none" }), /^aprun -n 6 -N 3 -cc none \/bin\/bash "\$TASKLOOM_CMD"$/m],
    [new JsrunLauncher({ overrides: "-g 1" }), /^jsrun -n 6 -r 3 -g 1 \/bin\/bash "\$TASKLOOM_CMD"$/m],
    [new GnuParallelLauncher(), /^parallel --env _ --joblog .* --sshloginfile "\$SSHLOGINFILE" --jobs 3 < "\$PFILE"$/m],
  ];
  for (const [l, line] of cases) {
    it(`${l.name}: its command line, the command in cmd_$JOBNAME.sh, valid bash`, () => {
      const s = l.wrap(CMD, 3, 2);
      expect(s).to.match(line);
      expect(s).to.contain(`cat << 'TASKLOOM_CMD_EOF' > "$TASKLOOM_CMD"\n${CMD}\nTASKLOOM_CMD_EOF\n`);
      expect(s).to.contain('TASKLOOM_CMD="${TASKLOOM_SCRIPT_DIR:-$PWD}/cmd_$JOBNAME.sh"');
      syntaxOk(s);
    });
  }

  it("WorkerCount is tasksPerNode × nodesPerBlock where the launcher counts", () => {
    expect(new MpiExecLauncher().wrap(CMD, 4, 3)).to.match(/^WORKERCOUNT=12$/m);
    expect(new MpiRunLauncher().wrap(CMD, 1, 5)).to.match(/^WORKERCOUNT=5$/m);
    expect(new SrunMPILauncher().wrap(CMD, 2, 2)).to.match(/^TASKBLOCKS=4$/m);
    expect(new MpiExecLauncher({ mpiexec: "mpiexec.mpich", bindCmd: "-bind-to" }).wrap(CMD, 1, 1)).to.match(
      /^mpiexec\.mpich -bind-to none -n/m,
    );
  });

  it("Simple, SingleNode and Wrapped stay as they were", () => {
    const simple: Launcher = new SimpleLauncher();
    const wrapped: Launcher = new WrappedLauncher({ prepend: "apptainer exec img.sif" });
    expect(simple.wrap(CMD, 4, 2)).to.equal(CMD);
    expect(wrapped.wrap(CMD, 1, 1)).to.equal(`apptainer exec img.sif ${CMD}`);
    syntaxOk(new SingleNodeLauncher().wrap(CMD, 2, 2));
  });

  it("rejects bad options naming the launcher and what is allowed", () => {
    expect(() => new SrunLauncher({ overrides: 3 as unknown as string })).to.throw(
      ConfigError,
      /SrunLauncher options.overrides: expected a string of extra arguments, got 3/,
    );
    expect(() => new JsrunLauncher({ flags: "x" } as object)).to.throw(
      ConfigError,
      /JsrunLauncher options.flags: unknown option; allowed: overrides/,
    );
    expect(() => new MpiExecLauncher({ mpiexec: "" })).to.throw(
      ConfigError,
      /options.mpiexec: expected a non-empty string/,
    );
  });
});
