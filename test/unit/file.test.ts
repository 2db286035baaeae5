import { expect } from "chai";
import { File, ConfigError } from "taskloom";

describe("File", () => {
  it("parses local paths and file: URLs", () => {
    const a = new File("data/in.txt");
    expect([a.scheme, a.path, a.filename, a.netloc, a.filepath, String(a)]).to.deep.equal([
      "file",
      "data/in.txt",
      "in.txt",
      "",
      "data/in.txt",
      "data/in.txt",
    ]);
    const b = new File("file:///tmp/x%20y.csv");
    expect([b.scheme, b.path, b.filename]).to.deep.equal(["file", "/tmp/x y.csv", "x y.csv"]);
  });
  it("parses remote URLs, which have no local path until staged", () => {
    const f = new File("https://example.org:8443/d/a.csv?x=1");
    expect([f.scheme, f.netloc, f.path, f.filename]).to.deep.equal(["https", "example.org:8443", "/d/a.csv", "a.csv"]);
    expect(() => f.filepath).to.throw(ConfigError, /no local path/);
    f.localPath = "/scratch/a.csv";
    expect(f.filepath).to.equal("/scratch/a.csv");
    expect(f.cleancopy().localPath).to.equal(undefined);
    expect(new File("ftp://host/pub/f.gz").scheme).to.equal("ftp");
  });
  it("rejects unsupported schemes and empty input with a clear error", () => {
    expect(() => new File("s3://bucket/key")).to.throw(
      ConfigError,
      /unsupported scheme "s3"; allowed: file, http, https, ftp/,
    );
    expect(() => new File("")).to.throw(ConfigError, /non-empty string/);
  });
  it("survives a structured clone as a File once revived", () => {
    const f = new File("/tmp/a.txt");
    const clone = structuredClone(f) as unknown;
    expect(clone instanceof File).to.equal(false);
    expect(File.isFileLike(clone)).to.equal(true);
    const back = File.revive(clone as { url: string });
    expect(back).to.be.instanceOf(File);
    expect(back.filepath).to.equal("/tmp/a.txt");
  });
});
