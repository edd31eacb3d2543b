import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenario } from "../../harness/engine/registry.js";
import { refusesWorkload, variantOf } from "../../harness/model/scenario.js";
import { checkWorkload, readWorkload } from "../../harness/kit/workloads/team-workload.js";
import { workloadLines, workloadVerdict, type WorkloadPods } from "../../harness/model/workload.js";
import { withWorkload } from "../../harness/kit/workloads/with-workload.js";
import { describeObjective, recordedObjective, type LoadRecord } from "../../harness/load/streams.js";

const example = path.resolve(import.meta.dirname, "../../examples/shop");

function workloadDir(yaml: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "aftershock-workload-"));
  writeFileSync(path.join(dir, "aftershock.yaml"), yaml);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

describe("a team's workload file", () => {
  it("reads the example with its defaults and paths resolved against the file", () => {
    const w = readWorkload(example);
    expect(w.name).toBe("shop");
    expect(w.deploy).toEqual({ kind: "manifests", dir: path.join(example, "k8s") });
    expect(w.users).toEqual({ service: "web", path: "/cart", method: "GET", rate: 20, timeout: "2s" });
    expect(w.slo.during).toEqual({ availability: 0.99, p99: "500ms" });
    expect([w.readyWithinMs, w.failRunOnBreach, w.images]).toEqual([120_000, false, ["aftershock.local/echo:v1"]]);
  });

  it("names what is wrong in one line", () => {
    const err = (p: string) => {
      try {
        readWorkload(p);
        return "read";
      } catch (e) {
        return (e as Error).message.replace(/aftershock-workload-\w+/, "DIR");
      }
    };
    expect(err("/nonexistent/shop")).toBe("workload /nonexistent/shop: no such file or directory");
    expect(err(os.tmpdir())).toMatch(/^workload .*: no aftershock.yaml in it$/);
    const base = "name: shop\nusers: {service: web}\n";
    expect(err(workloadDir(`${base}deploy: {manifests: k8s}\n`))).toMatch(/deploy.manifests : no such directory/);
    expect(err(workloadDir(`${base}deploy: {}\n`))).toMatch(/deploy needs exactly one of manifests/);
    expect(err(workloadDir(`name: Shop\n`))).toMatch(/name must be kebab-case/);
    expect(err(workloadDir(`${base}deploy: {manifests: .}\nslo: {during: {availability: 99}}\n`))).toMatch(
      /slo.during.availability must be a share between 0 and 1/,
    );
    expect(err(workloadDir(`${base}deploy: {manifests: .}\nreadyWithin: soon\n`))).toMatch(/readyWithin is not a duration: "soon"/);
    // p99 is a duration, written as every other duration is; the old key in ms is refused, naming the new one.
    expect(err(workloadDir(`${base}deploy: {manifests: .}\nslo: {before: {availability: 0.99, p99Ms: 500}}\n`))).toMatch(
      /^workload .*aftershock.yaml: slo.before.p99Ms: write p99: 500ms \(a duration\)$/,
    );
    expect(err(workloadDir(`${base}deploy: {manifests: .}\nslo: {during: {availability: 0.99, p99: 500}}\n`))).toMatch(
      /slo.during.p99 is not a duration: "500"/,
    );
    expect(err(workloadDir(`${base}deploy: {manifests: .}\nslo: {after: {availability: 0.99, p99: 0ms}}\n`))).toMatch(/slo.after.p99 must be longer than 0/);
    expect(err(workloadDir(`name: shop\ndeploy: {manifests: .}\nusers: {service: web, rate: 0}\n`))).toMatch(/users.rate must be between 1 and 500/);
    expect(err(workloadDir(`name: shop\ndeploy: {manifests: .}\nusers: {service: web, method: FETCH}\n`))).toMatch(
      /users.method must be one of GET, HEAD, POST/,
    );
    expect(err(workloadDir(`name: shop\ndeploy: {manifests: .}\nusers: {service: web, body: x}\n`))).toMatch(
      /users.body goes with POST, PUT or PATCH, not GET/,
    );
    expect(err(workloadDir(`name: shop\ndeploy: {manifests: .}\nusers: {service: web, expectStatus: [200, 9]}\n`))).toMatch(
      /users.expectStatus must be an HTTP status or a list of them/,
    );
  });

  it("takes p99 as a duration, judged in ms as the journal records it", () => {
    const w = readWorkload(
      workloadDir("name: shop\ndeploy: {manifests: .}\nusers: {service: web}\nslo: {before: {availability: 0.995, p99: 1.5s}, during: {availability: 0.9}}\n"),
    );
    expect(w.slo).toEqual({ before: { availability: 0.995, p99: "1.5s" }, during: { availability: 0.9 }, after: { availability: 0.99, p99: "500ms" } });
    expect(describeObjective(w.slo.before)).toBe("≥99.5% ok, p99 ≤ 1500ms");
    expect(recordedObjective(w.slo.before)).toEqual({ availability: 0.995, p99Ms: 1500 });
    expect(recordedObjective(w.slo.during!)).toEqual({ availability: 0.9 });
  });

  it("takes the request its users send: method, body with its type, and the statuses that count as served", () => {
    const w = readWorkload(
      workloadDir(
        `name: shop\ndeploy: {manifests: .}\nusers: {service: web, path: /orders, method: post, body: '{"sku":1}', contentType: application/json, expectStatus: 201}\n`,
      ),
    );
    expect(w.users).toMatchObject({ method: "POST", body: { data: '{"sku":1}', contentType: "application/json" }, expectStatus: [201] });
  });

  it("checks before any cluster that its Service is among what it deploys and that nothing names another namespace", async () => {
    const svc = "apiVersion: v1\nkind: Service\nmetadata: {name: front}\nspec: {ports: [{port: 80}]}\n";
    const w = readWorkload(workloadDir("name: shop\ndeploy: {manifests: k8s}\nusers: {service: web}\n", { "k8s/svc.yaml": svc }));
    await expect(checkWorkload(w)).rejects.toThrow(/users.service "web" is not a Service it deploys \(its Services: front\)/);
    const other = readWorkload(
      workloadDir("name: shop\ndeploy: {manifests: k8s}\nusers: {service: front}\n", {
        "k8s/svc.yaml": svc.replace("{name: front}", "{name: front, namespace: prod}"),
      }),
    );
    await expect(checkWorkload(other)).rejects.toThrow(/Service\/front names namespace prod; a workload is deployed into the run's own namespace/);
    const broken = readWorkload(workloadDir("name: shop\ndeploy: {manifests: k8s}\nusers: {service: front}\n", { "k8s/svc.yaml": "kind: [" }));
    await expect(checkWorkload(broken)).rejects.toThrow(/k8s\/svc.yaml is not valid YAML/);
  });
});

describe("a scenario with a team's workload", () => {
  it("runs it in place of the demo Service: the demo's setup, load and the probes reading it go; its readiness joins the steady state", async () => {
    const w = readWorkload(example);
    const s = withWorkload(await loadScenario("etcd-port-conflict"), w);
    expect(s.setup.map((x) => x.title)).not.toContain("Service shop: 2 echo pods");
    expect(s.setup.at(-1)!.title).toBe("workload shop: kubectl apply -f examples/shop/k8s");
    expect(s.load.map((l) => [l.name, l.target, Object.keys(l.slo)])).toEqual([
      ["api", { kind: "api", path: "/api/v1/namespaces/{namespace}/configmaps?limit=5" }, ["before", "after"]],
      ["shop", { kind: "service", service: "web", path: "/cart" }, ["before"]],
    ]);
    expect(s.steadyState.map((p) => p.name)).toContain("workload shop: pods ready");
    expect(s.steadyState.map((p) => p.name)).toContain("shop: SLO before the fault");
    // The workload's "after" is its own verdict, not the runbook's.
    expect(s.verify.expect.map((p) => p.name)).not.toContain("shop: SLO after recovery");
    // Its images are its own, loaded by its deploy step, not built from the catalogue.
    expect([s.images, s.needs.includes("image-loading")]).toEqual([[], true]);
    expect(s.underTest?.config.name).toBe("shop");
    // apiserver-down's "web keeps serving" was about the demo: with the workload it is the workload's verdict.
    const a = withWorkload(variantOf(await loadScenario("apiserver-down"), "ha"), w);
    expect(a.symptoms.stillWorks!.map((p) => p.name)).toEqual(["API accepts new pods", "api: keeps serving"]);
  });

  it("does not wait twice for a workload that was not ready within readyWithin: its steady state fails for good", async () => {
    const s = withWorkload(await loadScenario("etcd-port-conflict"), readWorkload(example));
    const ready = s.steadyState.find((p) => p.name === "workload shop: pods ready")!;
    s.underTest!.observer.notReady = "Deployment/web not ready within readyWithin 20.0s (waited 20.0s): 0/2 ready";
    // No cluster is asked: the deploy step's verdict stands.
    const o = await ready.check({} as Parameters<typeof ready.check>[0]);
    expect(o).toEqual({ ok: false, final: true, observed: "Deployment/web not ready within readyWithin 20.0s (waited 20.0s): 0/2 ready" });
  });

  it("aims a fault that picks a node at the workload's pods: the selector given, or its Service's", async () => {
    const w = readWorkload(example);
    const s = await loadScenario("node-notready-failover");
    expect(() => withWorkload(s, w)).toThrow(/aims its fault at pods: give target.selector/);
    const checked = { ...w, images: [] };
    await checkWorkload(checked);
    expect(checked.target).toBe("app=shop,tier=web");
    const n = withWorkload(s, checked);
    expect(n.fault.title).toBe("the kubelet stops on the worker that runs shop");
    expect(n.fault.plan[0]).toBe("kubectl get pods -l app=shop,tier=web -o wide   # pick its node");
    expect(n.symptoms.expect.map((p) => p.name)).toEqual([
      "lost node NotReady",
      "lost node tainted node.kubernetes.io/unreachable",
      "shop pods still bound to the lost node",
    ]);
    expect(n.symptoms.stillWorks!.map((p) => p.name)).toEqual(["shop failed over to another node"]);
    expect(n.verify.expect.map((p) => p.name)).toContain("no shop pods left Terminating");
    const partition = withWorkload(variantOf(s, "partition"), checked);
    expect(partition.fault.title).toMatch(/^the worker that runs shop is cut off/);
  });

  it("comes in where the demo's users did, and leaves the symptoms that are not the demo's users", async () => {
    const w = readWorkload(example);
    const lost = withWorkload(await loadScenario("control-plane-node-lost"), w).definition;
    // The fault takes the first control-plane machine: the workload's users, like the demo's, use the last one.
    expect(lost.load!.map((l) => [l.name, l.target])).toEqual([["shop", { kind: "service", service: "web", path: "/cart", via: "last-control-plane" }]]);
    expect(lost.symptoms.expect.map((p) => p.name)).not.toContain("shop: users see errors");
    expect(lost.setup.map((x) => x.title)).not.toContain("Service shop: 3 echo pods");
    const reset = withWorkload(await loadScenario("worker-nodes-reset"), w).definition;
    expect(reset.load!.map((l) => [l.name, l.target])).toEqual([["shop", { kind: "service", service: "web", path: "/cart" }]]);
    expect(reset.symptoms.expect.length).toBe(3);
  });

  it("makes the bad release of the workload's own Deployment in a namespace-scoped scenario, and drops what was about the demo's Service", async () => {
    const checked = { ...readWorkload(example), images: [] };
    await checkWorkload(checked);
    const r = withWorkload(await loadScenario("readiness-probe-mismatch"), checked);
    expect(r.scope).toBe("namespace");
    expect(r.fault.title).toBe("a release of shop whose readiness probe asks a port the app does not serve");
    expect(r.steadyState.map((p) => p.name)).toEqual(expect.arrayContaining(["shop rolled out", "workload shop: pods ready"]));
    expect(r.steadyState.map((p) => p.name)).not.toContain("Service api has endpoints");
    expect(r.symptoms.expect.map((p) => p.name)).toEqual(["shop: readiness probe failed on the released port", "shop: new release Running but not Ready"]);
    expect(r.verify.expect.map((p) => p.name)).toEqual(["shop rolled out"]);
    expect(r.definition.setup.map((x) => x.title)).toEqual([expect.stringMatching(/^workload shop: kubectl apply -f /)]);
    // The demo's image is not loaded for it.
    expect(r.images).toEqual([]);
  });

  it("refuses it where the scenario cannot take one", async () => {
    const s = await loadScenario("etcd-storage-lost");
    expect(refusesWorkload(s)).toMatch(/^scenario etcd-storage-lost cannot take a workload/);
    expect(() => withWorkload(s, readWorkload(example))).toThrow(/cannot take a workload/);
  });
});

describe("the workload's verdict", () => {
  const sec = (t: number, requests: number, ok: number) => ({ t, requests, ok, p50Ms: 2, p99Ms: 5, maxMs: 9 });
  const pods: WorkloadPods = {
    before: 3,
    after: 3,
    restarts: 1,
    replaced: [],
    rescheduled: [],
    pdbs: [{ name: "web", desiredHealthy: 1, currentHealthy: 2, held: true }],
  };
  const summary = (requests: number, ok: number) => ({
    fromMs: 0,
    toMs: 10_000,
    seconds: 10,
    requests,
    errors: requests - ok,
    availability: ok / requests,
    p50Ms: 2,
    p99Ms: 5,
    maxMs: 9,
    errorWindowMs: 0,
    topErrors: requests > ok ? ["HTTP 502 ×20"] : [],
  });
  const rec = (duringOk: number): LoadRecord =>
    ({
      name: "shop",
      errorWindowMs: duringOk < 200 ? 3000 : 0,
      slos: [],
      windows: { before: summary(200, 200), during: { ...summary(200, duringOk), worst: sec(52_000, 20, 8) }, after: summary(200, 200) },
      series: [sec(50_000, 20, 20), sec(60_000, 20, 10), sec(61_000, 20, 20), sec(62_000, 20, 20)],
    }) as unknown as LoadRecord;

  it("holds or breaches per window, and says when users were served again after the runbook", () => {
    const w = readWorkload(example);
    const held = workloadVerdict(w, rec(200), 59_500, pods);
    expect([held.held, held.slos.map((s) => `${s.window}:${s.ok}`)]).toEqual([true, ["before:true", "during:true", "after:true"]]);
    const breached = workloadVerdict(w, rec(180), 59_500, pods);
    expect([breached.held, breached.slos.map((s) => `${s.window}:${s.ok}`), breached.servedAgainAfterMs]).toEqual([
      false,
      ["before:true", "during:false", "after:true"],
      1500,
    ]);
    expect(workloadLines(breached)).toEqual([
      "workload shop (Service web): SLO BREACHED (does not fail the run)",
      "  before met      ≥99.0% ok, p99 ≤ 500ms: 200/200 ok = 100%, p50 2ms, p99 5ms over 10s",
      "  during breached ≥99.0% ok, p99 ≤ 500ms: 180/200 ok = 90.0%, p50 2ms, p99 5ms over 10s (HTTP 502 ×20); worst second +52.0s: 8/20 ok",
      expect.stringMatching(/^ {2}after  met/),
      "  users' error window 3.0s, worst second +52.0s: 8/20 ok, served again 1.5s after the runbook",
      "  pods 3 → 3, 1 restart",
      "  PodDisruptionBudget web: 2 healthy of 1 wanted — held",
    ]);
  });
});
