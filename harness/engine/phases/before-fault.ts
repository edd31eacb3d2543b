import { AftershockError, formatDuration } from "../../../clusters/errors.js";
import { restrictTo } from "../../../clusters/contract.js";
import { withNodeContract } from "../../../clusters/kind/node-contract.js";
import { describeLoadTarget } from "../../load/streams.js";
import { observeWithin } from "../../model/probe.js";
import { SENTINEL_NAMESPACE } from "../../model/scenario.js";
import { createRunNamespace, deleteRunNamespace } from "../run-namespace.js";
import { record, runNamespace, type OnCluster, type Phase, type SetUp, type Steady } from "../run.js";

/** The phases before the fault: a cluster, the scenario's setup on it, and two checks that it is healthy. */

/** 1. Cluster. Gives: the cluster, and the context the scenario sees (only the capabilities it declared). */
export const cluster: Phase<void, OnCluster> = async (run) => {
  const { scenario, opts, journal } = run;
  const created = await run.phase("cluster", undefined, async () => {
    const c = await opts.clusters.create({
      ...scenario.cluster,
      kubernetesVersion: opts.kubernetesVersion,
      runId: run.runId,
      keep: !!opts.keep,
      ...(opts.image ? { image: opts.image } : {}),
    });
    return c;
  });
  // Every command its nodes run from now on (the guard's, the scenario's, the rollback's), with where it ran.
  created.nodeCommands?.listen(run.nodeCommand);
  run.memory = created.sampleMemory?.();
  if (!opts.keep) run.teardown.push(created.shared ? `give back cluster ${created.name}` : `delete cluster ${created.name}`, "", () => created.delete());
  // The cluster's lock is released even when the cluster is kept: a kept run holds nothing for later ones.
  else if (created.guard) run.teardown.push("release the cluster's lock", "", () => created.guard!.release());
  journal.cluster = {
    name: created.name,
    kubernetesVersion: created.kubernetesVersion,
    nodes: created.shell?.nodes.map((n) => n.name) ?? [],
    createMs: created.timings.totalMs,
    ...(created.shared ? { shared: created.shared } : {}),
  };
  journal.timings.clusterCreateMs = journal.phases[0]!.endedAt - journal.phases[0]!.startedAt;
  // The scenario sees the capabilities it declared, and nothing more; on its nodes, only the commands an upstream kind
  // node image of the cluster's version offers (E_NODE_CONTRACT before anything else runs: clusters/kind/node-contract.ts).
  const ctx = run.context(
    withNodeContract(restrictTo(created, scenario.needs)),
    opts.namespace && scenario.scope === "namespace" ? opts.namespace : runNamespace(scenario, run.runId, !!created.shared),
  );
  return { cluster: created, ctx };
};

/**
 * 1b. Preflight, on a cluster this tool did not create whose machines it reaches (its guard): etcd healthy with quorum
 * to spare for the fault, nodes Ready, and the cluster's lock taken, before anything is written. A failure aborts the run
 * with its one-line reason; nothing was created, and the lock (if taken) goes with the cluster's teardown.
 */
export const preflight: Phase<OnCluster, OnCluster> = async (run, given) => {
  const guard = given.cluster.guard;
  if (!guard) return given;
  try {
    await run.phase("preflight", undefined, async (p) => {
      await run.step(
        p,
        "etcd healthy with quorum to spare, every node Ready, the cluster's lock",
        "crictl exec <etcd container> etcdctl endpoint health --cluster   # on a control-plane node, over ssh\nkubectl get nodes\nkubectl -n kube-system get lease aftershock-lock",
        () => guard.preflight({ etcdMembersLost: run.scenario.fault.etcdMembersLost ?? 0 }),
        (out) => run.evidence("preflight", out),
      );
    });
  } catch (e) {
    if (e instanceof AftershockError && e.code === "E_PREFLIGHT") return { outcome: "aborted", reason: `preflight: ${e.message}` };
    throw e;
  }
  return given;
};

/** 2. Setup: the run's namespace and workload images, then sentinels, then the load. Gives: the sentinels' probes. */
export const setup: Phase<OnCluster, SetUp> = async (run, given) => {
  const { scenario, opts, load, reporter, journal } = run;
  const { cluster: created, ctx } = given;
  await run.phase("setup", undefined, async (p) => {
    // A cluster-scoped run on a shared cluster also writes into namespaces of its own (its workloads', its
    // sentinels'), deleted at its end, so that the next run on that cluster starts from what it would find on
    // a new one. On a cluster of its own it keeps "default", as the incident had it.
    const namespaces = ctx.namespace !== "default" ? [ctx.namespace] : [];
    if (scenario.scope === "cluster" && created.shared) namespaces.push(SENTINEL_NAMESPACE);
    for (const ns of namespaces) {
      await run.step(p, `create namespace ${ns}`, `kubectl create namespace ${ns}`, async () => {
        await createRunNamespace(created.api, ns, run.runId, opts.namespace ? "undisclosed" : scenario.id);
        if (!opts.keep) {
          // On a shared or existing cluster this is the whole cleanup; it must not be skipped.
          run.teardown.push(`delete namespace ${ns}`, `kubectl delete namespace ${ns} --wait`, () =>
            deleteRunNamespace(created.api, ns, run.runId, undefined, { clock: run.clock }),
          );
        }
      });
    }
    if (scenario.images.length) {
      const loader = created.images;
      if (!loader) throw new AftershockError("E_CAPABILITY", `cluster ${created.name} cannot load images`);
      await run.step(p, `load workload images`, `kind load docker-image ${scenario.images.join(" ")}   # or a push to the cluster's registry`, async () => {
        await loader.loadImages(scenario.images);
        return scenario.images.map((r) => (loader.refFor ? `${r} → ${loader.refFor(r)}` : r)).join("\n");
      });
    }
    for (const s of scenario.setup) await run.step(p, s.title, undefined, () => s.write(ctx).then(() => undefined));
    if (load) {
      for (const spec of scenario.load) {
        const stream = load.add(spec);
        await run.step(
          p,
          `start load ${spec.name}`,
          `${spec.k6 ? `k6 run ${spec.k6} (vegeta when k6 is not on PATH)` : "vegeta attack"} -rate=${spec.rate}/s   # against ${describeLoadTarget(spec)}`,
          () => stream.start(ctx),
        );
      }
      run.loadTicker = setInterval(() => {
        for (const s of load.streams.values()) {
          const to = Math.floor(load.settled(s) / 1000) * 1000;
          reporter.onLoad?.(s.spec.name, s.series.summary(to - 10_000, to), journal);
        }
      }, 10_000);
    }
  });
  return { ...given, sentinelProbes: scenario.setup.flatMap((s) => s.probes()) };
};

/** 3. Steady state: all must hold now (with a short grace), or the scenario is aborted, not failed. */
export const steadyState: Phase<SetUp, Steady> = async (run, given) => {
  const { scenario } = run;
  const { ctx, sentinelProbes } = given;
  const steadySince = run.clock.now();
  try {
    await run.phase("steady-state", scenario.steadyStateBudgetMs, async (p) => {
      for (const probe of [...scenario.steadyState, ...sentinelProbes]) {
        const o = await observeWithin(probe, ctx, scenario.steadyStateBudgetMs);
        p.probes.push(record(probe, o));
        if (!o.ok) throw new AftershockError("E_CLUSTER", `steady state not met before the fault: ${probe.name}: ${o.observed}`);
      }
    });
  } catch (e) {
    return { outcome: "aborted", reason: (e as Error).message };
  }
  return { ...given, steadySince };
};

/**
 * 4. Self-check: every symptom must be absent from the healthy cluster, asked exactly as it will be asked
 * after the fault (log and journal probes over lines since the steady-state check began).
 */
export const symptomsAbsent: Phase<Steady, SetUp> = async (run, given) => {
  const { scenario } = run;
  const { ctx } = given;
  run.countLogsFrom(given.steadySince);
  const present = await run.selfCheck(
    "symptoms-absent",
    ctx,
    scenario.symptoms.expect,
    (held) => held.length === 0,
    (held) =>
      `symptom probes already hold before the fault, so they cannot prove it happened: ${held.map((r) => `${r.name} (${r.observed})`).join("; ")}` +
      (scenario.symptomsAbsentBudgetMs ? ` (still after ${formatDuration(scenario.symptomsAbsentBudgetMs)} of asking again)` : ""),
    scenario.symptomsAbsentBudgetMs,
  );
  return present ? { outcome: "inconclusive", reason: present } : given;
};
