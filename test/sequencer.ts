import path from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Minutes each e2e file took here (December 2026, two files at a time; catalog.test from its passing runs). With two files at a time the longest
 * must start first, or it ends up alone at the end; vitest's own order needs a results cache a fresh clone lacks.
 */
const MINUTES: Record<string, number> = {
  "catalog-ha.test.ts": 16,
  "catalog.test.ts": 13,
  "outcomes.test.ts": 13,
  "suite-history.test.ts": 8,
  "existing.test.ts": 7.5,
  "workload.test.ts": 6.5,
  "catalog-alone.test.ts": 6,
  "gameday.test.ts": 6,
  "versions.test.ts": 3.3,
  "keep.test.ts": 2.8,
  "load.test.ts": 2.8,
  "cluster.test.ts": 1.7,
  "report-screenshot.test.ts": 0.5,
};

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const minutes = (f: TestSpecification) => MINUTES[path.basename(f.moduleId)] ?? 0;
    return [...files].sort((a, b) => minutes(b) - minutes(a));
  }
}
