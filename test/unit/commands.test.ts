import { describe, expect, it } from "vitest";
import { atRun, forEach, inTurn, kubectl, onEachNode, onNode } from "../../harness/kit/commands.js";
import type { NodeHandle } from "../../clusters/contract.js";
import type { RunOptions } from "../../clusters/exec.js";
import { step } from "../../harness/kit/steps.js";
import type { ScenarioContext } from "../../harness/model/context.js";

/** A context whose kubectl and node record the argv they were given. */
function recording() {
  const calls: string[][] = [];
  const result = (argv: string[]) => (calls.push(argv), Promise.resolve({ exitCode: 0, stdout: `ran ${argv.length} words\n`, stderr: "" }));
  const node = { name: "n1", exec: result };
  const ctx = { namespace: "as-1", cluster: { kubectl: (args: string[]) => result(["kubectl", ...args]) } } as unknown as ScenarioContext;
  return { calls, ctx, node };
}

describe("a runbook step's command written once", () => {
  it("shows what it runs: each value one word, quoted as a shell would need it, glued to the text beside it", async () => {
    const { calls, ctx } = recording();
    const s = step("read the last words", kubectl.look`logs -l app=${"oom app"} --tail=${8} ${["a", "b"]}`, "3m");
    expect(s.shows).toBe("kubectl logs -l app='oom app' --tail=8 a b");
    expect(s.budgetMs).toBe(180_000);
    expect(await s.run(ctx)).toBe("ran 9 words");
    expect(calls).toEqual([["kubectl", "-n", "as-1", "logs", "-l", "app=oom app", "--tail=8", "a", "b"]]);
  });

  it("runs on the node it picks, what it printed as it printed it", async () => {
    const { calls, ctx, node } = recording();
    const s = step("restart the kubelet", onNode(() => node as never)`systemctl restart kubelet`);
    expect([s.shows, s.budgetMs, await s.run(ctx)]).toEqual(["systemctl restart kubelet", 120_000, "ran 3 words\n"]);
    expect(calls).toEqual([["systemctl", "restart", "kubelet"]]);
  });

  it("refuses shell syntax it would not run through a shell", () => {
    expect(() => kubectl`get pods | grep web`).toThrow(/runs no shell: write step\(title, shows, run\)/);
    expect(() => kubectl`get pods -o jsonpath='{.items}'`).toThrow(/runs no shell/);
  });

  it("shows a value it learns when it runs as its placeholder, and a trailing comment without running it", async () => {
    const { calls, ctx } = recording();
    const s = step(
      "describe",
      kubectl.look`describe pods -l ${atRun("<selector>", (c) => `app=${c.namespace}`)} ${atRun("<a b>", async () => ["x", 1])}   # Reason, Exit Code`,
    );
    expect(s.shows).toBe("kubectl describe pods -l <selector> <a b>   # Reason, Exit Code");
    await s.run(ctx);
    expect(calls).toEqual([["kubectl", "-n", "as-1", "describe", "pods", "-l", "app=as-1", "x", "1"]]);
    expect(() => kubectl`get pods # not at the end ${"x"}`).toThrow(/runs no shell/);
  });

  it("keeps what fn makes of the output, showing the same command", async () => {
    const { ctx } = recording();
    const s = step(
      "list",
      kubectl`get pods`.keep((out, c) => `${c.namespace}: ${out}`),
    );
    expect([s.shows, await s.run(ctx)]).toEqual(["kubectl get pods", "as-1: ran 5 words"]);
  });

  it("runs several commands in turn, a line each where shown, each output under its command", async () => {
    const { calls, ctx, node } = recording();
    const s = step("look", inTurn(kubectl`get pods -A`, onNode(() => node as never)`ls ${"/etc/kubernetes/manifests"}`));
    expect(s.shows).toBe("kubectl get pods -A\nls /etc/kubernetes/manifests");
    expect(await s.run(ctx)).toBe("# kubectl get pods -A\nran 6 words\n# ls /etc/kubernetes/manifests\nran 2 words");
    expect(calls).toEqual([
      ["kubectl", "-n", "as-1", "get", "pods", "-A"],
      ["ls", "/etc/kubernetes/manifests"],
    ]);
  });

  it("gives a node command its own time limit, converted once for the node handle, and a failure shown when asked", async () => {
    const seen: [string, string[], RunOptions | undefined][] = [];
    const node = (name: string, exitCode = 0) =>
      ({
        name,
        exec: (argv: string[], opts?: RunOptions) => (
          seen.push([name, argv, opts]),
          Promise.resolve({ exitCode, stdout: `${name} out\n`, stderr: exitCode ? `${name} err\n` : "" })
        ),
      }) as unknown as NodeHandle;
    const ctx = {} as ScenarioContext;
    const s = step("restart", onNode(() => node("n1"), { timeout: "3m" })`systemctl restart kubelet`);
    expect([s.shows, await s.run(ctx)]).toEqual(["systemctl restart kubelet", "n1 out\n"]);
    expect(seen).toEqual([["n1", ["systemctl", "restart", "kubelet"], { timeout: "3m" }]]);
    seen.length = 0;
    const look = step("look", onNode(() => node("n2", 1), { allowFailure: true })`crictl info`);
    expect(await look.run(ctx)).toBe("n2 out\nn2 err\n");
    expect(seen).toEqual([["n2", ["crictl", "info"], { allowFailure: true }]]);
  });

  it("runs the same command on each node picked, shown once as such, each output under its node", async () => {
    const seen: [string, string[], RunOptions | undefined][] = [];
    const node = (name: string) =>
      ({
        name,
        exec: (argv: string[], opts?: RunOptions) => (
          seen.push([name, argv, opts]),
          Promise.resolve({ exitCode: 0, stdout: `${name}: ${argv.length} words\n`, stderr: "" })
        ),
      }) as unknown as NodeHandle;
    const ctx = { namespace: "as-1" } as ScenarioContext;
    const each = onEachNode({ each: "worker", pick: () => [node("w1"), node("w2")], timeout: "4m" });
    const s = step("join", each`kubeadm join ${atRun("<endpoint>", (c) => ["host:6443", c.namespace])} --v=5`);
    expect(s.shows).toBe("kubeadm join <endpoint> --v=5   # on each worker");
    expect(await s.run(ctx)).toBe("# w1\nw1: 5 words\n# w2\nw2: 5 words");
    expect(seen).toEqual(["w1", "w2"].map((n) => [n, ["kubeadm", "join", "host:6443", "as-1", "--v=5"], { timeout: "4m" }]));
    expect(each`systemctl is-active kubelet   # active`.shows).toBe("systemctl is-active kubelet   # on each worker; active");
  });

  it("runs the same command for each value learnt at run time, shown once with its placeholder, each output under its value", async () => {
    const { calls, ctx } = recording();
    const pods = forEach({ shows: "<pod>", each: "failing pod", values: async () => ["web-1", "web-2"] }, (pod) =>
      kubectl.look`logs ${pod} --previous   # the crash before`.keep((out) => out.toUpperCase()),
    );
    const s = step("logs", pods);
    expect(s.shows).toBe("kubectl logs <pod> --previous   # for each failing pod; the crash before");
    expect(await s.run(ctx)).toBe("# web-1\nRAN 6 WORDS\n# web-2\nRAN 6 WORDS");
    expect(calls).toEqual([
      ["kubectl", "-n", "as-1", "logs", "web-1", "--previous"],
      ["kubectl", "-n", "as-1", "logs", "web-2", "--previous"],
    ]);
    expect(forEach({ shows: "<m>", each: "member", values: () => [] }, (m) => kubectl`get ${m}`).shows).toBe("kubectl get <m>   # for each member");
  });
});
