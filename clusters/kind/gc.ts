import { docker } from "../docker.js";
import { LABELS } from "../labels.js";
import type { Progress } from "../progress.js";
import { removeRunResources } from "./provider.js";
import { isAlive } from "../process.js";

/**
 * Removes Docker objects of runs whose owner process is gone. Kept clusters (pnpm cluster create, --keep)
 * are left alone unless `all` is set. Image-build containers of dead builds go too.
 */
export async function garbageCollect(opts: { all: boolean; progress: Progress }): Promise<{ containers: number; volumes: number; networks: number }> {
  const total = { containers: 0, volumes: 0, networks: 0 };
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
  return total;
}
