/**
 * pnpm bench:cluster [--cold] [--shapes 1+0,1+1,3+0] [--pairs N] [--k8s-version V]
 *
 * Measures, in one run on this machine: the offline artifact build (cold from an empty cache with --cold,
 * and warm), create and delete times per cluster shape, the harness's create overhead against calling
 * `kind create cluster` directly with the same image and config (N interleaved pairs, default 5, the order
 * within a pair alternating so that drift on the machine falls on both sides; reported as the median ratio
 * with its spread), and the peak memory of the node containers. Appends one JSON line to bench/results.jsonl.
 */
import { randomBytes } from "node:crypto";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { docker } from "../clusters/docker.js";
import { run } from "../clusters/exec.js";
import { sampleRunMemory } from "../clusters/memory.js";
import { doctor } from "../clusters/host/doctor.js";
import { checkBuildableVersion, defaultCacheDir, ensureNodeImage } from "../clusters/images/builder.js";
import { formerUpstreamNames } from "../clusters/kind/gc.js";
import { KindProvider, kindConfig, type ClusterSpec } from "../clusters/kind/provider.js";
import { LABELS } from "../clusters/labels.js";
import { ConsoleProgress } from "../clusters/progress.js";
import { DEFAULT_KUBERNETES_VERSION, PINNED } from "../clusters/versions.js";
import { AftershockError } from "../clusters/errors.js";
import { exitOnError, int, parse } from "../harness/cli/args.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const progress = new ConsoleProgress();
// Flags are read as the CLI reads them: a bad one is one line and exit 2 (exitOnError), before the doctor runs.
const { values, pairs, shapes, version, profile } = (() => {
  try {
    const { values, positionals } = parse(process.argv.slice(2), {
      cold: { type: "boolean" },
      shapes: { type: "string" },
      pairs: { type: "string" },
      "k8s-version": { type: "string" },
    });
    if (values.help) {
      process.stdout.write("pnpm bench:cluster [--cold] [--shapes 1+0,1+1,3+0] [--pairs N] [--k8s-version V]\n");
      process.exit(0);
    }
    if (positionals.length) throw new AftershockError("E_BAD_INPUT", `unexpected argument "${positionals[0]}"`, { hint: "see --help" });
    const pairs = int("pairs", values.pairs as string | undefined, 5, 1, 50);
    const shapes = ((values.shapes as string | undefined) ?? "1+0,1+1,3+0").split(",").map((s) => {
      // 1 or 3 control planes (etcd's odd quorum), 0–5 workers, as pnpm cluster create takes them.
      const m = /^(1|3)\+([0-5])$/.exec(s);
      if (!m) throw new AftershockError("E_BAD_INPUT", `--shapes: bad shape "${s}" (use CONTROL_PLANES+WORKERS: 1 or 3, then 0–5, e.g. 1+1)`);
      return { controlPlanes: Number(m[1]), workers: Number(m[2]) };
    });
    const version = (values["k8s-version"] as string | undefined) ?? DEFAULT_KUBERNETES_VERSION;
    return { values, pairs, shapes, version, profile: checkBuildableVersion(version) };
  } catch (e) {
    return exitOnError("bench", e);
  }
})();
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
    versions: { kubernetes: version, kind: profile.kind },
  };

  // 1. Artifact build: cold (fresh cache dirs, fresh Go build and module caches, no built images) and warm.
  let cacheDir = defaultCacheDir();
  let coldTmp: string | undefined;
  if (values.cold) {
    coldTmp = await mkdtemp(path.join(os.tmpdir(), "aftershock-cold-"));
    cacheDir = path.join(coldTmp, "cache");
    process.env.GOCACHE = path.join(coldTmp, "gocache");
    process.env.GOMODCACHE = path.join(coldTmp, "gomod");
    // Only images Aftershock built: its own names, and upstream ones earlier versions gave theirs (by label).
    const labelled = (await run("docker", ["images", "--filter", `label=${LABELS.builtBy}=aftershock`, "--format", "{{.Repository}}:{{.Tag}}"])).stdout
      .split("\n")
      .filter(Boolean);
    const ours = [
      ...(await run("docker", ["images", "--format", "{{.Repository}}:{{.Tag}}"])).stdout.split("\n").filter((r) => r.startsWith(`${PINNED.localRegistry}/`)),
      ...formerUpstreamNames(labelled),
    ];
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
    // Stopped (its peak read) and deleted (timed) below; `await using` releases both when anything in between throws,
    // the cluster first (stop() and delete() run once).
    await using mem = sampleRunMemory(runId, { interval: "2s" });
    const t0 = performance.now();
    await using cluster = await provider.create(spec);
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

  // 3. Overhead: plain kind with the same image and config, waiting for the same thing (all nodes Ready), against
  // the harness's create, in interleaved pairs.
  const spec: ClusterSpec = { controlPlanes: 1, workers: 1, kubernetesVersion: version };
  const tmp = await mkdtemp(path.join(os.tmpdir(), "aftershock-bench-"));
  const measured: { directKindS: number; harnessS: number; ratio: number; order: string }[] = [];
  try {
    const cfg = path.join(tmp, "kind.yaml");
    await writeFile(cfg, kindConfig(spec));
    for (let i = 0; i < pairs; i++) {
      const directFirst = i % 2 === 0;
      const times: Record<"direct" | "harness", number> = { direct: 0, harness: 0 };
      for (const side of directFirst ? (["direct", "harness"] as const) : (["harness", "direct"] as const)) {
        times[side] = side === "direct" ? await directKind(img.kindBinary, img.ref, cfg, tmp, i) : await harnessCreate(provider, spec);
      }
      const pair = {
        directKindS: times.direct,
        harnessS: times.harness,
        ratio: round2(times.harness / times.direct),
        order: directFirst ? "kind first" : "harness first",
      };
      measured.push(pair);
      progress.info(`pair ${i + 1}/${pairs} (${pair.order}): kind ${pair.directKindS}s, harness ${pair.harnessS}s, ratio ${pair.ratio}`);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
    if (coldTmp) {
      await run("go", ["clean", "-modcache"], { allowFailure: true }); // module cache files are read-only
      await rm(coldTmp, { recursive: true, force: true }).catch(() => undefined);
    }
  }
  const ratios = measured.map((m) => m.ratio).sort((a, b) => a - b);
  result.overhead = {
    shape: "1+1",
    pairs: measured,
    medianRatio: median(ratios),
    minRatio: ratios[0],
    maxRatio: ratios.at(-1),
    medianDirectKindS: median(measured.map((m) => m.directKindS)),
    medianHarnessS: median(measured.map((m) => m.harnessS)),
  };
  console.log(`overhead: harness / kind create, median ${median(ratios)} over ${pairs} interleaved pairs (min ${ratios[0]}, max ${ratios.at(-1)})`);

  const line = JSON.stringify(result);
  await appendFile(path.join(here, "results.jsonl"), line + "\n");
  console.log(JSON.stringify(result, null, 2));
}

const round2 = (x: number) => Math.round(x * 100) / 100;
function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return round2(v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2);
}

/** The harness's create of the same shape, until every node is Ready; the cluster is deleted afterwards. */
async function harnessCreate(provider: KindProvider, spec: ClusterSpec): Promise<number> {
  const t = performance.now();
  await using _deleted = await provider.create(spec);
  return secs(performance.now() - t);
}

/** `kind create cluster` alone with the same image and config, polled until both nodes are Ready (5-minute deadline). */
async function directKind(kind: string, image: string, cfg: string, tmp: string, i: number): Promise<number> {
  const name = `bench-direct-${process.pid}-${i}`;
  const t = performance.now();
  // Deleted as this function returns (after its time is taken) or throws, even half made.
  await using deleted = new AsyncDisposableStack();
  deleted.defer(async () => {
    await run(kind, ["delete", "cluster", "--name", name], { allowFailure: true, timeout: "3m" });
    // Its own network (named after it, not kind's shared "kind" network a user may have).
    await run("docker", ["network", "rm", name], { allowFailure: true });
  });
  await run(kind, ["create", "cluster", "--name", name, "--image", image, "--config", cfg, "--kubeconfig", path.join(tmp, `kubeconfig-${i}`), "--wait", "0s"], {
    timeout: "10m",
    env: { KIND_EXPERIMENTAL_DOCKER_NETWORK: name },
  });
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
  return secs(performance.now() - t);
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
