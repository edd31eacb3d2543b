import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

/** Aftershock's own Go programs that have tests of their own: `go test` on them, as part of pnpm test. */
const COMPONENTS = ["lb"];

describe.each(COMPONENTS)("Go component %s", (name) => {
  it("passes its go test", () => {
    const out = execFileSync("go", ["test", "./..."], {
      cwd: path.resolve("clusters/images/components", name),
      env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod", CGO_ENABLED: "0" },
      encoding: "utf8",
    });
    expect(out).toMatch(/^ok\s/m);
  }, 120_000);
});
