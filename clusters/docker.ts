import { run, type RunOptions } from "./exec.js";

/** Thin wrappers over the docker CLI; every call goes through run() so failures carry command and stderr. */
export const docker = {
  run: (args: string[], opts?: RunOptions) => run("docker", args, opts),

  async imageLabels(ref: string): Promise<Record<string, string> | undefined> {
    const r = await run("docker", ["image", "inspect", "--format", "{{json .Config.Labels}}", ref], { allowFailure: true });
    if (r.exitCode !== 0) return undefined;
    return (JSON.parse(r.stdout || "null") as Record<string, string> | null) ?? {};
  },

  async imageExists(ref: string): Promise<boolean> {
    return (await run("docker", ["image", "inspect", ref], { allowFailure: true })).exitCode === 0;
  },

  async ids(kind: "container" | "volume" | "network", filters: string[]): Promise<string[]> {
    const f = filters.flatMap((x) => ["--filter", x]);
    const args = kind === "container" ? ["ps", "-aq", "--no-trunc", ...f] : [kind, "ls", "-q", ...f];
    const r = await run("docker", args);
    return r.stdout
      .split("\n")
      .map((s) => s.trim())
      .filter(Boolean);
  },
};
