import type { V1Pod } from "@kubernetes/client-node";
import { nodeShell } from "../../clusters/contract.js";
import { AftershockError, CommandError, formatDuration, parseDuration, type Duration } from "../../clusters/errors.js";
import { apiErrorLine } from "../../clusters/kube.js";
import { etcdctlFunction } from "../../clusters/etcd.js";
import { pollUntil } from "../../clusters/wait.js";
import type { ScenarioContext } from "./types.js";

/** Polls until a condition holds or its budget runs out (the error names the budget and the last thing seen). */
export { pollUntil };

/** One observation: did the expectation hold, and what was actually seen. */
export interface Observation {
  ok: boolean;
  observed: string;
  /** Set on an unmet answer that waiting cannot change (e.g. data whose volume was replaced): waitFor stops there. */
  final?: boolean;
}

/**
 * A probe checks one expectation once. `waitFor` repeats it on an interval until it holds or its budget
 * runs out. `kind: "sentinel"` marks probes about data written before the fault (data-lost vs not-recovered).
 */
export interface Probe {
  readonly name: string;
  readonly expectation: string;
  /**
   * sentinel: data that must survive (its loss makes the run data-lost); recovery-point: data the runbook is
   * expected to lose (e.g. written after the last backup), reported by name and count but not failed.
   */
  readonly kind?: "sentinel" | "recovery-point" | "health";
  /** The load stream it reads (load probes): a team's workload in place of that stream's demo drops it. */
  readonly reads?: string;
  /** The demo app whose pods it looks at (node-failure probes): a team's workload in its place retargets it. */
  readonly aimsAt?: string;
  readonly retarget?: (to: { name: string; selector: string }) => Probe;
  check(ctx: ScenarioContext): Promise<Observation>;
}

export class ProbeTimeoutError extends AftershockError {
  /** What was seen, without the probe's name in front. */
  readonly seen: string;
  constructor(
    readonly probe: string,
    readonly expectation: string,
    readonly lastSeen: string,
    readonly budgetMs: number,
  ) {
    const seen = `expected ${expectation} within ${formatDuration(budgetMs)}; last seen: ${lastSeen || "nothing"}`;
    super("E_TIMEOUT", `${probe}: ${seen}`);
    this.seen = seen;
  }
}

/** waitFor's error for an observation that waiting would not change (Observation.final). */
export class ProbeFinalError extends AftershockError {
  constructor(
    readonly probe: string,
    /** What was seen, without the probe's name in front. */
    readonly seen: string,
  ) {
    super("E_PROBE", `${probe}: ${seen}`);
  }
}

/** Runs a check; a failing command counts as "not yet", with its error as what was seen. */
export async function observe(probe: Probe, ctx: ScenarioContext): Promise<Observation> {
  try {
    return await probe.check(ctx);
  } catch (e) {
    if (e instanceof CommandError)
      return {
        ok: false,
        observed: `${e.command.split(" ").slice(0, 6).join(" ")} … ${e.exitCode !== undefined ? `exit ${e.exitCode}` : "timed out"}: ${lastLine(e.stderrTail)}`,
      };
    // A capability the scenario did not declare (or the target lacks), or a command the node contract does not
    // promise, will not come by waiting.
    if (e instanceof AftershockError && (e.code === "E_CAPABILITY" || e.code === "E_NODE_CONTRACT")) return { ok: false, observed: e.message, final: true };
    return { ok: false, observed: e instanceof AftershockError ? e.message : apiErrorLine(e) };
  }
}

/** Waits until the probe holds, asking `every` so often, for at most `within`; a timeout names the budget and what was last seen. */
export function waitFor(probe: Probe, ctx: ScenarioContext, within: Duration, every: Duration = "2s"): Promise<Observation> {
  return waitWithin(probe, ctx, parseDuration(within), parseDuration(every));
}

async function waitWithin(probe: Probe, ctx: ScenarioContext, budgetMs: number, intervalMs = 2000): Promise<Observation> {
  const seen = await pollUntil(
    probe.name,
    budgetMs,
    intervalMs,
    async () => {
      const o = await observe(probe, ctx);
      if (!o.ok && o.final) throw new ProbeFinalError(probe.name, `${o.observed} (final: waiting would not change it)`);
      return { ok: o.ok, seen: o.observed };
    },
    { clock: ctx.clock, onTimeout: (last) => new ProbeTimeoutError(probe.name, probe.expectation, last, budgetMs) },
  );
  return { ok: true, observed: seen };
}

/**
 * waitFor as an observation that never throws, for the engine's records: what was seen, without the probe's name
 * in front (the record and its line already carry it), whether the budget ran out or waiting would not help.
 */
export async function observeWithin(probe: Probe, ctx: ScenarioContext, budgetMs: number): Promise<Observation> {
  return waitWithin(probe, ctx, budgetMs).catch((e: unknown): Observation => ({
    ok: false,
    observed: e instanceof ProbeTimeoutError || e instanceof ProbeFinalError ? e.seen : (e as Error).message,
  }));
}

function lastLine(s: string): string {
  return s.trim().split("\n").filter(Boolean).pop()?.slice(0, 300) ?? "";
}

/** The pod's Ready condition is True (what Endpoints and kubectl's READY column go by). */
export const podReady = (p: V1Pod): boolean => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

function probe(name: string, expectation: string, check: (ctx: ScenarioContext) => Promise<Observation>, kind?: Probe["kind"]): Probe {
  return { name, expectation, check, ...(kind ? { kind } : {}) };
}

const shortTimeout = { timeoutMs: 20_000 };

/** The node named `name`, or the first control plane still in service when none is named. */
const nodeOr = (ctx: ScenarioContext, name: string | undefined) => (name ? nodeShell(ctx.cluster).node(name) : nodeShell(ctx.cluster).controlPlane());

// ---- health -----------------------------------------------------------------------------------------

/** Each Node's Ready condition ("True", "False", "Unknown"), through the API. */
async function nodeReadiness(ctx: ScenarioContext): Promise<Map<string, string>> {
  const nodes = await ctx.cluster.api.core.listNode();
  return new Map(nodes.items.map((n) => [n.metadata?.name ?? "", n.status?.conditions?.find((c) => c.type === "Ready")?.status ?? "Unknown"]));
}

/** Every Node Ready (and, where the nodes are known out of band, none missing from the API). */
export function nodesReady(): Probe {
  return probe("nodes Ready", "every node Ready", async (ctx) => {
    const ready = await nodeReadiness(ctx);
    const bad = [...ready].filter(([, s]) => s !== "True").map(([n, s]) => `${n}=${s}`);
    const missing = (ctx.cluster.shell?.nodes ?? []).filter((n) => !ready.has(n.name)).map((n) => `${n.name}=absent`);
    return { ok: ready.size > 0 && !bad.length && !missing.length, observed: [...bad, ...missing].join(", ") || `${ready.size} Ready` };
  });
}

/** Every kube-system pod Running and Ready (typed pod conditions, through the API). */
export function kubeSystemReady(): Probe {
  return probe("kube-system Ready", "every kube-system pod Running and Ready", async (ctx) => {
    const pods = (await ctx.cluster.api.core.listNamespacedPod({ namespace: "kube-system" })).items;
    const bad = pods
      .filter((p) => p.status?.phase !== "Running" || !podReady(p))
      .map(
        (p) =>
          `${p.metadata?.name} ${p.status?.phase ?? "?"}${
            p.status?.containerStatuses
              ?.map((c) => c.state?.waiting?.reason)
              .filter(Boolean)
              .map((r) => ` ${r}`)
              .join("") ?? ""
          }`,
      );
    return { ok: pods.length > 0 && !bad.length, observed: bad.length ? `not ready: ${bad.join(", ")}` : `${pods.length} pods Ready` };
  });
}

/** The API server's own view, asked on the control-plane node so it works without kubeconfig or load balancer. */
export function apiserverEndpoint(path: "/readyz" | "/livez" | "/healthz", expected: RegExp = /^ok$/m, title?: string): Probe {
  const url = `https://localhost:6443${path}${expected.source === "^ok$" ? "" : "?verbose"}`;
  return probe(title ?? `API server ${path}`, `${url} to match ${expected}`, async (ctx) => {
    const r = await nodeShell(ctx.cluster).controlPlane().exec(["curl", "-sk", "--max-time", "8", url], { allowFailure: true, timeoutMs: 15_000 });
    const body = (r.stdout || r.stderr).trim();
    const lines = body
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
    const shown =
      [...lines.filter((l) => l.startsWith("[-]")), lines.at(-1) ?? ""]
        .filter((l, i, a) => l && a.indexOf(l) === i)
        .join(" ")
        .slice(0, 400) || `curl exit ${r.exitCode}`;
    if (r.exitCode !== 0)
      return { ok: false, observed: `curl exit ${r.exitCode} (${r.exitCode === 7 ? "connection refused" : r.exitCode === 28 ? "timed out" : "error"})` };
    return { ok: expected.test(body), observed: shown };
  });
}

export const apiserverReady = () => apiserverEndpoint("/readyz", /^ok$/m, "API server /readyz");
export const healthz = (expected: RegExp) => apiserverEndpoint("/healthz", expected, `API server /healthz?verbose ${expected}`);

/**
 * etcd's tools on a control-plane node, from the one place that knows how (clusters/etcd.ts): bash functions
 * `etcdctl` (the etcd container's, through crictl exec, with kubeadm's health-check certificate, against the member
 * on that node) and `etcdutl` (the etcd image's, copied for the run to /opt/aftershock/bin), to put at the top of a
 * node script. A kind node image has neither on its PATH (clusters/kind/node-contract.ts).
 */
export { ETCDCTL_SHOWN, ETCDUTL, ETCDUTL_FETCH_SHOWN, etcdctlFunction, etcdctlScript, etcdutlFunction, saveSnapshotLines } from "../../clusters/etcd.js";
const ETCDCTL = etcdctlFunction(5);

export function etcdHealthy(): Probe {
  return probe("etcd healthy", "etcdctl endpoint health: is healthy", async (ctx) => {
    const r = await nodeShell(ctx.cluster).controlPlane().sh(`${ETCDCTL}\netcdctl endpoint health 2>&1`, { allowFailure: true, timeoutMs: 15_000 });
    return { ok: /is healthy/.test(r.stdout), observed: lastLine(r.stdout) };
  });
}

/** kubectl against the API answers within `seconds` (the symptom is its absence). */
export function kubectlTimesOut(seconds = 5): Probe {
  return probe(`kubectl times out (${seconds}s)`, `kubectl get pods to fail within --request-timeout=${seconds}s`, async (ctx) => {
    const r = await ctx.cluster.kubectl(["get", "pods", "-A", `--request-timeout=${seconds}s`], { allowFailure: true, timeoutMs: (seconds + 10) * 1000 });
    return { ok: r.exitCode !== 0, observed: r.exitCode === 0 ? "kubectl answered" : lastLine(r.stderr) };
  });
}

// ---- out-of-band signatures ----------------------------------------------------------------------------

/** A line in the logs of any container (running or exited) with this name, read with crictl on the node. */
export function containerLog(container: string, pattern: RegExp, node?: string): Probe {
  return probe(`${container} log ${pattern}`, `a log line of container ${container} matching ${pattern}`, async (ctx) => {
    const n = nodeOr(ctx, node);
    const ids = (await n.exec(["crictl", "ps", "-a", "--name", `^${container}$`, "-q"], shortTimeout)).stdout.split("\n").filter(Boolean);
    // Only lines written after ctx.logsSince count (crictl wants RFC 3339). A struggling etcd can log hundreds
    // of warnings between two polls, so the tail is long enough not to lose the one line that matters.
    const since = ctx.logsSince ? ["--since", new Date(ctx.logsSince).toISOString()] : [];
    for (const id of ids) {
      const r = await n.exec(["crictl", "logs", "--tail", "2000", ...since, id], { allowFailure: true, timeoutMs: 20_000 });
      const line = `${r.stdout}\n${r.stderr}`.split("\n").find((l) => pattern.test(l));
      if (line) return { ok: true, observed: line.trim().slice(0, 500) };
    }
    return { ok: false, observed: ids.length ? `${ids.length} ${container} containers, no matching line` : `no ${container} container` };
  });
}

/**
 * A kubelet journal line written after the fault, e.g. CrashLoopBackOff for a static pod; on the first control
 * plane, or on the node `node` names (e.g. the one the fault recorded as lost).
 */
export function kubeletReports(subject: string, pattern: RegExp | string, node?: (ctx: ScenarioContext) => string | undefined): Probe {
  const re = typeof pattern === "string" ? new RegExp(pattern) : pattern;
  return probe(`kubelet reports ${subject} ${re.source}`, `a kubelet journal line about ${subject} matching ${re}`, async (ctx) => {
    const since = ctx.logsSince ? `@${Math.floor(ctx.logsSince / 1000)}` : "10 min ago";
    const r = await nodeOr(ctx, node?.(ctx)).exec(["journalctl", "-u", "kubelet", "--no-pager", "-o", "cat", "--since", since], { timeoutMs: 20_000 });
    const line = r.stdout
      .split("\n")
      .reverse()
      .find((l) => l.includes(subject) && re.test(l));
    return { ok: !!line, observed: line ? line.slice(0, 500) : `no kubelet line about ${subject} matching ${re}` };
  });
}

/**
 * `crictl info` on a node answers: the kubelet's container runtime serves the CRI on its socket. On the first
 * control plane, or on the node `node` names.
 */
export function runtimeAnswers(node?: (ctx: ScenarioContext) => string | undefined): Probe {
  return probe("container runtime answers crictl info", "crictl info to succeed on the node", async (ctx) => {
    const n = nodeOr(ctx, node?.(ctx));
    const r = await n.exec(["crictl", "--timeout", "5s", "info"], { allowFailure: true, timeoutMs: 20_000 });
    const last = (r.stderr.trim() || r.stdout.trim()).split("\n").pop() ?? "";
    if (r.exitCode !== 0) return { ok: false, observed: `${n.name}: crictl info exit ${r.exitCode}: ${last.slice(0, 300)}` };
    let ready = false;
    try {
      const info = JSON.parse(r.stdout) as { status?: { conditions?: { type: string; status: boolean }[] } };
      ready = info.status?.conditions?.some((c) => c.type === "RuntimeReady" && c.status) ?? false;
    } catch {
      // not JSON: not an answer this probe understands
    }
    return { ok: ready, observed: `${n.name}: crictl info ${ready ? "RuntimeReady" : "answers, runtime not ready"}` };
  });
}

/** The opposite, for symptoms: the node's runtime does not answer the CRI (`crictl info` fails). */
export function runtimeUnreachable(node?: (ctx: ScenarioContext) => string | undefined): Probe {
  return negate(runtimeAnswers(node), "crictl cannot reach the container runtime", "crictl info to fail on the node");
}

/** Ids of running containers with this name on a node (crictl, no API needed). */
async function runningContainers(ctx: ScenarioContext, container: string, node?: string): Promise<string> {
  const n = nodeOr(ctx, node);
  return (await n.exec(["crictl", "ps", "--name", `^${container}$`, "--state", "running", "-q"], shortTimeout)).stdout.trim();
}

/** A container with this name is running. */
export function containerRunning(container: string, node?: string): Probe {
  return probe(`${container} running`, `a running ${container} container`, async (ctx) => {
    const ids = await runningContainers(ctx, container, node);
    return { ok: ids.length > 0, observed: ids ? `running ${ids.slice(0, 13)}` : `no running ${container}` };
  });
}

/** No running container with this name; e.g. a control-plane component whose manifest is gone. */
export function containerAbsent(container: string, node?: string): Probe {
  return probe(`${container} not running`, `no running ${container} container`, async (ctx) => {
    const ids = await runningContainers(ctx, container, node);
    return { ok: ids === "", observed: ids ? `still running ${ids.slice(0, 13)}` : `crictl: no running ${container}` };
  });
}

/** Connections to the API server port are refused on the control-plane node. */
export function apiserverRefuses(): Probe {
  return probe("API port refuses connections", "curl https://localhost:6443 to fail with connection refused", async (ctx) => {
    const r = await nodeShell(ctx.cluster)
      .controlPlane()
      .exec(["curl", "-sk", "--max-time", "5", "https://localhost:6443/livez"], { allowFailure: true, timeoutMs: 15_000 });
    return {
      ok: r.exitCode === 7,
      observed: r.exitCode === 7 ? "curl: (7) connection refused on localhost:6443" : `curl exit ${r.exitCode}: ${r.stdout.slice(0, 80)}`,
    };
  });
}

/** Every node of a role is NotReady (or gone from the API), as the control plane sees it. */
export function nodesNotReady(role: "worker" | "control-plane" = "worker"): Probe {
  return probe(`${role} nodes NotReady`, `every ${role} node NotReady or absent`, async (ctx) => {
    const status = await nodeReadiness(ctx);
    const nodes = nodeShell(ctx.cluster).nodes.filter((n) => n.role === role);
    const ready = nodes.filter((n) => status.get(n.name) === "True");
    return {
      ok: nodes.length > 0 && ready.length === 0,
      observed: nodes.map((n) => `${n.name}=${status.get(n.name) === "True" ? "Ready" : status.has(n.name) ? "NotReady" : "absent"}`).join(", "),
    };
  });
}

/** Some kube-system pods are not Running and Ready (ContainerCreating, CrashLoopBackOff, Pending, …). */
export function kubeSystemDegraded(): Probe {
  return negate(kubeSystemReady(), "kube-system degraded", "some kube-system pod not Running and Ready");
}

/** A symptom that is the absence of health: holds when `healthy` does not, and reports what it saw. */
export function negate(healthy: Probe, name: string, expectation: string): Probe {
  return probe(name, expectation, async (ctx) => {
    const o = await healthy.check(ctx);
    return { ok: !o.ok, observed: o.observed };
  });
}

// ---- etcd membership and quorum ------------------------------------------------------------------------

export interface EtcdMember {
  id: string;
  name: string;
  clientUrl: string;
}

/** etcd's member list as a surviving control plane sees it. */
export async function etcdMembers(ctx: ScenarioContext): Promise<EtcdMember[]> {
  const r = await nodeShell(ctx.cluster).controlPlane().sh(`${ETCDCTL}\netcdctl member list`, { timeoutMs: 15_000 });
  return r.stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [id = "", , name = "", , clientUrl = ""] = l.split(",").map((x) => x.trim());
      return { id, name, clientUrl };
    });
}

/** `etcdctl endpoint health --cluster` from a survivor: one line per member; exits non-zero if any is unhealthy. */
async function clusterHealth(ctx: ScenarioContext): Promise<string> {
  return (await nodeShell(ctx.cluster).controlPlane().sh(`${ETCDCTL}\netcdctl endpoint health --cluster 2>&1`, { allowFailure: true, timeoutMs: 30_000 }))
    .stdout;
}

/** `etcdctl endpoint health --cluster` from a survivor reports the member of `node` unhealthy. */
export function etcdMemberUnreachable(node: (ctx: ScenarioContext) => string | undefined): Probe {
  return probe("etcd member unreachable", "etcdctl endpoint health --cluster: the lost node's member is unhealthy", async (ctx) => {
    const name = node(ctx);
    if (!name) return { ok: false, observed: "no node has been lost" };
    const m = (await etcdMembers(ctx)).find((x) => x.name === name);
    if (!m) return { ok: false, observed: `no etcd member named ${name}` };
    const health = await clusterHealth(ctx);
    const line = health.split("\n").find((l) => l.startsWith(`${m.clientUrl} is unhealthy`));
    return { ok: !!line, observed: line?.trim() ?? `${m.clientUrl} not reported unhealthy: ${lastLine(health)}` };
  });
}

/** Exactly `count` etcd members, every one of them healthy (`endpoint health --cluster`). */
export function etcdMembersHealthy(count: number): Probe {
  return probe(`etcd ${count} healthy members`, `etcdctl member list: ${count} members, endpoint health --cluster: all healthy`, async (ctx) => {
    const members = await etcdMembers(ctx);
    const healthy = (await clusterHealth(ctx)).split("\n").filter((l) => / is healthy/.test(l)).length;
    return {
      ok: members.length === count && healthy === count,
      observed: `${members.length} members (${members.map((m) => m.name).join(", ")}), ${healthy} healthy`,
    };
  });
}

/** The survivor's etcd has no leader: `etcdctl endpoint status` answers with etcd's own error. */
export function etcdNoLeader(): Probe {
  return probe("etcd has no leader", "etcdctl endpoint status on a survivor: etcdserver: no leader", async (ctx) => {
    const r = await nodeShell(ctx.cluster).controlPlane().sh(`${ETCDCTL}\netcdctl endpoint status 2>&1`, { allowFailure: true, timeoutMs: 20_000 });
    return { ok: /etcdserver: no leader/.test(r.stdout), observed: lastLine(r.stdout) };
  });
}

/**
 * A write through the API server (a ConfigMap created and deleted). With `server`, it goes to that API
 * server directly instead of the cluster endpoint (the load balancer, which hides etcd's error behind an EOF
 * once no backend passes its health check), with break-glass credentials in system:masters: an API server
 * restarted while etcd is down has empty RBAC caches and answers "forbidden", which would hide etcd's error.
 */
function apiWrite(ctx: ScenarioContext, seconds: number, server?: string) {
  const name = `aftershock-write-probe-${Date.now().toString(36)}`;
  const conf = server ? "/etc/kubernetes/aftershock-break-glass.conf" : "/etc/kubernetes/admin.conf";
  const mint = server ? `test -s ${conf} || kubeadm kubeconfig user --client-name=aftershock-break-glass --org=system:masters > ${conf}; ` : "";
  const k = `kubectl --kubeconfig=${conf} ${server ? `--server=${server}` : ""} --request-timeout=${seconds}s`;
  return nodeShell(ctx.cluster)
    .controlPlane()
    .sh(`${mint}${k} create configmap ${name} -n default 2>&1 && ${k} delete configmap ${name} -n default 2>&1`, {
      allowFailure: true,
      timeoutMs: (2 * seconds + 20) * 1000,
    });
}

/** Writes through the cluster endpoint succeed (e.g. etcd still has quorum). */
export function apiWritable(seconds = 10): Probe {
  return probe("API accepts writes", `a ConfigMap created and deleted through the cluster endpoint within ${seconds}s each`, async (ctx) => {
    const r = await apiWrite(ctx, seconds);
    return { ok: r.exitCode === 0, observed: r.exitCode === 0 ? "created and deleted a ConfigMap" : lastLine(r.stdout) };
  });
}

/** Writes fail with an error matching `pattern`, asked of a surviving control plane's own API server. */
export function apiWriteFails(expected: RegExp | ((ctx: ScenarioContext) => RegExp), seconds = 10, shown = String(expected)): Probe {
  return probe(`API writes fail ${shown}`, `a ConfigMap create on a survivor's API server to fail with ${shown}`, async (ctx) => {
    const pattern = typeof expected === "function" ? expected(ctx) : expected;
    const r = await apiWrite(ctx, seconds, "https://127.0.0.1:6443");
    const line = r.stdout.split("\n").find((l) => pattern.test(l));
    return { ok: r.exitCode !== 0 && !!line, observed: r.exitCode === 0 ? "the write succeeded" : (line ?? lastLine(r.stdout)).trim() };
  });
}

/** One named node is NotReady or gone from the API. */
export function nodeNotReady(node: (ctx: ScenarioContext) => string | undefined): Probe {
  return probe("lost node NotReady", "the lost node NotReady (or absent) in the API's node list", async (ctx) => {
    const name = node(ctx);
    if (!name) return { ok: false, observed: "no node has been lost" };
    const s = (await nodeReadiness(ctx)).get(name);
    return { ok: s !== "True", observed: `${name}=${s === "True" ? "Ready" : s ? "NotReady" : "absent"}` };
  });
}
