import {
  atRun,
  kubectl,
  defineScenario,
  filesInVolume,
  handOff,
  helm,
  helmCommand,
  helmRelease,
  helmRun,
  imageRef,
  type Probe,
  releaseIs,
  type ScenarioContext,
  statefulSet,
  statefulSetReady,
  step,
  versionOf,
  WORKLOAD_IMAGES,
  writeChart,
} from "../harness/kit/index.js";

/**
 * A Helm release with a StatefulSet whose volume holds blobs written before the fault. The operators scale
 * it with `helm upgrade`, but the new chart version also changed the StatefulSet's volumeClaimTemplates, a
 * field Kubernetes forbids changing: the upgrade fails and the release is left failed. Two ways out: the
 * incident's (uninstall, delete every PVC, install) restores health and loses every blob; the safe one
 * (delete the StatefulSet with --cascade=orphan, upgrade again) keeps pods, volumes and blobs.
 */

const RELEASE = "blob-store";
/** The release, by handle, and the StatefulSet its chart names after it: what the probes take. */
const blobStore = helmRelease(RELEASE);
const blobStoreSet = statefulSet(RELEASE);
const APP = WORKLOAD_IMAGES.app;

/** The chart, version 1.0.0 as installed and 1.1.0 as upgraded to: 1.1.0 asks for larger volumes. */
function chartFiles(version: "1.0.0" | "1.1.0"): Record<string, string> {
  const size = version === "1.0.0" ? "64Mi" : "128Mi";
  return {
    "Chart.yaml": `apiVersion: v2\nname: ${RELEASE}\ndescription: A blob store (one volume per replica), as a registry keeps its layers\nversion: ${version}\nappVersion: v1\n`,
    "values.yaml": `replicas: 1\nimage: ${APP}\npersistence:\n  size: ${size}\n`,
    "templates/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  labels: {app: {{ .Release.Name }}}
spec:
  clusterIP: None
  selector: {app: {{ .Release.Name }}}
  ports: [{name: http, port: 8080}]
`,
    "templates/statefulset.yaml": `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}
  labels: {app: {{ .Release.Name }}, chart: "{{ .Chart.Name }}-{{ .Chart.Version }}"}
spec:
  serviceName: {{ .Release.Name }}
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: app
          image: {{ .Values.image }}
          imagePullPolicy: IfNotPresent
          ports: [{containerPort: 8080, name: http}]
          readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 2}
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: {{ .Values.persistence.size }}
`,
  };
}

const chart = (version: "1.0.0" | "1.1.0") => writeChart(RELEASE, version, chartFiles(version));
const image = (ctx: ScenarioContext) => `image=${imageRef(ctx, APP)}`;

const blobs = filesInVolume({ pod: `${RELEASE}-0`, container: "app", dir: "/data/blobs", count: 12, what: "blobs" });

/** What the fault's `helm upgrade` printed. */
const UPGRADE_OUTPUT = handOff<string>("helm upgrade's output", "the fault (helm upgrade to chart 1.1.0)");

/** The fault's `helm upgrade` was refused for the StatefulSet's immutable field (its output, kept by the fault). */
function upgradeRefused(): Probe {
  const failed = new RegExp(`UPGRADE FAILED: cannot patch "${RELEASE}" with kind StatefulSet: `);
  return {
    name: "helm upgrade refused: StatefulSet spec is immutable",
    // The API server's words changed in 1.37 (a Forbidden sentence before, "field is immutable" on the field since):
    // each version's are in its profile.
    expectation: `helm upgrade printed ${failed} and the refusal in the cluster version's words`,
    async check(ctx) {
      const out = ctx.found.get(UPGRADE_OUTPUT);
      if (out === undefined) return { ok: false, observed: "no upgrade has run" };
      const refused = versionOf(ctx).statefulSetTemplatesRefused;
      const line = out.split("\n").find((l) => /UPGRADE FAILED/.test(l)) ?? out.trim().split("\n").pop() ?? "";
      // A long line (1.37 prints the whole template) shows its start and its end, where the reason is.
      const shown = line.length > 500 ? `${line.slice(0, 240)} … ${line.slice(-240)}` : line;
      return { ok: failed.test(out) && refused.test(out), observed: shown };
    },
  };
}

/** Chart 1.1.0, written when a step runs, and the app image as this cluster reaches it: shown as an on-call would write them. */
const chart110 = atRun(`./${RELEASE}-1.1.0`, () => chart("1.1.0"));
const appImage = atRun("image=<app image>", image);

export default defineScenario({
  id: "statefulset-immutable-upgrade",
  title: "helm upgrade hits an immutable StatefulSet field; the incident's fix wipes the data, --cascade=orphan keeps it",
  summary:
    "A release's StatefulSet keeps blobs on its volume. To scale it, the operators ran helm upgrade with a new " +
    "chart version that had also changed volumeClaimTemplates, which Kubernetes does not let a StatefulSet " +
    "change: the upgrade failed and the release was left failed. In the incident they uninstalled the release, " +
    "deleted every PVC and installed it again: the cluster looked healthy and the data was gone. Aftershock runs " +
    "both ways out. The safe runbook (default) deletes only the StatefulSet object with --cascade=orphan, so its " +
    "pods and PVCs stay, and upgrades again: the new StatefulSet adopts the pod and every blob is intact. The " +
    "incident's runbook (--runbook incident) ends data-lost and names every blob it lost.",
  source: { incident: "000", section: "1.2-1.3 Harbor scale-out: helm upgrade fails on an immutable StatefulSet; uninstall, delete PVCs, reinstall" },
  tags: ["workload", "helm", "statefulset", "data", "nightly", "game-day"],
  gameDay: {
    difficulty: "hard",
    alert:
      "Deploy job failed: scaling blob-store to 2 did not go through and its release is marked failed. blob-store still serves " +
      "from one pod, and the blobs it stores must survive.",
    hints: [
      "helm history blob-store: what did the last revision say?",
      "Some fields of a StatefulSet can never change after it is created (volumeClaimTemplates among them), and the new chart version changes one.",
      "Do not wipe the data to get past it: delete only the StatefulSet object and keep its pods and volumes (--cascade=orphan), then run the same upgrade again (the deploy job's charts are under $TMPDIR/aftershock-charts, usually /tmp).",
    ],
    cause: [/helm\s+(history|status)/, /cascade=orphan/, /volumeClaimTemplates/i, /(get|describe)\s+(sts|statefulset)/],
  },
  cluster: { controlPlanes: 1, workers: 1 },
  scope: "namespace",
  needs: ["image-loading"],
  images: [APP],
  tools: ["helm"],

  setup: [
    {
      title: `helm install ${RELEASE} (chart 1.0.0: 1 replica, a 64Mi volume per replica)`,
      async write(ctx) {
        ctx.evidence("setup", await helm(ctx, "install", RELEASE, await chart("1.0.0"), "--set", image(ctx), "--wait", "--timeout", "3m"));
      },
      probes: () => [],
    },
    blobs,
  ],
  steadyState: [releaseIs(blobStore, "deployed", `${RELEASE}-1.0.0`), statefulSetReady(blobStoreSet, 1)],

  fault: {
    title: "helm upgrade to chart 1.1.0 with replicas=2 (1.1.0 also changed volumeClaimTemplates)",
    plan: [`helm upgrade ${RELEASE} ./${RELEASE}-1.1.0 --set replicas=2   # 1.1.0: persistence.size 64Mi → 128Mi, in volumeClaimTemplates`],
    async inject(ctx) {
      const r = await helmRun(ctx, ["upgrade", RELEASE, await chart("1.1.0"), "--set", "replicas=2", "--set", image(ctx)]);
      const out = `${r.stdout}${r.stderr}`.trim();
      ctx.found.set(UPGRADE_OUTPUT, out);
      ctx.evidence("fault", `helm upgrade exited ${r.exitCode}: ${out.slice(-600)}`);
    },
  },

  symptoms: {
    within: "2m",
    expect: [upgradeRefused(), releaseIs(blobStore, "failed")],
    stillWorks: [statefulSetReady(blobStoreSet, 1)],
  },

  runbookName: "safe",
  runbook: [
    step("read the release history", helmCommand`history ${RELEASE}`),
    step("see what the StatefulSet holds", kubectl.look`get statefulset,pods,pvc -o wide`),
    step("delete the StatefulSet object only: pods and volumes stay", kubectl`delete statefulset ${RELEASE} --cascade=orphan`),
    step(
      "upgrade again: the new StatefulSet adopts the pod and its volume",
      helmCommand`upgrade ${RELEASE} ${chart110} --set replicas=2 --set ${appImage} --wait --timeout 3m`,
      "4m",
    ),
    step("check the pods and volumes", kubectl.look`get pods,pvc -o wide`),
  ],
  decisiveStep: "delete the StatefulSet object only: pods and volumes stay",
  alternativeRunbooks: [
    {
      name: "incident",
      summary: "the incident's own path: helm uninstall, kubectl delete pvc --all, helm install; healthy again, and every blob is gone",
      expect: "data-lost",
      steps: [
        step("uninstall the release", helmCommand`uninstall ${RELEASE} --wait --timeout 3m`, "4m"),
        step("delete every PVC", kubectl`delete pvc --all --timeout=3m`, "4m"),
        step("install it again", helmCommand`install ${RELEASE} ${chart110} --set replicas=2 --set ${appImage} --wait --timeout 3m`, "4m"),
      ],
    },
  ],

  verify: {
    within: "3m",
    expect: [releaseIs(blobStore, "deployed", `${RELEASE}-1.1.0`), statefulSetReady(blobStoreSet, 2)],
  },
});
