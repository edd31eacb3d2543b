import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tsx = path.join(root, "node_modules", ".bin", "tsx");

function cli(...args: string[]) {
  const r = spawnSync(tsx, ["harness/cli/main.ts", ...args], { cwd: root, encoding: "utf8", env: { ...process.env, PATH: `${path.join(root, "node_modules", ".bin")}:${process.env.PATH}` } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("CLI bad input: one line on stderr, non-zero exit, nothing started", () => {
  it.each([
    [["frobnicate"], /^aftershock: error E_BAD_INPUT: unknown command "frobnicate" \(see pnpm aftershock --help\)\n$/],
    [["demo", "--workers", "many"], /^aftershock: error E_BAD_INPUT: --workers must be a whole number from 0 to 5, got "many"\n$/],
    [["demo", "--control-planes", "2"], /^aftershock: error E_BAD_INPUT: --control-planes must be 1 or 3/],
    [["demo", "--bogus"], /^aftershock: error E_BAD_INPUT: Unknown option '--bogus'/],
    [["demo", "--k8s-version", "1.99.0"], /^aftershock: error E_BAD_VERSION: Kubernetes v1\.99\.0 cannot be built offline here: supported minors are 1\.27, 1\.28, 1\.29, 1\.30/],
    [["demo", "--k8s-version", "latest"], /^aftershock: error E_BAD_VERSION: not a Kubernetes version: "latest"/],
    [["demo", "--wait", "soon"], /^aftershock: error E_BAD_INPUT: not a duration: "soon"/],
    [["images", "destroy"], /^aftershock: error E_BAD_INPUT: unknown images command "destroy"/],
    [["cluster", "delete"], /^aftershock: error E_BAD_INPUT: usage: pnpm cluster delete NAME/],
  ])("%j", (args, expected) => {
    const r = cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(expected);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("prints usage for --help and exits 0", () => {
    const r = cli("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("pnpm images build");
    expect(r.stdout).toContain("pnpm gc");
  });
});
