import type { Reporter, TestModule } from "vitest/node";

/**
 * Prints one plain closing line, "tests: N passed, N failed, N skipped", that any CI log reader understands, and
 * before it each skipped test with why (the note given to skip(), else that none was given), so that a skip is
 * never silent.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0,
      failed = 0,
      skipped = 0;
    const why: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const r = t.result();
        if (r.state === "passed") passed++;
        else if (r.state === "failed") failed++;
        else {
          skipped++;
          const note = "note" in r && typeof r.note === "string" && r.note ? r.note : "no reason given";
          why.push(`skipped: ${m.moduleId.replace(/^.*\/test\//, "test/")} > ${t.fullName} (${note})`);
        }
      }
    }
    for (const l of why.slice(0, 50)) process.stdout.write(`${l}\n`);
    if (why.length > 50) process.stdout.write(`skipped: … and ${why.length - 50} more\n`);
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
