#!/usr/bin/env node
import { readWorkload, WORKLOAD_FILE } from "../kit/workloads/team-workload.js";
import type { WorkloadConfig } from "../model/workload.js";
import { doctor, HOST_PATHS, reloadDocker, SHIM_RUNTIME, undoHostChanges } from "../../clusters/host/doctor.js";
import { hostFacts } from "../../clusters/host/facts.js";
import { checkBuildableVersion, defaultCacheDir, ensureNodeImage } from "../../clusters/images/builder.js";
import { checkImagesUpFront, parseImagesMode } from "../../clusters/images/source.js";
import { publishedImages } from "../../clusters/images/published.js";
import { publishImages } from "../../clusters/images/publish.js";
import { AftershockError, asDuration, formatDuration } from "../../clusters/errors.js";
import { ConsoleProgress } from "../../clusters/progress.js";
import { DEFAULT_KUBERNETES_VERSION, isKubernetesVersionSyntax, supportedVersionsText } from "../../clusters/versions.js";
import { KindProvider, type ClusterSpec } from "../../clusters/kind/provider.js";
import type { Cluster } from "../../clusters/kind/types.js";
import { garbageCollect } from "../../clusters/kind/gc.js";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { checkAllowance, gcExisting, targetContext, type ExistingTarget } from "../../clusters/existing.js";
import { readInventory } from "../../clusters/ssh/inventory.js";
import { installSignalHandlers } from "../engine/signals.js";
import { parseReporters, scenarioCommand, suiteCommand } from "./scenario-command.js";
import { ensureLoadGeneratorImage, ensureWorkloadImages, LOAD_GENERATOR_IMAGE, WORKLOAD_IMAGES } from "../../clusters/images/workloads.js";
import { ensureHostTools, HOST_TOOLS } from "../../clusters/images/host-tools.js";
import { parseShard } from "../engine/variants.js";
import { gamedayCommand, gamedayShell } from "./gameday-command.js";
import { parseDifficulty } from "../gameday/draw.js";
import { DEFAULT_GATE_MIN_SCORE, GATE_FAILED_EXIT } from "../reports/gate.js";
import { DEADMAN_SECONDS_ENV, RUNBOOK_DELAY_ENV } from "../engine/test-hooks.js";
import { exitOnError, int, parse, type Values } from "./args.js";
import { checkClusterName, checkImageReference, checkRegistryAddress } from "../../clusters/input-checks.js";

const USAGE = `aftershock — re-enact real Kubernetes incidents on throwaway kind clusters

Usage:
  pnpm run doctor [--tests]                 check Docker, privileged containers, cgroups, disk, inotify and build tools; print
                                            this host and the plan of changes it needs (nothing is changed; exit 0 when none)
  pnpm run doctor --fix [--tests]           apply that plan, saying each change (root: sudo pnpm run doctor --fix); --tests also
                                            what pnpm test needs (docker-registry, chromium). Every other command only checks
                                            and stops with one line when the host needs a change (unless AFTERSHOCK_FIX_HOST=1)
  pnpm run doctor --undo                    restore what --fix changed (daemon.json, sysctls, the runtime shim; recorded in
                                            /var/lib/aftershock/host-changes.json); installed packages stay
  pnpm images build [--k8s-version V] [--force] [--all]
                                            build the offline node image and everything in it (cached by version);
                                            --all also the workload images, the load generator (vegeta) and the host tools (helm)
  pnpm images publish HOST:PORT --out FILE [--k8s-version V] [--as-mirror] [--kind-dir DIR --kind-url URL]
                                            push the node image (as kindest/node:V), echo and the load generator to a
                                            registry once, and write the pinned list other machines read as
                                            AFTERSHOCK_PUBLISHED (--as-mirror: the registry is Docker's mirror of docker.io;
                                            --kind-dir lays kind's binary out for a file server at --kind-url)
  pnpm cluster create [--control-planes N] [--workers N] [--k8s-version V] [--images auto|pull|build] [--image REF] [--name NAME] [--wait 10m]
                      [--insecure-registry HOST:PORT]
                                            create a cluster and leave it running; prints how to reach it (its nodes
                                            pull from the plain-HTTP registry, if one is given)
  pnpm cluster delete NAME                  delete a cluster this tool created
  pnpm cluster list                         list clusters this tool created
  pnpm cluster replace-node CLUSTER NODE    a fresh, unjoined machine in place of a node whose container is gone
                                            (game days of control-plane-node-lost; the join is yours)
  pnpm demo [--workers N] [--k8s-version V] [--keep]
                                            create a cluster, print its nodes, delete it
  pnpm gc [--all]                           remove containers, volumes and networks left by dead runs (--all: every run),
                                            and upstream names (registry.k8s.io/…) earlier versions gave their own images
  pnpm gc --kubeconfig FILE [--context C] [--all]
                                            delete the namespaces dead runs of this host left on an existing cluster
  pnpm scenario <id> [--keep] [--dry-run] [--game-day] [--reporter console,json,junit,html] [--k8s-version V] [--images MODE] [--image REF]
                                            re-enact one incident end to end on a new cluster; exit code is the outcome
  pnpm scenario <id> --runbook NAME         recover with another of the scenario's runbooks (see --dry-run); the exit code is
                                            the outcome, e.g. 5 (data-lost) for an incident's own path that loses data
  pnpm scenario <id> --variant NAME         the same incident on a changed setup (a mitigation such as a shorter toleration or
                                            three control planes, or another way the fault happens); see --dry-run
  pnpm scenario <id> --kubeconfig FILE --existing-cluster [--context NAME] [--registry HOST:PORT]
                                            run a namespace-scoped scenario on a cluster this tool did not create: one
                                            namespace of its own, labelled with the run, deleted at the end; workload
                                            images are pushed to the registry (plain HTTP) and pulled from there
  pnpm scenario <id> --kubeconfig FILE --existing-cluster --nodes inventory.yaml [--allow-cluster-faults CONTEXT]
                                            and its machines over ssh (node-shell, node-reboot): a preflight (etcd healthy
                                            with quorum to spare, nodes Ready, the cluster's lock), an etcd snapshot before a
                                            control-plane fault, a deadman on the node before a fault there; a scenario that
                                            changes the whole cluster needs --allow-cluster-faults naming the context in use;
                                            --dry-run lists every command with the node it runs on (docs/your-own-cluster.md)
  pnpm scenario <id> --conformance          after verification passes, run a fast subset of Kubernetes' own conformance
                                            suite (the release's e2e.test, built from Go modules; curated [Conformance]
                                            specs that need no image but the node's pause, within 10 minutes): a failing
                                            spec fails the run (not-recovered, naming the specs); the report lists them.
                                            Also for pnpm suite; not with --kubeconfig (its specs write cluster-wide)
  pnpm scenario --list                      list scenarios with their source incidents and tags
  pnpm gameday [--tag TAG] [--difficulty easy|medium|hard] [--seed N] [--k8s-version V]
                                            a break-fix game day: one scenario tagged game-day (matching TAG and/or the
                                            difficulty; --seed draws reproducibly) is drawn but never named, prepared and
                                            broken quietly; you are paged with its symptoms only. In this terminal: a clock,
                                            h = a hint (−15 points; one also comes by itself every 4 minutes), g = give up
                                            (the runbook runs), q or Ctrl-C = abort. Recovery is noticed by itself; then a
                                            debrief (reports/gameday-<run>/debrief.html) reveals the scenario, your
                                            commands beside the runbook, the time and the score. Needs a terminal.
  pnpm gameday ... --kubeconfig FILE --existing-cluster [--context NAME] [--registry HOST:PORT] [--nodes inventory.yaml
                 --allow-cluster-faults CONTEXT]
                                            the game on a cluster this tool did not create: drawn among the game-day scenarios it
                                            can serve (incidents of the whole cluster need its machines and the allowance, as
                                            pnpm scenario does), node-shell <node> reaches the machines over ssh
  pnpm gameday shell                        a shell for the running game: KUBECONFIG set, kubectl, nodes, node-shell <node>,
                                            the game clock in the prompt; every command is recorded for the debrief
  pnpm scenario <id> --workload PATH [--fail-on-workload-slo]
                                            run your own workload (PATH/aftershock.yaml; by default ./aftershock.yaml when
                                            there is one) in place of the scenario's demo Service: deployed after setup, ready
                                            before the fault, its users' traffic through it, and its own verdict (SLO before /
                                            during / after, users' error window, pods restarted or moved, PodDisruptionBudgets)
                                            beside the runbook's; a breached SLO fails the exit code (8) only with
                                            --fail-on-workload-slo or failRunOnBreach: true; pnpm suite --workload runs the
                                            selected scenarios that take one and names the others
  pnpm suite [--tag TAG] [--prove] [--repeat N] [--shard i/n] [--fresh-clusters] [--conformance] [--reporter ...] [ID ...]
                                            run every scenario (or those with TAG, or the IDs), with one combined JUnit/HTML report;
                                            runs of one cluster shape share one cluster, one after another (a health gate before
                                            each: nodes and kube-system Ready, no earlier run's namespace left; replaced after a
                                            run that did not pass, or end as its runbook declares; a run the shared cluster
                                            could not start healthy runs again on a new one); --fresh-clusters gives every run
                                            a cluster of its own; every alternative
                                            runbook runs too, expecting the outcome it declares, and every variant, expecting
                                            to pass;
                                            --prove also runs each with its fault neutralised (expects fault-not-reproduced)
                                            and its runbook cut before the step recovery hinges on (expects not-recovered);
                                            each suite appends a record to reports/history/, and its report.html shows each
                                            scenario's trend over the earlier records (flagged: regression, flaky, failing)
  pnpm suite ... --gate [--gate-min-score N]
                                            fail the suite (exit ${GATE_FAILED_EXIT} when every run ended as expected) on: a run that did not end
                                            as expected, a scenario scoring under N (0–100, default ${DEFAULT_GATE_MIN_SCORE}), or a time to detect
                                            or recover above the median + 3 × spread of its earlier runs; one line per reason.
                                            Every suite scores each run (users' SLOs, detect and recover against the budgets,
                                            data lost, self-checks) and writes metrics.prom (OpenMetrics) beside junit.xml
  pnpm suite ... --repeat N                 run every planned run N times (1–100): runs, pass rate and min / median / max of
                                            time to detect and to recover per scenario
  pnpm suite ... --shard i/n                run part i of n (n ≤ 64): the selected scenario ids, sorted, dealt round-robin,
                                            each with all its runbooks and variants; a shard with nothing to run exits 0
  pnpm suite ... --kubeconfig FILE --existing-cluster [--context NAME] [--registry HOST:PORT]
                                            the namespace-scoped scenarios of the selection on a cluster this tool did not
                                            create (a staging cluster, say), one after another, each in a namespace of its own
                                            that is deleted at its end; with --tag or no ids, scenarios that need a cluster of
                                            their own are left out and named; named by id, they are refused before anything runs

Every run checks its own probes: each symptom must be absent before the fault, and at least one
verification probe must fail on the broken cluster before the runbook; otherwise the run is inconclusive.

Outcomes (exit codes): passed 0, errored 1, bad input 2, fault-not-reproduced 3, not-recovered 4,
  data-lost 5, aborted (steady state not met before the fault) 6, inconclusive (a symptom held before the
  fault, or verification passed on the broken cluster) 7, interrupted 130.
  --keep leaves the cluster running afterwards (no reaper, no cleanup on exit); pnpm cluster delete NAME removes it.
Reports go to reports/<scenario>-<run>/ (journal.json, junit.xml, report.html).

Options:
  --k8s-version V   Kubernetes version to build and run (default ${DEFAULT_KUBERNETES_VERSION}); the offline builder makes
                    ${supportedVersionsText()}
  --images MODE     where images come from, chosen once for the run (default auto; docs/images.md):
                      auto   pull what a registry answers for, pinned by digest (kind's node image where it runs on this
                             host's cgroup version, kind itself by sha256), build the rest here
                      pull   pull kind's node image and kind, or fail in one line before anything is created
                      build  compile everything here; no registry or download is asked
                    Aftershock's own small images (echo, the load generator) are built unless AFTERSHOCK_PUBLISHED lists them.
                    The console, journal.json and report.html name each image's origin (digest, sha256 or build recipe)
  --image REF       use this node image instead of building one, e.g. kindest/node:v1.29.14 where a registry is reachable
  -h, --help        show this help

Environment:
  AFTERSHOCK_CACHE        where built binaries live (default $XDG_CACHE_HOME/aftershock, i.e. ~/.cache/aftershock)
  AFTERSHOCK_FIX_HOST=1   every command that runs the doctor may apply its plan, as pnpm run doctor --fix does
  AFTERSHOCK_PUBLISHED    a JSON file naming what your registries publish (node images, kind, Aftershock's own images),
                          pinned; replaces the built-in list of kind's releases (docs/images.md; pnpm images publish writes one)
  AFTERSHOCK_HISTORY_DIR  where pnpm suite keeps its history, one JSON file per suite run (default reports/history)
  ${RUNBOOK_DELAY_ENV}
                          TEST SWITCH, not for real runs: every runbook step waits this many ms first (shows the gate firing)
  ${DEADMAN_SECONDS_ENV}
                          TEST SWITCH, not for real runs: a fault's deadman on a machine reached over ssh undoes it this many
                          seconds after it was armed (shows the node healing itself once the run's ssh is cut)
  AFTERSHOCK_GAMEDAY_HINT_EVERY, AFTERSHOCK_GAMEDAY_POLL
                          pnpm gameday: how long until a hint comes by itself (default 4m), how often recovery is checked (7s)`;

/** pnpm cluster's subcommands, each with its usage line (create's flags are listed in USAGE). */
const CLUSTER_USAGE: Record<string, string> = {
  create:
    "pnpm cluster create [--control-planes N] [--workers N] [--k8s-version V] [--images auto|pull|build] [--image REF] [--name NAME] [--wait 10m] [--insecure-registry HOST:PORT] [--keep]",
  list: "pnpm cluster list",
  delete: "pnpm cluster delete NAME",
  "replace-node": "pnpm cluster replace-node CLUSTER NODE",
};

/** The flags of pnpm cluster and pnpm demo (only pnpm cluster create takes them; demo its own few). */
const CLUSTER_FLAGS = {
  "k8s-version": { type: "string" },
  image: { type: "string" },
  images: { type: "string" },
  "control-planes": { type: "string" },
  workers: { type: "string" },
  name: { type: "string" },
  "insecure-registry": { type: "string" },
  wait: { type: "string" },
  keep: { type: "boolean" },
} as const;

async function main(argv: string[]): Promise<number> {
  const progress = new ConsoleProgress();
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "-h" || cmd === "--help" || cmd === "help") {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  switch (cmd) {
    case "doctor":
      return doctorCommand(rest, progress);
    case "images":
      return imagesCommand(rest, progress);
    case "cluster":
      return clusterCommand(rest, progress);
    case "demo":
      return demoCommand(rest, progress);
    case "scenario":
    case "suite":
      return runCommand(cmd, rest, progress);
    case "gameday":
      return gamedayCmd(rest);
    case "gc":
      return gcCommand(rest, progress);
    default:
      throw new AftershockError("E_BAD_INPUT", `unknown command "${cmd}"`, { hint: "see pnpm aftershock --help" });
  }
}

/** pnpm run doctor [--check | --fix | --undo] [--tests] */
async function doctorCommand(rest: string[], progress: ConsoleProgress): Promise<number> {
  const { values, positionals } = parse(rest, {
    check: { type: "boolean" },
    fix: { type: "boolean" },
    undo: { type: "boolean" },
    tests: { type: "boolean" },
  });
  if (values.help) return help();
  if (positionals.length)
    throw new AftershockError("E_BAD_INPUT", `unexpected argument "${positionals[0]}"`, { hint: "usage: pnpm run doctor [--fix | --undo] [--tests]" });
  const modes = (["check", "fix", "undo"] as const).filter((m) => values[m]);
  if (modes.length > 1)
    throw new AftershockError("E_BAD_INPUT", `--${modes[0]} and --${modes[1]} do not go together`, {
      hint: "usage: pnpm run doctor [--fix | --undo] [--tests]",
    });
  if (values.undo) {
    if (values.tests) throw new AftershockError("E_BAD_INPUT", "--tests is not an option of pnpm run doctor --undo");
    if (!hostFacts().user.root) throw new AftershockError("E_NOT_ROOT", "undoing the host changes needs root", { hint: "run: sudo pnpm run doctor --undo" });
    await undoHostChanges(HOST_PATHS, progress, () => reloadDocker((e) => e.defaultRuntime !== SHIM_RUNTIME));
    return 0;
  }
  // --check (the default) only looks, even when AFTERSHOCK_FIX_HOST=1 is set.
  await doctor({ progress, fix: values.check ? false : values.fix ? true : undefined, tests: !!values.tests });
  return 0;
}

/** pnpm images build | publish HOST:PORT */
async function imagesCommand(rest: string[], progress: ConsoleProgress): Promise<number> {
  const cacheDir = defaultCacheDir();
  const { values, positionals } = parse(rest, {
    "k8s-version": { type: "string" },
    force: { type: "boolean" },
    all: { type: "boolean" },
    out: { type: "string" },
    "as-mirror": { type: "boolean" },
    "kind-dir": { type: "string" },
    "kind-url": { type: "string" },
  });
  if (values.help) return help();
  if (positionals[0] === "publish") {
    // pnpm images publish HOST:PORT --out FILE [--as-mirror] [--kind-dir DIR --kind-url URL]
    if (positionals.length !== 2)
      throw new AftershockError(
        "E_BAD_INPUT",
        "usage: pnpm images publish HOST:PORT --out FILE [--k8s-version V] [--as-mirror] [--kind-dir DIR --kind-url URL]",
      );
    checkRegistryAddress(positionals[1]!, "pnpm images publish");
    if (!values.out) throw new AftershockError("E_BAD_INPUT", "pnpm images publish needs --out FILE (the list AFTERSHOCK_PUBLISHED reads)");
    if ((values["kind-dir"] === undefined) !== (values["kind-url"] === undefined))
      throw new AftershockError("E_BAD_INPUT", "--kind-dir and --kind-url go together (where kind's binary is laid out, and the URL that serves it)");
    if (values.force || values.all) throw new AftershockError("E_BAD_INPUT", `--${values.force ? "force" : "all"} is not an option of pnpm images publish`);
    const version = (values["k8s-version"] as string | undefined) ?? DEFAULT_KUBERNETES_VERSION;
    checkBuildableVersion(version);
    await doctor({ progress });
    const published = await publishImages({
      registry: positionals[1]!,
      kubernetesVersion: version,
      cacheDir,
      progress,
      asMirror: !!values["as-mirror"],
      ...(values["kind-dir"] ? { kind: { dir: values["kind-dir"] as string, url: values["kind-url"] as string } } : {}),
    });
    writeFileSync(values.out as string, JSON.stringify(published, null, 2) + "\n");
    console.log(`published to ${positionals[1]}; AFTERSHOCK_PUBLISHED=${values.out as string} makes --images pull and auto take them`);
    return 0;
  }
  if (positionals[0] !== "build" || positionals.length !== 1)
    throw new AftershockError("E_BAD_INPUT", `unknown images command "${positionals.join(" ")}"`, {
      hint: "use: pnpm images build, or pnpm images publish HOST:PORT",
    });
  const publishOnly = ["out", "as-mirror", "kind-dir", "kind-url"].find((f) => values[f] !== undefined);
  if (publishOnly) throw new AftershockError("E_BAD_INPUT", `--${publishOnly} is an option of pnpm images publish`);
  const version = (values["k8s-version"] as string | undefined) ?? DEFAULT_KUBERNETES_VERSION;
  checkBuildableVersion(version);
  const started = performance.now();
  await doctor({ progress });
  const img = await ensureNodeImage({ kubernetesVersion: version, cacheDir, progress, force: !!values.force });
  console.log(
    `${img.ref} ${img.cached ? "is up to date" : "built"} in ${formatDuration(performance.now() - started)} (preloaded: ${img.preloaded.length} images)`,
  );
  if (values.all) {
    // What the workload scenarios need too: their images and the host tools (helm), so a first run does not wait.
    const t1 = performance.now();
    await ensureWorkloadImages(Object.values(WORKLOAD_IMAGES), cacheDir, progress);
    await ensureLoadGeneratorImage(cacheDir, progress);
    await ensureHostTools(HOST_TOOLS, cacheDir, progress);
    console.log(
      `workload images (${Object.values(WORKLOAD_IMAGES).join(", ")}), the load generator ${LOAD_GENERATOR_IMAGE} and ${HOST_TOOLS.join(", ")} ready in ${formatDuration(performance.now() - t1)}`,
    );
  }
  return 0;
}

/** pnpm cluster create | list | delete NAME | replace-node CLUSTER NODE */
async function clusterCommand(rest: string[], progress: ConsoleProgress): Promise<number> {
  const cacheDir = defaultCacheDir();
  const { values, positionals } = parse(rest, CLUSTER_FLAGS);
  if (values.help) return help();
  const provider = new KindProvider({ cacheDir, progress, images: parseImagesMode(values.images as string | undefined) });
  const sub = positionals[0];
  // Only create takes the cluster flags; list, delete and replace-node refuse them rather than ignore them (a
  // user who typed pnpm cluster delete x --k8s-version … meant something this command does not do).
  const usage = CLUSTER_USAGE[sub ?? ""];
  if (usage) {
    if (sub !== "create") {
      const given = Object.keys(CLUSTER_FLAGS).find((f) => values[f] !== undefined);
      if (given) throw new AftershockError("E_BAD_INPUT", `--${given} is not an option of pnpm cluster ${sub}`, { hint: `usage: ${usage}` });
    }
    const args = { create: 0, list: 0, delete: 1, "replace-node": 2 }[sub as keyof typeof CLUSTER_USAGE]!;
    if (positionals.length !== args + 1) throw new AftershockError("E_BAD_INPUT", `usage: ${usage}`);
    // Names checked as text before Docker is asked about them.
    if (sub === "delete" || sub === "replace-node") checkClusterName(positionals[1]!);
  }
  if (sub === "list") {
    const clusters = await provider.list();
    if (!clusters.length) console.log("no Aftershock clusters");
    for (const c of clusters)
      console.log(
        `${c.name}\t${c.nodes.length} nodes\trun ${c.runId}\t${c.keep ? "kept (delete with pnpm cluster delete)" : `owner pid ${c.ownerPid}${c.ownerAlive ? "" : " (dead: pnpm gc removes it)"}`}`,
      );
    return 0;
  }
  if (sub === "delete") {
    await provider.deleteByName(positionals[1]!);
    return 0;
  }
  if (sub === "create") {
    const spec = specFrom(values);
    checkImagesUpFront(parseImagesMode(values.images as string | undefined), [spec.kubernetesVersion], hostFacts().cgroup, publishedImages(), spec.image);
    await doctor({ progress });
    const cluster = await provider.create(spec, { retainOnFailure: !!values.keep, detached: true });
    console.log(cluster.howToReach());
    return 0;
  }
  if (sub === "replace-node") {
    const node = await provider.replaceLostNode(positionals[1]!, positionals[2]!);
    console.log(
      `${node.name} is a fresh machine (containerd running, images preloaded, not joined). Join it, e.g.:\n  docker exec -it ${node.name} bash\n  kubeadm join … --control-plane --certificate-key … --ignore-preflight-errors=all`,
    );
    return 0;
  }
  throw new AftershockError("E_BAD_INPUT", `unknown cluster command "${sub ?? ""}"`, { hint: "use create, delete, list or replace-node" });
}

/** pnpm demo: create a cluster, print its nodes, delete it (unless --keep). */
async function demoCommand(rest: string[], progress: ConsoleProgress): Promise<number> {
  const cacheDir = defaultCacheDir();
  const { values, positionals } = parse(rest, CLUSTER_FLAGS);
  if (values.help) return help();
  if (positionals.length) throw new AftershockError("E_BAD_INPUT", `unexpected argument "${positionals[0]}"`);
  const spec = specFrom({ workers: "1", ...values });
  const images = parseImagesMode(values.images as string | undefined);
  checkImagesUpFront(images, [spec.kubernetesVersion], hostFacts().cgroup, publishedImages(), spec.image);
  await doctor({ progress });
  const provider = new KindProvider({ cacheDir, progress, images });
  const started = performance.now();
  // A kept demo cluster is detached like pnpm cluster create: no reaper removes it when this process exits.
  await showCluster(await provider.create(spec, { retainOnFailure: !!values.keep, detached: !!values.keep }), !!values.keep);
  console.log(`demo finished in ${formatDuration(performance.now() - started)}`);
  return 0;
}

/** The demo's cluster: its nodes and pods; then deleted as this scope ends (however it ends), or kept and said how to reach. */
async function showCluster(cluster: Cluster, keep: boolean): Promise<void> {
  await using _deleted = keep ? null : cluster;
  try {
    const nodes = await cluster.kubectl(["get", "nodes", "-o", "wide"]);
    console.log(nodes.stdout);
    const pods = await cluster.kubectl(["get", "pods", "-A"]);
    console.log(pods.stdout);
  } finally {
    if (keep) console.log(cluster.howToReach());
  }
}

/** The flags of pnpm scenario and pnpm suite (each refuses the other's). */
/** A cluster this tool did not create (pnpm scenario, suite and gameday): its kubeconfig, machines and allowance. */
const EXISTING_CLUSTER_FLAGS = {
  kubeconfig: { type: "string" },
  context: { type: "string" },
  "existing-cluster": { type: "boolean" },
  registry: { type: "string" },
  nodes: { type: "string" },
  "allow-cluster-faults": { type: "string" },
} as const;

const RUN_FLAGS = {
  "k8s-version": { type: "string" },
  image: { type: "string" },
  images: { type: "string" },
  keep: { type: "boolean" },
  reporter: { type: "string" },
  "dry-run": { type: "boolean" },
  list: { type: "boolean" },
  "game-day": { type: "boolean" },
  tag: { type: "string" },
  prove: { type: "boolean" },
  "fresh-clusters": { type: "boolean" },
  workload: { type: "string" },
  "fail-on-workload-slo": { type: "boolean" },
  ...EXISTING_CLUSTER_FLAGS,
  runbook: { type: "string" },
  variant: { type: "string" },
  repeat: { type: "string" },
  shard: { type: "string" },
  gate: { type: "boolean" },
  "gate-min-score": { type: "string" },
  conformance: { type: "boolean" },
} as const;

/** pnpm scenario and pnpm suite: their flags checked, before anything is created. */
async function runCommand(cmd: "scenario" | "suite", rest: string[], progress: ConsoleProgress): Promise<number> {
  const { values, positionals } = parse(rest, RUN_FLAGS);
  if (values.help) return help();
  refuseOtherCommandsFlags(cmd, values);
  // The gate's threshold is checked with the other flags, before anything is created.
  if (values["gate-min-score"] !== undefined && !values.gate)
    throw new AftershockError("E_BAD_INPUT", "--gate-min-score needs --gate", { hint: "pnpm suite --gate --gate-min-score N" });
  const gateMinScore = int("gate-min-score", values["gate-min-score"] as string | undefined, DEFAULT_GATE_MIN_SCORE, 0, 100);
  const existing = existingTarget(values);
  if (existing) refuseOnExisting(cmd, values);
  const images = parseImagesMode(values.images as string | undefined);
  const versions = checkedVersions(cmd, values);
  if (!existing) checkImagesUpFront(images, versions, hostFacts().cgroup, publishedImages(), values.image as string | undefined);
  const workload = workloadOf(values);
  const o = {
    version: versions[0]!,
    keep: !!values.keep,
    reporters: parseReporters(values.reporter as string | undefined),
    gameDay: !!values["game-day"],
    progress,
    images,
    ...(values.image ? { image: values.image as string } : {}),
    ...(existing ? { existing } : {}),
    ...(workload ? { workload } : {}),
    ...(values.conformance ? { conformance: true } : {}),
  };
  if (cmd === "suite") {
    const repeat = int("repeat", values.repeat as string | undefined, 1, 1, 100);
    const shard = values.shard !== undefined ? parseShard(values.shard as string) : undefined;
    return suiteCommand(values.tag as string | undefined, positionals, {
      ...o,
      versions,
      prove: !!values.prove,
      freshClusters: !!values["fresh-clusters"],
      repeat,
      ...(shard ? { shard } : {}),
      gate: !!values.gate,
      gateMinScore,
    });
  }
  if (positionals.length > 1)
    throw new AftershockError("E_BAD_INPUT", `one scenario at a time, got ${positionals.join(" ")}`, { hint: "use pnpm suite for several" });
  return scenarioCommand(
    positionals[0],
    {
      list: !!values.list,
      dryRun: !!values["dry-run"],
      ...(values.runbook !== undefined ? { runbook: values.runbook as string } : {}),
      ...(values.variant !== undefined ? { variant: values.variant as string } : {}),
    },
    o,
  );
}

/** Refuses the first of `flags` given, as not an option of pnpm `cmd`. */
function refuseFlags(cmd: string, values: Values, flags: string[], where: string): void {
  const bad = flags.filter((f) => values[f] !== undefined);
  if (bad.length) throw new AftershockError("E_BAD_INPUT", `--${bad[0]} is not an option of pnpm ${cmd}`, { hint: where });
}

/** pnpm suite refuses pnpm scenario's flags, and pnpm scenario the suite's. */
function refuseOtherCommandsFlags(cmd: "scenario" | "suite", values: Values): void {
  if (cmd === "suite") {
    refuseFlags(
      cmd,
      values,
      ["keep", "game-day", "list", "dry-run", "runbook", "variant"],
      "a suite deletes what it creates and runs every runbook and variant; use pnpm scenario <id> for these",
    );
    return;
  }
  refuseFlags(cmd, values, ["tag", "prove", "fresh-clusters"], "use pnpm suite --tag TAG [--prove] [--fresh-clusters]");
  refuseFlags(cmd, values, ["repeat", "shard"], "use pnpm suite [ID ...] --repeat N --shard i/n");
  refuseFlags(cmd, values, ["gate", "gate-min-score"], "the gate judges a suite: use pnpm suite [ID ...] --gate [--gate-min-score N]");
}

/** On a cluster this tool did not create: nothing is created, kept or built, and no conformance specs run. */
function refuseOnExisting(cmd: "scenario" | "suite", values: Values): void {
  refuseFlags(cmd, values, ["keep", "image", "images", "k8s-version", "fresh-clusters"], "an existing cluster is neither created, kept nor built by this tool");
  // Conformance specs create CRDs, namespaces, flow schemas, admission policies, PersistentVolumes…: cluster-wide.
  if (values.conformance)
    throw new AftershockError(
      "E_BAD_INPUT",
      "--conformance runs only on a cluster this tool creates: its specs write cluster-wide objects (CRDs, namespaces, flow schemas, admission policies)",
      {
        hint: "leave out --kubeconfig, or run e2e.test against that cluster yourself",
      },
    );
}

/** --k8s-version: pnpm suite takes several versions (a matrix: --k8s-version v1.29.15,v1.37.2); pnpm scenario one. */
function checkedVersions(cmd: "scenario" | "suite", values: Values): string[] {
  const versions = ((values["k8s-version"] as string | undefined) ?? DEFAULT_KUBERNETES_VERSION).split(",").map((v) => v.trim());
  if (versions.length > 1 && cmd !== "suite")
    throw new AftershockError("E_BAD_INPUT", `one --k8s-version at a time for pnpm ${cmd}`, {
      hint: "pnpm suite --k8s-version A,B runs the selection on each",
    });
  if (values.image !== undefined) checkImageReference(values.image as string, "--image");
  if (versions.length > 1 && values.image) throw new AftershockError("E_BAD_INPUT", "--image runs one node image: give one --k8s-version with it");
  if (new Set(versions).size !== versions.length) throw new AftershockError("E_BAD_INPUT", `--k8s-version names a version twice: ${versions.join(",")}`);
  for (const v of versions) {
    if (!isKubernetesVersionSyntax(v)) throw new AftershockError("E_BAD_VERSION", `not a Kubernetes version: "${v}" (expected e.g. v1.29.15)`);
    if (!values.image) checkBuildableVersion(v);
  }
  return versions;
}

/** A team's workload: --workload PATH, or aftershock.yaml where the command runs; read before anything exists. */
function workloadOf(values: Values): WorkloadConfig | undefined {
  const workloadPath = (values.workload as string | undefined) ?? (existsSync(WORKLOAD_FILE) ? WORKLOAD_FILE : undefined);
  if (values["fail-on-workload-slo"] && !workloadPath) throw new AftershockError("E_BAD_INPUT", "--fail-on-workload-slo needs a workload (--workload PATH)");
  const workload = workloadPath ? readWorkload(workloadPath) : undefined;
  if (workload && values["fail-on-workload-slo"]) workload.failRunOnBreach = true;
  return workload;
}

/** pnpm gameday [shell] */
async function gamedayCmd(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, {
    tag: { type: "string" },
    difficulty: { type: "string" },
    seed: { type: "string" },
    "k8s-version": { type: "string" },
    ...EXISTING_CLUSTER_FLAGS,
  });
  if (values.help) return help();
  if (positionals[0] === "shell") {
    const given = Object.keys(values).find((f) => f !== "help" && values[f] !== undefined);
    if (given) throw new AftershockError("E_BAD_INPUT", `--${given} is not an option of pnpm gameday shell`, { hint: "it joins the running game" });
    if (positionals.length > 1) throw new AftershockError("E_BAD_INPUT", `unexpected argument "${positionals[1]}"`, { hint: "usage: pnpm gameday shell" });
    return gamedayShell();
  }
  if (positionals.length)
    throw new AftershockError("E_BAD_INPUT", `unexpected argument "${positionals[0]}"`, {
      hint: "the game draws the scenario; choose with --tag TAG or --difficulty easy|medium|hard (or: pnpm gameday shell)",
    });
  // A game on a cluster this tool did not create: the same flags and checks as pnpm scenario's, before the draw.
  const existing = existingTarget(values);
  if (existing && values["k8s-version"] !== undefined)
    throw new AftershockError("E_BAD_INPUT", "--k8s-version is not an option of pnpm gameday on an existing cluster", {
      hint: "an existing cluster is neither created nor built by this tool: it runs the version it runs",
    });
  const difficulty = parseDifficulty(values.difficulty as string | undefined);
  const seed = values.seed !== undefined ? int("seed", values.seed as string, 0, 0, 2 ** 31 - 1) : undefined;
  const version = (values["k8s-version"] as string | undefined) ?? DEFAULT_KUBERNETES_VERSION;
  if (!isKubernetesVersionSyntax(version)) throw new AftershockError("E_BAD_VERSION", `not a Kubernetes version: "${version}" (expected e.g. v1.29.15)`);
  checkBuildableVersion(version);
  return gamedayCommand({
    version,
    ...(values.tag !== undefined ? { tag: values.tag as string } : {}),
    ...(difficulty ? { difficulty } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(existing ? { existing } : {}),
  });
}

/** pnpm gc [--all] [--kubeconfig FILE [--context C]] */
async function gcCommand(rest: string[], progress: ConsoleProgress): Promise<number> {
  const { values, positionals } = parse(rest, { all: { type: "boolean" }, kubeconfig: { type: "string" }, context: { type: "string" } });
  if (values.help) return help();
  // "pnpm gc all" (for --all) must not go on to collect as if nothing had been typed.
  if (positionals.length)
    throw new AftershockError("E_BAD_INPUT", `unexpected argument "${positionals[0]}"`, {
      hint: "usage: pnpm gc [--all] [--kubeconfig FILE [--context C]]",
    });
  if (values.kubeconfig) {
    const removed = await gcExisting(
      { kubeconfig: values.kubeconfig as string, ...(values.context ? { context: values.context as string } : {}) },
      !!values.all,
      progress,
    );
    console.log(`deleted ${removed.length} namespace${removed.length === 1 ? "" : "s"} of dead runs${removed.length ? `: ${removed.join(", ")}` : ""}`);
    return 0;
  }
  if (values.context) throw new AftershockError("E_BAD_INPUT", "--context needs --kubeconfig");
  const removed = await garbageCollect({ all: !!values.all, progress });
  console.log(
    `removed ${removed.containers} containers, ${removed.volumes} volumes, ${removed.networks} networks, ${removed.images} upstream image names of earlier builds`,
  );
  return 0;
}

/** --kubeconfig and its companions, checked together: an existing cluster needs the explicit opt-in. */
function existingTarget(values: Values): ExistingTarget | undefined {
  const kubeconfig = values.kubeconfig as string | undefined;
  if (!kubeconfig) {
    const stray = ["context", "registry", "existing-cluster", "nodes", "allow-cluster-faults"].find((f) => values[f] !== undefined);
    if (stray) throw new AftershockError("E_BAD_INPUT", `--${stray} needs --kubeconfig FILE`);
    return undefined;
  }
  if (!values["existing-cluster"]) {
    throw new AftershockError(
      "E_BAD_INPUT",
      `--kubeconfig names a cluster this tool did not create; add --existing-cluster to allow one namespace there to be created, written and deleted`,
    );
  }
  if (!existsSync(kubeconfig)) throw new AftershockError("E_BAD_INPUT", `--kubeconfig ${kubeconfig}: no such file`);
  const registry = values.registry as string | undefined;
  if (registry !== undefined) checkRegistryAddress(registry, "--registry");
  const t: ExistingTarget = {
    kubeconfig: path.resolve(kubeconfig),
    ...(values.context ? { context: values.context as string } : {}),
    ...(registry ? { registry } : {}),
    // Read and checked now (fields, key files, duplicates): before anything is built or created.
    ...(values.nodes !== undefined ? { inventory: readInventory(values.nodes as string) } : {}),
  };
  const allow = values["allow-cluster-faults"] as string | undefined;
  if (allow !== undefined) {
    checkAllowance(allow, targetContext(t));
    t.allowClusterFaults = allow;
  }
  return t;
}

function help(): number {
  console.log(USAGE);
  return 0;
}

function specFrom(values: Values): ClusterSpec {
  const version = (values["k8s-version"] as string | undefined) ?? DEFAULT_KUBERNETES_VERSION;
  // Validate before touching Docker, so bad input leaves nothing behind.
  if (!values.image) checkBuildableVersion(version);
  else if (!isKubernetesVersionSyntax(version)) throw new AftershockError("E_BAD_VERSION", `not a Kubernetes version: "${version}" (expected e.g. v1.29.15)`);
  // The name and the registry as text: kind would refuse the one after the doctor, the nodes the other after the cluster.
  if (values.name !== undefined) checkClusterName(values.name as string, "--name");
  if (values.image !== undefined) checkImageReference(values.image as string, "--image");
  if (values["insecure-registry"] !== undefined) checkRegistryAddress(values["insecure-registry"] as string, "--insecure-registry");
  const cps = int("control-planes", values["control-planes"] as string | undefined, 1, 1, 3);
  if (cps === 2) throw new AftershockError("E_BAD_INPUT", "--control-planes must be 1 or 3 (etcd needs an odd number of members)");
  return {
    controlPlanes: cps,
    workers: int("workers", values.workers as string | undefined, 0, 0, 5),
    kubernetesVersion: version,
    image: values.image as string | undefined,
    name: values.name as string | undefined,
    ...(values.wait ? { readyBudget: asDuration(values.wait as string) } : {}),
    ...(values["insecure-registry"] ? { insecureRegistries: [values["insecure-registry"] as string] } : {}),
  };
}

installSignalHandlers();
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => exitOnError("aftershock", e),
);
