import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { goOlderThan, missingBoundingCapabilities, parseGoVersion, shimScript } from "../../clusters/host/doctor.js";
import { MIN_GO } from "../../clusters/versions.js";

describe("capability detection", () => {
  it("finds CAP_SYS_RESOURCE missing from the bounding set this project's hosts have", () => {
    // CapBnd as read on the CI machine: every capability up to 40 except bit 24.
    expect(missingBoundingCapabilities("Name:\tx\nCapBnd:\t000001fffeffffff\n", 40)).toEqual(["CAP_SYS_RESOURCE"]);
  });
  it("finds nothing missing on a full set", () => {
    expect(missingBoundingCapabilities("CapBnd:\t000001ffffffffff\n", 40)).toEqual([]);
  });
  it("only counts capabilities the kernel knows", () => {
    expect(missingBoundingCapabilities("CapBnd:\t0000003fffffffff\n", 37)).toEqual([]);
  });
});

describe("runtime shim", () => {
  it("removes the dropped capability from a bundle's config.json and an exec process spec, then runs runc with the same arguments", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "shim-test-"));
    const fakeRunc = path.join(dir, "runc");
    writeFileSync(fakeRunc, `#!/bin/sh\necho "$@" > ${dir}/args\n`);
    chmodSync(fakeRunc, 0o755);
    const shim = path.join(dir, "shim");
    writeFileSync(shim, shimScript(["CAP_SYS_RESOURCE"], fakeRunc));
    chmodSync(shim, 0o755);
    const caps = '["CAP_CHOWN","CAP_SYS_RESOURCE","CAP_SYS_TIME"]';
    const last = '["CAP_CHOWN","CAP_SYS_RESOURCE"]';
    writeFileSync(path.join(dir, "config.json"), `{"process":{"capabilities":{"bounding":${caps},"effective":${last},"permitted":["CAP_SYS_RESOURCE"]}}}`);
    execFileSync(shim, ["--root", "/x", "create", "--bundle", dir, "cid"]);
    const cfg = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as { process: { capabilities: Record<string, string[]> } };
    expect(cfg.process.capabilities).toEqual({ bounding: ["CAP_CHOWN", "CAP_SYS_TIME"], effective: ["CAP_CHOWN"], permitted: [] });
    expect(readFileSync(path.join(dir, "args"), "utf8").trim()).toBe(`--root /x create --bundle ${dir} cid`);

    const proc = path.join(dir, "process.json");
    writeFileSync(proc, `{"capabilities":{"bounding":${caps}}}`);
    execFileSync(shim, ["exec", "--process", proc, "cid"]);
    expect(JSON.parse(readFileSync(proc, "utf8"))).toEqual({ capabilities: { bounding: ["CAP_CHOWN", "CAP_SYS_TIME"] } });
  });
});

describe("local Go version against the builder's minimum", () => {
  it("compares in Go's order, numerically: language version < prereleases < releases < patches", () => {
    const order = [
      "1.9",
      "1.9.2",
      "1.21.0",
      "1.25.9",
      "1.26",
      "1.26alpha1",
      "1.26beta2",
      "1.26rc1",
      "1.26rc2",
      "1.26.0",
      "1.26.8",
      "1.26.10",
      "1.100.0",
      "2.0.0",
    ];
    for (const [i, a] of order.entries()) {
      for (const [j, b] of order.entries()) expect(goOlderThan(a, b), `${a} < ${b}`).toBe(i < j);
    }
  });

  it("reads `go env GOVERSION` output against MIN_GO (1.26.0, set by Helm's module)", () => {
    expect(MIN_GO).toEqual({ version: "1.26.0", neededBy: "helm.sh/helm/v3 v3.22.0" });
    for (const old of ["go1.9", "go1.22.12", "go1.25.9", "go1.26rc1", "go1.26beta1 X:nocoverageredesign"])
      expect(goOlderThan(old, MIN_GO.version), old).toBe(true);
    for (const ok of ["go1.26.0", "go1.26.8", "go1.27.1 X:boringcrypto", "devel go1.27-4f6e8c2 Tue Jan 2 15:04:05 2026 +0000"]) {
      expect(goOlderThan(ok, MIN_GO.version), ok).toBe(false);
    }
  });

  it("does not guess at what is not a Go version", () => {
    for (const v of ["", "unknown", "go", "1.26.0rc1", "gccgo 14"]) expect(parseGoVersion(v), v).toBeUndefined();
    expect(goOlderThan("unknown", MIN_GO.version)).toBeUndefined();
  });
});
