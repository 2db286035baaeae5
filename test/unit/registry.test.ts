import { expect } from "chai";
import { canonicalModuleUrl, lookupApp, registerApp, whenRegistered } from "../../lib/registry.js";

describe("app registry", () => {
  it("canonicalises the URL forms loaders and stacks give", () => {
    expect(canonicalModuleUrl("/a/b.ts")).to.equal("file:///a/b.ts");
    expect(canonicalModuleUrl("file:///a/b.ts?tsx-namespace=123")).to.equal("file:///a/b.ts");
    expect(canonicalModuleUrl("data:text/javascript,xyz?filePath=%2Fa%2Fb.ts%3Fnamespace%3D1")).to.equal(
      "file:///a/b.ts",
    );
  });
  it("keys repeated names by ordinal, as a worker re-importing the module will", async () => {
    const m = "file:///reg/test.ts";
    const f1 = (): number => 1;
    const f2 = (): number => 2;
    expect(registerApp(m, "f", f1)).to.equal(`${m}#f`);
    expect(registerApp(m, "f", f2)).to.equal(`${m}#f~1`);
    expect(lookupApp(`${m}#f~1`)).to.equal(f2);
    const later = whenRegistered(`${m}#g`);
    registerApp(m, "g", f1);
    await later;
  });
});
