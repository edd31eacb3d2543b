import { describeOrigins } from "../../clusters/images/source.js";
import { conformanceLines } from "../../clusters/conformance/run.js";
import { workloadLines } from "../model/workload.js";
import { describeVersion } from "../../clusters/versions.js";
import { formatDuration } from "../../clusters/errors.js";
import type { Reporter } from "../engine/reporter.js";
import type { RunJournal } from "../engine/journal.js";
import { describeSummary } from "../load/streams.js";
import { scoreRun } from "./score.js";

const PHASE_TITLES: Record<string, string> = {
  cluster: "Create (or get) the cluster",
  preflight: "Preflight (a cluster this tool did not create)",
  setup: "Set up: namespace, workload images, sentinels",
  "steady-state": "Check steady state",
  "symptoms-absent": "Self-check: every symptom absent before the fault",
  inject: "Inject fault",
  symptoms: "Wait for the incident's symptoms",
  "verify-fails": "Self-check: verification fails on the broken cluster",
  runbook: "Run the runbook",
  verify: "Verify recovery",
  conformance: "Kubernetes conformance after recovery (curated [Conformance] specs, e2e.test)",
  teardown: "Tear down (rollback, namespace, cluster)",
};

/** Live progress for people: phases, steps with their commands, symptoms as they appear, the verdict. */
export function consoleReporter(write: (s: string) => void = (s) => process.stdout.write(s + "\n")): Reporter {
  return {
    name: "console",
    onRunBegin(j) {
      write(`\n▶ ${j.scenario.id}: ${j.scenario.title}`);
      write(`  source: incident ${j.scenario.source.incident}, ${j.scenario.source.section}   run ${j.runId}`);
      if (j.kubernetesVersion) write(`  ${describeVersion(j.kubernetesVersion)}`);
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
    onProbe(r, p) {
      if (r.held === undefined) write(`  ${r.ok ? "✓" : "✗"} ${r.name}: ${r.observed}`);
      // Self-checks: a probe that holds is fatal before the fault, but fine on the broken cluster if another is unmet.
      else write(`  ${r.ok ? "✓" : p.name === "verify-fails" ? "·" : "✗"} ${r.held ? "holds" : "unmet"}: ${r.name}: ${r.observed}`);
    },
    onLoad(name, last) {
      write(`  ≈ load ${name}, last 10s: ${describeSummary(last)}`);
    },
    onPhaseEnd(p) {
      if (p.status === "failed" && p.error) write(`  ✗ ${p.name} failed: ${p.error}`);
      else write(`  ${p.status === "passed" ? "✓" : "·"} ${p.name} [${formatDuration(p.endedAt - p.startedAt)}]`);
    },
    onRunEnd(j) {
      const t = j.timings;
      write(`\n■ ${j.scenario.id}${j.variant ? ` (${j.variant.name}, expected ${j.variant.expected})` : ""}: ${j.outcome.toUpperCase()} — ${j.reason}`);
      if (j.image?.built) write(`  node image ${j.image.ref} built before the run in ${formatDuration(j.image.ms)} (not counted in cluster create)`);
      if (j.image?.mode && j.image.origins?.length) for (const l of describeOrigins(j.image.mode, j.image.origins)) write(`  ${l}`);
      write(
        `  time to detect: ${t.timeToDetectMs !== undefined ? formatDuration(t.timeToDetectMs) : "—"}   all symptoms: ${t.timeToConfirmMs !== undefined ? formatDuration(t.timeToConfirmMs) : "—"}   time to recover: ${t.timeToRecoverMs !== undefined ? formatDuration(t.timeToRecoverMs) : "—"}   cluster create: ${t.clusterCreateMs !== undefined ? formatDuration(t.clusterCreateMs) : "—"}   total: ${formatDuration(t.totalMs)}${j.peakMemoryMiB !== undefined ? `   peak memory: ${j.peakMemoryMiB} MiB` : ""}`,
      );
      for (const l of j.load ?? []) {
        write(
          `  load ${l.name} (${l.generator}, ${l.ratePerSecond}/s ${l.target.replace(/Bearer \S+/, "Bearer …")}): ${l.requests - l.errors}/${l.requests} ok, p99 ${Math.round(l.p99Ms)}ms, error window ${formatDuration(l.errorWindowMs)}`,
        );
        for (const slo of l.slos) write(`    ${slo.ok ? "✓" : "✗"} ${slo.window}: ${slo.objective} — ${slo.observed}`);
      }
      if (j.workload) for (const line of workloadLines(j.workload)) write(`  ${line}`);
      if (j.conformance) for (const line of conformanceLines(j.conformance)) write(`  ${line}`);
      if (j.nodeCommands?.length) write(`  ${nodeCommandsLine(j)}`);
      const score = scoreRun(j);
      const low = score.parts.filter((p) => p.value < 100).map((p) => `${p.name} ${p.value} ×${p.weight}`);
      write(`  resilience score: ${score.score}${low.length ? ` (below 100: ${low.join(", ")})` : ""}`);
      if (j.kept) write(`\n${j.kept}`);
    },
  };
}

/** "commands on the nodes: 412 runs of 57 distinct commands on as-1-control-plane, as-1-worker (each with where it ran, in report.html)" */
export function nodeCommandsLine(j: Pick<RunJournal, "nodeCommands">): string {
  const cs = j.nodeCommands ?? [];
  const runs = cs.reduce((a, c) => a + Object.values(c.ended).reduce((x, y) => x + y, 0), 0);
  const nodes = [...new Set(cs.map((c) => c.node))];
  return `commands on the nodes: ${runs} run${runs === 1 ? "" : "s"} of ${cs.length} distinct command${cs.length === 1 ? "" : "s"} on ${nodes.join(", ")} (each with where it ran, in report.html and journal.json)`;
}
