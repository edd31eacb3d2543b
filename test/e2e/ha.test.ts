import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConsoleProgress } from "../../clusters/progress.js";
import { KindProvider, type Cluster } from "../../clusters/kind/provider.js";
import { DEFAULT_KUBERNETES_VERSION } from "../../clusters/versions.js";
import { ETCDCTL, leftovers } from "./helpers.js";

// Three control planes need about 6 GiB; hosts with less can set AFTERSHOCK_SKIP_HA=1. It runs here.
const skip = process.env.AFTERSHOCK_SKIP_HA === "1" || os.totalmem() < 8 * 2 ** 30;

describe.skipIf(skip)("a 3 control-plane cluster (tag: ha)", () => {
  const provider = new KindProvider({ progress: new ConsoleProgress() });
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await provider.create({ controlPlanes: 3, workers: 0, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, readyBudgetMs: 8 * 60_000 });
  });

  afterAll(async () => {
    if (!cluster) return;
    const runId = cluster.runId;
    await cluster.delete();
    expect(await leftovers(runId)).toEqual([]);
  });

  it("has three Ready control-plane nodes", async () => {
    const r = await cluster.kubectl(["get", "nodes", "-l", "node-role.kubernetes.io/control-plane", "-o", "name"]);
    expect(r.stdout.trim().split("\n")).toHaveLength(3);
    expect(cluster.nodes.filter((n) => n.role === "control-plane")).toHaveLength(3);
  });

  it("has an etcd cluster of three started, healthy members", async () => {
    const cp = cluster.controlPlane();
    const members = await cp.sh(`${ETCDCTL} --endpoints=https://127.0.0.1:2379 member list -w json`);
    const list = JSON.parse(members.stdout) as { members: { name: string; clientURLs?: string[] }[] };
    expect(list.members.map((m) => m.name).sort()).toEqual(cluster.nodes.map((n) => n.name).sort());
    expect(list.members.every((m) => (m.clientURLs ?? []).length > 0)).toBe(true);
    const endpoints = list.members.map((m) => m.clientURLs![0]).join(",");
    const health = await cp.sh(`${ETCDCTL} --endpoints=${endpoints} endpoint health`);
    const healthy = (health.stdout + health.stderr).split("\n").filter((l) => / is healthy/.test(l)).map((l) => l.split(" ")[0]).sort();
    expect(healthy).toEqual(list.members.map((m) => m.clientURLs![0]).sort());
  });
});
