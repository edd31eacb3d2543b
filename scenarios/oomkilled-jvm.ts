import {
  kubectl,
  answersThroughService,
  type App,
  apply,
  containerExited,
  defineScenario,
  deployment,
  describeSample,
  killedWithoutAWord,
  lastOomKill,
  mib,
  oomKilledWithHeapToSpare,
  residentUnderLimit,
  restartedAtLeast,
  rolledOut,
  runsWithoutRestart,
  type ScenarioContext,
  service,
  step,
  waitRolledOut,
  WORKLOAD_IMAGES,
} from "../harness/kit/index.js";

/**
 * A JVM service in a 256Mi container, its heap capped by -Xmx at 208m ("it fits"). Its second release
 * moves a response cache into direct buffers; nothing bounds them but -Xmx's default. The heap stays a
 * third full, the process's resident memory reaches the limit, and the kernel kills it: OOMKilled, exit
 * 137, no line in its log. The runbook splits the limit into a budget the JVM enforces.
 */

const APP = "ledger";
const IMAGE = WORKLOAD_IMAGES.ledger;
const LIMIT_MIB = 256;

/** The JVM flags of both releases: heap sized against the limit, off-heap left to the defaults. */
const FLAGS_AS_SHIPPED = "-Xmx208m -Xlog:gc";

/**
 * The incident's sizing, for a 256Mi limit: the heap a share of the limit (MaxRAMPercentage), and every
 * off-heap area capped, with the rest left for what no flag bounds (GC structures, libraries, malloc).
 */
const BUDGET = {
  heapPercent: 37.5,
  metaspaceMiB: 32,
  directMiB: 48,
  codeCacheMiB: 24,
  threadStackKiB: 512,
  threads: 32,
};
// Both percentages: below about 250 MiB of memory the JVM sizes its heap by MinRAMPercentage (default 50%), not Max.
const FLAGS_SIZED =
  `-XX:MinRAMPercentage=${BUDGET.heapPercent} -XX:MaxRAMPercentage=${BUDGET.heapPercent} -XX:MaxMetaspaceSize=${BUDGET.metaspaceMiB}m -XX:MaxDirectMemorySize=${BUDGET.directMiB}m ` +
  `-XX:ReservedCodeCacheSize=${BUDGET.codeCacheMiB}m -Xss${BUDGET.threadStackKiB}k -Xlog:gc`;

function budgetTable(): string {
  const heap = (LIMIT_MIB * BUDGET.heapPercent) / 100;
  const stacks = (BUDGET.threads * BUDGET.threadStackKiB) / 1024;
  const rows: [string, number, string][] = [
    ["heap", heap, `-XX:{Min,Max}RAMPercentage=${BUDGET.heapPercent}`],
    ["metaspace", BUDGET.metaspaceMiB, `-XX:MaxMetaspaceSize=${BUDGET.metaspaceMiB}m`],
    ["direct buffers", BUDGET.directMiB, `-XX:MaxDirectMemorySize=${BUDGET.directMiB}m`],
    ["code cache", BUDGET.codeCacheMiB, `-XX:ReservedCodeCacheSize=${BUDGET.codeCacheMiB}m`],
    ["thread stacks", stacks, `${BUDGET.threads} threads × -Xss${BUDGET.threadStackKiB}k`],
  ];
  const other = LIMIT_MIB - rows.reduce((a, r) => a + r[1], 0);
  return [
    `container limit ${LIMIT_MIB}Mi:`,
    ...rows.map(([what, n, flag]) => `  ${what.padEnd(15)} ${String(Math.round(n)).padStart(4)} MiB  ${flag}`),
    `  ${"other".padEnd(15)} ${String(Math.round(other)).padStart(4)} MiB  GC structures, libraries, malloc (${Math.round((100 * other) / LIMIT_MIB)}% headroom)`,
  ].join("\n");
}

/** A release of the ledger: its response cache's size and its JVM flags. The first names the Deployment, the next take its handle. */
const release = (of: string | App, cacheMiB: number, flags: string) =>
  deployment(
    of,
    {
      image: IMAGE,
      imagePullPolicy: "IfNotPresent",
      ports: [{ containerPort: 8080 }],
      env: [
        { name: "JAVA_OPTS", value: flags },
        { name: "HEAP_LIVE_MB", value: "48" },
        { name: "DIRECT_CACHE_MB", value: String(cacheMiB) },
        { name: "DIRECT_FILL_MB_PER_S", value: "8" },
      ],
      resources: { requests: { memory: `${LIMIT_MIB}Mi`, cpu: "100m" }, limits: { memory: `${LIMIT_MIB}Mi` } },
      readinessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 2 },
    },
    { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } },
  );

/** The ledger's Deployment (release 1) and its Service: the handles its probes and steps take. */
const ledger = release(APP, 16, FLAGS_AS_SHIPPED);
const ledgerService = service(ledger, 80, 8080);

/** The last OOM kill and the JVM's view just before it, as the runbook shows it. */
async function heapVersusResident(ctx: ScenarioContext): Promise<string> {
  const k = await lastOomKill(ctx, ledger);
  if (!k) return "no OOMKilled container seen";
  const at = `${k.t.pod} ${k.t.reason} (exit ${k.t.exitCode}) at ${k.t.finishedAt?.toISOString() ?? "?"}`;
  if (!k.sample) return `${at}: no sample of the JVM before the kill`;
  const m = k.sample.memory;
  return `${at}\n  ${describeSample(k.sample)}\n  JVM flags: ${m.inputArguments}\n  heap headroom ${mib(m.heapMax - m.heapUsed)}, yet the container was at its limit: the rest is off-heap`;
}

export default defineScenario({
  id: "oomkilled-jvm",
  title: "A JVM is OOMKilled with its heap a third full: off-heap memory outgrows the container limit",
  summary:
    "A JVM service runs in a 256Mi container with -Xmx208m, sized so that the heap fits. Its second release keeps " +
    "a response cache in direct buffers, which only -Xmx's default bounds. Heap monitoring stays green, but the " +
    "process's resident memory (heap + direct buffers + metaspace + code cache + thread stacks) reaches the " +
    "limit and the kernel kills it: OOMKilled, exit code 137, restarts climbing, and nothing in the log, since " +
    "the JVM never saw an error. The runbook reads the kill from the pod status, compares the JVM's heap with " +
    "its resident memory at the kill, and splits the limit into a budget the JVM enforces (MaxRAMPercentage, " +
    "MaxMetaspaceSize, MaxDirectMemorySize, ReservedCodeCacheSize, Xss). The same release then runs without a restart.",
  source: { incident: "003", section: "2. OOMKilled JVM: heap under -Xmx, off-heap memory past the container limit" },
  tags: ["workload", "jvm", "memory", "nightly", "game-day"],
  gameDay: {
    difficulty: "hard",
    alert: "ledger keeps restarting since its latest rollout, restart count climbing; some requests to ledger fail. " + "Its heap dashboards look normal.",
    hints: [
      "kubectl describe pod -l app=ledger: how did the last container end (Last State, Reason, Exit Code)? kubectl logs --previous says something?",
      "Killed by the kernel, not by the JVM: the heap is under -Xmx, so what else does a JVM use? Compare the container's limit with heap + direct buffers + metaspace + code cache + thread stacks (the service shows its own view at :8080/memory).",
      "Give the JVM a budget that fits the limit: set JAVA_OPTS on the deployment with -XX:MaxDirectMemorySize (and MaxRAMPercentage, MaxMetaspaceSize, ReservedCodeCacheSize, -Xss).",
    ],
    cause: [/describe\s+(pod|po)\b/, /--previous/, /oomkilled/i, /MaxDirectMemorySize|MaxRAMPercentage|JAVA_OPTS/],
  },
  cluster: { controlPlanes: 1, workers: 1 },
  scope: "namespace",
  needs: ["image-loading"],
  images: [IMAGE],

  setup: [
    {
      title: `the ${APP} service, release 1 (16 MiB cache), JAVA_OPTS="${FLAGS_AS_SHIPPED}", limit ${LIMIT_MIB}Mi`,
      async write(ctx) {
        await apply(ctx, ledger, ledgerService);
        ctx.evidence("setup", await waitRolledOut(ctx, ledger, "3m"));
      },
      probes: () => [],
    },
  ],
  steadyState: [rolledOut(ledger), answersThroughService(ledgerService, "/", { body: /ledger/ })],

  fault: {
    title: "release 2: the response cache grows to 192 MiB of direct buffers; JVM flags unchanged",
    plan: [`kubectl set env deployment/${APP} DIRECT_CACHE_MB=192   # JAVA_OPTS stays "${FLAGS_AS_SHIPPED}", limit ${LIMIT_MIB}Mi`],
    async inject(ctx) {
      await apply(ctx, release(ledger, 192, FLAGS_AS_SHIPPED));
      ctx.evidence("fault", `release 2 of ${APP} applied: DIRECT_CACHE_MB=192, JAVA_OPTS="${FLAGS_AS_SHIPPED}"`);
    },
  },

  symptoms: {
    within: "3m",
    expect: [containerExited(ledger, 137, "OOMKilled"), restartedAtLeast(ledger, 2), oomKilledWithHeapToSpare(ledger), killedWithoutAWord(ledger)],
  },

  runbook: [
    step("list the pods", kubectl`get pods -l app=${APP} -o wide`),
    step(
      "read how the container ended",
      kubectl.look`describe pod -l app=${APP}   # Last State, Reason, Exit Code`.keep((out) =>
        out
          .split("\n")
          .filter((l) => /^Name:|^\s*(State|Reason|Exit Code|Last State|Restart Count|Limits|memory):|OOM/.test(l))
          .join("\n"),
      ),
    ),
    step("read the killed JVM's last words", kubectl.look`logs -l app=${APP} --previous --tail=8`),
    step(
      "compare the heap with resident memory at the kill",
      "the JVM's heap (GC log, /memory) against VmRSS in /proc/<pid>/status and the cgroup's usage",
      heapVersusResident,
    ),
    step(
      "split the limit into a budget the JVM enforces",
      kubectl`set env deployment/${APP} JAVA_OPTS=${FLAGS_SIZED}`.keep((out) => `${budgetTable()}\n${out}`),
    ),
    step("wait for the rollout", `kubectl rollout status deployment/${APP} --timeout=3m`, (ctx) => waitRolledOut(ctx, ledger, "3m"), "4m"),
  ],
  decisiveStep: "split the limit into a budget the JVM enforces",

  verify: {
    within: "4m",
    expect: [
      rolledOut(ledger),
      runsWithoutRestart(ledger, "60s"),
      residentUnderLimit(ledger, 0.9),
      answersThroughService(ledgerService, "/", { body: /ledger/ }),
    ],
  },
});
