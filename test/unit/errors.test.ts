import { expect } from "chai";
import { errorFromJSON, errorToJSON } from "../../lib/error-codec.js";
import { AppTimeoutError, ShellExitError, TaskloomError } from "../../lib/errors.js";

describe("errors", () => {
  it("revives taskloom classes with their fields and instanceof", () => {
    const e = errorFromJSON(errorToJSON(new ShellExitError("cat", 127)));
    expect(e).to.be.instanceOf(ShellExitError);
    expect(e).to.be.instanceOf(TaskloomError);
    expect(e).not.to.be.instanceOf(AppTimeoutError);
    expect((e as ShellExitError).exitCode).to.equal(127);
    expect((e as ShellExitError).code).to.equal("TASKLOOM_SHELL_EXIT");
  });
  it("revives built-in classes as themselves and keeps unknown names", () => {
    expect(errorFromJSON(errorToJSON(new RangeError("r")))).to.be.instanceOf(RangeError);
    class MyErr extends Error {
      code = "E_MINE";
      override name = "MyErr";
    }
    const e = errorFromJSON(errorToJSON(new MyErr("boom")));
    expect(e.name).to.equal("MyErr");
    expect(e.message).to.equal("boom");
    expect((e as { code?: string }).code).to.equal("E_MINE");
    expect(e.stack).to.contain("errors.test.ts");
  });
});
