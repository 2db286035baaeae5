// GridEngineProvider against a real Grid Engine 8.1.9 cell on this machine (test/services/gridengine-up.sh):
// qsub, qstat, qdel, exit codes, a walltime kill, and a workflow on workers Grid Engine started.
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  load,
  GridEngineProvider,
  HighThroughputExecutor,
  ProviderError,
  SimpleLauncher,
  type DataFlowKernel,
  type GridEngineProviderOptions,
} from "taskloom";
import { serviceSuite } from "../helpers/services.js";
import { providerMaker, settle } from "../helpers/providers.js";
import { rejection } from "../helpers/tmp.js";
import { sgeJob } from "../fixtures/sge-apps.js";

describe("GridEngineProvider on a real Grid Engine", function () {
  this.timeout(120_000);
  before(() => {
    process.env.SGE_ROOT ??= "/var/lib/gridengine";
    process.env.SGE_CELL ??= "default";
  });
  const tmp = serviceSuite("gridengine", "qstat -f 2>/dev/null | grep -q '^all.q@localhost'");
  const provider = providerMaker(
    tmp.dir,
    (o: GridEngineProviderOptions) => new GridEngineProvider({ launcher: new SimpleLauncher(), ...o }),
  );

  it("submits with qsub, sees it run, cancels it with qdel", async () => {
    const p = await provider({ queue: "all.q" });
    const id = await p.submit("sleep 60", 1, "block-0");
    const script = fs.readFileSync(path.join(tmp.dir, "run0", "submit_scripts", "block-0.sh"), "utf8");
    expect(script).to.match(/^#!\/bin\/bash\n#\$ -S \/bin\/bash\n#\$ -N block-0\n/);
    expect(script).to.contain("#$ -q all.q\n");
    expect((await settle(p, id, (s) => s.state === "running")).state).to.equal("running");
    expect(await p.cancel([id])).to.deep.equal([true]);
    expect((await p.status([id]))[0]!.state).to.equal("cancelled");
  });

  it("reports exit codes with the tail of stderr, and one qstat polls every block", async () => {
    const p = await provider();
    const bad = await p.submit("echo 'cannot load module' >&2; exit 3", 1, "block-1");
    const good = await p.submit("true", 1, "block-2");
    const st = await settle(p, bad, (s) => s.state === "failed" || s.state === "completed");
    expect(st).to.deep.include({ state: "failed", exitCode: 3 });
    expect(st.message).to.match(/exit code 3; stderr: cannot load module/);
    expect((await settle(p, good, (s) => s.state === "completed")).exitCode).to.equal(0);
  });

  it("a job past its walltime fails with Grid Engine's reason", async () => {
    const p = await provider({ walltime: "00:00:03" });
    const id = await p.submit("sleep 60", 1, "block-3");
    const st = await settle(p, id, (s) => s.state === "failed" && /h_rt/.test(s.message ?? ""));
    expect(st.message).to.match(/qmaster enforced h_rt/);
  });

  it("a qsub error is a ProviderError with the command and Grid Engine's message", async () => {
    const p = await provider({ queue: "no.such.q" });
    const e = await rejection(p.submit("true", 1, "block-4"));
    expect(e).to.be.instanceOf(ProviderError);
    expect((e as Error).message).to.match(/`qsub -terse .*block-4\.sh` failed with exit code \d+: .*no\.such\.q/s);
  });

  describe("a workflow on workers Grid Engine started", () => {
    let k: DataFlowKernel | undefined;
    after(async () => k?.cleanup());

    it("runs tasks in the Grid Engine job", async () => {
      k = await load({
        executors: [
          new HighThroughputExecutor({
            maxWorkersPerNode: 1,
            provider: new GridEngineProvider({ statusPollingInterval: 1 }),
          }),
        ],
        runDir: path.join(tmp.dir, "flow"),
        initializeLogging: false,
      });
      const seen = await Promise.all(Array.from({ length: 4 }, () => sgeJob()));
      expect(new Set(seen.map((s) => s.job)).size).to.equal(1);
      expect(seen[0]!.job).to.match(/^\d+$/);
      expect(seen[0]!.queue).to.equal("all.q");
    });
  });
});
