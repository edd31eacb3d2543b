import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tsx = path.join(root, "node_modules", ".bin", "tsx");

/** A kubeconfig whose current context is staging-admin (never contacted: the refusal comes first). */
const STAGING = path.join(mkdtempSync(path.join(os.tmpdir(), "cli-kc-")), "config");
writeFileSync(STAGING, "apiVersion: v1\nkind: Config\ncurrent-context: staging-admin\ncontexts:\n- name: staging-admin\n  context: {cluster: s, user: u}\n");

/** An inventory of one control plane beside it (its key is a file; nothing is reached before the refusals). */
const NODES = path.join(path.dirname(STAGING), "inventory.yaml");
writeFileSync(path.join(path.dirname(STAGING), "inventory-key"), "not read before a refusal\n");
writeFileSync(NODES, "nodes:\n  cp-1: { address: 10.0.0.11, user: root, key: inventory-key }\n");

function cli(...args: string[]) {
  return cliWith({}, ...args);
}

/**
 * Runs the CLI as a user does (tsx, a process of its own). Each start costs about 3 s of CPU, mostly loading the
 * TypeScript, so the cases run concurrently (the describe below): on 2 cores the file takes about half as long.
 */
function cliWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return script("harness/cli/main.ts", env, ...args);
}

/** Any of the project's entry points (the CLI, a bench), started as cliWith starts the CLI. */
function script(file: string, env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      tsx,
      [file, ...args],
      {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, PATH: `${path.join(root, "node_modules", ".bin")}:${process.env.PATH}`, ...env },
        timeout: PROCESS_HANG_GUARD,
        killSignal: "SIGTERM",
      },
      (error, stdout, stderr) => {
        if (error?.killed)
          reject(new Error(`${file} ${args.join(" ")}: still running after ${PROCESS_HANG_GUARD / 60_000} min, killed (hung?)\n${stdout}${stderr}`));
        else if (error && typeof error.code !== "number") reject(error);
        else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/**
 * A PATH on which docker, go, kind, mmdebstrap and helm only write their command line to `calls` and fail: the
 * doctor (docker info, go env), a build (go), a cluster (kind, docker) or any Docker object leaves that file behind.
 * Each call gets a directory of its own, so that concurrent cases do not see each other's calls.
 */
function tracedTools(): { env: NodeJS.ProcessEnv; calls: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cli-traced-"));
  const calls = path.join(dir, "calls.log");
  for (const tool of ["docker", "go", "kind", "mmdebstrap", "helm"])
    writeFileSync(path.join(dir, tool), `#!/bin/sh\necho "${tool} $*" >> '${calls}'\nexit 1\n`, { mode: 0o755 });
  return { env: { PATH: `${dir}:${path.join(root, "node_modules", ".bin")}:${process.env.PATH}` }, calls };
}

/**
 * How long a CLI process may take before it counts as hung: a hang guard, never the thing a case checks. Each start
 * costs about 3 s of CPU; five run at once (vitest's maxConcurrency) beside the other worker, so on 2 cores at load
 * 30–40 a case took up to 65 s (2026-12-07), and the 120 s budget it had was half a margin, not a guard. A process
 * still running after PROCESS_HANG_GUARD is killed, and the case fails naming that; the test's own timeout comes later.
 */
const PROCESS_HANG_GUARD = 8 * 60_000;
const SLOW_START = PROCESS_HANG_GUARD + 60_000;

/** A workload whose only manifest does not parse (its aftershock.yaml itself is valid). */
const BAD_WORKLOAD = mkdtempSync(path.join(os.tmpdir(), "cli-workload-"));
mkdirSync(path.join(BAD_WORKLOAD, "k8s"));
writeFileSync(path.join(BAD_WORKLOAD, "aftershock.yaml"), "name: shop\ndeploy:\n  manifests: k8s\nusers:\n  service: web\n");
writeFileSync(path.join(BAD_WORKLOAD, "k8s", "svc.yaml"), "kind: Service\nmetadata: {name: web\n  bad: [\n");

describe.concurrent("bad input is refused before anything changes: one line, exit 2, no doctor, build or Docker call", () => {
  it.each([
    // A patch release that does not exist: refused with and without --dry-run (which used to print the plan, exit 0).
    [
      ["scenario", "etcd-port-conflict", "--k8s-version", "v1.29.999", "--dry-run"],
      /^aftershock: error E_BAD_VERSION: Kubernetes v1\.29\.999 is not a release the offline builder knows: it makes v1\.27\.0–v1\.27\.16, .*, v1\.37\.0–v1\.37\.2 and the pre-release v1\.38\.0-beta\.0 \(a newer patch release needs its number in LATEST_PATCH, clusters\/versions\.ts\)$/,
    ],
    // 1.38 is a pre-release here: only v1.38.0-beta.0, neither the release to come nor another pre-release.
    [
      ["scenario", "etcd-port-conflict", "--k8s-version", "v1.38.0", "--dry-run"],
      /^aftershock: error E_BAD_VERSION: Kubernetes v1\.38\.0 is not a release the offline builder knows: of 1\.38 it makes only the pre-release v1\.38\.0-beta\.0, the newest the module proxy served when it was pinned \(PRERELEASE in clusters\/versions\.ts names it, and becomes \{\} once v1\.38\.0 is served\)$/,
    ],
    [
      ["suite", "etcd-port-conflict", "--k8s-version", "v1.37.2,v1.38.0-beta.1"],
      /^aftershock: error E_BAD_VERSION: Kubernetes v1\.38\.0-beta\.1 is not a release .*: of 1\.38 it makes only the pre-release v1\.38\.0-beta\.0, /,
    ],
    [
      ["cluster", "create", "--k8s-version", "v1.37.0-rc.1"],
      /^aftershock: error E_BAD_VERSION: Kubernetes v1\.37\.0-rc\.1 is not a release .*: of 1\.37 it makes v1\.37\.0–v1\.37\.2, no pre-release \(/,
    ],
    [["demo", "--k8s-version", "v1.38.0-gamma.1"], /^aftershock: error E_BAD_VERSION: not a Kubernetes version: "v1\.38\.0-gamma\.1"/],
    [["scenario", "etcd-port-conflict", "--k8s-version", "v1.29.999"], /^aftershock: error E_BAD_VERSION: Kubernetes v1\.29\.999 is not a release/],
    [["suite", "etcd-port-conflict", "--k8s-version", "v1.29.15,v1.37.9"], /^aftershock: error E_BAD_VERSION: Kubernetes v1\.37\.9 is not a release/],
    [["cluster", "create", "--k8s-version", "v1.30.15"], /^aftershock: error E_BAD_VERSION: Kubernetes v1\.30\.15 is not a release/],
    [["images", "build", "--k8s-version", "v1.36.4"], /^aftershock: error E_BAD_VERSION: Kubernetes v1\.36\.4 is not a release/],
    [["gameday", "--k8s-version", "v1.35.5"], /^aftershock: error E_BAD_VERSION: Kubernetes v1\.35\.5 is not a release/],
    // --insecure-registry: its syntax, before kind create cluster (which --keep used to leave behind).
    ...["not a host", "http://x", "host:99999"].map((r) => [
      ["cluster", "create", "--insecure-registry", r, "--keep"],
      new RegExp(`^aftershock: error E_BAD_INPUT: --insecure-registry must be HOST\\[:PORT\\] with a port from 1 to 65535, got "${r.replace(/[.]/g, "\\.")}"`),
    ]),
    [
      ["scenario", "crashloop-triage", "--kubeconfig", "package.json", "--existing-cluster", "--registry", "127.0.0.1:70000"],
      /^aftershock: error E_BAD_INPUT: --registry must be HOST\[:PORT\] with a port from 1 to 65535, got "127\.0\.0\.1:70000"/,
    ],
    // --name and a workload's manifests: before the doctor (which may change the host) and before Helm is built.
    [["cluster", "create", "--name", "Bad_Name"], /^aftershock: error E_BAD_INPUT: --name "Bad_Name" must be lower-case letters, digits and dashes/],
    [["demo", "--name", "x".repeat(32)], /^aftershock: error E_BAD_INPUT: --name "x{32}" must be lower-case letters/],
    [
      ["scenario", "etcd-port-conflict", "--workload", BAD_WORKLOAD],
      /^aftershock: error E_BAD_INPUT: workload \S*aftershock\.yaml: \S*k8s\/svc\.yaml is not valid YAML: /,
    ],
    [
      ["suite", "etcd-port-conflict", "--workload", BAD_WORKLOAD],
      /^aftershock: error E_BAD_INPUT: workload \S*aftershock\.yaml: \S*k8s\/svc\.yaml is not valid YAML: /,
    ],
    [
      ["cluster", "create", "--image", "Kindest/Node:v1"],
      /^aftershock: error E_BAD_INPUT: --image must be an image reference such as kindest\/node:v1\.29\.14, got "Kindest\/Node:v1"/,
    ],
    [["scenario", "etcd-port-conflict", "--image", "not an image"], /^aftershock: error E_BAD_INPUT: --image must be an image reference/],
    // pnpm cluster list / delete / replace-node: create's flags are refused, not ignored; names checked as text.
    [
      ["cluster", "list", "--k8s-version", "v1.29.15"],
      /^aftershock: error E_BAD_INPUT: --k8s-version is not an option of pnpm cluster list \(usage: pnpm cluster list\)$/,
    ],
    [["cluster", "list", "extra"], /^aftershock: error E_BAD_INPUT: usage: pnpm cluster list$/],
    [
      ["cluster", "delete", "as-00000000", "--workers", "2"],
      /^aftershock: error E_BAD_INPUT: --workers is not an option of pnpm cluster delete \(usage: pnpm cluster delete NAME\)$/,
    ],
    [["cluster", "delete", "Not_A_Cluster"], /^aftershock: error E_BAD_INPUT: cluster name "Not_A_Cluster" must be lower-case letters/],
    [["cluster", "replace-node", "as-1", "as-1-worker", "--keep"], /^aftershock: error E_BAD_INPUT: --keep is not an option of pnpm cluster replace-node/],
    [["cluster", "create", "extra"], /^aftershock: error E_BAD_INPUT: usage: pnpm cluster create \[--control-planes N\]/],
    [["gc", "all"], /^aftershock: error E_BAD_INPUT: unexpected argument "all" \(usage: pnpm gc \[--all\] \[--kubeconfig FILE \[--context C\]\]\)$/],
    // --conformance: its specs write cluster-wide, so never on a cluster this tool did not create; not an option of pnpm gameday.
    ...(["scenario", "suite"] as const).map((cmd) => [
      [cmd, "crashloop-triage", "--conformance", "--kubeconfig", STAGING, "--existing-cluster"],
      /^aftershock: error E_BAD_INPUT: --conformance runs only on a cluster this tool creates: its specs write cluster-wide objects \(CRDs, namespaces, flow schemas, admission policies\) \(leave out --kubeconfig, or run e2e\.test against that cluster yourself\)$/,
    ]),
    [["gameday", "--conformance"], /^aftershock: error E_BAD_INPUT: Unknown option '--conformance'/],
  ] as [string[], RegExp][])(
    "%j",
    async (args, expected) => {
      const traced = tracedTools();
      const r = await cliWith(traced.env, ...args);
      expect(r.code).toBe(2);
      const out = r.stdout + r.stderr;
      expect(out.trim()).toMatch(expected);
      expect(out.trim().split("\n")).toHaveLength(1);
      expect(existsSync(traced.calls) ? readFileSync(traced.calls, "utf8") : "no calls").toBe("no calls");
    },
    SLOW_START,
  );

  it.each([
    [
      { AFTERSHOCK_TEST_STOP_BEFORE_CONFORMANCE: "kube-apiserver" },
      ["--conformance"],
      /^aftershock: error E_BAD_INPUT: AFTERSHOCK_TEST_STOP_BEFORE_CONFORMANCE must be kube-controller-manager or kube-scheduler, got "kube-apiserver" \(it is a test switch; unset it for real runs\)\n$/,
    ],
    [
      { AFTERSHOCK_TEST_STOP_BEFORE_CONFORMANCE: "kube-scheduler" },
      [],
      /^aftershock: error E_BAD_INPUT: AFTERSHOCK_TEST_STOP_BEFORE_CONFORMANCE stops a component before conformance: it needs --conformance/,
    ],
  ] as [NodeJS.ProcessEnv, string[], RegExp][])(
    "the conformance test switch %j with %j is checked before the doctor",
    async (env, flags, expected) => {
      const traced = tracedTools();
      const r = await cliWith({ ...traced.env, ...env }, "scenario", "etcd-port-conflict", ...flags);
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toMatch(expected);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(existsSync(traced.calls)).toBe(false);
    },
    SLOW_START,
  );

  it(
    "a game day's pace from the environment is read before the draw is announced",
    async () => {
      const traced = tracedTools();
      const r = await cliWith({ ...traced.env, AFTERSHOCK_GAMEDAY_POLL: "soon" }, "gameday");
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toMatch(/^aftershock: error E_BAD_INPUT: not a duration: "soon" \(use e\.g\. 90s, 5m, 1h30m\)\n$/);
      expect(existsSync(traced.calls)).toBe(false);
    },
    SLOW_START,
  );

  it.each([
    [["--bogus"], /^bench: error E_BAD_INPUT: Unknown option '--bogus' \(see --help\)$/],
    [["--pairs", "0"], /^bench: error E_BAD_INPUT: --pairs must be a whole number from 1 to 50, got "0"$/],
    [["--shapes", "2+1"], /^bench: error E_BAD_INPUT: --shapes: bad shape "2\+1"/],
    [["--k8s-version", "v1.29.999"], /^bench: error E_BAD_VERSION: Kubernetes v1\.29\.999 is not a release/],
    [["extra"], /^bench: error E_BAD_INPUT: unexpected argument "extra"/],
  ])(
    "pnpm bench:cluster %j",
    async (args, expected) => {
      const traced = tracedTools();
      const r = await script("bench/cluster.ts", traced.env, ...args);
      expect(r.code).toBe(2);
      expect((r.stdout + r.stderr).trim()).toMatch(expected);
      expect((r.stdout + r.stderr).trim().split("\n")).toHaveLength(1);
      expect(existsSync(traced.calls)).toBe(false);
    },
    SLOW_START,
  );
});

describe.concurrent("CLI bad input: one line on stderr, non-zero exit, nothing started", { timeout: SLOW_START }, () => {
  it.each([
    [["frobnicate"], /^aftershock: error E_BAD_INPUT: unknown command "frobnicate" \(see pnpm aftershock --help\)\n$/],
    [
      ["doctor", "--fix", "--undo"],
      /^aftershock: error E_BAD_INPUT: --fix and --undo do not go together \(usage: pnpm run doctor \[--fix \| --undo\] \[--tests\]\)\n$/,
    ],
    [["doctor", "--undo", "--tests"], /^aftershock: error E_BAD_INPUT: --tests is not an option of pnpm run doctor --undo\n$/],
    [["demo", "--workers", "many"], /^aftershock: error E_BAD_INPUT: --workers must be a whole number from 0 to 5, got "many"\n$/],
    [["demo", "--control-planes", "2"], /^aftershock: error E_BAD_INPUT: --control-planes must be 1 or 3/],
    [["demo", "--bogus"], /^aftershock: error E_BAD_INPUT: Unknown option '--bogus'/],
    [
      ["demo", "--k8s-version", "1.99.0"],
      /^aftershock: error E_BAD_VERSION: Kubernetes v1\.99\.0 cannot be built offline here: supported are 1\.27–1\.30 and 1\.35–1\.37, and the pre-release v1\.38\.0-beta\.0 \(the catalog has run here on v1\.29\.15 and v1\.37\.2\)/,
    ],
    [["suite", "--k8s-version", "v1.29.15,v1.33.0"], /^aftershock: error E_BAD_VERSION: Kubernetes v1\.33\.0 cannot be built offline here: supported are/],
    [["suite", "--k8s-version", "v1.37.2,v1.37.2"], /^aftershock: error E_BAD_INPUT: --k8s-version names a version twice/],
    [["scenario", "etcd-port-conflict", "--k8s-version", "v1.29.15,v1.37.2"], /^aftershock: error E_BAD_INPUT: one --k8s-version at a time for pnpm scenario/],
    [["demo", "--k8s-version", "latest"], /^aftershock: error E_BAD_VERSION: not a Kubernetes version: "latest"/],
    [["demo", "--wait", "soon"], /^aftershock: error E_BAD_INPUT: not a duration: "soon"/],
    [["images", "destroy"], /^aftershock: error E_BAD_INPUT: unknown images command "destroy"/],
    // --images: the mode, and a pull that cannot work here, refused before the doctor (v1.37.2 is not a version kind publishes).
    [
      ["scenario", "etcd-port-conflict", "--images", "registry"],
      /^aftershock: error E_BAD_INPUT: --images must be one of auto, pull, build, got "registry"\n$/,
    ],
    [
      ["scenario", "etcd-port-conflict", "--images", "pull"],
      /^aftershock: error E_IMAGES: --images pull: no published node image for v1\.37\.2 \(upstream lists v1\.37\.0, v1\.36\.4, v1\.35\.8, v1\.34\.11\) \(pick one of those with --k8s-version, or use --images build\)\n$/,
    ],
    [
      ["cluster", "create", "--images", "pull", "--k8s-version", "v1.36.3"],
      /^aftershock: error E_IMAGES: --images pull: no published node image for v1\.36\.3/,
    ],
    [["cluster", "list", "--images", "pull"], /^aftershock: error E_BAD_INPUT: --images is not an option of pnpm cluster list/],
    [["images", "publish", "127.0.0.1:5000"], /^aftershock: error E_BAD_INPUT: pnpm images publish needs --out FILE/],
    [["images", "build", "--as-mirror"], /^aftershock: error E_BAD_INPUT: --as-mirror is an option of pnpm images publish\n$/],
    [["cluster", "delete"], /^aftershock: error E_BAD_INPUT: usage: pnpm cluster delete NAME/],
    [["cluster", "replace-node", "as-00000000"], /^aftershock: error E_BAD_INPUT: usage: pnpm cluster replace-node CLUSTER NODE/],
    [["scenario", "etcd-port"], /^aftershock: error E_BAD_INPUT: unknown scenario "etcd-port" \(did you mean etcd-port-conflict\?\)/],
    [
      ["scenario", "no-such-incident"],
      /^aftershock: error E_BAD_INPUT: unknown scenario "no-such-incident" \(known: apiserver-client-flood, apiserver-down, control-plane-manifests-lost, .*etcd-port-conflict/,
    ],
    [
      ["scenario", "etcd-port-conflict", "--reporter", "pdf"],
      /^aftershock: error E_BAD_INPUT: unknown reporter "pdf" \(use any of console, json, junit, html\)/,
    ],
    [["scenario", "etcd-port-conflict", "--k8s-version", "v2.0.0"], /^aftershock: error E_BAD_VERSION: Kubernetes v2\.0\.0 cannot be built offline here/],
    [["suite", "--tag", "no-such-tag"], /^aftershock: error E_BAD_INPUT: no scenario is tagged "no-such-tag"/],
    // stdin here is a pipe, as in CI: a game day needs a person at a terminal, and says so before anything starts.
    [["scenario", "etcd-port-conflict", "--game-day"], /^aftershock: error E_BAD_INPUT: --game-day needs an interactive terminal \(stdin is not a TTY\)/],
    [["suite", "--keep"], /^aftershock: error E_BAD_INPUT: --keep is not an option of pnpm suite/],
    [["suite", "--game-day"], /^aftershock: error E_BAD_INPUT: --game-day is not an option of pnpm suite/],
    [
      ["scenario", "etcd-port-conflict", "--prove"],
      /^aftershock: error E_BAD_INPUT: --prove is not an option of pnpm scenario \(use pnpm suite --tag TAG \[--prove\] \[--fresh-clusters\]\)/,
    ],
    // A team's workload: read and checked before anything exists.
    [
      ["scenario", "etcd-port-conflict", "--workload", "examples/nope"],
      /^aftershock: error E_BAD_INPUT: workload examples\/nope: no such file or directory\n$/,
    ],
    [
      ["scenario", "etcd-storage-lost", "--workload", "examples/shop"],
      /^aftershock: error E_BAD_INPUT: scenario etcd-storage-lost cannot take a workload: its fault does not reach users' traffic, or its demo is part of the incident/,
    ],
    [
      ["scenario", "etcd-port-conflict", "--fail-on-workload-slo"],
      /^aftershock: error E_BAD_INPUT: --fail-on-workload-slo needs a workload \(--workload PATH\)/,
    ],
    // Existing clusters: an explicit opt-in, companions only with --kubeconfig, and scenarios refused up front
    // when the target cannot serve them (checked before Docker or the cluster is touched; the file need only exist).
    [
      ["scenario", "crashloop-triage", "--kubeconfig", "package.json"],
      /^aftershock: error E_BAD_INPUT: --kubeconfig names a cluster this tool did not create; add --existing-cluster/,
    ],
    [["scenario", "crashloop-triage", "--registry", "127.0.0.1:5000"], /^aftershock: error E_BAD_INPUT: --registry needs --kubeconfig FILE/],
    [
      ["scenario", "crashloop-triage", "--kubeconfig", "/no/such/kubeconfig", "--existing-cluster"],
      /^aftershock: error E_BAD_INPUT: --kubeconfig \/no\/such\/kubeconfig: no such file/,
    ],
    [
      ["scenario", "crashloop-triage", "--kubeconfig", "package.json", "--existing-cluster", "--keep"],
      /^aftershock: error E_BAD_INPUT: --keep is not an option of pnpm scenario \(an existing cluster is neither created, kept nor built/,
    ],
    [
      ["scenario", "crashloop-triage", "--kubeconfig", "package.json", "--existing-cluster", "--registry", "not a registry"],
      /^aftershock: error E_BAD_INPUT: --registry must be HOST\[:PORT\]/,
    ],
    [
      ["scenario", "etcd-port-conflict", "--kubeconfig", "package.json", "--existing-cluster"],
      /^aftershock: error E_REFUSED: scenario etcd-port-conflict changes the whole cluster, and the existing cluster of \S+package\.json was not created by this tool; nothing was run \(to allow it on this cluster, add --allow-cluster-faults <its context>/,
    ],
    // Machines over ssh (--nodes) and cluster-scoped faults (--allow-cluster-faults): read and checked before anything.
    [["scenario", "etcd-port-conflict", "--nodes", "nodes.yaml"], /^aftershock: error E_BAD_INPUT: --nodes needs --kubeconfig FILE\n$/],
    [
      ["scenario", "etcd-port-conflict", "--kubeconfig", "package.json", "--existing-cluster", "--nodes", "/no/such/nodes.yaml"],
      /^aftershock: error E_BAD_INPUT: --nodes \/no\/such\/nodes\.yaml: no such file\n$/,
    ],
    [
      ["scenario", "etcd-port-conflict", "--kubeconfig", STAGING, "--existing-cluster", "--allow-cluster-faults", "staging"],
      /^aftershock: error E_REFUSED: --allow-cluster-faults staging does not name the context in use, staging-admin; nothing was run \(/,
    ],
    [
      ["scenario", "crashloop-triage", "--kubeconfig", "package.json", "--existing-cluster"],
      /^aftershock: error E_CAPABILITY: scenario crashloop-triage needs image-loading, which the existing cluster of \S+package\.json \(no --registry\) does not offer/,
    ],
    // A suite on an existing cluster: the same opt-in; scenarios named by id that it cannot serve are refused, and a
    // selection by tag with nothing it can serve says why.
    [
      ["suite", "--kubeconfig", "package.json"],
      /^aftershock: error E_BAD_INPUT: --kubeconfig names a cluster this tool did not create; add --existing-cluster/,
    ],
    [
      ["suite", "crashloop-triage", "etcd-port-conflict", "--kubeconfig", "package.json", "--existing-cluster", "--registry", "127.0.0.1:5000"],
      /^aftershock: error E_REFUSED: scenario etcd-port-conflict changes the whole cluster, and the existing cluster of \S+package\.json was not created by this tool; nothing was run/,
    ],
    [
      ["suite", "--tag", "workload", "--kubeconfig", "package.json", "--existing-cluster"],
      /^aftershock: error E_CAPABILITY: none of the 5 selected scenarios can run on the existing cluster of \S+package\.json: needs image-loading \(give --registry\): crashloop-triage, oomkilled-jvm, service-ingress-mismatch, statefulset-immutable-upgrade; needs image-loading, load-generator \(give --registry\): readiness-probe-mismatch\n$/,
    ],
    [
      ["suite", "--tag", "control-plane", "--kubeconfig", "package.json", "--existing-cluster", "--registry", "127.0.0.1:5000"],
      /^aftershock: error E_CAPABILITY: none of the \d+ selected scenarios can run on the existing cluster of \S+package\.json: needs a cluster of its own: apiserver-client-flood, apiserver-down, /,
    ],
    [
      ["scenario", "statefulset-immutable-upgrade", "--runbook", "yolo"],
      /^aftershock: error E_BAD_INPUT: scenario statefulset-immutable-upgrade has no runbook "yolo" \(its runbooks: safe, incident\)/,
    ],
    [
      ["scenario", "etcd-port-conflict", "--runbook", "incident"],
      /^aftershock: error E_BAD_INPUT: scenario etcd-port-conflict has no runbook "incident" \(it has one runbook/,
    ],
    [["suite", "--runbook", "incident"], /^aftershock: error E_BAD_INPUT: --runbook is not an option of pnpm suite/],
    [
      ["scenario", "node-notready-failover", "--variant", "tomorrow"],
      /^aftershock: error E_BAD_INPUT: scenario node-notready-failover has no variant "tomorrow" \(its variants: default-toleration, partition\)/,
    ],
    [["scenario", "apiserver-down", "--variant", "ha", "--runbook", "default"], /^aftershock: error E_BAD_INPUT: give --variant or --runbook, not both/],
    [["suite", "--variant", "ha"], /^aftershock: error E_BAD_INPUT: --variant is not an option of pnpm suite/],
    // --repeat and --shard: checked before a scenario is loaded or anything is created.
    [["suite", "--repeat", "0"], /^aftershock: error E_BAD_INPUT: --repeat must be a whole number from 1 to 100, got "0"\n$/],
    [["suite", "--repeat", "101"], /^aftershock: error E_BAD_INPUT: --repeat must be a whole number from 1 to 100, got "101"\n$/],
    [["suite", "--repeat", "2.5", "--tag", "workload"], /^aftershock: error E_BAD_INPUT: --repeat must be a whole number from 1 to 100, got "2\.5"\n$/],
    [["suite", "--shard", "5/4"], /^aftershock: error E_BAD_INPUT: --shard must be i\/n with 1 ≤ i ≤ n ≤ 64, e\.g\. 2\/4, got "5\/4"\n$/],
    [["suite", "--shard", "1/65"], /^aftershock: error E_BAD_INPUT: --shard must be i\/n with 1 ≤ i ≤ n ≤ 64, e\.g\. 2\/4, got "1\/65"\n$/],
    [["suite", "--shard", "0/4"], /^aftershock: error E_BAD_INPUT: --shard must be i\/n with 1 ≤ i ≤ n ≤ 64, e\.g\. 2\/4, got "0\/4"\n$/],
    [["suite", "--shard", "2"], /^aftershock: error E_BAD_INPUT: --shard must be i\/n with 1 ≤ i ≤ n ≤ 64, e\.g\. 2\/4, got "2"\n$/],
    [
      ["scenario", "etcd-port-conflict", "--repeat", "3"],
      /^aftershock: error E_BAD_INPUT: --repeat is not an option of pnpm scenario \(use pnpm suite \[ID \.\.\.\] --repeat N --shard i\/n\)/,
    ],
    [["scenario", "etcd-port-conflict", "--shard", "1/2"], /^aftershock: error E_BAD_INPUT: --shard is not an option of pnpm scenario/],
    // --gate and its threshold: checked with the other flags, before a scenario is loaded or anything is created.
    [["suite", "--gate", "--gate-min-score", "120"], /^aftershock: error E_BAD_INPUT: --gate-min-score must be a whole number from 0 to 100, got "120"\n$/],
    [["suite", "--gate", "--gate-min-score", "high"], /^aftershock: error E_BAD_INPUT: --gate-min-score must be a whole number from 0 to 100, got "high"\n$/],
    [["suite", "--gate-min-score", "90"], /^aftershock: error E_BAD_INPUT: --gate-min-score needs --gate \(pnpm suite --gate --gate-min-score N\)\n$/],
    [["scenario", "etcd-port-conflict", "--gate"], /^aftershock: error E_BAD_INPUT: --gate is not an option of pnpm scenario \(the gate judges a suite/],
    // pnpm gameday: a person at a terminal, a tag or a difficulty that some game-day scenario has; checked before anything is created.
    [["gameday"], /^aftershock: error E_BAD_INPUT: pnpm gameday needs an interactive terminal \(stdin is not a TTY\) \(run it in a terminal/],
    [["gameday", "--difficulty", "medium", "--seed", "3"], /^aftershock: error E_BAD_INPUT: pnpm gameday needs an interactive terminal/],
    [["gameday", "--difficulty", "nightmare"], /^aftershock: error E_BAD_INPUT: --difficulty must be one of easy, medium, hard, got "nightmare"\n$/],
    [["gameday", "--tag", "no-such-tag"], /^aftershock: error E_BAD_INPUT: no game-day scenario has tag "no-such-tag" \(game-day scenarios: \d+/],
    [["gameday", "--tag", "workload", "--difficulty", "easy"], /^aftershock: error E_BAD_INPUT: no game-day scenario has tag "workload" and difficulty easy/],
    [
      ["gameday", "etcd-port-conflict"],
      /^aftershock: error E_BAD_INPUT: unexpected argument "etcd-port-conflict" \(the game draws the scenario; choose with --tag/,
    ],
    [["gameday", "--seed", "soon"], /^aftershock: error E_BAD_INPUT: --seed must be a whole number from 0 to 2147483647, got "soon"\n$/],
    [["gameday", "--k8s-version", "v2.0.0"], /^aftershock: error E_BAD_VERSION: Kubernetes v2\.0\.0 cannot be built offline here/],
    [["gameday", "--keep"], /^aftershock: error E_BAD_INPUT: Unknown option '--keep'/],
    [["gameday", "shell", "--difficulty", "easy"], /^aftershock: error E_BAD_INPUT: --difficulty is not an option of pnpm gameday shell/],
    // pnpm gameday on a cluster this tool did not create: pnpm scenario's flags and checks, then a draw among what it serves.
    [["gameday", "shell", "--kubeconfig", STAGING], /^aftershock: error E_BAD_INPUT: --kubeconfig is not an option of pnpm gameday shell/],
    [["gameday", "--kubeconfig", STAGING], /^aftershock: error E_BAD_INPUT: --kubeconfig names a cluster this tool did not create; add --existing-cluster/],
    [["gameday", "--nodes", NODES], /^aftershock: error E_BAD_INPUT: --nodes needs --kubeconfig FILE\n$/],
    [
      ["gameday", "--kubeconfig", "/no/such/kubeconfig", "--existing-cluster"],
      /^aftershock: error E_BAD_INPUT: --kubeconfig \/no\/such\/kubeconfig: no such file\n$/,
    ],
    [
      ["gameday", "--kubeconfig", STAGING, "--existing-cluster", "--k8s-version", "v1.29.15"],
      /^aftershock: error E_BAD_INPUT: --k8s-version is not an option of pnpm gameday on an existing cluster \(an existing cluster is neither created nor built/,
    ],
    [
      ["gameday", "--kubeconfig", STAGING, "--existing-cluster", "--nodes", NODES, "--allow-cluster-faults", "prod-admin"],
      /^aftershock: error E_REFUSED: --allow-cluster-faults prod-admin does not name the context in use, staging-admin; nothing was run/,
    ],
    [
      ["gameday", "--kubeconfig", STAGING, "--existing-cluster", "--nodes", path.join(path.dirname(STAGING), "no-inventory.yaml")],
      /^aftershock: error E_BAD_INPUT: --nodes \S+no-inventory\.yaml: no such file\n$/,
    ],
    [
      ["gameday", "--kubeconfig", STAGING, "--existing-cluster", "--difficulty", "easy"],
      /^aftershock: error E_CAPABILITY: none of the 3 game-day scenarios asked for can run on the existing cluster of \S+config: needs a cluster of its own: apiserver-down, controllers-down, node-notready-failover \(incidents of the whole cluster need --nodes inventory\.yaml and --allow-cluster-faults CONTEXT\)\n$/,
    ],
    // Drawn (the terminal is what is missing next): a workload incident with a registry; a control-plane one with the machines and the allowance.
    [
      ["gameday", "--kubeconfig", STAGING, "--existing-cluster", "--registry", "127.0.0.1:5000", "--tag", "workload"],
      /^aftershock: error E_BAD_INPUT: pnpm gameday needs an interactive terminal/,
    ],
    [
      [
        "gameday",
        "--kubeconfig",
        STAGING,
        "--existing-cluster",
        "--nodes",
        NODES,
        "--allow-cluster-faults",
        "staging-admin",
        "--tag",
        "control-plane",
        "--difficulty",
        "medium",
      ],
      /^aftershock: error E_BAD_INPUT: pnpm gameday needs an interactive terminal/,
    ],
  ])("%j", async (args, expected) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(expected);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("refuses a published list with a floating tag in one line, with no tool started", async () => {
    const traced = tracedTools();
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "cli-published-")), "published.json");
    writeFileSync(file, JSON.stringify({ nodeImages: [{ kubernetes: "v1.37.2", kind: "v0.33.0", ref: "kindest/node:v1.37.2", cgroupV1: true }] }));
    const r = await cliWith({ ...traced.env, AFTERSHOCK_PUBLISHED: file }, "scenario", "etcd-port-conflict", "--images", "auto");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^aftershock: error E_BAD_INPUT: \S+published\.json: nodeImages\[0\]: kindest\/node:v1\.37\.2 is not pinned \(name:tag@sha256:<64 hex>\)/,
    );
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(traced.calls)).toBe(false);
  });

  it("prints a scenario's plan with --dry-run without touching Docker", async () => {
    const r = await cli("scenario", "etcd-port-conflict", "--dry-run");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("source: incident 001");
    expect(r.stdout).toContain("$ ss -ltnp 'sport = :2380'   # the incident used lsof -nP -iTCP:2380 -sTCP:LISTEN; kind's node image has no lsof");
    expect(r.stdout).toMatch(/symptoms \(within 3m\):\n  - a log line of container etcd matching \/bind: address already in use\//);
  });

  it("--dry-run with --conformance says what runs after verification, without building or touching Docker", async () => {
    const traced = tracedTools();
    const r = await cliWith(traced.env, "scenario", "etcd-storage-lost", "--conformance", "--dry-run");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^conformance: after verification, 57 curated \[Conformance\] specs of v1\.37\.2 with its e2e\.test \(built from k8s\.io\/kubernetes\/test\/e2e; estimated 6m\d\ds, --ginkgo\.timeout 10m00s\); a failing spec ends the run not-recovered$/m,
    );
    const old = await cliWith(traced.env, "scenario", "etcd-storage-lost", "--conformance", "--dry-run", "--k8s-version", "v1.29.15");
    expect(old.stdout).toMatch(/^conformance: after verification, 49 curated \[Conformance\] specs of v1\.29\.15 /m);
    expect(existsSync(traced.calls)).toBe(false);
  });

  it("plans a run on the 1.38 pre-release with --dry-run, marked as one", async () => {
    const r = await cli("scenario", "etcd-port-conflict", "--k8s-version", "v1.38.0-beta.0", "--dry-run");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^version: Kubernetes v1\.38\.0-beta\.0 \(pre-release of 1\.38, not yet run here; set up as line 1\.35–1\.37\); kind v0\.33\.0, kubeadm v1beta4, /m,
    );
  });

  it("--dry-run on a cluster this tool did not create: the refusal it would meet, what runs before the fault, every command by where it runs", async () => {
    const dir = path.dirname(STAGING);
    writeFileSync(path.join(dir, "key"), "not read by a dry run\n");
    writeFileSync(path.join(dir, "nodes.yaml"), "nodes:\n  cp-1: { address: 10.0.0.11, user: root, key: key }\n");
    const r = await cli("scenario", "apiserver-down", "--kubeconfig", STAGING, "--existing-cluster", "--nodes", path.join(dir, "nodes.yaml"), "--dry-run");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("would be refused: scenario apiserver-down changes the whole cluster");
    expect(r.stdout).toContain("--allow-cluster-faults staging-admin");
    expect(r.stdout).toMatch(/roles unknown \(the API did not answer/);
    expect(r.stdout).toContain("before the fault: preflight (etcdctl endpoint health --cluster");
    expect(r.stdout).toContain("etcd snapshot to /var/lib/aftershock/snapshots/<run>.db");
    expect(r.stdout).toMatch(/commands by where they run:\n {2}\S.*:\n {4}\[fault\] \$ /);
  });

  it("shows a scenario's runbooks in --dry-run: the default, the other and its expected outcome; --runbook picks one", async () => {
    const safe = await cli("scenario", "statefulset-immutable-upgrade", "--dry-run");
    expect(safe.code).toBe(0);
    expect(safe.stdout).toContain('runbook "safe" (the default):');
    expect(safe.stdout).toContain("$ kubectl delete statefulset blob-store --cascade=orphan");
    expect(safe.stdout).toContain("other runbook (--runbook incident, expected to end data-lost)");
    const incident = await cli("scenario", "statefulset-immutable-upgrade", "--runbook", "incident", "--dry-run");
    expect(incident.code).toBe(0);
    expect(incident.stdout).toContain('runbook "incident":');
    expect(incident.stdout).toContain("$ kubectl delete pvc --all");
    expect(incident.stdout).not.toContain("$ kubectl delete statefulset");
    expect(incident.stdout).toContain("other runbook (--runbook safe, the default, expected to pass)");
  });

  it("a shard with nothing to run says so and exits 0, writing no history", async () => {
    const store = path.join(mkdtempSync(path.join(os.tmpdir(), "history-")), "history");
    const r = await cliWith({ AFTERSHOCK_HISTORY_DIR: store }, "suite", "etcd-port-conflict", "--shard", "2/2", "--repeat", "3");
    expect([r.code, r.stdout, r.stderr]).toEqual([0, "suite: shard 2/2 has no scenarios (1 selected); nothing to run\n", ""]);
    expect(existsSync(store)).toBe(false);
  });

  it("pnpm gameday shell without a running game: one line, exit 2; a state file whose game process is gone counts as none", async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), "gameday-cache-"));
    const none = await cliWith({ AFTERSHOCK_CACHE: cache }, "gameday", "shell");
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^aftershock: error E_BAD_INPUT: no game day is running \(no \S+current\.json\) \(start one with pnpm gameday\)\n$/);
    // A game that died without cleaning up: its pid is not alive (a child that has exited).
    const dead = spawnSync("true").pid!;
    mkdirSync(path.join(cache, "gameday"), { recursive: true });
    writeFileSync(
      path.join(cache, "gameday", "current.json"),
      JSON.stringify({
        version: 1,
        runId: "deadbeef",
        pid: dead,
        pagedAt: 0,
        cluster: "as-deadbeef",
        kubeconfig: "/nowhere",
        nodes: [],
        commandLog: "/nowhere",
        dir: cache,
        kubectl: "kubectl",
      }),
    );
    const stale = await cliWith({ AFTERSHOCK_CACHE: cache }, "gameday", "shell");
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/^aftershock: error E_BAD_INPUT: no game day is running \(the game of run deadbeef \(pid \d+\) has ended\)/);
    expect(stale.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("prints usage for --help and exits 0", async () => {
    const r = await cli("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("pnpm images build");
    expect(r.stdout).toContain("pnpm gc");
    expect(r.stdout).toContain("pnpm suite ... --repeat N");
    expect(r.stdout).toContain("pnpm suite ... --shard i/n");
    expect(r.stdout).toContain("AFTERSHOCK_HISTORY_DIR");
    expect(r.stdout).toContain("pnpm gameday [--tag TAG] [--difficulty easy|medium|hard] [--seed N]");
    expect(r.stdout).toContain("pnpm gameday shell");
    expect(r.stdout).toMatch(
      /--k8s-version V .*\(default v1\.\d+\.\d+\); the offline builder makes\n\s+1\.27–1\.30 and 1\.35–1\.37, and the pre-release v1\.38\.0-beta\.0 \(/,
    );
  });
});
