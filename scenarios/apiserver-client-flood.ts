import { randomBytes } from "node:crypto";
import type { V1ConfigMap, V1Role, V1RoleBinding } from "@kubernetes/client-node";
import {
  apiLoad,
  apiserverReady,
  apply,
  defineScenario,
  describeFlowControl,
  describeFlowSchemas,
  type Fault,
  flowControlFingerprint,
  flowControlObjects,
  flowControlState,
  handOff,
  heldRequests,
  kubeSystemReady,
  limitClient,
  type LoadSpec,
  nodesReady,
  priorityLevelBusy,
  priorityLevelRejects,
  type Probe,
  removeClientLimit,
  type ScenarioContext,
  type Sentinel,
  startLoad,
  step,
  stopLoad,
  topClients,
  usersSeeErrors,
  waitFor,
} from "../harness/kit/index.js";

/** The noisy client: a reporting job's ServiceAccount, allowed to list its namespace's ConfigMaps. */
const EXPORTER = "report-exporter";
/** What it keeps there: its reports, ConfigMaps of 256 KiB each, 8 MiB in all, listed whole on every request. */
const REPORTS = 32;
const REPORT_KIB = 256;
/** Its loop, once a bad release drops the sleep between lists: requests per second, each allowed 10 s. */
const FLOOD_RATE = 20;
/** The share of seats the runbook gives it (the smallest there is) and what it answers when they are taken. */
const LIMITED_LEVEL = EXPORTER;
/** Where every ServiceAccount's requests go in the default configuration (FlowSchema "service-accounts"). */
const SHARED_LEVEL = "workload-low";
/** Every FlowSchema and priority level with its generation, as the setup found them (what "nothing else changed" compares with). */
const FLOW_CONTROL_BEFORE = handOff<string[]>("the flow control objects before the fault", "the setup item theReports");
/** The user whose requests the API server holds most, as the runbook found it. */
const NOISY = handOff<string>("the noisy client", 'the runbook step "who holds its requests"');

const theReports: Sentinel = {
  title: `${EXPORTER}: a ServiceAccount that may list ConfigMaps, and its ${REPORTS} reports of ${REPORT_KIB} KiB`,
  async write(ctx) {
    const ns = ctx.namespace;
    await apply(
      ctx,
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: EXPORTER } },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: EXPORTER },
        rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] }],
      } as V1Role,
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: EXPORTER },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: EXPORTER },
        subjects: [{ kind: "ServiceAccount", name: EXPORTER, namespace: ns }],
      } as V1RoleBinding,
    );
    for (let i = 0; i < REPORTS; i++) {
      const cm: V1ConfigMap = {
        metadata: { name: `report-${String(i).padStart(2, "0")}`, labels: { app: EXPORTER } },
        // Random text, as compressed data looks: the API server's gzip cannot make it small.
        data: { "report.csv": randomBytes((REPORT_KIB * 1024 * 3) / 4).toString("base64") },
      };
      await ctx.cluster.api.core.createNamespacedConfigMap({ namespace: ns, body: cm });
    }
    // What "nothing else changed" compares with after the runbook.
    const before = await flowControlFingerprint(ctx);
    ctx.found.set(FLOW_CONTROL_BEFORE, before);
    ctx.evidence("setup", `${REPORTS} ConfigMaps of ${REPORT_KIB} KiB in ${ns}; flow control: ${before.length} objects`);
  },
  probes: () => [],
};

/** The exporter's loop without its sleep: whole lists of its namespace's ConfigMaps (vegeta reads each answer to its end), as fast as asked. */
const flood: LoadSpec = {
  name: EXPORTER,
  target: { kind: "api", path: "/api/v1/namespaces/{namespace}/configmaps", serviceAccount: EXPORTER },
  rate: FLOOD_RATE,
  timeout: "10s",
  userAgent: `${EXPORTER}/2.3`,
  waitAnswered: false,
  slo: {},
};

/** The team's client: a ServiceAccount like the exporter's (so the same default priority level), small lists. */
const teamClient = apiLoad({ name: "team", path: "/api/v1/namespaces/{namespace}/pods?limit=5", rate: 10 });

const exporterFloods: Fault = {
  title: `${EXPORTER} lists its ${REPORTS * (REPORT_KIB / 1024)} MiB of ConfigMaps ${FLOOD_RATE} times a second, with its ServiceAccount's token`,
  plan: [
    `vegeta attack -rate=${FLOOD_RATE}/s -timeout=10s -header "Authorization: Bearer $(kubectl create token ${EXPORTER})" -header "User-Agent: ${EXPORTER}/2.3"   # GET https://<api>/api/v1/namespaces/<ns>/configmaps, bodies read whole`,
  ],
  async inject(ctx) {
    ctx.evidence("fault", await startLoad(ctx, flood));
  },
  rollback: step(
    `stop ${EXPORTER}'s flood; remove its priority level and flow schema`,
    `kill the generator; kubectl delete flowschema,prioritylevelconfiguration ${LIMITED_LEVEL}`,
    async (ctx) => `${await stopLoad(ctx, flood)}\n${await removeClientLimit(ctx, LIMITED_LEVEL)}`,
  ),
};

/** Nothing else changed: every other FlowSchema and priority level as it was before the fault (name and generation). */
const flowControlElseUnchanged: Probe = {
  name: "no other flow schema or priority level changed",
  expectation: "every FlowSchema and PriorityLevelConfiguration but the exporter's at the generation it had before the fault",
  async check(ctx) {
    const now = new Set(await flowControlFingerprint(ctx, [LIMITED_LEVEL]));
    const before = new Set(ctx.found.need(FLOW_CONTROL_BEFORE));
    // Whole entries, not substrings: "flowschema/x@1" is not "flowschema/x@12".
    const changed = [...new Set([...now, ...before])].filter((x) => !now.has(x) || !before.has(x));
    return { ok: changed.length === 0, observed: changed.length ? `changed: ${changed.join(", ")}` : `${now.size} objects as before` };
  },
};

export default defineScenario({
  id: "apiserver-client-flood",
  title: "One client floods the API server; a priority level of its own contains it",
  summary:
    "The Zalando write-up ends with prevention: API Priority and Fairness and the in-flight limits, so that one " +
    "client's calls cannot starve everyone else's. Here a reporting job's ServiceAccount lists 8 MiB of ConfigMaps " +
    "20 times a second, reading every answer whole. Its requests share the service accounts' priority level with the " +
    "team's own client (a ServiceAccount that lists pods ten times a second), and the API server spends its two " +
    "cores serialising lists: the team's requests wait and time out. The runbook reads the API server's flow-control " +
    "metrics, asks it which user holds its requests, lists the flow schemas and priority levels, and gives the " +
    "exporter a priority level of its own with the smallest share, which rejects what does not fit. While the flood " +
    "goes on, the team is served within its SLO again, the exporter is answered 429, and nothing else changed.",
  source: { incident: "003", section: "§4 API server overload: Priority and Fairness, in-flight limits" },
  tags: ["control-plane", "api", "load", "performance", "nightly", "game-day"],
  gameDay: {
    difficulty: "hard",
    alert:
      "The team's deploy tooling gets timeouts from the API server; the control plane's pods are all Running and " +
      "nothing was changed on it. The API server's CPU is pegged.",
    hints: [
      "Ask the API server what it is busy with: kubectl get --raw /metrics | grep apiserver_flowcontrol_current_executing_requests.",
      "Who sends those requests? kubectl get --raw '/debug/api_priority_and_fairness/dump_requests?includeRequestDetails=1'.",
      "kubectl get flowschemas,prioritylevelconfigurations: give that ServiceAccount a priority level of its own with a small share, so the rest are served.",
    ],
    cause: [/flowcontrol|dump_requests|api_priority_and_fairness/, /flowschema|prioritylevel/i, /FlowSchema/, /PriorityLevelConfiguration/],
  },
  cluster: { controlPlanes: 1, workers: 1 },
  needs: ["node-shell", "load-generator"],

  setup: [theReports],
  load: [teamClient],
  steadyState: [nodesReady(), kubeSystemReady(), apiserverReady()],

  fault: exporterFloods,

  symptoms: {
    within: "2m",
    expect: [usersSeeErrors(teamClient, 0.9), priorityLevelBusy(SHARED_LEVEL, 20)],
  },

  runbook: [
    step(
      "what the API server is busy with",
      "kubectl get --raw /metrics | grep -E 'apiserver_flowcontrol_current_(executing|inqueue)_requests|apiserver_flowcontrol_rejected_requests_total'",
      async (ctx) => describeFlowControl(await flowControlState(ctx)).replaceAll("; ", "\n"),
    ),
    step(
      "who holds its requests",
      "kubectl get --raw '/debug/api_priority_and_fairness/dump_requests?includeRequestDetails=1'   # by UserName",
      async (ctx) => {
        const held = await heldRequests(ctx);
        const top = topClients(held);
        if (top[0]) ctx.found.set(NOISY, top[0].user);
        return `${held.length} requests held\n${top.map((t) => t.line).join("\n")}`;
      },
    ),
    step("the flow schemas and priority levels", "kubectl get flowschemas,prioritylevelconfigurations", async (ctx) => {
      const { flowSchemas, priorityLevels } = await flowControlObjects(ctx);
      const levels = priorityLevels.map(
        (p) => `${p.metadata!.name} (${p.spec?.type}${p.spec?.limited ? `, ${p.spec.limited.nominalConcurrencyShares} shares` : ""})`,
      );
      return `${describeFlowSchemas(flowSchemas)}\npriority levels: ${levels.join(", ")}`;
    }),
    step(
      `a priority level of its own for ${EXPORTER}`,
      `kubectl apply -f ${EXPORTER}-priority.yaml   # PriorityLevelConfiguration ${LIMITED_LEVEL} (Limited, nominalConcurrencyShares 1, lendablePercent 0, limitResponse Reject); FlowSchema ${LIMITED_LEVEL} (matchingPrecedence 1000, ServiceAccount <ns>/${EXPORTER})`,
      async (ctx) => {
        const noisy = ctx.found.get(NOISY);
        const [ns, name] = (noisy ?? "").split(":").slice(2);
        if (name !== EXPORTER || ns !== ctx.namespace) throw new Error(`the requests held are not ${EXPORTER}'s: ${noisy ?? "no user found"}`);
        return limitClient(ctx, { name: LIMITED_LEVEL, serviceAccount: { namespace: ns, name } });
      },
    ),
    step(
      `watch ${EXPORTER} rejected and the others served`,
      `kubectl get --raw /metrics | grep 'apiserver_flowcontrol_rejected_requests_total{.*priority_level="${LIMITED_LEVEL}"'`,
      async (ctx) => (await waitFor(priorityLevelRejects(LIMITED_LEVEL, 10), ctx, "90s", "3s")).observed,
    ),
  ],
  decisiveStep: `a priority level of its own for ${EXPORTER}`,

  verify: {
    within: "3m",
    // While the flood goes on: the team's SLO after recovery is added from its load.
    expect: [nodesReady(), apiserverReady(), priorityLevelRejects(LIMITED_LEVEL, 10), flowControlElseUnchanged],
  },
});
