import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { describeReleased, releaseNodes } from "../../clusters/kind/node-cgroups.js";

const node = "a".repeat(64);
const other = "b".repeat(64);

function put(dir: string, file: string, text: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, file), text);
  return path.join(dir, file);
}

describe("releasing what keeps a node from dying before it is removed (cgroup v1)", () => {
  it("thaws every FROZEN or FREEZING freezer.state under the node's own cgroup, and nothing of another container", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "cgroups-"));
    const fz = path.join(root, "freezer");
    const pod = put(path.join(fz, "docker", node, "kubelet", "kubepods", "besteffort", "pod1", "cri-containerd-1.scope"), "freezer.state", "FROZEN\n");
    const running = put(path.join(fz, "docker", node, "kubelet", "kubepods", "pod2"), "freezer.state", "THAWED\n");
    const freezing = put(path.join(fz, "system.slice", `docker-${node}.scope`, "x"), "freezer.state", "FREEZING\n");
    const foreign = put(path.join(fz, "docker", other, "frozen"), "freezer.state", "FROZEN\n");
    const r = await releaseNodes([node], root);
    expect(r.thawed.sort()).toEqual([`${node.slice(0, 12)}: kubelet/kubepods/besteffort/pod1/cri-containerd-1.scope`, `${node.slice(0, 12)}: x`]);
    expect(readFileSync(pod, "utf8")).toBe("THAWED");
    expect(readFileSync(freezing, "utf8")).toBe("THAWED");
    expect(readFileSync(running, "utf8")).toBe("THAWED\n");
    expect(readFileSync(foreign, "utf8")).toBe("FROZEN\n");
    expect(r.unthrottled).toEqual([]);
  });

  it("lifts every blkio throttle under the node (MAJ:MIN 0), leaves unthrottled cgroups and other containers alone, and says what it lifted", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "cgroups-"));
    const bk = path.join(root, "blkio");
    const writer = path.join(bk, "docker", node, "kubelet", "kubepods", "pod3", "cri-containerd-etcd.scope");
    const bps = put(writer, "blkio.throttle.write_bps_device", "254:0 65536\n");
    const iops = put(writer, "blkio.throttle.write_iops_device", "254:0 4\n");
    const calm = put(path.join(bk, "docker", node), "blkio.throttle.write_bps_device", "");
    const foreign = put(path.join(bk, "docker", other, "slow"), "blkio.throttle.write_bps_device", "254:0 65536\n");
    const r = await releaseNodes([node], root);
    expect(r.unthrottled).toEqual([`${node.slice(0, 12)}: kubelet/kubepods/pod3/cri-containerd-etcd.scope (write_bps 65536, write_iops 4)`]);
    expect(readFileSync(bps, "utf8")).toBe("254:0 0");
    expect(readFileSync(iops, "utf8")).toBe("254:0 0");
    expect(readFileSync(calm, "utf8")).toBe("");
    expect(readFileSync(foreign, "utf8")).toBe("254:0 65536\n");
    expect(describeReleased(r)).toBe(
      `before removing the nodes: lifted the I/O limits of 1 cgroup: ${node.slice(0, 12)}: kubelet/kubepods/pod3/cri-containerd-etcd.scope (write_bps 65536, write_iops 4)`,
    );
  });

  it("does nothing, and says nothing, on a host without cgroup v1 controllers", async () => {
    const r = await releaseNodes(["c".repeat(64)], "/nonexistent/cgroup");
    expect(r).toEqual({ thawed: [], unthrottled: [] });
    expect(describeReleased(r)).toBeUndefined();
  });
});
