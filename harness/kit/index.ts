/**
 * The scenario author's entry: everything a file in scenarios/ imports, from one place.
 *
 *   import { defineScenario, step, nodesReady, apiserverReady, configMaps, type Fault } from "../harness/kit/index.js";
 *
 * A scenario imports this module and other scenarios, nothing else of the repository (test/unit/import-direction
 * checks it). The modules behind it, by what they hold:
 *   ../model/              the types a scenario is made of (defineScenario, Fault, Sentinel, ScenarioContext, Probe),
 *                          re-exported here; the engine runs them, and imports nothing of the kit
 *   ../../clusters/        the node abilities a scenario declares (nodeShell, nodeReboot, NodeHandle), re-exported here
 *   probes.ts              probes of nodes, the API server, etcd, containers and logs; waitFor, waitUntil
 *   steps.ts, step.ts      step(), and runbook steps shared by several scenarios
 *   faults.ts              faults shared by several scenarios
 *   commands.ts            a runbook step's command written once, shown and run: kubectl`…`, onControlPlane`…`, onEachNode(…)`…`, forEach(…)
 *   sentinels.ts           setup items whose data must survive the incident
 *   versions.ts            what differs between Kubernetes versions (versionOf)
 *   control-plane/         static pods and controllers, etcd's metrics, API Priority and Fairness
 *   nodes/                 a node lost, stopped or cut off, and its recovery; the nodes' cgroups (nodeCgroups)
 *   workloads/             Deployments, Services, kubectl in the run's namespace, a bad release, JVM memory, ingress, helm
 *   targets.ts             what a fault or probe is aimed at: a demo app, or a team's workload in its place
 *   load/                  users' traffic through the fault (serviceLoad, apiLoad) and the probes that read it
 * The machinery that runs a scenario is in harness/engine/ and is not for scenarios to import.
 *
 * Only the author's vocabulary: what a scenario uses, and the probes the README names. A helper's parts that only
 * its own tests read (parsers, constants) are imported by those tests from the module that holds them.
 */

export { defineScenario, type Fault, type Sentinel } from "../model/scenario.js";
export { handOff, type HandOff, type ScenarioContext } from "../model/context.js";
export { nodeReboot, nodeShell, type NodeHandle } from "../../clusters/contract.js";
export { versionOf } from "./versions.js";
export type { Duration } from "../../clusters/errors.js";
export {
  apiserverReady,
  apiserverRefuses,
  apiWritable,
  apiWriteFails,
  containerAbsent,
  containerLog,
  containerRunning,
  etcdHealthy,
  etcdMembersHealthy,
  etcdMemberUnreachable,
  etcdNoLeader,
  ETCDUTL,
  ETCDUTL_FETCH_SHOWN,
  etcdutlFunction,
  healthz,
  kubectlTimesOut,
  kubeletReports,
  kubeSystemDegraded,
  kubeSystemReady,
  negate,
  nodeNotReady,
  nodesNotReady,
  nodesReady,
  podReady,
  type Probe,
  runtimeAnswers,
  runtimeUnreachable,
  waitFor,
  waitUntil,
} from "./probes.js";
export { controlPlaneMachinesLost, lostNodes, zombieEtcdOnPort } from "./faults.js";
export {
  checkClusterInfo,
  deleteLostNodes,
  forceNewEtcdCluster,
  joinReplacementControlPlanes,
  newJoinCredentials,
  redactJoin,
  removeLostEtcdMembers,
  step,
} from "./steps.js";
export { atRun, forEach, helmCommand, inTurn, kubectl, onControlPlane, onEachNode, onNode, type AtRun, type Command, type OnNodeOptions } from "./commands.js";
/** Setup items whose data must survive the incident, as one namespace: sentinels.configMaps(20), sentinels.deployment("web", 2). */
export * as sentinels from "./sentinels.js";
export {
  apiAcceptsPods,
  deletedPodReplaced,
  findStoppedComponents,
  newDeploymentFilled,
  newPodScheduled,
  restoreStaticPods,
  staticPodsStopped,
} from "./control-plane/control-plane.js";
export { leaderChanges, walFsyncP99, walFsyncP99Above, walFsyncP99Below } from "./control-plane/etcd-metrics.js";
export {
  describeFlowControl,
  describeFlowSchemas,
  flowControlFingerprint,
  flowControlObjects,
  flowControlState,
  heldRequests,
  limitClient,
  priorityLevelBusy,
  priorityLevelRejects,
  removeClientLimit,
  topClients,
} from "./control-plane/flow-control.js";
export {
  diagnoseNotReadyNode,
  evictAfter,
  failedOver,
  kubeletStopped,
  LOST_NODE,
  lostNodeTainted,
  noStalePods,
  partitionedFromControlPlane,
  podsBoundToLostNode,
  waitNodeReady,
} from "./nodes/node-failure.js";
export { nodeCgroups } from "./nodes/cgroups.js";
export {
  allRolledOut,
  answersThroughService,
  appContainerPatch,
  apply,
  backOffGrows,
  containerExited,
  containerWaiting,
  controlPlanesTakePods,
  deployment,
  type Deployment,
  echoService,
  echoWorkload,
  endpointsEmpty,
  endpointsReady,
  eventSeen,
  filesInVolume,
  imageRef,
  kubectlIn,
  kubectlLook,
  kubectlPatch,
  podLogMatches,
  podsRunningNotReady,
  restartedAtLeast,
  rollBack,
  rolledOut,
  rolloutStuck,
  runsWithoutRestart,
  service,
  type Service,
  spreadOverNodes,
  statefulSet,
  statefulSetReady,
  waitRolledOut,
  WORKLOAD_IMAGES,
} from "./workloads/workloads.js";
export { describeSample, killedWithoutAWord, lastOomKill, mib, oomKilledWithHeapToSpare, residentUnderLimit } from "./workloads/jvm.js";
export { httpGet, ingress, INGRESS_CONTROLLER, ingressAnswers, ingressUrl, installIngressController } from "./workloads/ingress.js";
export { helm, helmRelease, helmRun, releaseIs, writeChart } from "./workloads/helm.js";
export { readinessOnWrongPort, readinessProbeFailing, releasedDeployment, releaseNeverReady, releaseRolledOut } from "./workloads/release.js";
export { app, type App } from "./targets.js";
export { apiLoad, keepsServing, serviceLoad, startLoad, stopLoad, usersSeeErrors, type LoadSpec } from "./load/load.js";
