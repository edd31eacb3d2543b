/**
 * The scenario author's entry: everything a file in scenarios/ imports, from one place.
 *
 *   import { defineScenario, step, nodesReady, apiserverReady, configMaps, type Fault } from "../harness/kit/index.js";
 *
 * A scenario imports this module and other scenarios, nothing else of the repository (test/unit/import-direction
 * checks it). The modules behind it, by what they hold:
 *   ../model/              the types a scenario is made of (defineScenario, Fault, Sentinel, RunbookStep, ScenarioContext,
 *                          Probe, Outcome, …), re-exported here; the engine runs them, and imports nothing of the kit
 *   ../../clusters/        the node abilities a scenario declares (nodeShell, nodeLifecycle, …), re-exported here
 *   probes.ts              probes of nodes, the API server, etcd, containers and logs; waitFor, pollUntil
 *   steps.ts, step.ts      step(), and runbook steps shared by several scenarios
 *   faults.ts              faults shared by several scenarios
 *   commands.ts            a runbook step's command written once, shown and run: kubectl`…`, onControlPlane`…`
 *   sentinels.ts           setup items whose data must survive the incident
 *   versions.ts            what differs between Kubernetes versions (versionOf)
 *   control-plane/         static pods and controllers, etcd's metrics, API Priority and Fairness
 *   nodes/                 a node lost, stopped or cut off, and its recovery; the nodes' cgroups (nodeCgroups)
 *   workloads/             Deployments, Services, kubectl in the run's namespace, a bad release, JVM memory, ingress, helm
 *   targets.ts             what a fault or probe is aimed at: a demo app, or a team's workload in its place
 *   load/                  users' traffic through the fault (serviceLoad, apiLoad) and the probes that read it
 * The machinery that runs a scenario is in harness/engine/ and is not for scenarios to import.
 */

export {
  defineScenario,
  variantOf,
  type AlternativeRunbook,
  type Fault,
  type GameDayBrief,
  type Outcome,
  type ProbeSet,
  type RunbookStep,
  type Scenario,
  type ScenarioDefinition,
  type ScenarioVariant,
  type ScoreConfig,
  type Sentinel,
  type SymptomSet,
} from "../model/scenario.js";
export { handOff, type Evidence, type Found, type HandOff, type ScenarioContext } from "../model/context.js";
export {
  nodeLifecycle,
  nodeReboot,
  nodeShell,
  type Capability,
  type ClusterShape,
  type NodeHandle,
  type NodeLifecycle,
  type NodeReboot,
  type NodeShell,
} from "../../clusters/contract.js";
export { versionOf, type VersionProfile } from "./versions.js";
export type { Duration } from "../../clusters/errors.js";
export * from "./probes.js";
export * from "./faults.js";
export * from "./steps.js";
export { atRun, helmCommand, inTurn, kubectl, onControlPlane, onNode, type AtRun, type Command } from "./commands.js";
/** Setup items whose data must survive the incident, as one namespace: sentinels.configMaps(20), sentinels.deployment("web", 2). */
export * as sentinels from "./sentinels.js";
export * from "./control-plane/control-plane.js";
export * from "./control-plane/etcd-metrics.js";
export * from "./control-plane/flow-control.js";
export * from "./nodes/node-failure.js";
export * from "./nodes/cgroups.js";
export * from "./workloads/workloads.js";
export * from "./workloads/jvm.js";
export * from "./workloads/ingress.js";
export * from "./workloads/helm.js";
export * from "./workloads/release.js";
export { aimAt, aimed, app, type App, type PodTarget } from "./targets.js";
export {
  apiLoad,
  keepsServing,
  serviceLoad,
  sloHolds,
  startLoad,
  stopLoad,
  usersSeeErrors,
  type LoadEntry,
  type LoadSpec,
  type LoadTarget,
  type SloObjective,
} from "./load/load.js";
