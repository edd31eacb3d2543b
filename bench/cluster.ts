/**
 * pnpm bench:cluster [--cold] [--shapes 1+0,1+1,3+0]
 *
 * Measures, in one run on this machine: the offline artifact build (cold from an empty cache with --cold,
 * and warm), create and delete times per cluster shape, the harness's create overhead against calling
 * `kind create cluster` directly with the same image and config, and the peak memory of the node
 * containers. Appends one JSON line to bench/results.jsonl.
 */
import { randomBytes } from "node:crypto";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { docker } from "../clusters/docker.js";
import { run } from "../clusters/exec.js";
import { sampleRunMemory } from "../clusters/memory.js";
import { doctor } from "../clusters/host/doctor.js";
import { defaultCacheDir, ensureNodeImage } from "../clusters/images/builder.js";
import { KindProvider, kindConfig, type ClusterSpec } from "../clusters/kind/provider.js";
import { ConsoleProgress } from "../clusters/progress.js";
import { DEFAULT_KUBERNETES_VERSION, PINNED } from "../clusters/versions.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const progress = new ConsoleProgress();
const { values } = parseArgs({ options: { cold: { type: "boolean" }, shapes: { type: "string" } } });
const shapes = (values.shapes ?? "1+0,1+1,3+0").split(",").map((s) => {
  const m = /^(1|3)\+(\d)$/.exec(s);
  if (!m) throw new Error(`bad shape "${s}" (use e.g. 1+1)`);
  return { controlPlanes: Number(m[1]), workers: Number(m[2]) };
});

const version = DEFAULT_KUBERNETES_VERSION;
const secs = (ms: number) => Math.round(ms / 100) / 10;

async function main() {
  await doctor({ progress });
  const result: Record<string, unknown> = {
    at: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release(),
      docker: (await run("docker", ["version", "--format", "{{.Server.Version}}"])).stdout,
      go: (await run("go", ["env", "GOVERSION"])).stdout,
      cgroup: (await run("sh", ["-c", "test -f /sys/fs/cgroup/cgroup.controllers && echo v2 || echo v1"])).stdout,
    },
    versions: { kubernetes: version, kind: PINNED.kind },
  };

  // 1. Artifact build: cold (fresh cache dirs, fresh Go build and module caches, no built images) and warm.
  let cacheDir = defaultCacheDir();
  let coldTmp: string | undefined;
  if (values.cold) {
    coldTmp = await mkdtemp(path.join(os.tmpdir(), "aftershock-cold-"));
    cacheDir = path.join(coldTmp, "cache");
    process.env.GOCACHE = path.join(coldTmp, "gocache");
    process.env.GOMODCACHE = path.join(coldTmp, "gomod");
    const ours = (await run("docker", ["images", "--format", "{{.Repository}}:{{.Tag}}"])).stdout
      .split("\n")
      .filter(
        (r) => r.startsWith(`${PINNED.localRegistry}/`) || r.startsWith("registry.k8s.io/") || r === PINNED.kindHaproxyImage.replace(/^docker\.io\//, ""),
      );
    if (ours.length) await run("docker", ["rmi", "-f", ...ours]);
    const t = performance.now();
    await ensureNodeImage({ kubernetesVersion: version, cacheDir, progress });
    result.coldBuildS = secs(performance.now() - t);
  }
  const tw = performance.now();
  const img = await ensureNodeImage({ kubernetesVersion: version, cacheDir, progress });
  result.warmBuildS = secs(performance.now() - tw);
  result.warmBuildWasCached = img.cached;

  // 2. Create / delete per shape through the harness, with peak memory of the node containers.
  const provider = new KindProvider({ cacheDir, progress });
  const clusters: Record<string, unknown>[] = [];
  for (const shape of shapes) {
    const runId = randomBytes(4).toString("hex");
    const spec: ClusterSpec = { ...shape, kubernetesVersion: version, runId };
    const mem = sampleRunMemory(runId, { intervalMs: 2000 });
    const t0 = performance.now();
    const cluster = await provider.create(spec);
    const createS = secs(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20_000)); // let add-ons settle so the memory peak includes them
    const peakMiB = await mem.stop();
    const t1 = performance.now();
    await cluster.delete();
    clusters.push({
      shape: `${shape.controlPlanes}+${shape.workers}`,
      createS,
      kindCreateS: secs(cluster.timings.kindCreateMs ?? 0),
      nodesReadyS: secs(cluster.timings.nodesReadyMs ?? 0),
      deleteS: secs(performance.now() - t1),
      peakMemMiB: peakMiB,
    });
  }
  result.clusters = clusters;

  // 3. Overhead: plain kind with the same image and config, waiting for the same thing (all nodes Ready).
  const spec: ClusterSpec = { controlPlanes: 1, workers: 1, kubernetesVersion: version };
  const tmp = await mkdtemp(path.join(os.tmpdir(), "aftershock-bench-"));
  const cfg = path.join(tmp, "kind.yaml");
  await writeFile(cfg, kindConfig(spec));
  const name = `bench-direct-${process.pid}`;
  const td = performance.now();
  try {
    await run(
      img.kindBinary,
      ["create", "cluster", "--name", name, "--image", img.ref, "--config", cfg, "--kubeconfig", path.join(tmp, "kubeconfig"), "--wait", "0s"],
      { timeoutMs: 10 * 60_000 },
    );
    const deadline = Date.now() + 5 * 60_000;
    for (;;) {
      const r = await run("docker", ["exec", `${name}-control-plane`, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "get", "nodes", "--no-headers"], {
        allowFailure: true,
      });
      const lines = r.stdout.split("\n").filter(Boolean);
      if (lines.length === 2 && lines.every((l) => / Ready /.test(l))) break;
      if (Date.now() > deadline) throw new Error("direct kind cluster not Ready within 5m");
      await new Promise((res) => setTimeout(res, 2000));
    }
    const directS = secs(performance.now() - td);
    const t2 = performance.now();
    const harnessCluster = await provider.create(spec);
    const harnessS = secs(performance.now() - t2);
    await harnessCluster.delete();
    result.overhead = { shape: "1+1", directKindS: directS, harnessS, ratio: Math.round((harnessS / directS) * 100) / 100 };
  } finally {
    await run(img.kindBinary, ["delete", "cluster", "--name", name], { allowFailure: true, timeoutMs: 3 * 60_000 });
    await run("docker", ["network", "rm", "kind"], { allowFailure: true });
    await rm(tmp, { recursive: true, force: true });
    if (coldTmp) {
      await run("go", ["clean", "-modcache"], { allowFailure: true }); // module cache files are read-only
      await rm(coldTmp, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  const line = JSON.stringify(result);
  await appendFile(path.join(here, "results.jsonl"), line + "\n");
  console.log(JSON.stringify(result, null, 2));
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
