import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { missingBoundingCapabilities, shimScript } from "../../clusters/host/doctor.js";

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
