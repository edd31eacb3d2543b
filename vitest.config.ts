import { defineConfig } from "vitest/config";
import { LongestFirst } from "./test/sequencer.js";

// Real clusters: the global setup runs the doctor and builds (or finds) the offline node image once.
const e2e = { globalSetup: ["test/e2e/global-setup.ts"], testTimeout: 30 * 60_000, hookTimeout: 20 * 60_000 };

export default defineConfig({
  test: {
    reporters: ["default", "./test/summary-reporter.ts"],
    // Within a group, the files expected to take longest start first (see test/sequencer.ts).
    sequence: { sequencer: LongestFirst },
    // The default is one worker less than the cores: one, here.
    maxWorkers: 2,
    // Groups run one after another: unit tests, then the cluster files two at a time, then the e2e files that must
    // run alone (last: on a fresh machine the global setup's background builds run beside the first cluster files,
    // and these wait until they are done).
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // Hang guards, not budgets: no unit test asserts how fast it ran. Tests that start processes (bash, ssh,
          // tsx) took up to 12 s of the 20 s they had at load 30–40 on 2 cores (2026-12-07: ssh-machines-bundle), and a
          // hook had vitest's default 10 s.
          testTimeout: 120_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          // Files that must have the machine to themselves, one after another: bad-input counts every Docker
          // object on it; catalog-alone measures disk latency.
          name: "e2e-alone",
          include: ["test/e2e/bad-input.test.ts", "test/e2e/catalog-alone.test.ts"],
          ...e2e,
          fileParallelism: false,
          sequence: { groupOrder: 3 },
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          // ssh-machines.test (machines of one's own over ssh, about 36 minutes) is a lane of its own: pnpm test:ssh,
          // with test/e2e/ssh-machines.vitest.config.ts.
          exclude: ["test/e2e/bad-input.test.ts", "test/e2e/catalog-alone.test.ts", "test/e2e/ssh-machines.test.ts"],
          ...e2e,
          // Two clusters at a time on a 2-core machine: most of a scenario's time is waiting (kubelet back-off,
          // the node controller's grace period, budgets), and two files side by side nearly halve the wall time.
          // The longest file starts first (the root config's sequencer).
          fileParallelism: true,
          maxWorkers: 2,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
