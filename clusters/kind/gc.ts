import { docker } from "../docker.js";
import { LABELS } from "../labels.js";
import type { Progress } from "../progress.js";
import { removeRunResources } from "./provider.js";
import { isAlive } from "../process.js";
import { PINNED } from "../versions.js";

/** The names kind is compiled with for its load balancer, as `docker images` shows them (without docker.io/). */
const KIND_LB_NAMES = [PINNED.kindEnvoyImage, PINNED.kindHaproxyImage].flatMap((n) => [n, n.replace(/^docker\.io\//, "")]);

/**
 * Of the names of images Aftershock built (`docker images` REPOSITORY:TAG of images with its built-by label), the
 * upstream ones earlier versions tagged in the host's Docker: Kubernetes' images as registry.k8s.io/… and the load
 * balancer under kind's name. Everything is built under PINNED.localRegistry now, so these are leftovers; only
 * these exact names, so a user's own image built FROM one of ours (it inherits the label) is not touched.
 */
export function formerUpstreamNames(refs: string[]): string[] {
  return refs.filter((r) => r.startsWith("registry.k8s.io/") || KIND_LB_NAMES.includes(r));
}

/**
 * Removes Docker objects of runs whose owner process is gone. Kept clusters (pnpm cluster create, --keep)
 * are left alone unless `all` is set. Image-build containers of dead builds go too, and so do the upstream names
 * of images Aftershock built before it named them its own ({@link formerUpstreamNames}).
 */
export async function garbageCollect(opts: {
  all: boolean;
  progress: Progress;
}): Promise<{ containers: number; volumes: number; networks: number; images: number }> {
  const total = { containers: 0, volumes: 0, networks: 0, images: 0 };
  const runs = new Map<string, { pid: number; keep: boolean }>();
  for (const kind of ["container", "volume", "network"] as const) {
    const args =
      kind === "container"
        ? [
            "ps",
            "-a",
            "--filter",
            `label=${LABELS.run}`,
            "--format",
            `{{.Label "${LABELS.run}"}}\t{{.Label "${LABELS.ownerPid}"}}\t{{.Label "${LABELS.keep}"}}`,
          ]
        : [
            kind,
            "ls",
            "--filter",
            `label=${LABELS.run}`,
            "--format",
            `{{.Label "${LABELS.run}"}}\t{{.Label "${LABELS.ownerPid}"}}\t{{.Label "${LABELS.keep}"}}`,
          ];
    const r = await docker.run(args);
    for (const l of r.stdout.split("\n").filter(Boolean)) {
      const [run, pid, keep] = l.split("\t") as [string, string, string];
      const prev = runs.get(run);
      // Volumes carry only the run label; containers and networks say who owns the run.
      runs.set(run, { pid: Math.max(prev?.pid ?? 0, Number(pid) || 0), keep: (prev?.keep ?? false) || keep === "true" });
    }
  }
  for (const [runId, { pid, keep }] of runs) {
    if (!opts.all && (keep || isAlive(pid))) continue;
    const removed = await removeRunResources(runId);
    opts.progress.info(`run ${runId}: removed ${removed.containers} containers, ${removed.volumes} volumes, ${removed.networks} networks`);
    total.containers += removed.containers;
    total.volumes += removed.volumes;
    total.networks += removed.networks;
  }
  const builds = await docker.ids("container", [`label=${LABELS.managed}=build`]);
  for (const id of builds) {
    const name = (await docker.run(["inspect", "--format", "{{.Name}}", id])).stdout;
    const pid = Number(/aftershock-build-(\d+)-/.exec(name)?.[1] ?? 0);
    if (opts.all || !isAlive(pid)) {
      await docker.run(["rm", "-f", "-v", id]);
      total.containers++;
    }
  }
  const ours = await docker.run(["images", "--filter", `label=${LABELS.builtBy}=aftershock`, "--format", "{{.Repository}}:{{.Tag}}"]);
  for (const ref of formerUpstreamNames(ours.stdout.split("\n").filter(Boolean))) {
    // Only a name goes when the image has others; an image a container still runs (a kept cluster's load balancer
    // from before) is refused by Docker without --force, and stays.
    const r = await docker.run(["rmi", ref], { allowFailure: true });
    if (r.exitCode === 0) total.images++;
    else opts.progress.info(`kept ${ref}: ${r.stderr.trim().split("\n").pop() ?? ""}`);
  }
  return total;
}
