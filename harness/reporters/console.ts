import { formatDuration } from "../../clusters/errors.js";
import type { Reporter } from "./reporter.js";

const PHASE_TITLES: Record<string, string> = {
  cluster: "Create cluster", setup: "Write sentinels", "steady-state": "Check steady state", inject: "Inject fault",
  symptoms: "Wait for the incident's symptoms", runbook: "Run the runbook", verify: "Verify recovery", teardown: "Delete cluster",
};

/** Live progress for people: phases, steps with their commands, symptoms as they appear, the verdict. */
export function consoleReporter(write: (s: string) => void = (s) => process.stdout.write(s + "\n")): Reporter {
  return {
    name: "console",
    onRunBegin(j) {
      write(`\n▶ ${j.scenario.id}: ${j.scenario.title}`);
      write(`  source: incident ${j.scenario.source.incident}, ${j.scenario.source.section}   run ${j.runId}`);
    },
    onPhaseBegin(p) {
      write(`\n[${p.name}] ${PHASE_TITLES[p.name] ?? p.name}${p.budgetMs ? ` (budget ${formatDuration(p.budgetMs)})` : ""}`);
    },
    onStepBegin(s) {
      write(`  → ${s.title}`);
      if (s.shows) for (const l of s.shows.split("\n")) write(`      $ ${l}`);
    },
    onStepEnd(s) {
      write(`  ${s.ok ? "✓" : "✗"} ${s.title} [${formatDuration(s.endedAt - s.startedAt)}]${s.error ? `: ${s.error}` : ""}`);
      if (s.output) for (const l of s.output.trim().split("\n").slice(0, 6)) write(`      ${l}`);
    },
    onProbe(r) {
      write(`  ${r.ok ? "✓" : "✗"} ${r.name}: ${r.observed}`);
    },
    onPhaseEnd(p) {
      if (p.status === "failed" && p.error) write(`  ✗ ${p.name} failed: ${p.error}`);
      else write(`  ${p.status === "passed" ? "✓" : "·"} ${p.name} [${formatDuration(p.endedAt - p.startedAt)}]`);
    },
    onRunEnd(j) {
      const t = j.timings;
      write(`\n■ ${j.scenario.id}: ${j.outcome.toUpperCase()} — ${j.reason}`);
      write(`  time to detect: ${t.timeToDetectMs !== undefined ? formatDuration(t.timeToDetectMs) : "—"}   all symptoms: ${t.timeToConfirmMs !== undefined ? formatDuration(t.timeToConfirmMs) : "—"}   time to recover: ${t.timeToRecoverMs !== undefined ? formatDuration(t.timeToRecoverMs) : "—"}   cluster create: ${t.clusterCreateMs !== undefined ? formatDuration(t.clusterCreateMs) : "—"}   total: ${formatDuration(t.totalMs)}${j.peakMemoryMiB !== undefined ? `   peak memory: ${j.peakMemoryMiB} MiB` : ""}`);
      if (j.kept) write(`\n${j.kept}`);
    },
  };
}
