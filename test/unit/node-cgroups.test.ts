import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cgroupOps } from "../../clusters/host/cgroups.js";
import { describeReleased, releaseNodes, type NodeRunner } from "../../clusters/kind/node-cgroups.js";

const node = "a".repeat(64);
const other = "b".repeat(64);

function put(dir: string, file: string, text: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, file), text);
  return path.join(dir, file);
}
const read = (f: string) => readFileSync(f, "utf8").trim();

/**
 * Runs the real scripts with sh: "inside" a node against that node's own fake /sys/fs/cgroup (its private
 * cgroup namespace), rewritten to the temp tree; "on the host" against a fake host cgroupfs. A node not in
 * `running` cannot exec, as a node whose init was killed.
 */
function fakeRunner(nodeRoots: Record<string, string>, hostRoot: string, running: string[], calls: string[] = []): NodeRunner {
  const sh = (script: string) => execFileSync("sh", ["-c", script], { encoding: "utf8" });
  return {
    async inNode(id, script) {
      calls.push(`in ${id.slice(0, 1)}`);
      if (!running.includes(id)) return undefined;
      return sh(script.replaceAll("/sys/fs/cgroup", nodeRoots[id]!));
    },
    async onHost(id, script) {
      calls.push(`host ${id.slice(0, 1)}`);
      return sh(script(hostRoot));
    },
  };
}

describe("releasing what keeps a node from dying before it is removed, inside the node", () => {
  it("v1: thaws every FROZEN or FREEZING freezer.state in the node's own hierarchy, and nothing of another node", async () => {
    const mine = mkdtempSync(path.join(os.tmpdir(), "node-"));
    const theirs = mkdtempSync(path.join(os.tmpdir(), "node-"));
    const pod = put(path.join(mine, "freezer", "kubelet", "kubepods", "besteffort", "pod1", "cri-containerd-1.scope"), "freezer.state", "FROZEN\n");
    const running = put(path.join(mine, "freezer", "kubelet", "kubepods", "pod2"), "freezer.state", "THAWED\n");
    const freezing = put(path.join(mine, "freezer", "x"), "freezer.state", "FREEZING\n");
    const foreign = put(path.join(theirs, "freezer", "frozen"), "freezer.state", "FROZEN\n");
    const calls: string[] = [];
    const r = await releaseNodes([node], { ops: cgroupOps(1), runner: fakeRunner({ [node]: mine, [other]: theirs }, "/nonexistent", [node, other], calls) });
    expect(r.thawed.sort()).toEqual([`${node.slice(0, 12)}: kubelet/kubepods/besteffort/pod1/cri-containerd-1.scope`, `${node.slice(0, 12)}: x`]);
    expect([read(pod), read(freezing), read(running), read(foreign)]).toEqual(["THAWED", "THAWED", "THAWED", "FROZEN"]);
    expect(r.unthrottled).toEqual([]);
    expect(calls).toEqual(["in a"]);
  });

  it("v1: lifts every blkio throttle in the node (MAJ:MIN 0), leaves unthrottled cgroups alone, and says what it lifted", async () => {
    const mine = mkdtempSync(path.join(os.tmpdir(), "node-"));
    const writer = path.join(mine, "blkio", "kubelet", "kubepods", "pod3", "cri-containerd-etcd.scope");
    const bps = put(writer, "blkio.throttle.write_bps_device", "254:0 65536\n");
    const iops = put(writer, "blkio.throttle.write_iops_device", "254:0 4\n");
    const calm = put(path.join(mine, "blkio"), "blkio.throttle.write_bps_device", "");
    const r = await releaseNodes([node], { ops: cgroupOps(1), runner: fakeRunner({ [node]: mine }, "/nonexistent", [node]) });
    expect(r.unthrottled).toEqual([`${node.slice(0, 12)}: kubelet/kubepods/pod3/cri-containerd-etcd.scope (write_bps 65536, write_iops 4)`]);
    expect([read(bps), read(iops), read(calm)]).toEqual(["254:0 0", "254:0 0", ""]);
    expect(describeReleased(r)).toBe(
      `before removing the nodes: lifted the I/O limits of 1 cgroup: ${node.slice(0, 12)}: kubelet/kubepods/pod3/cri-containerd-etcd.scope (write_bps 65536, write_iops 4)`,
    );
  });

  it("v2: thaws every cgroup with cgroup.freeze 1 and lifts every io.max in the node, and says so", async () => {
    const mine = mkdtempSync(path.join(os.tmpdir(), "node-"));
    const scope = put(path.join(mine, "kubelet.slice", "kubelet-kubepods.slice", "cri-containerd-1.scope"), "cgroup.freeze", "1\n");
    const calm = put(path.join(mine, "kubelet.slice"), "cgroup.freeze", "0\n");
    const ioMax = put(path.join(mine, "aftershock-slow-writer"), "io.max", "254:0 rbps=max wbps=65536 riops=max wiops=max\n");
    const r = await releaseNodes([node], { ops: cgroupOps(2), runner: fakeRunner({ [node]: mine }, "/nonexistent", [node]) });
    expect([read(scope), read(calm), read(ioMax)]).toEqual(["0", "0", "254:0 rbps=max wbps=max riops=max wiops=max"]);
    expect(describeReleased(r)).toBe(
      `before removing the nodes: thawed 1 frozen cgroup: ${node.slice(0, 12)}: kubelet.slice/kubelet-kubepods.slice/cri-containerd-1.scope; ` +
        `lifted the I/O limits of 1 cgroup: ${node.slice(0, 12)}: aftershock-slow-writer (wbps 65536)`,
    );
  });
});

describe("releasing a node that cannot run a command any more, from the host's cgroupfs", () => {
  it("v1: finds the node's own cgroup under Docker's cgroupfs or systemd layout, and leaves other containers alone", async () => {
    const host = mkdtempSync(path.join(os.tmpdir(), "host-"));
    const pod = put(path.join(host, "freezer", "system.slice", `docker-${node}.scope`, "kubelet", "pod1"), "freezer.state", "FROZEN\n");
    const slow = put(path.join(host, "blkio", "docker", node, "aftershock-slow-writer"), "blkio.throttle.write_bps_device", "8:0 65536\n");
    const foreign = put(path.join(host, "freezer", "docker", other, "frozen"), "freezer.state", "FROZEN\n");
    const calls: string[] = [];
    const r = await releaseNodes([node], { ops: cgroupOps(1), runner: fakeRunner({}, host, [], calls) });
    expect(calls).toEqual(["in a", "host a"]);
    expect(r).toEqual({ thawed: [`${node.slice(0, 12)}: kubelet/pod1`], unthrottled: [`${node.slice(0, 12)}: aftershock-slow-writer (write_bps 65536)`] });
    expect([read(pod), read(slow), read(foreign)]).toEqual(["THAWED", "8:0 0", "FROZEN"]);
  });

  it("v2: the same in the unified hierarchy", async () => {
    const host = mkdtempSync(path.join(os.tmpdir(), "host-"));
    const pod = put(path.join(host, "system.slice", `docker-${node}.scope`, "kubelet.slice", "pod1"), "cgroup.freeze", "1\n");
    const foreign = put(path.join(host, "system.slice", `docker-${other}.scope`, "x"), "cgroup.freeze", "1\n");
    const r = await releaseNodes([node], { ops: cgroupOps(2), runner: fakeRunner({}, host, []) });
    expect(r.thawed).toEqual([`${node.slice(0, 12)}: kubelet.slice/pod1`]);
    expect([read(pod), read(foreign)]).toEqual(["0", "1"]);
  });

  it("does nothing, and says nothing, when neither the node nor the host has anything to release", async () => {
    const r = await releaseNodes(["c".repeat(64)], { ops: cgroupOps(1), runner: fakeRunner({}, "/nonexistent/cgroup", []) });
    expect(r).toEqual({ thawed: [], unthrottled: [] });
    expect(describeReleased(r)).toBeUndefined();
  });
});
