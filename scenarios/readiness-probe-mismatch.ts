import {
  kubectl,
  apply,
  atRun,
  defineScenario,
  deployment,
  endpointsEmpty,
  endpointsReady,
  readinessOnWrongPort,
  readinessProbeFailing,
  releasedDeployment,
  releaseNeverReady,
  releaseRolledOut,
  service,
  serviceLoad,
  step,
  usersSeeErrors,
  waitRolledOut,
  WORKLOAD_IMAGES,
} from "../harness/kit/index.js";

/**
 * A release moves the readiness probe to a port the application does not listen on. The pods run, but never
 * become Ready; a rolling update that may take every replica down at once (maxUnavailable 2, maxSurge 0)
 * replaces the Ready pods with them, and the Service is left with no endpoints. The runbook goes bottom-up,
 * the learnk8s way: pods (Running, 0/1 Ready), describe (Readiness probe failed: connection refused),
 * endpoints (empty), then rolls the release back. With --workload the same release is made of the team's own
 * Deployment, rolled out with the strategy it ships: whether its users notice is its verdict.
 */

const APP = WORKLOAD_IMAGES.app; // serves /healthz and / on :8080, nothing else
const PORT = 8080;

/**
 * The demo app api: its Deployment, 2 replicas, whose rolling update may replace both pods at once. Its Service, its
 * users' load and the release's probes take the handle.
 */
const api = deployment(
  "api",
  {
    image: APP,
    imagePullPolicy: "IfNotPresent",
    ports: [{ containerPort: PORT }],
    readinessProbe: { httpGet: { path: "/healthz", port: PORT as never }, periodSeconds: 2, failureThreshold: 3 },
  },
  { replicas: 2, strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 2 as never, maxSurge: 0 as never } } },
);
const apiService = service(api, 80, PORT);
const apiUsers = serviceLoad(api, { rate: 20 });

/** The lines of `kubectl describe pod` that carry the verdict: state, readiness, the probe, its events. */
const describeVerdict = (text: string) =>
  text
    .split("\n")
    .filter((l) => /^Name:|^\s*(State|Ready|Readiness|Restart Count):|^\s+(Warning|Normal)\s/.test(l))
    .join("\n");

/** The released Deployment (the demo's api, or the team's own with --workload), learned when a step runs: its pods' selector and its name. */
const releasedPods = atRun("<selector>", (ctx) => releasedDeployment(ctx).selector);
const releasedName = atRun("<deployment>", (ctx) => releasedDeployment(ctx).app);

/** The demo's own Service, empty once both pods are replaced: how a team's rollout strategy fares is its users' verdict instead. */
const demoEndpoints = (ready: boolean) => ({ ...(ready ? endpointsReady(apiService) : endpointsEmpty(apiService)), reads: apiUsers.name });

export default defineScenario({
  id: "readiness-probe-mismatch",
  title: "A release probes readiness on a port nothing listens on; the Service loses every endpoint",
  summary:
    "A failing readiness probe is one of the Pod-layer causes the learnk8s troubleshooting framework lists. " +
    "A release of api moves its readiness probe from :8080 to :9090, where nothing listens. Its pods start and " +
    "run, but never become Ready; the rolling update (maxUnavailable 2, maxSurge 0) removes both Ready pods " +
    "anyway, so the Service api has no endpoints and its users get errors. The runbook goes bottom-up: pods " +
    "(Running, 0/1 Ready), describe (Readiness probe failed: connection refused), endpoints (none), then " +
    "rolls the release back and waits for the rollout. It proves the Service has ready endpoints again. " +
    "With --workload the release is made of the team's own Deployment, with its own rollout strategy.",
  source: { incident: "003", section: "5. learnk8s troubleshooting framework (Pod layer: Readiness Probe failure; Service: empty Endpoints)" },
  tags: ["workload", "readiness", "load"],
  cluster: { controlPlanes: 1, workers: 1 },
  scope: "namespace",
  needs: ["image-loading", "load-generator"],
  images: [APP],

  setup: [
    {
      title: "api (2 replicas) released healthy behind Service api",
      deploys: api.app,
      async write(ctx) {
        await apply(ctx, api, apiService);
        ctx.evidence("setup", await waitRolledOut(ctx, api));
      },
      probes: () => [],
    },
  ],
  steadyState: [releaseRolledOut(api), demoEndpoints(true)],
  load: [apiUsers],
  // --workload: a team's Deployment (target.selector, or its Service's selector) gets the bad release instead.
  workloadSlot: { replaces: api, images: [APP] },

  fault: readinessOnWrongPort(api),

  symptoms: {
    within: "2m",
    expect: [
      // Only the release probes the new port, so a start-up failure of the healthy pods does not count.
      readinessProbeFailing(api),
      releaseNeverReady(api),
      demoEndpoints(false),
      usersSeeErrors(apiUsers),
    ],
  },

  runbook: [
    step("list the pods", kubectl.look`get pods -l ${releasedPods} -o wide   # the new ones Running, but 0/1 Ready`),
    step(
      "describe the pods that are not Ready",
      kubectl.look`describe pods -l ${releasedPods}   # Readiness probe failed: … connection refused`.keep(describeVerdict),
    ),
    step("check the Services' endpoints", kubectl.look`get endpoints`),
    step(
      "compare the probe with the port the container listens on",
      kubectl.look`get deployment ${releasedName} -o ${"jsonpath=readinessProbe={..readinessProbe} containerPort={..containerPort}"}`,
    ),
    step("roll back the release", kubectl`rollout undo deployment/${releasedName}`),
    step("wait for the rollout", "kubectl rollout status deployment/<deployment> --timeout=2m", (ctx) => waitRolledOut(ctx, releasedDeployment(ctx)), "3m"),
  ],
  decisiveStep: "roll back the release",

  verify: {
    within: "2m",
    expect: [releaseRolledOut(api), demoEndpoints(true)],
  },
});
