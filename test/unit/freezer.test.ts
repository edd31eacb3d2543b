import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { thawNodes } from "../../clusters/kind/freezer.js";

describe("thawing a node's frozen cgroups before it is removed", () => {
  it("thaws every FROZEN or FREEZING freezer.state under the node's own cgroup, and nothing of another container", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "freezer-"));
    const node = "a".repeat(64);
    const other = "b".repeat(64);
    const pod = path.join(root, "docker", node, "kubelet", "kubepods", "besteffort", "pod1", "cri-containerd-1.scope");
    const running = path.join(root, "docker", node, "kubelet", "kubepods", "pod2");
    const freezing = path.join(root, "system.slice", `docker-${node}.scope`, "x");
    const foreign = path.join(root, "docker", other, "frozen");
    for (const [d, s] of [
      [pod, "FROZEN\n"],
      [running, "THAWED\n"],
      [freezing, "FREEZING\n"],
      [foreign, "FROZEN\n"],
    ] as const) {
      mkdirSync(d, { recursive: true });
      writeFileSync(path.join(d, "freezer.state"), s);
    }
    return thawNodes([node], root).then((thawed) => {
      expect(thawed.sort()).toEqual([`${node.slice(0, 12)}: kubelet/kubepods/besteffort/pod1/cri-containerd-1.scope`, `${node.slice(0, 12)}: x`]);
      expect(readFileSync(path.join(pod, "freezer.state"), "utf8")).toBe("THAWED");
      expect(readFileSync(path.join(freezing, "freezer.state"), "utf8")).toBe("THAWED");
      expect(readFileSync(path.join(running, "freezer.state"), "utf8")).toBe("THAWED\n");
      expect(readFileSync(path.join(foreign, "freezer.state"), "utf8")).toBe("FROZEN\n");
    });
  });

  it("does nothing on a host without the cgroup v1 freezer", async () => {
    expect(await thawNodes(["c".repeat(64)], "/nonexistent/freezer")).toEqual([]);
  });
});
