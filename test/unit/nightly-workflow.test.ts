import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { goOlderThan } from "../../clusters/host/doctor.js";
import { MIN_GO } from "../../clusters/versions.js";
import { checkBuildableVersion } from "../../clusters/images/builder.js";

/**
 * The nightly workflow is for users to copy, and runs nowhere here: what keeps it honest is that its commands
 * are the README's, and that its shard matrix, --shard and cache keys agree.
 */
interface Step {
  name?: string;
  run?: string;
  with?: Record<string, unknown>;
}
const workflow = parse(readFileSync(".github/workflows/nightly.yml", "utf8")) as {
  jobs: { suite: { strategy: { matrix: { shard: number[]; k8s: string[] } }; steps: Step[] } };
};
const readme = readFileSync("README.md", "utf8");
const job = workflow.jobs.suite;
const runOf = (name: RegExp) => job.steps.find((s) => s.name && name.test(s.name))!.run!.trim();

describe("the nightly workflow", () => {
  it("installs with the README's own first command, the doctor's fix as the only step under sudo", () => {
    const first = readme.split("\n").find((l) => l.startsWith("npm install -g pnpm"))!;
    const install = runOf(/^Install pnpm/);
    const prepare = runOf(/^Prepare the host/);
    expect(first).toContain(`${install} && pnpm run doctor --fix && pnpm scenario`);
    expect(prepare).toMatch(/^sudo env( "[A-Z_]+=\$[A-Z_]+")+ pnpm run doctor --fix$/);
    expect(job.steps.filter((s) => s.run?.includes("sudo")).map((s) => s.name)).toEqual(["Prepare the host"]);
  });

  it("runs the suite command the README shows, as the runner's user, shard by shard", () => {
    const n = job.strategy.matrix.shard.length;
    const command = runOf(/^Run shard/)
      .replace("${{ matrix.k8s }}", job.strategy.matrix.k8s[0]!)
      .replace("${{ matrix.shard }}", "1")
      .replace('"$REPEAT"', "1");
    expect(readme).toContain(`${command}   # 2/${n}, 3/${n} and ${n}/${n} on the others`);
  });

  it("keeps each version's builds under a key of their own, without the run's id, saved by one shard, with its node image", () => {
    const build = job.steps.filter((s) => typeof s.with?.key === "string" && (s.with.key as string).startsWith("aftershock-build-"));
    expect(build.map((s) => s.name)).toEqual(["Restore build caches", "Save build caches"]);
    for (const s of build) {
      expect(s.with!.key).toContain("${{ matrix.k8s }}");
      expect(s.with!.key).not.toContain("run_id");
    }
    expect(build[0]!.with!.key).toBe(build[1]!.with!.key);
    const restoreKeys = String(build[0]!.with!["restore-keys"]);
    expect(restoreKeys).toContain("${{ matrix.k8s }}");
    const save = job.steps.find((s) => s.name === "Save build caches") as Step & { if?: string };
    expect(save.if).toContain("matrix.shard == 1");
    const saved = job.steps.find((s) => s.name === "Save the node image into the build cache") as Step & { if?: string };
    expect(saved.run).toContain("docker save");
    expect(saved.if).toBe(save.if);
    expect(runOf(/^Load the cached node image/)).toContain("docker load");
    const names = job.steps.map((s) => s.name);
    expect(names.indexOf("Save the node image into the build cache")).toBeLessThan(names.indexOf("Save build caches"));
  });

  it("has one shard per matrix entry, numbered 1..n, and the same n in --shard and the history's cache keys", () => {
    const shards = job.strategy.matrix.shard;
    const n = shards.length;
    expect(shards).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(runOf(/^Run shard/)).toContain(`--shard \${{ matrix.shard }}/${n} `);
    const keys = job.steps.flatMap((s) => [s.with?.key, s.with?.["restore-keys"]]).filter((k): k is string => typeof k === "string" && k.includes("history"));
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k).toContain(`-of-${n}-`);
  });

  it("runs each version of its matrix as shards of its own, with a history of its own, on versions the builder makes", () => {
    const versions = job.strategy.matrix.k8s;
    expect(versions.length).toBeGreaterThan(1);
    for (const v of versions) expect(() => checkBuildableVersion(v)).not.toThrow();
    const keys = job.steps.flatMap((s) => [s.with?.key, s.with?.["restore-keys"]]).filter((k): k is string => typeof k === "string" && k.includes("history"));
    for (const k of keys) expect(k).toContain("${{ matrix.k8s }}");
    expect(readme).toContain(`on the others, and the same with --k8s-version ${versions.slice(1).join(", ")}`);
  });

  it("sets up a Go the image builder can use (the doctor's minimum)", () => {
    const go = job.steps.find((s) => s.with?.["go-version"])!.with!["go-version"] as string;
    expect(goOlderThan(go, MIN_GO.version), `go-version ${go} vs ${MIN_GO.version}`).toBe(false);
  });
});
