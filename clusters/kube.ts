import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  createConfiguration,
  EventsV1Api,
  FlowcontrolApiserverV1Api,
  KubeConfig,
  KubernetesObjectApi,
  NetworkingV1Api,
  ServerConfiguration,
  type Middleware,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { createInterface } from "node:readline";
import { AftershockError, parseDuration, type Duration } from "./errors.js";

/**
 * In-band access: the Kubernetes API from this process with the cluster's kubeconfig, through
 * @kubernetes/client-node (typed objects, watches). Every target offers it; it needs the API server up.
 * Each request carries its own deadline, so a probe against a dead API server fails instead of hanging.
 */
export interface KubeApi {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly networking: NetworkingV1Api;
  readonly events: EventsV1Api;
  /** API Priority and Fairness: FlowSchemas and PriorityLevelConfigurations (flowcontrol.apiserver.k8s.io/v1). */
  readonly flowcontrol: FlowcontrolApiserverV1Api;
  /** Leases (coordination.k8s.io/v1): the lock a run takes on a cluster it did not create. */
  readonly coordination: CoordinationV1Api;
  /** Generic typed objects (server-side apply, read, delete) for manifests. */
  readonly objects: KubernetesObjectApi;
  /** The API server URL from the kubeconfig (for messages). */
  readonly server: string;
  /** GET of a path that is not an object (/metrics, /debug/…), as `kubectl get --raw` does: the body, or an error with its status. */
  raw(path: string, timeout?: Duration): Promise<string>;
  /**
   * A streaming GET (a pod's log with follow=true), each line to `onLine` until the server ends it or stop() is
   * called; a status that is not 2xx is an error with its status. No deadline once it answers: stop() ends it.
   */
  follow(path: string, onLine: (line: string) => void, answerWithin?: Duration): Promise<{ stop(): void }>;
}

/** How long a request may take to answer unless connectKube is told otherwise. */
export const REQUEST_TIMEOUT: Duration = "15s";

/** Aborts a request that has not answered within `ms`. */
function deadline(ms: number): Middleware {
  return {
    pre: async (ctx: RequestContext) => {
      ctx.setSignal(AbortSignal.timeout(ms));
      return ctx;
    },
    post: async (ctx: ResponseContext) => ctx,
  };
}

/** Connects to the API named by a kubeconfig file (and context, if given). */
export function connectKube(kubeconfigPath: string, context?: string, requestTimeout: Duration = REQUEST_TIMEOUT): KubeApi {
  const requestTimeoutMs = parseDuration(requestTimeout);
  const config = new KubeConfig();
  try {
    config.loadFromFile(kubeconfigPath);
  } catch (e) {
    throw new AftershockError("E_BAD_INPUT", `cannot read kubeconfig ${kubeconfigPath}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (context) {
    if (!config.getContexts().some((c) => c.name === context)) {
      throw new AftershockError("E_BAD_INPUT", `kubeconfig ${kubeconfigPath} has no context "${context}"`, {
        hint: `contexts: ${
          config
            .getContexts()
            .map((c) => c.name)
            .join(", ") || "none"
        }`,
      });
    }
    config.setCurrentContext(context);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new AftershockError("E_BAD_INPUT", `kubeconfig ${kubeconfigPath} names no current cluster`);
  const make = <T>(Api: new (c: ReturnType<typeof createConfiguration>) => T): T =>
    new Api(
      createConfiguration({
        baseServer: new ServerConfiguration(cluster.server, {}),
        authMethods: { default: config },
        promiseMiddleware: [deadline(requestTimeoutMs)],
      }),
    );
  return {
    config,
    server: cluster.server,
    core: make(CoreV1Api),
    apps: make(AppsV1Api),
    networking: make(NetworkingV1Api),
    events: make(EventsV1Api),
    flowcontrol: make(FlowcontrolApiserverV1Api),
    coordination: make(CoordinationV1Api),
    objects: make(KubernetesObjectApi),
    raw: (path, timeout) => rawGet(config, new URL(path, cluster.server), timeout === undefined ? requestTimeoutMs : parseDuration(timeout)),
    follow: (path, onLine, answerWithin) =>
      followLines(config, new URL(path, cluster.server), onLine, answerWithin === undefined ? requestTimeoutMs : parseDuration(answerWithin)),
  };
}

async function rawGet(config: KubeConfig, url: URL, budgetMs: number): Promise<string> {
  const opts: RequestOptions = { method: "GET", headers: { Accept: "text/plain, */*" } };
  await config.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...opts, signal: AbortSignal.timeout(budgetMs) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) resolve(body);
        else reject(Object.assign(new Error(`GET ${url.pathname}: HTTP ${res.statusCode}`), { code: res.statusCode, body }));
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * The response is read here, errors included: client-node's Log.log pipes a stream it does not expose, and its
 * 'error' on abort has no listener, which ends the process when a follow is stopped.
 */
async function followLines(config: KubeConfig, url: URL, onLine: (line: string) => void, answerWithinMs: number): Promise<{ stop(): void }> {
  const opts: RequestOptions = { method: "GET", headers: { Accept: "text/plain, */*" } };
  await config.applyToHTTPSOptions(opts);
  const controller = new AbortController();
  const answered = AbortSignal.timeout(answerWithinMs);
  const stop = () => controller.abort();
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...opts, signal: controller.signal }, (res) => {
      answered.removeEventListener("abort", onSlow);
      res.on("error", () => undefined); // stop() aborts it: the end of a follow, not a failure
      if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          reject(
            Object.assign(new Error(`GET ${url.pathname}: HTTP ${res.statusCode}`), { code: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }),
          ),
        );
        return;
      }
      createInterface({ input: res, crlfDelay: Infinity })
        .on("line", onLine)
        .on("error", () => undefined);
      resolve({ stop });
    });
    const onSlow = () => {
      stop();
      reject(new Error(`GET ${url.pathname}: no answer within ${answerWithinMs}ms`));
    };
    answered.addEventListener("abort", onSlow, { once: true });
    req.on("error", (e) => {
      answered.removeEventListener("abort", onSlow);
      if (!controller.signal.aborted) reject(e);
    });
    req.end();
  });
}

/** The HTTP status of a failed API call (404, 409, …), or undefined if it did not get that far. */
export function apiStatus(e: unknown): number | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "number" ? code : undefined;
}

/** One line for a failed API call: the status and the API's own message, not the whole response. */
export function apiErrorLine(e: unknown): string {
  const code = apiStatus(e);
  const body = (e as { body?: unknown })?.body;
  let message: string | undefined;
  if (typeof body === "string") {
    try {
      message = (JSON.parse(body) as { message?: string }).message;
    } catch {
      message = body.slice(0, 200);
    }
  } else if (body && typeof body === "object") message = (body as { message?: string }).message;
  if (code !== undefined) return `API ${code}${message ? `: ${message}` : ""}`;
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === "TimeoutError" || err?.name === "AbortError") return "API request timed out";
  const cause = err?.cause?.code ?? err?.cause?.message;
  return `${(err?.message ?? String(e)).split("\n")[0]!.slice(0, 300)}${cause ? ` (${cause})` : ""}`;
}
