import { parseDuration, type Duration } from "../errors.js";
import { kubernetesRelease } from "../versions.js";

/**
 * The conformance specs `--conformance` runs after a recovery: a fast subset of Kubernetes' own [Conformance]
 * suite that needs no container image a node does not already have.
 *
 * How the list was chosen (2026-12-07, reading k8s.io/kubernetes v1.37.2 from the module proxy):
 *  - from test/conformance/testdata/conformance.yaml (462 specs at v1.37.2), the specs in test/e2e/apimachinery,
 *    auth, instrumentation, common/node, network, storage and scheduling whose code (the spec, its BeforeEach and
 *    the helpers it calls) creates no pod, or only pods of registry.k8s.io/pause: nothing here can pull
 *    registry.k8s.io/e2e-test-images (agnhost, busybox, nginx, httpd…), and the pause image is the sandbox image
 *    kubeadm names, preloaded on every node (Aftershock's node image and kind's), at the very tag e2e asks for on
 *    every line here (3.9 on 1.27–1.30, 3.10.1 on 1.35, 3.10.2 on 1.36–1.38);
 *  - left out although image-free: specs that need kubectl on the host (CustomResourcePublishOpenAPI), deploy a
 *    webhook or a sample API server (agnhost), wait for etcd's compaction ([Slow] chunking), watch CRs for a minute
 *    (CustomResourceDefinition Watch), set up the scheduler's preemption fixtures (PriorityClass endpoints), or
 *    need two untainted nodes ([sig-architecture] Conformance Tests, which a 1+1 cluster fails by design); and,
 *    for time, image-free specs that repeat one kept here (quota of services, ConfigMaps and ReplicaSets, the
 *    watch that waits 20 s for silence, a second field-validation and aggregated-discovery CR case);
 *  - kept: what a recovery can break and only the cluster's own behaviour shows: the API and etcd (discovery,
 *    paged lists, watches from a resource version), CRDs and field validation with server-side apply, the
 *    controller manager (quota, namespace deletion, the EndpointSlice and root-CA controllers), service account
 *    tokens (signed and reviewed with the keys a rebuilt control plane must still hold), and one pod each way
 *    through the scheduler and a kubelet.
 * The names are the specs' full texts, checked against conformance.yaml of v1.27.16, v1.28.15, v1.29.15, v1.30.14,
 * v1.35.4, v1.36.3, v1.37.2 and v1.38.0-beta.0: `also` lists a spec's other spellings on other lines (its tags
 * moved: "Namespaces [Serial] should …" up to 1.36, "… [Conformance] [Serial]" from 1.37), `since` the first
 * minor where it is a conformance spec at all.
 *
 * Time, estimated and not measured (nothing runs on a cluster here): `estimateS` is a spec's own wait (quota
 * controller resyncs, watches that must stay quiet for 10 s, 400 pod templates at the e2e client's 20 requests/s),
 * 2 s where unset, plus PER_SPEC_OVERHEAD_S for the framework's namespace and its default service account, plus
 * SUITE_OVERHEAD_S (the binary loading its ~7000 specs, nodes and kube-system checked): 6.8 minutes for the 57
 * specs of 1.35–1.38 on a 1+1 cluster (5.3 for the 44 of 1.27), padded for a busy 2-core machine: an API-only spec
 * usually takes about a second. --ginkgo.timeout allows 10 minutes.
 */
export interface CuratedSpec {
  /** The spec's full text on the current line (v1.37.2). */
  name: string;
  /** Its full text on other lines where it differs. */
  also?: string[];
  /** First minor where it is a conformance spec (absent: every line here, 1.27 on). */
  since?: number;
  /** Its own waits in seconds, estimated from its code (absent: 2). */
  estimateS?: number;
  /** Where it is, under test/e2e/. */
  file: string;
}

export const CONFORMANCE_SPECS: readonly CuratedSpec[] = [
  // API discovery, versions and the aggregated discovery document (the API server's own view of itself)
  { name: "[sig-api-machinery] server version should find the server version [Conformance]", file: "apimachinery/server_version.go" },
  { name: "[sig-api-machinery] Discovery should validate PreferredVersion for each APIGroup [Conformance]", file: "apimachinery/discovery.go" },
  {
    name: "[sig-api-machinery] Discovery should locate the groupVersion and a resource within each APIGroup [Conformance]",
    since: 28,
    estimateS: 4,
    file: "apimachinery/discovery.go",
  },
  {
    name: "[sig-api-machinery] AggregatedDiscovery should support raw aggregated discovery endpoint Accept headers [Conformance]",
    since: 30,
    file: "apimachinery/aggregated_discovery.go",
  },
  {
    name: "[sig-api-machinery] AggregatedDiscovery should support aggregated discovery interface [Conformance]",
    since: 30,
    file: "apimachinery/aggregated_discovery.go",
  },
  {
    name: "[sig-api-machinery] AggregatedDiscovery should support aggregated discovery interface for CRDs [Conformance]",
    since: 30,
    estimateS: 6,
    file: "apimachinery/aggregated_discovery.go",
  },
  {
    name: "[sig-api-machinery] Servers with support for Table transformation should return a 406 for a backend which does not implement metadata [Conformance]",
    file: "apimachinery/table_conversion.go",
  },
  // etcd through the API: paged lists, watches from a resource version, watches in order
  {
    name: "[sig-api-machinery] Servers with support for API chunking should return chunks of results for list calls [Conformance]",
    since: 29,
    estimateS: 25,
    file: "apimachinery/chunking.go",
  },
  { name: "[sig-api-machinery] Watchers should be able to start watching from a specific resource version [Conformance]", file: "apimachinery/watch.go" },
  {
    name: "[sig-api-machinery] Watchers should be able to restart watching from the last resource version observed by the previous watch [Conformance]",
    file: "apimachinery/watch.go",
  },
  {
    name: "[sig-api-machinery] Watchers should observe an object deletion if it stops meeting the requirements of the selector [Conformance]",
    estimateS: 12,
    file: "apimachinery/watch.go",
  },
  { name: "[sig-api-machinery] Watchers should receive events on concurrent watches in same order [Conformance]", estimateS: 8, file: "apimachinery/watch.go" },
  // CustomResourceDefinitions: create, list, status, discovery, defaulting from storage; field validation and server-side apply of typed objects and CRs
  {
    name: "[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin] Simple CustomResourceDefinition creating/deleting custom resource definition objects works [Conformance]",
    also: [
      "[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin] Simple CustomResourceDefinition creating/deleting custom resource definition objects works  [Conformance]",
    ],
    estimateS: 5,
    file: "apimachinery/custom_resource_definition.go",
  },
  {
    name: "[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin] Simple CustomResourceDefinition listing custom resource definition objects works [Conformance]",
    also: [
      "[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin] Simple CustomResourceDefinition listing custom resource definition objects works  [Conformance]",
    ],
    estimateS: 5,
    file: "apimachinery/custom_resource_definition.go",
  },
  {
    name: "[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin] Simple CustomResourceDefinition getting/updating/patching custom resource definition status sub-resource works [Conformance]",
    also: [
      "[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin] Simple CustomResourceDefinition getting/updating/patching custom resource definition status sub-resource works  [Conformance]",
    ],
    estimateS: 5,
    file: "apimachinery/custom_resource_definition.go",
  },
  {
    name: "[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin] should include custom resource definition resources in discovery documents [Conformance]",
    estimateS: 5,
    file: "apimachinery/custom_resource_definition.go",
  },
  {
    name: "[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin] custom resource defaulting for requests and from storage works [Conformance]",
    also: [
      "[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin] custom resource defaulting for requests and from storage works  [Conformance]",
    ],
    estimateS: 8,
    file: "apimachinery/custom_resource_definition.go",
  },
  {
    name: "[sig-api-machinery] FieldValidation should detect unknown and duplicate fields of a typed object [Conformance]",
    file: "apimachinery/field_validation.go",
  },
  {
    name: "[sig-api-machinery] FieldValidation should detect unknown metadata fields of a typed object [Conformance]",
    file: "apimachinery/field_validation.go",
  },
  {
    name: "[sig-api-machinery] FieldValidation should create/apply a valid CR for CRD with validation schema [Conformance]",
    estimateS: 5,
    file: "apimachinery/field_validation.go",
  },
  // The controller manager: quota counted (resourcequota controller), namespaces finalized and emptied (namespace controller, garbage collector)
  {
    name: "[sig-api-machinery] ResourceQuota should create a ResourceQuota and ensure its status is promptly calculated. [Conformance]",
    estimateS: 8,
    file: "apimachinery/resource_quota.go",
  },
  {
    name: "[sig-api-machinery] ResourceQuota should create a ResourceQuota and capture the life of a secret. [Conformance]",
    estimateS: 12,
    file: "apimachinery/resource_quota.go",
  },
  {
    name: "[sig-api-machinery] ResourceQuota should create a ResourceQuota and capture the life of a replication controller. [Conformance]",
    estimateS: 12,
    file: "apimachinery/resource_quota.go",
  },
  { name: "[sig-api-machinery] ResourceQuota should be able to update and delete ResourceQuota. [Conformance]", file: "apimachinery/resource_quota.go" },
  { name: "[sig-api-machinery] ResourceQuota should manage the lifecycle of a ResourceQuota [Conformance]", file: "apimachinery/resource_quota.go" },
  {
    name: "[sig-api-machinery] ResourceQuota should apply changes to a resourcequota status [Conformance]",
    estimateS: 5,
    file: "apimachinery/resource_quota.go",
  },
  {
    name: "[sig-api-machinery] Namespaces should patch a Namespace [Conformance] [Serial]",
    also: ["[sig-api-machinery] Namespaces [Serial] should patch a Namespace [Conformance]"],
    file: "apimachinery/namespace.go",
  },
  {
    name: "[sig-api-machinery] Namespaces should apply changes to a namespace status [Conformance] [Serial]",
    also: ["[sig-api-machinery] Namespaces [Serial] should apply changes to a namespace status [Conformance]"],
    file: "apimachinery/namespace.go",
  },
  {
    name: "[sig-api-machinery] Namespaces should apply an update to a Namespace [Conformance] [Serial]",
    also: ["[sig-api-machinery] Namespaces [Serial] should apply an update to a Namespace [Conformance]"],
    file: "apimachinery/namespace.go",
  },
  {
    name: "[sig-api-machinery] Namespaces should apply a finalizer to a Namespace [Conformance] [Serial]",
    also: ["[sig-api-machinery] Namespaces [Serial] should apply a finalizer to a Namespace [Conformance]"],
    file: "apimachinery/namespace.go",
  },
  {
    name: "[sig-api-machinery] Namespaces should ensure that all services are removed when a namespace is deleted [Conformance] [Serial]",
    also: ["[sig-api-machinery] Namespaces [Serial] should ensure that all services are removed when a namespace is deleted [Conformance]"],
    estimateS: 15,
    file: "apimachinery/namespace.go",
  },
  {
    name: "[sig-api-machinery] Namespaces should ensure that all pods are removed when a namespace is deleted [Conformance] [Serial]",
    also: ["[sig-api-machinery] Namespaces [Serial] should ensure that all pods are removed when a namespace is deleted [Conformance]"],
    estimateS: 25,
    file: "apimachinery/namespace.go",
  },
  // Admission and flow control objects
  {
    name: "[sig-api-machinery] API priority and fairness should support FlowSchema API operations [Conformance]",
    since: 29,
    file: "apimachinery/flowcontrol.go",
  },
  {
    name: "[sig-api-machinery] API priority and fairness should support PriorityLevelConfiguration API operations [Conformance]",
    since: 29,
    file: "apimachinery/flowcontrol.go",
  },
  {
    name: "[sig-api-machinery] ValidatingAdmissionPolicy [Privileged:ClusterAdmin] should support ValidatingAdmissionPolicy API operations [Conformance]",
    since: 30,
    file: "apimachinery/validatingadmissionpolicy.go",
  },
  {
    name: "[sig-api-machinery] ValidatingAdmissionPolicy [Privileged:ClusterAdmin] should support ValidatingAdmissionPolicyBinding API operations [Conformance]",
    since: 30,
    file: "apimachinery/validatingadmissionpolicy.go",
  },
  // Service accounts and their tokens (the signing keys a rebuilt control plane must still have), reviews, certificates
  { name: "[sig-auth] ServiceAccounts should run through the lifecycle of a ServiceAccount [Conformance]", file: "auth/service_accounts.go" },
  { name: "[sig-auth] ServiceAccounts should guarantee kube-root-ca.crt exist in any namespace [Conformance]", file: "auth/service_accounts.go" },
  { name: "[sig-auth] ServiceAccounts should update a ServiceAccount [Conformance]", file: "auth/service_accounts.go" },
  {
    name: "[sig-auth] ServiceAccounts should create a serviceAccountToken and ensure a successful TokenReview [Conformance]",
    since: 35,
    file: "auth/service_accounts.go",
  },
  { name: "[sig-auth] SubjectReview should support SubjectReview API operations [Conformance]", file: "auth/subjectreviews.go" },
  { name: "[sig-auth] Certificates API [Privileged:ClusterAdmin] should support CSR API operations [Conformance]", file: "auth/certificates.go" },
  // Core objects through the API: events, leases, ConfigMaps, Secrets, pod templates, runtime classes, services, volumes
  { name: "[sig-instrumentation] Events should manage the lifecycle of an event [Conformance]", file: "instrumentation/core_events.go" },
  {
    name: "[sig-instrumentation] Events API should ensure that an event can be fetched, patched, deleted, and listed [Conformance]",
    file: "instrumentation/events.go",
  },
  { name: "[sig-node] Lease lease API should be available [Conformance]", file: "common/node/lease.go" },
  { name: "[sig-node] ConfigMap should run through a ConfigMap lifecycle [Conformance]", file: "common/node/configmap.go" },
  {
    name: "[sig-node] ConfigMap should update ConfigMap successfully [Conformance] [NodeConformance]",
    also: ["[sig-node] ConfigMap should update ConfigMap successfully [NodeConformance] [Conformance]"],
    since: 35,
    file: "common/node/configmap.go",
  },
  { name: "[sig-node] Secrets should patch a secret [Conformance]", file: "common/node/secrets.go" },
  { name: "[sig-node] PodTemplates should run the lifecycle of PodTemplates [Conformance]", file: "common/node/podtemplates.go" },
  {
    name: "[sig-node] RuntimeClass should support RuntimeClasses API operations [Conformance]",
    also: ["[sig-node] RuntimeClass  should support RuntimeClasses API operations [Conformance]"],
    file: "common/node/runtimeclass.go",
  },
  {
    name: "[sig-node] RuntimeClass should reject a Pod requesting a non-existent RuntimeClass [Conformance] [NodeConformance]",
    also: ["[sig-node] RuntimeClass should reject a Pod requesting a non-existent RuntimeClass [NodeConformance] [Conformance]"],
    file: "common/node/runtimeclass.go",
  },
  { name: "[sig-network] Services should find a service from listing all namespaces [Conformance]", file: "network/service.go" },
  {
    name: "[sig-storage] PersistentVolumes CSI Conformance should run through the lifecycle of a PV and a PVC [Conformance]",
    since: 29,
    estimateS: 5,
    file: "storage/persistent_volumes.go",
  },
  // The API server's own endpoints and the EndpointSlice controller
  {
    name: "[sig-network] API Server should have Endpoints and EndpointSlices pointing to API Server [Conformance]",
    also: ["[sig-network] EndpointSlice should have Endpoints and EndpointSlices pointing to API Server [Conformance]"],
    file: "network/apiserver.go",
  },
  {
    name: "[sig-network] EndpointSlice should create and delete EndpointSlices for a Service with a selector that matches no pods [Conformance]",
    since: 35,
    estimateS: 6,
    file: "network/endpointslice.go",
  },
  // A pod scheduled and run on a node: only registry.k8s.io/pause, preloaded on every node (the sandbox image kubeadm names; e2e's pause tag is the same on every line here)
  {
    name: "[sig-node] Pods should get a host IP [Conformance] [NodeConformance]",
    also: ["[sig-node] Pods should get a host IP [NodeConformance] [Conformance]"],
    estimateS: 8,
    file: "common/node/pods.go",
  },
  {
    name: "[sig-node] Pods should be submitted and removed [Conformance] [NodeConformance]",
    also: ["[sig-node] Pods should be submitted and removed [NodeConformance] [Conformance]"],
    estimateS: 15,
    file: "common/node/pods.go",
  },
];

/** Per spec: the framework's namespace, its default service account, the namespace's deletion started. */
export const PER_SPEC_OVERHEAD_S = 2;
/** The binary loading and filtering its specs, nodes schedulable and kube-system ready checked, the report written. */
export const SUITE_OVERHEAD_S = 20;
/** --ginkgo.timeout: the suite is interrupted (its running spec reported as such) after this. */
export const CONFORMANCE_TIMEOUT_MS = 10 * 60_000;
/** Specs that never run here even if a name matched: disruptive, flaky, slow, or behind a feature flag. */
export const CONFORMANCE_SKIP = String.raw`\[Disruptive\]|\[Flaky\]|\[Slow\]|\[Feature:[^\]]+\]`;

/** The curated specs that are conformance specs on a version's line. */
export function conformanceSpecsFor(version: string): CuratedSpec[] {
  const { minor } = kubernetesRelease(version);
  return CONFORMANCE_SPECS.filter((s) => (s.since ?? 0) <= minor);
}

/** Every spelling of a spec, its current name first. */
export const specNames = (s: CuratedSpec): string[] => [s.name, ...(s.also ?? [])];

/** A name as a literal in Go's regexp syntax (RE2): every punctuation character that means something escaped. */
export function goRegexpLiteral(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

/**
 * --ginkgo.focus for these specs: every spelling of every name as a literal, one alternation. Ginkgo matches it
 * against "Kubernetes e2e suite " + the spec's full text, so a name that is in this binary selects its spec and
 * a spelling of another line matches nothing.
 */
export function conformanceFocus(specs: readonly CuratedSpec[]): string {
  return specs.flatMap(specNames).map(goRegexpLiteral).join("|");
}

/** The estimated time of a run of these specs (see the header), ms. */
export function conformanceEstimateMs(specs: readonly CuratedSpec[]): number {
  return (SUITE_OVERHEAD_S + specs.reduce((a, s) => a + (s.estimateS ?? 2) + PER_SPEC_OVERHEAD_S, 0)) * 1000;
}

/**
 * The command line of e2e.test for a run: the cluster's kubeconfig (and context), the skeleton provider (no
 * cloud), the focus and skip, ginkgo's own timeout and its JUnit report. The suite's wait for nodes and
 * kube-system is cut from 30 and 10 minutes to 2, so that a cluster that is not whole fails within the budget
 * with the reason instead of being interrupted. Every flag here exists from 1.27 (ginkgo v2.9.1) to 1.38.
 */
export function e2eTestArgs(o: { kubeconfig: string; context?: string; focus: string; junit: string; outputDir: string; timeout?: Duration }): string[] {
  return [
    `--kubeconfig=${o.kubeconfig}`,
    ...(o.context ? [`--context=${o.context}`] : []),
    "--provider=skeleton",
    `--ginkgo.focus=${o.focus}`,
    `--ginkgo.skip=${CONFORMANCE_SKIP}`,
    `--ginkgo.timeout=${Math.round((o.timeout === undefined ? CONFORMANCE_TIMEOUT_MS : parseDuration(o.timeout)) / 1000)}s`,
    `--ginkgo.junit-report=${o.junit}`,
    "--ginkgo.no-color",
    "--ginkgo.v",
    "--node-schedulable-timeout=2m",
    "--system-pods-startup-timeout=2m",
    `--e2e-output-dir=${o.outputDir}`,
  ];
}
