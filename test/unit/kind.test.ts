import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { kindConfig, kindNodeRunArgs, type ContainerInspect } from "../../clusters/kind/provider.js";

const wrapper = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../clusters/kind/docker-wrapper.sh");

function runWrapper(args: string[], env: Record<string, string>): string[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), "wrapper-test-"));
  const fake = path.join(dir, "docker");
  writeFileSync(fake, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > ${dir}/argv\n`);
  chmodSync(fake, 0o755);
  execFileSync("bash", [wrapper, ...args], { env: { ...process.env, AFTERSHOCK_REAL_DOCKER: fake, ...env } });
  return readFileSync(path.join(dir, "argv"), "utf8").trim().split("\n");
}

describe("kind config", () => {
  it("lists control planes before workers, with the pod subnet the CNI manifest is templated with", () => {
    const cfg = parse(kindConfig({ controlPlanes: 3, workers: 2, kubernetesVersion: "v1.29.15" })) as {
      nodes: { role: string }[];
      networking: { podSubnet: string };
    };
    expect(cfg.nodes.map((n) => n.role)).toEqual(["control-plane", "control-plane", "control-plane", "worker", "worker"]);
    expect(cfg.networking.podSubnet).toBe("10.244.0.0/16");
  });

  it("tells the kubelet of 1.35+ to run on cgroup v1 (failCgroupV1: false), and leaves 1.29's config alone", () => {
    const patches = (v: string) =>
      (parse(kindConfig({ controlPlanes: 1, workers: 1, kubernetesVersion: v })) as { kubeadmConfigPatches?: string[] }).kubeadmConfigPatches;
    expect(patches("v1.29.15")).toBeUndefined();
    for (const v of ["v1.35.4", "v1.37.2"])
      expect(patches(v)!.map((p) => parse(p) as unknown)).toEqual([{ kind: "KubeletConfiguration", failCgroupV1: false }]);
  });
});

describe("docker wrapper used by kind", () => {
  const env = { AFTERSHOCK_RUN_ID: "abcd1234", AFTERSHOCK_OWNER_PID: "4242", AFTERSHOCK_KEEP: "false" };

  it("labels node containers and turns the anonymous /var volume into a labelled mount", () => {
    const argv = runWrapper(
      ["run", "--name", "as-abcd1234-control-plane", "--volume", "/var", "--volume", "/lib/modules:/lib/modules:ro", "aftershock.local/node:v1.29.15"],
      env,
    );
    expect(argv[0]).toBe("run");
    expect(argv).toContain("aftershock.run=abcd1234");
    expect(argv).toContain("aftershock.owner-pid=4242");
    expect(argv).not.toContain("/var");
    expect(argv).toContain("type=volume,dst=/var,volume-label=aftershock.run=abcd1234,volume-label=aftershock.managed=cluster");
    expect(argv).toContain("/lib/modules:/lib/modules:ro");
    expect(argv.at(-1)).toBe("aftershock.local/node:v1.29.15");
  });

  it("labels the network kind creates", () => {
    const argv = runWrapper(["network", "create", "-d=bridge", "as-abcd1234"], env);
    expect(argv.slice(0, 2)).toEqual(["network", "create"]);
    expect(argv).toContain("aftershock.run=abcd1234");
    expect(argv.at(-1)).toBe("as-abcd1234");
  });

  it("runs Aftershock's load balancer where kind names its upstream image, and nothing else", () => {
    const alias = { ...env, AFTERSHOCK_IMAGE_ALIAS: "docker.io/envoyproxy/envoy:v1.36.2=aftershock.local/kind-lb/envoy:v1.36.2" };
    const lb = ["run", "--name", "c-external-load-balancer", "--hostname", "c-external-load-balancer", "docker.io/envoyproxy/envoy:v1.36.2", "bash", "-c", "x"];
    const argv = runWrapper(lb, alias);
    expect(argv.slice(-4)).toEqual(["aftershock.local/kind-lb/envoy:v1.36.2", "bash", "-c", "x"]);
    expect(argv).not.toContain("docker.io/envoyproxy/envoy:v1.36.2");
    expect(runWrapper(lb, env).slice(-4)).toEqual(["docker.io/envoyproxy/envoy:v1.36.2", "bash", "-c", "x"]);
    // Only `docker run` of exactly that name: an inspect or pull of the name is the user's business.
    expect(runWrapper(["pull", "docker.io/envoyproxy/envoy:v1.36.2"], alias)).toEqual(["pull", "docker.io/envoyproxy/envoy:v1.36.2"]);
    expect(runWrapper(["run", "docker.io/envoyproxy/envoy:v1.36.20"], alias).at(-1)).toBe("docker.io/envoyproxy/envoy:v1.36.20");
  });

  it("passes every other command through untouched", () => {
    expect(runWrapper(["exec", "node", "cat", "/kind/version"], env)).toEqual(["exec", "node", "cat", "/kind/version"]);
    expect(runWrapper(["run", "x"], { AFTERSHOCK_RUN_ID: "" })).toEqual(["run", "x"]);
  });
});

describe("a fresh machine for a lost node", () => {
  const sibling: ContainerInspect = {
    Config: {
      Image: "aftershock.local/node:v1.29.15",
      Tty: true,
      Labels: { "aftershock.run": "abcd1234", "aftershock.managed": "cluster", "io.x-k8s.kind.cluster": "as-abcd1234", "io.x-k8s.kind.role": "control-plane" },
      Env: ["KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER", "KUBECONFIG=/etc/kubernetes/admin.conf", "PATH=/usr/bin", "container=docker"],
    },
    HostConfig: {
      Privileged: true,
      SecurityOpt: ["seccomp=unconfined", "apparmor=unconfined", "label=disable"],
      Tmpfs: { "/run": "", "/tmp": "" },
      Binds: ["/lib/modules:/lib/modules:ro"],
      RestartPolicy: { Name: "on-failure", MaximumRetryCount: 1 },
      CgroupnsMode: "private",
      PortBindings: { "6443/tcp": [{ HostIp: "127.0.0.1", HostPort: "45993" }] },
    },
    Mounts: [
      { Type: "bind", Destination: "/lib/modules" },
      { Type: "volume", Destination: "/var" },
    ],
    NetworkSettings: { Networks: { "as-abcd1234": {} } },
  };

  it("is created like its sibling: same image, network, labels and security options, its own name, a labelled /var volume", () => {
    const args = kindNodeRunArgs(sibling, "as-abcd1234-control-plane", "abcd1234");
    const joined = args.join(" ");
    expect(args.at(-1)).toBe("aftershock.local/node:v1.29.15");
    expect(joined).toContain("--hostname as-abcd1234-control-plane --name as-abcd1234-control-plane --network as-abcd1234");
    expect(joined).toContain("--privileged");
    expect(joined).toContain("--security-opt seccomp=unconfined --security-opt apparmor=unconfined");
    expect(joined).not.toContain("label=disable");
    expect(joined).toContain("--tmpfs /run --tmpfs /tmp --volume /lib/modules:/lib/modules:ro");
    expect(joined).toContain("--mount type=volume,dst=/var,volume-label=aftershock.run=abcd1234,volume-label=aftershock.managed=cluster");
    expect(joined).toContain("--restart on-failure:1 --cgroupns=private --publish 127.0.0.1::6443");
    expect(joined).toContain("--label aftershock.run=abcd1234");
    expect(joined).toContain("--label io.x-k8s.kind.role=control-plane");
    expect(joined).not.toContain("PATH=");
    expect(joined).not.toContain("45993");
  });

  it("refuses a template from another run", () => {
    expect(() => kindNodeRunArgs(sibling, "x", "ffff0000")).toThrow(/not part of run ffff0000/);
  });
});
