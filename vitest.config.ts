import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    reporters: ["default", "./test/summary-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          // Real clusters: the global setup runs the doctor and builds (or finds) the offline node image once.
          globalSetup: ["test/e2e/global-setup.ts"],
          // One cluster at a time on a 2-core machine; files run one after another.
          fileParallelism: false,
          testTimeout: 20 * 60_000,
          hookTimeout: 20 * 60_000,
        },
      },
    ],
  },
});
