import {
  apply,
  atRun,
  defineScenario,
  type Deployment,
  deployment,
  endpointsEmpty,
  forEach,
  handOff,
  type HandOff,
  httpGet,
  ingress,
  INGRESS_CONTROLLER,
  ingressAnswers,
  ingressUrl,
  installIngressController,
  kubectl,
  kubectlLook,
  podLogMatches,
  podReady,
  type ScenarioContext,
  type Service,
  service,
  step,
  waitFor,
  waitRolledOut,
  WORKLOAD_IMAGES,
} from "../harness/kit/index.js";

/**
 * Three services behind one real Ingress controller (Traefik), each broken at a different layer the
 * incident's bottom-up walk checks: a Service selector that matches no pod, a Service targetPort the
 * container does not listen on, an Ingress backend naming a Service that does not exist.
 */

const APP = WORKLOAD_IMAGES.app;
const CONTAINER_PORT = 8080;

/** A service behind the ingress, by handles: its Deployment, its Service named like it, and its path (/<name>). */
function shopService(name: string): { deployment: Deployment; service: Service; path: string } {
  const d = deployment(name, {
    image: APP,
    imagePullPolicy: "IfNotPresent",
    ports: [{ name: "http", containerPort: CONTAINER_PORT }],
    readinessProbe: { httpGet: { path: "/healthz", port: CONTAINER_PORT }, periodSeconds: 2 },
  });
  return { deployment: d, service: service(d, 80, CONTAINER_PORT), path: `/${name}` };
}
const cart = shopService("cart");
const checkout = shopService("checkout");
const profile = shopService("profile");
/** The three, by handle; the triage below reads the cluster, so it goes by their names. */
const SHOP = [cart, checkout, profile];
const APPS = SHOP.map((a) => a.deployment.app);

/**
 * What the triage found wrong at each layer, by the name of the object to fix (the Service's, or the Ingress's).
 */
const NO_ENDPOINTS = handOff<string[]>("the Services without endpoints", 'the runbook step "endpoints: does each Service have pod IPs?"');
const WRONG_SELECTOR = handOff<string[]>("the Services whose selector misses their pods", 'the runbook step "selector against pod labels"');
const WRONG_TARGET_PORT = handOff<string[]>(
  "the Services whose targetPort misses the container",
  'the runbook step "targetPort against the port the container listens on"',
);
const WRONG_BACKEND = handOff<string[]>("the Ingresses with a broken backend", 'the runbook step "ingress backends against the Services that exist"');

/**
 * A fix applied to each object the triage listed under `key`: a JSON patch, as the on-call types it
 * (`kubectl patch <kind> <name> --type=json -p '[…]'`), shown once for each. Nothing found means nothing to fix at
 * that layer.
 */
function fixEach(title: string, key: HandOff<string[]>, none: string, patchOf: (name: string) => [string, unknown[]]) {
  const [target, ops] = patchOf("<name>");
  const kind = target.split("/")[0]!;
  const listed = { shows: "<name>", each: `${kind} the triage listed`, values: (ctx: ScenarioContext) => ctx.found.need(key) };
  return step(
    title,
    forEach(listed, (name) => {
      const patch = atRun(`'${JSON.stringify(ops)}'`, async (ctx) => JSON.stringify(patchOf(String(await name.value(ctx)))[1]));
      return kubectl`patch ${kind} ${name} --type=json -p ${patch}`;
    }).keep((out) => out || none),
  );
}

/** The Service's ready addresses, from the Endpoints the API keeps for it. */
async function readyAddresses(ctx: ScenarioContext, name: string): Promise<number> {
  const ep = await ctx.cluster.api.core.readNamespacedEndpoints({ name, namespace: ctx.namespace }).catch(() => undefined);
  return (ep?.subsets ?? []).flatMap((s) => s.addresses ?? []).length;
}

export default defineScenario({
  id: "service-ingress-mismatch",
  title: "Pods are fine, users get errors: a selector, a targetPort and an Ingress backend that point nowhere",
  summary:
    "Every pod is Running and Ready, yet three paths fail through the ingress. The incident's framework walks up " +
    "from the bottom: pods, then the Service's Endpoints, its selector against the pods' labels, its targetPort " +
    "against the port the container listens on, and finally the Ingress backend against the Services that exist. " +
    "Here a real controller (Traefik, confined to the run's namespace) answers what such mistakes look like to a " +
    "user: 503 for a Service with no endpoints, 502 for a targetPort nothing listens on, and 404 for a backend " +
    "Service that does not exist (Traefik drops that route). The runbook finds each at its layer and fixes it there.",
  source: { incident: "003", section: "5. learnk8s troubleshooting framework (Pod → Service → Ingress, bottom-up)" },
  tags: ["workload", "ingress", "nightly", "game-day"],
  gameDay: {
    difficulty: "medium",
    alert: "Storefront errors through the ingress: /cart answers 503, /checkout 502 and /profile 404. Every pod behind them reports Ready.",
    hints: [
      "Work bottom-up: the pods are Ready, so does each Service have endpoints? kubectl get endpoints",
      "No endpoints: compare the Service's selector with the pods' labels. Endpoints but 502: compare its targetPort with the port the container listens on.",
      "404 from the ingress controller: does every Ingress backend name a Service that exists? kubectl describe ingress, and the controller's log.",
    ],
    cause: [/\b(ep|endpoints)\b/, /selector|show-labels/, /targetport/i, /backend/],
  },
  cluster: { controlPlanes: 1, workers: 1 },
  scope: "namespace",
  needs: ["image-loading"],
  images: [APP, WORKLOAD_IMAGES.traefik],

  setup: [
    {
      title: "an ingress controller, and cart, checkout and profile behind it",
      async write(ctx) {
        await installIngressController(ctx);
        await apply(ctx, ...SHOP.flatMap((a) => [a.deployment, a.service, ingress(ctx, a.service, a.path, 80)]));
        for (const a of SHOP) await waitRolledOut(ctx, a.deployment);
        ctx.evidence("setup", `ingress at ${await ingressUrl(ctx)}; ${SHOP.map((a) => a.path).join(", ")} routed to their Services`);
      },
      probes: () => [],
    },
  ],
  steadyState: SHOP.map((a) => ingressAnswers(a.path, 200)),

  fault: {
    title: "three changes that each cut one path at a different layer",
    plan: [
      'kubectl patch service cart -p \'{"spec":{"selector":{"app":"cart-v2"}}}\'   # no pod has that label',
      `kubectl patch service checkout -p '{"spec":{"ports":[{"name":"http","port":80,"targetPort":9090}]}}'   # the container listens on ${CONTAINER_PORT}`,
      "kubectl patch ingress profile   # backend service: profile-svc, which does not exist",
    ],
    async inject(ctx) {
      await apply(
        ctx,
        service(cart.service, 80, CONTAINER_PORT, { app: "cart-v2" }),
        service(checkout.service, 80, 9090),
        // The profile Ingress (named after profile's Service) again, its backend a Service that does not exist: the
        // stray name is the fault, written only here.
        ingress(ctx, { service: "profile-svc" }, profile.path, 80, profile.service.service),
      );
      ctx.evidence("fault", "cart selects app=cart-v2; checkout targets port 9090; ingress profile points at service profile-svc");
    },
  },

  symptoms: {
    within: "2m",
    expect: [
      ingressAnswers(cart.path, 503),
      endpointsEmpty(cart.service),
      ingressAnswers(checkout.path, 502),
      ingressAnswers(profile.path, 404),
      podLogMatches(INGRESS_CONTROLLER, /service not found/),
    ],
  },

  runbook: [
    step("pods: running and ready?", "kubectl get pods -o wide", async (ctx) => {
      const pods = await ctx.cluster.api.core.listNamespacedPod({ namespace: ctx.namespace });
      const notReady = pods.items.filter((p) => !podReady(p)).map((p) => p.metadata?.name);
      return `${await kubectlLook(ctx, "get", "pods", "-o", "wide")}\n=> ${notReady.length ? `not ready: ${notReady.join(", ")}` : "every pod Ready: the fault is above the pods"}`;
    }),
    step("endpoints: does each Service have pod IPs?", "kubectl get endpoints", async (ctx) => {
      const empty: string[] = [];
      for (const a of APPS) if ((await readyAddresses(ctx, a)) === 0) empty.push(a);
      ctx.found.set(NO_ENDPOINTS, empty);
      return `${await kubectlLook(ctx, "get", "endpoints")}\n=> ${empty.length ? `no endpoints: ${empty.join(", ")}` : "every Service has endpoints"}`;
    }),
    step("selector against pod labels", "kubectl get svc <svc> -o yaml | grep -A5 selector\nkubectl get pods --show-labels", async (ctx) => {
      const out: string[] = [await kubectlLook(ctx, "get", "pods", "--show-labels")];
      const wrong: string[] = [];
      for (const a of ctx.found.need(NO_ENDPOINTS)) {
        const svc = await ctx.cluster.api.core.readNamespacedService({ name: a, namespace: ctx.namespace });
        const selector = svc.spec?.selector ?? {};
        const podLabels = (await ctx.cluster.api.apps.readNamespacedDeployment({ name: a, namespace: ctx.namespace })).spec?.template.metadata?.labels ?? {};
        const matches = Object.entries(selector).every(([k, v]) => podLabels[k] === v);
        out.push(
          `service ${a} selects ${JSON.stringify(selector)}; deployment ${a}'s pods carry ${JSON.stringify(podLabels)} => ${matches ? "match" : "MISMATCH"}`,
        );
        if (!matches) wrong.push(a);
      }
      ctx.found.set(WRONG_SELECTOR, wrong);
      return out.join("\n");
    }),
    step(
      "targetPort against the port the container listens on",
      "kubectl get svc <svc> -o jsonpath='{.spec.ports}'; kubectl get pod <pod> -o jsonpath='{.spec.containers[*].ports}'",
      async (ctx) => {
        const out: string[] = [];
        const wrong: string[] = [];
        for (const a of APPS) {
          const svc = await ctx.cluster.api.core.readNamespacedService({ name: a, namespace: ctx.namespace });
          const target = svc.spec?.ports?.[0]?.targetPort;
          const ports =
            (await ctx.cluster.api.apps.readNamespacedDeployment({ name: a, namespace: ctx.namespace })).spec?.template.spec?.containers.flatMap(
              (c) => c.ports ?? [],
            ) ?? [];
          const listens = ports.some((p) => p.containerPort === Number(target) || p.name === target);
          out.push(
            `service ${a} targetPort ${String(target)}; container ports ${ports.map((p) => `${p.name ?? ""}:${p.containerPort}`).join(", ")} => ${listens ? "match" : "MISMATCH"}`,
          );
          if (!listens) wrong.push(a);
        }
        ctx.found.set(WRONG_TARGET_PORT, wrong);
        return out.join("\n");
      },
    ),
    step("ingress backends against the Services that exist", "kubectl describe ingress", async (ctx) => {
      const services = new Map((await ctx.cluster.api.core.listNamespacedService({ namespace: ctx.namespace })).items.map((s) => [s.metadata!.name!, s]));
      const ings = (await ctx.cluster.api.networking.listNamespacedIngress({ namespace: ctx.namespace })).items;
      const out: string[] = [await kubectlLook(ctx, "describe", "ingress")];
      const wrong: string[] = [];
      for (const ing of ings) {
        for (const b of ing.spec?.rules
          ?.flatMap((r) => r.http?.paths ?? [])
          .map((p) => p.backend.service)
          .filter((x) => !!x) ?? []) {
          const svc = services.get(b.name);
          const portOk = !!svc?.spec?.ports?.some((p) => p.port === b.port?.number || p.name === b.port?.name);
          out.push(
            `ingress ${ing.metadata?.name} → service ${b.name}:${b.port?.number ?? b.port?.name} => ${!svc ? "NO SUCH SERVICE" : portOk ? "ok" : "NO SUCH PORT"}`,
          );
          if (!svc || !portOk) wrong.push(ing.metadata!.name!);
        }
      }
      ctx.found.set(WRONG_BACKEND, wrong);
      return out.join("\n");
    }),
    // The whole selector is replaced (a merge patch would keep stray keys).
    fixEach("fix the selector to the pods' labels", WRONG_SELECTOR, "no selector mismatch found", (a) => [
      `service/${a}`,
      [{ op: "replace", path: "/spec/selector", value: { app: a } }],
    ]),
    fixEach("fix the targetPort to the container's port", WRONG_TARGET_PORT, "no targetPort mismatch found", (a) => [
      `service/${a}`,
      [{ op: "replace", path: "/spec/ports/0/targetPort", value: CONTAINER_PORT }],
    ]),
    // Each Ingress here is named after the Service it fronts.
    fixEach("point the ingress backend at the Service that exists", WRONG_BACKEND, "no broken backend found", (ing) => [
      `ingress/${ing}`,
      [{ op: "replace", path: "/spec/rules/0/http/paths/0/backend/service/name", value: ing }],
    ]),
    step(
      "check every path through the ingress",
      "curl -s -o /dev/null -w '%{http_code}' http://<node>:<nodePort>/<path>",
      async (ctx) => {
        const out: string[] = [];
        for (const { path } of SHOP) {
          const o = await waitFor(ingressAnswers(path, 200), ctx, "1m");
          out.push(`${path}: ${o.observed}`);
        }
        const url = await ingressUrl(ctx);
        out.push(`(${url}; e.g. ${JSON.stringify(await httpGet(`${url}${cart.path}`))})`);
        return out.join("\n");
      },
      "3m",
    ),
  ],
  decisiveStep: "fix the selector to the pods' labels",

  verify: {
    within: "2m",
    expect: SHOP.map((a) => ingressAnswers(a.path, 200)),
  },
});
