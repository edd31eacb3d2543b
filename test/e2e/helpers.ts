import { mkdtemp, rm, writeFile, cp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { docker } from "../../clusters/docker.js";
import { run } from "../../clusters/exec.js";
import { expect } from "vitest";
import { runObjects, type Cluster } from "../../clusters/kind/provider.js";
import { RecordingProgress } from "../../clusters/progress.js";
import { DEFAULT_KUBERNETES_VERSION } from "../../clusters/versions.js";
import { runScenario, type RunJournal } from "../../harness/runner.js";
import type { Scenario } from "../../harness/scenario.js";
import { kindClusters } from "../../harness/cli/scenario-command.js";
import { realClock } from "../../harness/types.js";
import { ETCDCTL_TLS } from "../../harness/probes.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Builds the echo workload from source into a FROM-scratch image, the way a user's own image would be. */
export async function buildEchoImage(tag: string): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "aftershock-echo-"));
  try {
    await cp(path.join(here, "..", "..", "clusters", "images", "components", "echo"), dir, { recursive: true });
    await run("go", ["build", "-trimpath", "-o", "echo", "."], { cwd: dir, env: { CGO_ENABLED: "0", GOTOOLCHAIN: "local" }, timeoutMs: 5 * 60_000 });
    await writeFile(path.join(dir, "Dockerfile"), 'FROM scratch\nCOPY echo /echo\nENTRYPOINT ["/echo"]\nLABEL aftershock.built-by=aftershock-e2e\n');
    await docker.run(["build", "-q", "-t", tag, dir], { timeoutMs: 5 * 60_000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function apply(cluster: Cluster, manifest: string): Promise<void> {
  await cluster.kubectl(["apply", "-f", "-"], { input: manifest });
}

/** Every Docker object carrying the run label. */
export async function leftovers(runId: string): Promise<string[]> {
  return (await runObjects(runId)).map((o) => `${o.kind} ${o.id.slice(0, 12)}`);
}

export const ETCDCTL = ETCDCTL_TLS;

/** Runs a one-off pod to completion and returns its logs (more reliable than kubectl run --rm -i). */
export async function podOutput(cluster: Cluster, name: string, image: string, script: string, node?: string): Promise<string> {
  await apply(cluster, `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default}
spec:
  restartPolicy: Never
  tolerations: [{operator: Exists}]
  ${node ? `nodeSelector: {kubernetes.io/hostname: ${node}}` : ""}
  containers:
  - name: main
    image: ${image}
    imagePullPolicy: Never
    command: ["bash", "-c", ${JSON.stringify(script)}]
`);
  await cluster.kubectl(["wait", "--for=jsonpath={.status.phase}=Succeeded", `pod/${name}`, "--timeout=120s"], { timeoutMs: 130_000 });
  const logs = await cluster.kubectl(["logs", name]);
  await cluster.kubectl(["delete", "pod", name, "--wait=false"]);
  return logs.stdout;
}

const clusters = kindClusters(new RecordingProgress());

/** Runs a scenario on a new kind cluster, the way the CLI does, and checks the run left nothing behind. */
export async function runOnKind(s: Scenario): Promise<RunJournal> {
  const j = await runScenario(s, { clusters, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, clock: realClock });
  expect(j.cluster?.name).toBe(`as-${j.runId}`);
  expect(await leftovers(j.runId), "nothing left behind").toEqual([]);
  const teardown = j.phases.find((p) => p.name === "teardown");
  expect(teardown?.status, teardown?.error).toBe("passed");
  expect(teardown!.steps.filter((s) => !s.ok).map((s) => `${s.title}: ${s.error}`), "every teardown step (a fault's rollback) succeeded").toEqual([]);
  return j;
}
