import { execFile } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { findTool } from "../../clusters/host/facts.js";

/** Aftershock's own Go programs that have tests of their own: `go test` on them, as part of pnpm test. */
const COMPONENTS = ["lb"];

/**
 * `go test` compiles before it tests: a few seconds alone, minutes on two busy cores (it timed out at 120 s beside a
 * CI run, load 17). So the command has a budget of its own, and runs asynchronously (execFileSync blocked the event
 * loop, so the test's own timeout could not fire); the test's timeout is a little longer, to report go's.
 */
const GO_BUDGET_MS = 10 * 60_000;

describe.each(COMPONENTS)("Go component %s", (name) => {
  it(
    "passes its go test",
    async () => {
      const go = findTool("go");
      expect(go, "the Go toolchain (pnpm run doctor checks for it)").toBeDefined();
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          go!,
          ["test", "./..."],
          {
            cwd: path.resolve("clusters/images/components", name),
            env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod", CGO_ENABLED: "0" },
            encoding: "utf8",
            timeout: GO_BUDGET_MS,
          },
          (e, stdout, stderr) =>
            e
              ? reject(
                  new Error(`go test in components/${name} failed${e.killed ? ` (not done within ${GO_BUDGET_MS / 60_000} min)` : ""}: ${stderr || stdout}`),
                )
              : resolve(stdout),
        ),
      );
      expect(out).toMatch(/^ok\s/m);
    },
    GO_BUDGET_MS + 30_000,
  );
});
