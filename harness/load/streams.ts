import type { V1Node, V1Service } from "@kubernetes/client-node";
import { sideContainers, type ClusterAccess, type StartedSideContainer } from "../../clusters/contract.js";
import { AftershockError, formatDuration, ms, parseDuration, type Duration } from "../../clusters/errors.js";
import { apiErrorLine } from "../../clusters/kube.js";
import { CONTROL_PLANE_ROLE, LABELS } from "../../clusters/labels.js";
import { LOAD_GENERATOR_IMAGE } from "../../clusters/images/workloads.js";
import { sh } from "../../clusters/exec.js";
import { pollUntil, type Clock } from "../../clusters/wait.js";
import { k6OnPath, k6Script, startK6, type K6Run } from "./k6.js";
import { LoadSeries, parseVegetaLine, percent, servedStatus, type LoadSecond, type LoadSummary } from "./load-series.js";

/**
 * Load that runs through the fault: a generator beside the cluster sends requests at a constant rate (so a
 * stalled backend shows as errors and latency, not as fewer requests), and every result comes back while
 * the run goes. A scenario declares its load and its SLOs; the SLOs before the fault join the steady state,
 * the SLOs after recovery join verification, and what users saw during the fault is evidence.
 */

/** An SLO as a scenario or a team's workload file writes it. */
export interface SloObjective {
  /** Share of requests that must succeed, e.g. 0.99. */
  availability: number;
  /** Latency the 99th percentile must stay under, e.g. "500ms". */
  p99?: Duration;
}

/** An SLO as a run's journal keeps it (machine output: numbers named with their unit). */
export interface RecordedObjective {
  availability: number;
  /** Latency the 99th percentile must stay under, ms. */
  p99Ms?: number;
}

/** The journal's form of an objective. */
export function recordedObjective(o: SloObjective): RecordedObjective {
  return { availability: o.availability, ...(o.p99 !== undefined ? { p99Ms: parseDuration(o.p99) } : {}) };
}

/**
 * The node whose NodePort users come in through: the first control plane (by name, the default), the first
 * worker, or the last control plane (for faults that take the first control-plane machine away).
 */
export type LoadEntry = "control-plane" | "worker" | "last-control-plane";

export type LoadTarget =
  /**
   * A Service of the run's namespace, reached through a NodePort on a node (kube-proxy's rules), as users outside
   * reach it; from a load generator inside the cluster (an existing cluster), by its DNS name (`via` unused).
   */
  | { kind: "service"; service: string; path?: string; via?: LoadEntry }
  /** The API server, as clients outside reach it (the load balancer in front of several control planes), with a ServiceAccount token. */
  | {
      kind: "api";
      path: string;
      /** The run namespace's ServiceAccount whose token the requests carry (made by the scenario with its own Role); default: one allowed to "view" the namespace. */
      serviceAccount?: string;
    };

export interface LoadSpec {
  /** Short name, kebab-case: "web", "api". */
  name: string;
  target: LoadTarget;
  /** Requests per second, held constant. */
  rate: number;
  /** Per-request timeout (default "2s"): a request that takes longer counts as an error. */
  timeout?: Duration;
  /** Path of a k6 TypeScript script, relative to the repository root, used instead of vegeta when a k6 binary is on PATH. */
  k6?: string;
  /** The request's method (default GET) and body (sent as is, with its Content-Type when given). */
  method?: string;
  body?: { data: string; contentType?: string };
  /** The statuses that count as served (default: any 2xx or 3xx). */
  expectStatus?: number[];
  /** The User-Agent the requests carry (default: the generator's own). */
  userAgent?: string;
  /**
   * Started means a second with every request answered (default). false: started once requests go out, for a
   * load that is itself the fault (a flood need not be answered). A function is asked when the load starts (a
   * team's workload that did not become ready is not waited for: its steady state fails instead).
   */
  waitAnswered?: boolean | (() => boolean);
  /**
   * The node the fault takes away (a rebooted worker), asked when the load starts: a generator that runs inside the
   * cluster keeps off it, as users do, who are not on that machine. A generator beside the cluster (kind) is off
   * every node already.
   */
  awayFrom?: (ctx: StreamContext) => string | undefined;
  slo: { before?: SloObjective; during?: SloObjective; after?: SloObjective };
}

export type SloWindow = "before" | "during" | "after";

/** What a run's journal keeps of one load stream. */
export interface LoadRecord {
  name: string;
  generator: string;
  /** The generator's own end-of-load summary (k6's), when it has one. */
  generatorSummary?: string;
  /** The request line as sent, e.g. "GET http://172.18.0.2:31234/". */
  target: string;
  ratePerSecond: number;
  timeoutMs: number;
  requests: number;
  errors: number;
  availability: number;
  p50Ms: number;
  p99Ms: number;
  worstSecond?: LoadSecond;
  /** From the first second with an error to the end of the last, after the fault (0 without errors). */
  errorWindowMs: number;
  topErrors: string[];
  /** Before the fault, from inject to the end of the runbook, after it. */
  windows: Partial<Record<SloWindow, LoadSummary>>;
  /** `target`: the objective's numbers (absent in journals written before scores), so a breach can be graded. */
  slos: { window: SloWindow; objective: string; target?: RecordedObjective; ok: boolean; observed: string }[];
  series: LoadSecond[];
}

// ---- a running stream ----------------------------------------------------------------------------------

/** A stream of users' requests: its generator (a side container, or k6 on this host) stops with stop(), or when a scope that holds it with `await using` ends. */
export class LoadStream implements AsyncDisposable {
  readonly series = new LoadSeries();
  target = "";
  generator = "vegeta";
  /** k6's end-of-test summary line, once it has stopped. */
  generatorSummary?: string;
  private container?: StartedSideContainer;
  private k6?: K6Run;
  readonly stderr: string[] = [];

  constructor(
    readonly spec: LoadSpec,
    private readonly t0: number,
  ) {}

  /** The per-request timeout in ms (the spec's `timeout`, default 2s). */
  get timeoutMs(): number {
    return this.spec.timeout === undefined ? 2000 : parseDuration(this.spec.timeout);
  }

  /** Start of the first second in which every request was answered: where the "before" window begins. */
  answeredAtMs?: number;
  /** The window the steady state's SLO check last judged met: the record's "before" SLO verdict is about it. */
  judgedBefore?: { from: number; to: number };
  /** The window the verification's SLO check last judged met (the "after recovery" window of the record). */
  judgedAfter?: { from: number; to: number };

  async start(ctx: StreamContext): Promise<string> {
    const { url, headers, insecure } = await resolveTarget(ctx, this.spec.target);
    this.target = `${this.spec.method ?? "GET"} ${url}`;
    if (this.spec.userAgent) headers.push(`User-Agent: ${this.spec.userAgent}`);
    if (this.spec.body?.contentType) headers.push(`Content-Type: ${this.spec.body.contentType}`);
    const started = (await this.startK6(ctx, url, headers, insecure)) ?? (await this.startVegeta(ctx, url, headers, insecure));
    const wait = typeof this.spec.waitAnswered === "function" ? this.spec.waitAnswered() : this.spec.waitAnswered;
    if (wait === false) return started;
    // Started means answered: a new NodePort can refuse for a second until kube-proxy has its rules, and
    // that second belongs to the set-up, not to the steady state the symptoms-absent check reads.
    const answered = await pollUntil(`load ${this.spec.name}: a second with every request answered`, "30s", "500ms", async () => {
      const ended = this.k6?.exited();
      if (ended) throw new AftershockError("E_COMMAND", `load ${this.spec.name}: ${ended}`);
      const good = this.series.seconds().find((x) => x.requests >= this.spec.rate / 2 && x.ok === x.requests);
      if (good) this.answeredAtMs = good.t;
      return { ok: !!good, seen: describeSummary(this.series.summary()) };
    });
    return `${started}\n${answered}`;
  }

  /** The scenario's k6 script, on this host, when a k6 binary is on PATH; undefined (and a line of evidence) when not. */
  private async startK6(ctx: StreamContext, url: string, headers: string[], insecure: boolean): Promise<string | undefined> {
    if (!this.spec.k6) return undefined;
    const k6 = await k6OnPath();
    if (!k6) {
      ctx.evidence("load", `k6 not on PATH; ${this.spec.name} uses vegeta instead of ${this.spec.k6}`);
      return undefined;
    }
    this.generator = "k6";
    this.k6 = await startK6({
      k6,
      script: k6Script(this.spec.k6),
      url,
      rate: this.spec.rate,
      timeout: ms(this.timeoutMs),
      headers,
      insecure,
      t0: this.t0,
      onResult: (r) => this.series.add(r),
      onOther: (line) => void (this.stderr.length < 20 && this.stderr.push(line)),
    });
    return `${this.k6.command}   # ${k6}, ${this.spec.rate}/s, timeout ${formatDuration(this.timeoutMs)}, ${this.target}`;
  }

  private async startVegeta(ctx: StreamContext, url: string, headers: string[], insecure: boolean): Promise<string> {
    const sides = sideContainers(ctx.cluster);
    const flags = [
      `-rate=${this.spec.rate}/s`,
      "-duration=0",
      `-timeout=${this.timeoutMs}ms`,
      // A new connection per request, as from many users: kube-proxy spreads each one over the endpoints.
      "-keepalive=false",
      // Keeps none of a body in its results, but reads each to its end (io.Copy to io.Discard), as a client that uses it does.
      "-max-body=0",
      ...(insecure ? ["-insecure"] : []),
    ];
    const command = sh`echo ${vegetaTarget(this.spec, url, headers)} | /vegeta attack -format=json ${flags} | /vegeta encode --to=json`;
    const served = servedStatus(this.spec.expectStatus);
    const away = sides.placement === "in-cluster" ? this.spec.awayFrom?.(ctx) : undefined;
    this.container = await sides.start({
      ...(away ? { avoidNodes: [away] } : {}),
      name: `load-${this.spec.name}`,
      image: LOAD_GENERATOR_IMAGE,
      command,
      namespace: ctx.namespace,
      ready: /"timestamp"/,
      readyBudget: ms(30_000 + this.timeoutMs),
      onLine: (line) => {
        const r = parseVegetaLine(line, this.t0, served);
        if (r) this.series.add(r);
        else if (line.trim() && this.stderr.length < 20) this.stderr.push(line.trim());
      },
    });
    return `${this.container.name}: vegeta attack -rate=${this.spec.rate}/s -timeout=${formatDuration(this.timeoutMs)} ${this.target}${away ? ` (kept off ${away})` : ""}`;
  }

  async stop(): Promise<void> {
    await this.container?.stop();
    if (this.k6) {
      await this.k6.stop();
      this.generatorSummary = this.k6.summary;
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * What a stream needs of the run to start: the cluster, the run's namespace and the evidence log (a
 * ScenarioContext gives them; kept apart so the context, which holds the monitor, is not imported here).
 */
export interface StreamContext {
  readonly cluster: ClusterAccess;
  readonly namespace: string;
  evidence(source: string, text: string): void;
}

/**
 * The load streams of one run, and the marks that cut their windows: before the fault, during it (inject to
 * the end of the runbook), after recovery.
 */
export class LoadMonitor {
  readonly streams = new Map<string, LoadStream>();
  readonly marks: { injectMs?: number; runbookEndMs?: number; stopMs?: number } = {};

  constructor(
    readonly t0: number,
    private readonly clock: Clock,
  ) {}

  add(spec: LoadSpec): LoadStream {
    const s = new LoadStream(spec, this.t0);
    this.streams.set(spec.name, s);
    return s;
  }

  stream(name: string): LoadStream {
    const s = this.streams.get(name);
    if (!s) throw new AftershockError("E_BAD_INPUT", `no load named "${name}" in this scenario`);
    return s;
  }

  /** ms since the run started. */
  now(): number {
    return this.clock.now() - this.t0;
  }

  /** The newest moment whose requests have all come back (sent more than a timeout ago). */
  settled(s: LoadStream): number {
    return this.now() - s.timeoutMs - 1000;
  }

  /**
   * Lets `name`'s users go on after the runbook until their requests since its end cover `seconds` settled
   * seconds, so an "after" window judged apart from verification (a team's workload) rests on more than the
   * moment verification took. Waits at most that long plus the load's timeout; nothing when the runbook never ran.
   */
  async coverAfterRunbook(name: string, seconds: number): Promise<void> {
    const end = this.marks.runbookEndMs;
    if (end === undefined || this.marks.stopMs !== undefined) return;
    const wait = end + seconds * 1000 - this.settled(this.stream(name));
    if (wait > 0) await this.clock.sleep(wait);
  }

  mark(what: "injectMs" | "runbookEndMs" | "stopMs"): void {
    this.marks[what] = this.now();
  }

  async stopAll(): Promise<void> {
    if (this.marks.stopMs === undefined) this.mark("stopMs");
    await Promise.all([...this.streams.values()].map((s) => s.stop()));
  }

  /**
   * The window's bounds for one stream, ms since the run started; undefined when the run never got there.
   * before: from the first fully answered second to the fault. after: the seconds verification's SLO check
   * judged met (or everything after the runbook, when it never was). during: from the fault up to "after",
   * so the seconds the cluster took to come back after the runbook count as the fault's.
   */
  window(s: LoadStream, w: SloWindow): { from: number; to: number } | undefined {
    const { injectMs, runbookEndMs, stopMs } = this.marks;
    const end = stopMs ?? this.now();
    if (w === "before") return { from: s.answeredAtMs ?? 0, to: injectMs ?? end };
    if (injectMs === undefined) return undefined;
    const after = s.judgedAfter ?? (runbookEndMs === undefined ? undefined : { from: runbookEndMs, to: end });
    return w === "during" ? { from: injectMs, to: after?.from ?? end } : after;
  }

  records(): LoadRecord[] {
    return [...this.streams.values()].map((s) => {
      const all = s.series.summary();
      const windows: Partial<Record<SloWindow, LoadSummary>> = {};
      const slos: LoadRecord["slos"] = [];
      for (const w of ["before", "during", "after"] as const) {
        const b = this.window(s, w);
        if (!b) continue;
        windows[w] = s.series.summary(b.from, b.to);
        const objective = s.spec.slo[w];
        // The "before" verdict is the one that let the run go on (the steady state's window), as "after" is
        // verification's; the window's own numbers still cover every second before the fault.
        const judged = w === "before" && s.judgedBefore ? s.series.summary(s.judgedBefore.from, s.judgedBefore.to) : windows[w];
        if (objective) slos.push({ window: w, objective: describeObjective(objective), target: recordedObjective(objective), ...judge(judged, objective) });
      }
      const afterFault = this.marks.injectMs === undefined ? undefined : s.series.summary(this.marks.injectMs);
      return {
        name: s.spec.name,
        generator: s.generator,
        ...(s.generatorSummary ? { generatorSummary: s.generatorSummary } : {}),
        target: s.target,
        ratePerSecond: s.spec.rate,
        timeoutMs: s.timeoutMs,
        requests: all.requests,
        errors: all.errors,
        availability: all.availability,
        p50Ms: all.p50Ms,
        p99Ms: all.p99Ms,
        ...(all.worst ? { worstSecond: all.worst } : {}),
        errorWindowMs: afterFault?.errorWindowMs ?? 0,
        topErrors: all.topErrors,
        windows,
        slos,
        series: s.series.seconds(),
      };
    });
  }
}

/** What a load aims at, for plans and step lines: "Service web through a NodePort", "the API server /api/…". */
export function describeLoadTarget(l: LoadSpec): string {
  if (l.target.kind === "api") return `the API server ${l.target.path}`;
  const via = l.target.via && l.target.via !== "control-plane" ? ` on the ${l.target.via.replace(/-/g, " ")}` : "";
  return `Service ${l.target.service} through a NodePort${via}`;
}

export function describeObjective(o: SloObjective): string {
  const p99Ms = o.p99 === undefined ? undefined : parseDuration(o.p99);
  return `≥${percent(o.availability)} ok${p99Ms ? `, p99 ≤ ${p99Ms}ms` : ""}`;
}

/** Whether a window met an objective, and the line that says so. */
export function judge(s: LoadSummary, o: SloObjective): { ok: boolean; observed: string } {
  const okAvail = s.availability >= o.availability;
  const okP99 = o.p99 === undefined || s.p99Ms <= parseDuration(o.p99);
  return { ok: s.requests > 0 && okAvail && okP99, observed: describeSummary(s) };
}

export function describeSummary(s: LoadSummary): string {
  if (!s.requests) return `no requests in ${formatDuration(s.toMs - s.fromMs)}`;
  const worst = s.worst && s.worst.ok < s.worst.requests ? `; worst second +${formatDuration(s.worst.t)}: ${s.worst.ok}/${s.worst.requests} ok` : "";
  const errs = s.errors ? ` (${s.topErrors.join(", ")})` : "";
  return `${s.requests - s.errors}/${s.requests} ok = ${percent(s.availability)}, p50 ${Math.round(s.p50Ms)}ms, p99 ${Math.round(s.p99Ms)}ms over ${s.seconds}s${errs}${worst}`;
}

// ---- targets -------------------------------------------------------------------------------------------

/** vegeta's JSON target: method, URL, headers and the body (base64), one line. */
export function vegetaTarget(spec: Pick<LoadSpec, "method" | "body">, url: string, headers: string[]): string {
  const header: Record<string, string[]> = {};
  for (const h of headers) {
    const i = h.indexOf(":");
    const k = h.slice(0, i).trim();
    header[k] = [...(header[k] ?? []), h.slice(i + 1).trim()];
  }
  return JSON.stringify({
    method: spec.method ?? "GET",
    url,
    ...(Object.keys(header).length ? { header } : {}),
    ...(spec.body ? { body: Buffer.from(spec.body.data).toString("base64") } : {}),
  });
}

async function resolveTarget(ctx: StreamContext, t: LoadTarget): Promise<{ url: string; headers: string[]; insecure: boolean }> {
  const sides = sideContainers(ctx.cluster);
  if (t.kind === "api") {
    const token = await loadToken(ctx, t.serviceAccount);
    return {
      url: `https://${await sides.apiServerAddress()}${t.path.replace("{namespace}", ctx.namespace)}`,
      headers: [`Authorization: Bearer ${token}`],
      insecure: true,
    };
  }
  if (sides.placement === "in-cluster") return { url: `http://${await clusterAddressOf(ctx, t.service)}${t.path ?? "/"}`, headers: [], insecure: false };
  const port = await nodePortFor(ctx, t.service);
  const node = await nodeFor(ctx, t.via ?? "control-plane");
  return { url: `http://${await sides.nodeAddress(node)}:${port}${t.path ?? "/"}`, headers: [], insecure: false };
}

/** The Service's cluster DNS name and first port, as a pod of the cluster reaches it (through kube-proxy's ClusterIP rules). */
async function clusterAddressOf(ctx: StreamContext, service: string): Promise<string> {
  const ns = ctx.namespace;
  const svc = await ctx.cluster.api.core.readNamespacedService({ name: service, namespace: ns }).catch((e: unknown) => {
    throw new AftershockError("E_CLUSTER", `load target: Service ${ns}/${service}: ${apiErrorLine(e)}`);
  });
  const port = svc.spec?.ports?.[0]?.port;
  if (!port) throw new AftershockError("E_CLUSTER", `load target: Service ${ns}/${service} has no port`);
  return `${service}.${ns}.svc:${port}`;
}

/** A NodePort twin of the Service (same selector and ports), labelled as the run's, so load reaches it from outside. */
async function nodePortFor(ctx: StreamContext, service: string): Promise<number> {
  const { core } = ctx.cluster.api;
  const ns = ctx.namespace;
  const svc = await core.readNamespacedService({ name: service, namespace: ns }).catch((e: unknown) => {
    throw new AftershockError("E_CLUSTER", `load target: Service ${ns}/${service}: ${apiErrorLine(e)}`);
  });
  const port = svc.spec?.ports?.[0];
  if (!port) throw new AftershockError("E_CLUSTER", `load target: Service ${ns}/${service} has no port`);
  const twin: V1Service = {
    metadata: { name: `${service}-load`, namespace: ns, labels: { [LABELS.k8sManaged]: "true", app: service } },
    spec: {
      type: "NodePort",
      selector: svc.spec!.selector!,
      ports: [{ name: port.name ?? "http", port: port.port, targetPort: port.targetPort ?? port.port }],
    },
  };
  const made = await core.createNamespacedService({ namespace: ns, body: twin });
  return made.spec!.ports![0]!.nodePort!;
}

async function nodeFor(ctx: StreamContext, via: LoadEntry): Promise<string> {
  const nodes = (await ctx.cluster.api.core.listNode()).items;
  const isCp = (n: V1Node) => Object.keys(n.metadata?.labels ?? {}).includes(CONTROL_PLANE_ROLE);
  const role = via === "worker" ? "worker" : "control-plane";
  const names = nodes
    .filter((x) => (role === "control-plane" ? isCp(x) : !isCp(x)))
    .map((x) => x.metadata!.name!)
    .sort((a, b) => a.localeCompare(b));
  const n = via === "last-control-plane" ? names.at(-1) : names[0];
  if (!n) throw new AftershockError("E_CLUSTER", `load target: no ${role} node`);
  return n;
}

/**
 * A one-hour token for the named ServiceAccount of the run's namespace, or else for one made here that may read
 * the namespace ("view"; made once for every load that names none).
 */
async function loadToken(ctx: StreamContext, serviceAccount?: string): Promise<string> {
  const { api } = ctx.cluster;
  const ns = ctx.namespace;
  const name = serviceAccount ?? "aftershock-load";
  const labels = { [LABELS.k8sManaged]: "true" };
  const made = serviceAccount
    ? true
    : await api.core.readNamespacedServiceAccount({ name, namespace: ns }).then(
        () => true,
        () => false,
      );
  if (!made) {
    await api.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name, namespace: ns, labels } } });
    await api.objects.create({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace: ns, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
      subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
    } as never);
  }
  const tr = await api.core.createNamespacedServiceAccountToken({ name, namespace: ns, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const token = tr.status?.token;
  if (!token) throw new AftershockError("E_CLUSTER", `no token issued for ServiceAccount ${ns}/${name}`);
  return token;
}
