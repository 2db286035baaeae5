import { expect } from "chai";
import { File, ConfigError, StagingError } from "taskloom";

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
    const staged = f.stagedAt("/scratch/a.csv");
    expect(staged.filepath).to.equal("/scratch/a.csv");
    expect(staged.cleancopy().localPath).to.equal(undefined);
    // The submit side's File never changes: staging works on a copy.
    expect(f.localPath).to.equal(undefined);
    expect(() => {
      (f as { localPath: string | undefined }).localPath = "/elsewhere";
    }).to.throw(TypeError);
    expect(new File("ftp://host/pub/f.gz").scheme).to.equal("ftp");
  });
  it("rejects unsupported schemes and empty input with a clear error", () => {
    expect(() => new File("s3://bucket/key")).to.throw(
      StagingError,
      /unsupported scheme "s3"; allowed: file, http, https, ftp/,
    );
    expect(() => new File("")).to.throw(ConfigError, /non-empty string/);
    expect(() => new File("https://h/x", { temporary: true })).to.throw(ConfigError, /only local files/);
    expect(() => new File("x", { checksum: "crc:1" })).to.throw(ConfigError, /sha256:<64 hex digits>/);
    expect(() => new File("x", { tmp: true } as never)).to.throw(ConfigError, /unknown option "tmp"/);
  });
  it("survives a structured clone as a File once revived", () => {
    const f = new File("/tmp/a.txt");
    const clone = structuredClone(f) as unknown;
    expect(clone instanceof File).to.equal(false);
    expect(File.isFileLike(clone)).to.equal(true);
    const back = File.revive(clone as { url: string });
    expect(back).to.be.instanceOf(File);
    expect(back.filepath).to.equal("/tmp/a.txt");
    const t = new File("/tmp/b.txt", { temporary: true, checksum: `md5:${"A".repeat(32)}` });
    const t2 = File.revive(structuredClone(t.toJSON()));
    expect([t2.temporary, t2.checksum]).to.deep.equal([true, `md5:${"a".repeat(32)}`]);
  });
});
