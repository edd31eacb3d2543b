import path from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Minutes each e2e file took here (November 2026, two files at a time). With two files at a time the longest
 * must start first, or it ends up alone at the end; vitest's own order needs a results cache a fresh clone lacks.
 */
const MINUTES: Record<string, number> = {
  "catalog-ha.test.ts": 18,
  "outcomes.test.ts": 11,
  "catalog-alone.test.ts": 5.5,
  "catalog.test.ts": 12,
  "load.test.ts": 3,
  "gameday.test.ts": 8,
  "suite-history.test.ts": 8,
  "keep.test.ts": 2.7,
  "existing.test.ts": 8,
  "cluster.test.ts": 1.5,
  "report-screenshot.test.ts": 0.5,
};

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const minutes = (f: TestSpecification) => MINUTES[path.basename(f.moduleId)] ?? 0;
    return [...files].sort((a, b) => minutes(b) - minutes(a));
  }
}
