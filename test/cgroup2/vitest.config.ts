import { defineConfig } from "vitest/config";

// The cgroup v2 lane (pnpm test:cgroup2, test/cgroup2/lane.sh): tests that drive a VM booted by the lane. Not a
// project of the root config, so `pnpm test` never runs them. One file at a time: the VM has two slow vCPUs.
export default defineConfig({
  test: {
    include: ["test/cgroup2/**/*.test.ts"],
    reporters: ["verbose", "./test/summary-reporter.ts"],
    testTimeout: 10 * 60_000,
    hookTimeout: 15 * 60_000,
    fileParallelism: false,
  },
});
