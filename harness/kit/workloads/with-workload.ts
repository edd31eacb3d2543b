import path from "node:path";
import { loadAllYaml, type KubernetesObject, type V1Pod } from "@kubernetes/client-node";
import { AftershockError, formatDuration, type Duration } from "../../../clusters/errors.js";
import { pollUntil } from "../../../clusters/wait.js";
import { defaultCacheDir } from "../../../clusters/images/builder.js";
import { ensureHostTools } from "../../../clusters/images/host-tools.js";
import { ConsoleProgress } from "../../../clusters/progress.js";
import { helm } from "./helm.js";
import { serviceLoad, type LoadSpec } from "../load/load.js";
import { app } from "../targets.js";
import { podReady } from "../../model/health.js";
import type { Probe } from "../../model/probe.js";
import { defineScenario, refusesWorkload, type Scenario, type ScenarioDefinition, type Sentinel } from "../../model/scenario.js";
import type { ScenarioContext } from "../../model/context.js";
import { applyInNamespace, waitRolledOut } from "./workloads.js";
import { labelSelector, renderWorkload } from "./team-workload.js";
import { podsOf, WorkloadObserver, type WorkloadConfig } from "../../model/workload.js";

/**
 * A scenario with a team's workload (team-workload.ts) in place of its demo Service: the scenario changed to run it,
 * and the setup item and steady-state probe that deploy it and wait for it. Which scenarios take one is the model's
 * refusesWorkload (harness/model/scenario.ts).
 */

// ---- the scenario with the workload in place of its demo -------------------------------------------------

/**
 * The scenario with the team's workload in place of its demo Service: that Service's setup item and load
 * stream go, and with them the probes that read the demo's stream (what its users saw is the workload's verdict
 * now, not a signature of the incident); the workload is deployed last in setup, its readiness and its SLO
 * "before" join the steady state, its traffic runs through the fault.
 */
export function withWorkload(s: Scenario, w: WorkloadConfig): Scenario {
  const why = refusesWorkload(s);
  if (why) throw new AftershockError("E_BAD_INPUT", why, { hint: "pnpm scenario --list; scenarios that take one say so in --dry-run" });
  const demo = s.workloadSlot!.replaces.app;
  const def = s.definition;
  const readsDemo = (p: Probe) => p.reads === demo;
  const observer = new WorkloadObserver(w);
  // Its users come in where the demo's did (a node the fault leaves standing).
  const demoLoad = (def.load ?? []).find((l) => l.name === demo)?.target;
  const via = demoLoad?.kind === "service" ? demoLoad.via : undefined;
  // Only "before" joins the run (its steady state): during and after are the workload's verdict, not the runbook's.
  const stream: LoadSpec = {
    ...serviceLoad(app(w.users.service), {
      name: w.name,
      rate: w.users.rate,
      timeout: w.users.timeout,
      ...(w.users.path !== "/" ? { path: w.users.path } : {}),
      ...(via ? { via } : {}),
    }),
    ...(w.users.method !== "GET" ? { method: w.users.method } : {}),
    ...(w.users.body ? { body: w.users.body } : {}),
    ...(w.users.expectStatus ? { expectStatus: w.users.expectStatus } : {}),
    slo: { before: w.slo.before },
    // Not ready within readyWithin: its users are not waited for; the steady state then fails on its readiness.
    waitAnswered: () => !observer.notReady,
  };
  // Faults and probes aimed at the demo's pods (the node that runs them, their failover) aim at the workload's.
  const needsTarget = [def.fault, ...def.steadyState, ...def.symptoms.expect, ...(def.symptoms.stillWorks ?? []), ...def.verify.expect].some(
    (x) => x.aimsAt === demo,
  );
  if (needsTarget && !w.target)
    throw new AftershockError(
      "E_BAD_INPUT",
      `scenario ${s.id} aims its fault at pods: give target.selector in ${path.relative(process.cwd(), w.file)} (or let its check default it to users.service's selector)`,
    );
  const to = { name: w.name, selector: w.target ?? "" };
  const aim = <T extends { aimsAt?: string; retarget?: (t: typeof to) => T }>(x: T): T => (x.aimsAt === demo && x.retarget ? x.retarget(to) : x);
  const expect = def.symptoms.expect.filter((p) => !readsDemo(p)).map(aim);
  if (!expect.length) throw new AftershockError("E_BAD_INPUT", `scenario ${s.id} cannot take a workload: every symptom it proves reads its demo's users`);
  const demoImages = new Set(s.workloadSlot!.images ?? []);
  const changed: ScenarioDefinition = {
    ...def,
    ...(def.images ? { images: def.images.filter((i) => !demoImages.has(i)) } : {}),
    setup: [...def.setup.filter((x) => x.deploys !== demo), deployWorkload(w, observer)],
    load: [...(def.load ?? []).filter((l) => l.name !== demo), stream],
    steadyState: [...def.steadyState.filter((p) => !readsDemo(p)).map(aim), workloadReady(w, observer)],
    fault: aim(def.fault),
    symptoms: { ...def.symptoms, expect, ...(def.symptoms.stillWorks ? { stillWorks: def.symptoms.stillWorks.filter((p) => !readsDemo(p)).map(aim) } : {}) },
    verify: { ...def.verify, expect: def.verify.expect.filter((p) => !readsDemo(p)).map(aim) },
  };
  // The team's images are its own (in the local Docker), not the catalogue's: its deploy step loads them.
  return {
    ...defineScenario({ ...changed, ...(w.images.length ? { needs: [...new Set([...(def.needs ?? []), "image-loading" as const])] } : {}) }),
    variants: s.variants,
    ...(s.variantName ? { variantName: s.variantName } : {}),
    underTest: { config: w, observer },
  };
}

/** Setup: the workload applied into the run's namespace (server-side apply; a chart with helm install), then its rollouts. */
export function deployWorkload(w: WorkloadConfig, observer: WorkloadObserver): Sentinel {
  const how =
    w.deploy.kind === "helm"
      ? `helm install ${w.deploy.release} ${path.relative(process.cwd(), w.deploy.chart)}`
      : `kubectl apply ${w.deploy.kind === "kustomize" ? "-k" : "-f"} ${path.relative(process.cwd(), w.deploy.dir)}`;
  return {
    title: `workload ${w.name}: ${how}`,
    async write(ctx) {
      const t0 = Date.now();
      if (w.images.length) {
        const loader = ctx.cluster.images;
        if (!loader) throw new AftershockError("E_CAPABILITY", `workload ${w.name}: this cluster cannot load images`);
        await loader.loadImages(w.images);
        ctx.evidence("workload", `${w.name}: loaded ${w.images.map((r) => (loader.refFor ? `${r} → ${loader.refFor(r)}` : r)).join(", ")}`);
      }
      let objects: KubernetesObject[];
      if (w.deploy.kind === "helm") {
        await helm(ctx, "install", w.deploy.release, w.deploy.chart, ...w.deploy.values.flatMap((v) => ["-f", v]));
        objects = await renderWorkload(w, await helmBinaryOf());
      } else {
        objects =
          w.deploy.kind === "kustomize"
            ? (loadAllYaml((await ctx.cluster.kubectl(["kustomize", w.deploy.dir], { timeout: "1m" })).stdout) as KubernetesObject[]).filter(Boolean)
            : await renderWorkload(w);
        await applyInNamespace(ctx, ctx.namespace, ...objects);
      }
      const rollouts = objects.filter((o) => ["Deployment", "StatefulSet", "DaemonSet"].includes(o.kind ?? ""));
      observer.selectors = rollouts.map(matchLabels).filter((x) => x.length);
      const lines: string[] = [];
      for (const o of rollouts) {
        const left = Math.max(1000, w.readyWithinMs - (Date.now() - t0));
        // The team's YAML names its Deployments: its name is the handle's, and written nowhere else.
        const ready = o.kind === "Deployment" ? waitRolledOut(ctx, app(o.metadata!.name!), `${left}ms`) : waitPodsReady(ctx, o, `${left}ms`);
        const line = await ready.catch((e: unknown) => {
          // Not ready in time: the steady state is not met (the run is aborted there, and the workload deleted with it).
          observer.notReady = notReady(w, o, t0, e);
          return observer.notReady;
        });
        lines.push(line);
        if (observer.notReady) break;
      }
      ctx.evidence("workload", `${w.name}: ${objects.length} objects applied; ${lines.join("; ")}`);
      if (!observer.notReady) await observer.before(ctx);
    },
    probes: () => [],
  };
}

const notReady = (w: WorkloadConfig, o: KubernetesObject, t0: number, e: unknown): string =>
  `${o.kind}/${o.metadata?.name} not ready within readyWithin ${formatDuration(w.readyWithinMs)} (waited ${formatDuration(Date.now() - t0)}): ${(e as Error).message}`;

async function helmBinaryOf(): Promise<string> {
  return (await ensureHostTools(["helm"], defaultCacheDir(), new ConsoleProgress())).helm!;
}

/** A workload object's pod selector (its matchLabels) as a label selector. */
const matchLabels = (o: KubernetesObject): string =>
  labelSelector((o as { spec?: { selector?: { matchLabels?: Record<string, string> } } }).spec?.selector?.matchLabels ?? {});

async function waitPodsReady(ctx: ScenarioContext, o: KubernetesObject, budget: Duration): Promise<string> {
  const seen = await pollUntil(`${o.kind}/${o.metadata?.name}: every pod ready`, budget, "1s", async () => {
    const pods = await podsOf(ctx, [matchLabels(o)]);
    const ready = pods.filter(isReady);
    return { ok: pods.length > 0 && ready.length === pods.length, seen: `${ready.length}/${pods.length} pods ready` };
  });
  return `${o.kind}/${o.metadata?.name}: ${seen}`;
}

const isReady = (p: V1Pod) => p.status?.phase === "Running" && podReady(p);

/** Steady state: every pod of the workload in the run's namespace Running and Ready. */
export function workloadReady(w: WorkloadConfig, observer: WorkloadObserver): Probe {
  return {
    name: `workload ${w.name}: pods ready`,
    expectation: "every pod of the workload's Deployments, StatefulSets and DaemonSets Running and Ready",
    async check(ctx) {
      if (observer.notReady) return { ok: false, observed: observer.notReady, final: true };
      const pods = await podsOf(ctx, observer.selectors);
      const ready = pods.filter(isReady);
      return { ok: pods.length > 0 && ready.length === pods.length, observed: `${ready.length}/${pods.length} pods ready` };
    },
  };
}
