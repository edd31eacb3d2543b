import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The SSH lane (pnpm test:ssh): issue 32's proof on machines reached over ssh, test/e2e/ssh-machines.test.ts, on a
// kept 1+2 kind cluster whose nodes are given an sshd (ssh-machines.ts). Not a project of the root config, so
// `pnpm test` never runs it: 21m04s, all ten tests passed (2026-12-07; docs/measurements.md, README "Your own
// cluster"). One file, whose tests run in
// order on one cluster; each sets its own budget, the defaults are the e2e projects'.
export default defineConfig({
  // The repository, wherever vitest is started from.
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["test/e2e/ssh-machines.test.ts"],
    reporters: ["verbose", "./test/summary-reporter.ts"],
    globalSetup: ["test/e2e/ssh-machines-setup.ts"],
    testTimeout: 30 * 60_000,
    hookTimeout: 20 * 60_000,
    fileParallelism: false,
  },
});
