import { nodeShell } from "../../clusters/contract.js";
import { parseDuration, type Duration } from "../../clusters/errors.js";
import { etcdctlFunction } from "../../clusters/etcd.js";
import type { RunOptions } from "../../clusters/exec.js";
import { pollUntil } from "../../clusters/wait.js";
import type { ScenarioContext } from "../model/context.js";
import { kubeSystemReady, nodeReadiness } from "../model/health.js";
import type { Observation, Probe } from "../model/probe.js";

/** Polls until a condition holds or its budget runs out (the error names the budget and the last thing seen). */
export { pollUntil };

/**
 * A step's or setup's wait on a condition of its own, written as every other budget is: `check` every `every` (default
 * "2s") on the run's clock, until it holds or `within` runs out; the error names the budget and the last thing seen.
 */
export function waitUntil(
  what: string,
  ctx: Pick<ScenarioContext, "clock">,
  within: Duration,
  check: () => Promise<{ ok: boolean; seen: string }>,
  every: Duration = "2s",
): Promise<string> {
  return pollUntil(what, within, every, check, { clock: ctx.clock });
}
/** What a probe is and how one is asked (harness/model/probe.ts), for scenarios that write their own or wait in a step. */
export { observe, observeWithin, ProbeFinalError, ProbeTimeoutError, waitFor, type Observation, type Probe } from "../model/probe.js";
/** The cluster's health, which the engine asks too (harness/model/health.ts). */
export { kubeSystemReady, nodesReady, podReady } from "../model/health.js";

function probe(name: string, expectation: string, check: (ctx: ScenarioContext) => Promise<Observation>, kind?: Probe["kind"]): Probe {
  return { name, expectation, check, ...(kind ? { kind } : {}) };
}

const shortTimeout: RunOptions = { timeout: "20s" };

/** The node named `name`, or the first control plane still in service when none is named. */
const nodeOr = (ctx: ScenarioContext, name: string | undefined) => (name ? nodeShell(ctx.cluster).node(name) : nodeShell(ctx.cluster).controlPlane());

function lastLine(s: string): string {
  return s.trim().split("\n").filter(Boolean).pop()?.slice(0, 300) ?? "";
}

// ---- health -----------------------------------------------------------------------------------------

/** The API server's own view, asked on the control-plane node so it works without kubeconfig or load balancer. */
export function apiserverEndpoint(path: "/readyz" | "/livez" | "/healthz", expected: RegExp = /^ok$/m, title?: string): Probe {
  const url = `https://localhost:6443${path}${expected.source === "^ok$" ? "" : "?verbose"}`;
  return probe(title ?? `API server ${path}`, `${url} to match ${expected}`, async (ctx) => {
    const r = await nodeShell(ctx.cluster).controlPlane().exec(["curl", "-sk", "--max-time", "8", url], { allowFailure: true, timeout: "15s" });
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
    const r = await nodeShell(ctx.cluster).controlPlane().sh(`${ETCDCTL}\netcdctl endpoint health 2>&1`, { allowFailure: true, timeout: "15s" });
    return { ok: /is healthy/.test(r.stdout), observed: lastLine(r.stdout) };
  });
}

/** kubectl against the API answers within `within` (the symptom is its absence). */
export function kubectlTimesOut(within: Duration = "5s"): Probe {
  const seconds = parseDuration(within) / 1000;
  return probe(`kubectl times out (${seconds}s)`, `kubectl get pods to fail within --request-timeout=${seconds}s`, async (ctx) => {
    const r = await ctx.cluster.kubectl(["get", "pods", "-A", `--request-timeout=${seconds}s`], { allowFailure: true, timeout: `${seconds + 10}s` });
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
      const r = await n.exec(["crictl", "logs", "--tail", "2000", ...since, id], { allowFailure: true, timeout: "20s" });
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
    const r = await nodeOr(ctx, node?.(ctx)).exec(["journalctl", "-u", "kubelet", "--no-pager", "-o", "cat", "--since", since], { timeout: "20s" });
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
    const r = await n.exec(["crictl", "--timeout", "5s", "info"], { allowFailure: true, timeout: "20s" });
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
      .exec(["curl", "-sk", "--max-time", "5", "https://localhost:6443/livez"], { allowFailure: true, timeout: "15s" });
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
  const r = await nodeShell(ctx.cluster).controlPlane().sh(`${ETCDCTL}\netcdctl member list`, { timeout: "15s" });
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
  return (await nodeShell(ctx.cluster).controlPlane().sh(`${ETCDCTL}\netcdctl endpoint health --cluster 2>&1`, { allowFailure: true, timeout: "30s" })).stdout;
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
    const r = await nodeShell(ctx.cluster).controlPlane().sh(`${ETCDCTL}\netcdctl endpoint status 2>&1`, { allowFailure: true, timeout: "20s" });
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
      timeout: `${2 * seconds + 20}s`,
    });
}

/** Writes through the cluster endpoint succeed (e.g. etcd still has quorum). */
export function apiWritable(within: Duration = "10s"): Probe {
  const seconds = parseDuration(within) / 1000;
  return probe("API accepts writes", `a ConfigMap created and deleted through the cluster endpoint within ${seconds}s each`, async (ctx) => {
    const r = await apiWrite(ctx, seconds);
    return { ok: r.exitCode === 0, observed: r.exitCode === 0 ? "created and deleted a ConfigMap" : lastLine(r.stdout) };
  });
}

/** Writes fail with an error matching `pattern`, asked of a surviving control plane's own API server. */
export function apiWriteFails(expected: RegExp | ((ctx: ScenarioContext) => RegExp), within: Duration = "10s", shown = String(expected)): Probe {
  const seconds = parseDuration(within) / 1000;
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
