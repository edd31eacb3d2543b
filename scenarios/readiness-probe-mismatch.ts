import {
  apply,
  defineScenario,
  deployment,
  endpointsEmpty,
  endpointsReady,
  eventSeen,
  kubectlLook,
  podsRunningNotReady,
  rollBack,
  rolledOut,
  rolloutStuck,
  service,
  step,
  waitRolledOut,
  WORKLOAD_IMAGES,
} from "../harness/kit/index.js";

/**
 * A release moves the readiness probe to a port the application does not listen on. The pods run, but never
 * become Ready; a rolling update that may take every replica down at once (maxUnavailable 2, maxSurge 0)
 * replaces the Ready pods with them, and the Service is left with no endpoints. The runbook goes bottom-up,
 * the learnk8s way: pods (Running, 0/1 Ready), describe (Readiness probe failed: connection refused),
 * endpoints (empty), then rolls the release back.
 */

const APP = WORKLOAD_IMAGES.app; // serves /healthz and / on :8080, nothing else
const GOOD_PORT = 8080;
const BAD_PORT = 9090; // nothing listens here: every readiness check is "connection refused"

/** The api Deployment, 2 replicas, whose rolling update may replace both pods at once. */
const api = (probePort: number) =>
  deployment(
    "api",
    {
      image: APP,
      imagePullPolicy: "IfNotPresent",
      ports: [{ containerPort: GOOD_PORT }],
      readinessProbe: { httpGet: { path: "/healthz", port: probePort as never }, periodSeconds: 2, failureThreshold: 3 },
    },
    { replicas: 2, strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 2 as never, maxSurge: 0 as never } } },
  );

const healthy = api(GOOD_PORT);
const broken = api(BAD_PORT);

/** The lines of `kubectl describe pod` that carry the verdict: state, readiness, the probe, its events. */
const describeVerdict = (text: string) =>
  text
    .split("\n")
    .filter((l) => /^Name:|^\s*(State|Ready|Readiness|Restart Count):|^\s+(Warning|Normal)\s/.test(l))
    .join("\n");

export default defineScenario({
  id: "readiness-probe-mismatch",
  title: "A release probes readiness on a port nothing listens on; the Service loses every endpoint",
  summary:
    "A failing readiness probe is one of the Pod-layer causes the learnk8s troubleshooting framework lists. " +
    "A release of api moves its readiness probe from :8080 to :9090, where nothing listens. Its pods start and " +
    "run, but never become Ready; the rolling update (maxUnavailable 2, maxSurge 0) removes both Ready pods " +
    "anyway, so the Service api has no endpoints and users get nothing. The runbook goes bottom-up: pods " +
    "(Running, 0/1 Ready), describe (Readiness probe failed: connection refused), endpoints (none), then " +
    "rolls the release back and waits for the rollout. It proves the Service has ready endpoints again.",
  source: { incident: "003", section: "5. learnk8s troubleshooting framework (Pod layer: Readiness Probe failure; Service: empty Endpoints)" },
  tags: ["workload", "readiness"],
  cluster: { controlPlanes: 1, workers: 1 },
  scope: "namespace",
  needs: ["image-loading"],
  images: [APP],

  setup: [
    {
      title: "api (2 replicas) released healthy behind Service api",
      async write(ctx) {
        await apply(ctx, healthy, service("api", 80, GOOD_PORT));
        ctx.evidence("setup", await waitRolledOut(ctx, "api"));
      },
      probes: () => [],
    },
  ],
  steadyState: [rolledOut("api"), endpointsReady("api")],

  fault: {
    title: "a release whose readiness probe asks a port the app does not serve",
    plan: [
      `kubectl patch deployment/api   # readinessProbe: httpGet /healthz port ${GOOD_PORT} → ${BAD_PORT}; maxUnavailable 2 replaces both Ready pods at once`,
    ],
    async inject(ctx) {
      ctx.evidence("fault", await apply(ctx, broken));
    },
  },

  symptoms: {
    within: "2m",
    expect: [
      // Only the broken release probes :9090, so a start-up failure of the healthy pods does not count.
      eventSeen("api", "Unhealthy", new RegExp(`Readiness probe failed: .*:${BAD_PORT}`)),
      podsRunningNotReady("api"),
      endpointsEmpty("api"),
      rolloutStuck("api"),
    ],
  },

  runbook: [
    step("list the pods", "kubectl get pods -o wide   # Running, but 0/1 Ready", (ctx) => kubectlLook(ctx, "get", "pods", "-l", "app=api", "-o", "wide")),
    step("describe the pods that are not Ready", "kubectl describe pod <pod>   # Readiness probe failed: … connection refused", async (ctx) =>
      describeVerdict(await kubectlLook(ctx, "describe", "pods", "-l", "app=api")),
    ),
    step("check the Service's endpoints", "kubectl get endpoints api", (ctx) => kubectlLook(ctx, "get", "endpoints", "api")),
    step("compare the probe with the port the container listens on", "kubectl get deployment api -o jsonpath='{..readinessProbe} {..containerPort}'", (ctx) =>
      kubectlLook(ctx, "get", "deployment", "api", "-o", "jsonpath=readinessProbe={..readinessProbe} containerPort={..containerPort}"),
    ),
    step("roll back the release", "kubectl rollout undo deployment/api", (ctx) => rollBack(ctx, "api")),
    step("wait for the rollout", "kubectl rollout status deployment/api --timeout=2m", (ctx) => waitRolledOut(ctx, "api"), "3m"),
  ],
  decisiveStep: "roll back the release",

  verify: {
    within: "2m",
    expect: [rolledOut("api"), endpointsReady("api")],
  },
});
