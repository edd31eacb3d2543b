import { mkdtemp, rm, writeFile, cp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { docker } from "../../clusters/docker.js";
import { run } from "../../clusters/exec.js";
import type { Cluster } from "../../clusters/kind/provider.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Builds the echo workload from source into a FROM-scratch image, the way a user's own image would be. */
export async function buildEchoImage(tag: string): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "aftershock-echo-"));
  try {
    await cp(path.join(here, "fixtures", "echo"), dir, { recursive: true });
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
  const f = `label=aftershock.run=${runId}`;
  return [
    ...(await docker.ids("container", [f])).map((id) => `container ${id.slice(0, 12)}`),
    ...(await docker.ids("volume", [f])).map((id) => `volume ${id.slice(0, 12)}`),
    ...(await docker.ids("network", [f])).map((id) => `network ${id.slice(0, 12)}`),
  ];
}

export const ETCDCTL = "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key";
