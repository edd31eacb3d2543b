/**
 * pnpm bench:first-run --point-docker-at-mirror [--scenario ID] [--k8s-version V]
 *
 * A user's first run where a registry answers, re-enacted on this machine, which has none: the registry is
 * Debian's docker-registry on loopback, serving this machine's own built images under pinned digests and the names
 * a user pulls (the node image as kindest/node:V; echo and the load generator under aftershock/), with the host's
 * Docker pointed at it as its mirror of docker.io; kind's binary comes from a file server on loopback, checked by
 * sha256. Then, with none of those images in the host's Docker and an empty cache (no Go build cache: a fresh
 * AFTERSHOCK_CACHE), it times `pnpm scenario ID --images pull` from the command to its outcome, and shows
 * `--images auto` choosing build when nothing answers and pull when the mirror answers (pnpm cluster create).
 *
 * It changes the host's Docker while it runs, and says so: `registry-mirrors` in /etc/docker/daemon.json (reloaded
 * with SIGHUP, no restart), put back as it was at the end, also on failure. Hence --point-docker-at-mirror.
 * Needs root (daemon.json) and a warm build (it publishes what is built). Appends a line to bench/results.jsonl.
 */
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { docker } from "../clusters/docker.js";
import { run } from "../clusters/exec.js";
import { AftershockError } from "../clusters/errors.js";
import { hostFacts } from "../clusters/host/facts.js";
import { HOST_PATHS, reloadDocker } from "../clusters/host/doctor.js";
import { readEngine } from "../clusters/host/facts.js";
import { startLocalRegistry } from "../clusters/host/registry.js";
import { checkBuildableVersion, defaultCacheDir, nodeImageRef } from "../clusters/images/builder.js";
import { publishImages } from "../clusters/images/publish.js";
import { ConsoleProgress } from "../clusters/progress.js";
import { DEFAULT_KUBERNETES_VERSION } from "../clusters/versions.js";
import { exitOnError, parse } from "../harness/cli/args.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..");
const progress = new ConsoleProgress();
const MIRROR = "http://127.0.0.1:5000";
const USAGE = "pnpm bench:first-run --point-docker-at-mirror [--scenario ID] [--k8s-version V]";

const { scenario, version } = (() => {
  try {
    const { values, positionals } = parse(process.argv.slice(2), {
      "point-docker-at-mirror": { type: "boolean" },
      scenario: { type: "string" },
      "k8s-version": { type: "string" },
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (positionals.length) throw new AftershockError("E_BAD_INPUT", `unexpected argument "${positionals[0]}"`, { hint: USAGE });
    if (!values["point-docker-at-mirror"])
      throw new AftershockError(
        "E_BAD_INPUT",
        `this bench points the host's Docker at a loopback mirror (registry-mirrors in ${HOST_PATHS.daemonJson}, put back at the end)`,
        {
          hint: `say so with --point-docker-at-mirror`,
        },
      );
    if (!hostFacts().user.root)
      throw new AftershockError("E_NOT_ROOT", `changing ${HOST_PATHS.daemonJson} needs root`, { hint: "sudo pnpm bench:first-run …" });
    const version = (values["k8s-version"] as string | undefined) ?? DEFAULT_KUBERNETES_VERSION;
    checkBuildableVersion(version);
    return { scenario: (values.scenario as string | undefined) ?? "etcd-port-conflict", version };
  } catch (e) {
    return exitOnError("bench", e);
  }
})();

const secs = (ms: number) => Math.round(ms / 100) / 10;

/**
 * The images a pull run takes from the registry, gone from the host's Docker: every image behind their names (the
 * pushed node image is Aftershock's built one, so that goes too), removed by id with all its tags.
 */
async function forgetPulledImages(published: { nodeImages: { ref: string }[]; own: Record<string, string> }): Promise<string[]> {
  const names = [
    nodeImageRef(version),
    ...published.nodeImages.map((e) => e.ref),
    ...Object.keys(published.own),
    ...Object.values(published.own),
    ...(await docker.run(["images", "-q", "--no-trunc", "kindest/node"])).stdout.split("\n").filter(Boolean),
  ];
  const ids = new Set<string>();
  for (const n of names) {
    // (Docker 20.10's templates cannot join RepoTags: it is a list of interface{} there.)
    const r = await docker.run(["image", "inspect", "--format", "{{.Id}} {{json .RepoTags}}", n], { allowFailure: true });
    if (r.exitCode === 0) ids.add(r.stdout.trim());
  }
  const removed: string[] = [];
  for (const line of ids) {
    const [id, tags] = [line.slice(0, line.indexOf(" ")), (JSON.parse(line.slice(line.indexOf(" ") + 1) || "[]") as string[] | null) ?? []];
    if ((await docker.run(["rmi", "-f", id], { allowFailure: true })).exitCode === 0) removed.push(`${id.slice(7, 19)} (${tags.join(", ") || "untagged"})`);
  }
  return removed;
}

/**
 * Points the engine at the mirror, or takes it away: a reload (SIGHUP) keeps the old mirrors when the key is simply
 * gone, so the way back writes an empty list first, reloads, and then puts the original file back as it was.
 */
async function setMirror(on: boolean, original: string | undefined): Promise<void> {
  const doc = original ? (JSON.parse(original) as Record<string, unknown>) : {};
  const mirrors = (doc["registry-mirrors"] as string[] | undefined) ?? [];
  doc["registry-mirrors"] = on ? [...mirrors, MIRROR] : mirrors;
  await writeFile(HOST_PATHS.daemonJson, JSON.stringify(doc, null, 2) + "\n");
  const listed = (e: { registryMirrors: string[] }) => e.registryMirrors.some((m) => m.replace(/\/$/, "") === MIRROR);
  await reloadDocker((e) => listed(e) === on);
  if (!on) {
    if (original === undefined) await rm(HOST_PATHS.daemonJson, { force: true });
    else await writeFile(HOST_PATHS.daemonJson, original);
  }
  const now = (await readEngine()).registryMirrors;
  progress.info(`Docker's registry mirrors: ${now.length ? now.join(", ") : "none"}`);
}

/** Runs the CLI as a user does (pnpm …), timed from the command to its exit; its output goes to a log file. */
async function timed(args: string[], env: NodeJS.ProcessEnv, log: string): Promise<{ ms: number; exitCode: number; out: string }> {
  const t0 = performance.now();
  const r = await run("pnpm", args, { cwd: root, env: { ...process.env, ...env }, allowFailure: true, timeout: "30m" });
  const out = r.stdout + r.stderr;
  await writeFile(log, out);
  return { ms: performance.now() - t0, exitCode: r.exitCode ?? 1, out };
}

function newestJournal(since: number): Record<string, unknown> | undefined {
  const dir = path.join(root, "reports");
  const found = readdirSync(dir)
    .filter((d) => d.startsWith(`${scenario}-`) && existsSync(path.join(dir, d, "journal.json")))
    .map((d) => path.join(dir, d, "journal.json"))
    .filter((f) => statSync(f).mtimeMs >= since)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  return found ? (JSON.parse(readFileSync(found, "utf8")) as Record<string, unknown>) : undefined;
}

async function main() {
  const work = await mkdtemp(path.join(os.tmpdir(), "aftershock-first-run-"));
  const original = existsSync(HOST_PATHS.daemonJson) ? readFileSync(HOST_PATHS.daemonJson, "utf8") : undefined;
  const result: Record<string, unknown> = { bench: "first-run", at: new Date().toISOString(), scenario, kubernetesVersion: version };
  {
    // Released as this block ends, however it ends, last first: Docker's mirror setting put back (a failure said),
    // the file server closed, the registry stopped (a failure ignored).
    await using stack = new AsyncDisposableStack();
    const registry = await startLocalRegistry(defaultCacheDir(), progress);
    stack.defer(() => registry.stop().catch(() => undefined));
    const kindDir = path.join(work, "dl");
    const files = createServer((req, res) => {
      const p = path.join(kindDir, path.normalize(decodeURIComponent(req.url ?? "/")).replace(/^\/+/, ""));
      if (!p.startsWith(kindDir) || !existsSync(p) || !statSync(p).isFile()) {
        res.statusCode = 404;
        res.end();
        return;
      }
      createReadStream(p).pipe(res);
    });
    stack.defer(() => void files.close());
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    const kindUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    stack.defer(() => setMirror(false, original).catch((e: unknown) => progress.warn(`could not put ${HOST_PATHS.daemonJson} back: ${String(e)}`)));
    // 1. Publish this machine's build (warm) to the loopback registry, as a team would once.
    const t0 = performance.now();
    const published = await publishImages({
      registry: "127.0.0.1:5000",
      kubernetesVersion: version,
      cacheDir: defaultCacheDir(),
      progress,
      asMirror: true,
      kind: { dir: kindDir, url: kindUrl },
    });
    const list = path.join(work, "published.json");
    await writeFile(list, JSON.stringify(published, null, 2) + "\n");
    result.publishS = secs(performance.now() - t0);
    result.published = published;
    await setMirror(true, original);

    // 2. The pull run: none of its images here, an empty cache (no Go build cache, no kind).
    const removed = await forgetPulledImages(published);
    progress.info(`removed from the host's Docker before the pull run: ${removed.join(", ") || "nothing"}`);
    const cache = path.join(work, "cache");
    const since = Date.now();
    const pull = await timed(
      ["scenario", scenario, "--images", "pull", "--k8s-version", version],
      { AFTERSHOCK_PUBLISHED: list, AFTERSHOCK_CACHE: cache },
      path.join(work, "pull.log"),
    );
    const journal = newestJournal(since) as { outcome?: string; image?: unknown; timings?: Record<string, number> } | undefined;
    const compiled = existsSync(path.join(cache, "go")) ? readdirSync(path.join(cache, "go")) : [];
    result.pull = {
      commandS: secs(pull.ms),
      exitCode: pull.exitCode,
      outcome: journal?.outcome,
      image: journal?.image,
      clusterCreateS: journal?.timings?.clusterCreateMs !== undefined ? secs(journal.timings.clusterCreateMs) : undefined,
      scenarioTotalS: journal?.timings?.totalMs !== undefined ? secs(journal.timings.totalMs) : undefined,
      compiledInEmptyCache: compiled,
      log: path.join(work, "pull.log"),
    };
    result.dockerImagesAfterPull = (await docker.run(["images", "--digests", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}"])).stdout
      .split("\n")
      .filter((l) => /kindest\/node|aftershock\/|aftershock\.local\/(echo|vegeta)/.test(l));

    // 3. auto with nothing answering: the registry stopped, the pulled images gone -> it builds (cached here) and says why.
    await registry.stop();
    await forgetPulledImages(published);
    const name = `as-auto-${process.pid % 10000}`;
    /** pnpm cluster create --images auto, then its delete: how long, and what it said about the node image and kind. */
    const autoCreate = async (suffix: string) => {
      const r = await timed(
        ["cluster", "create", "--images", "auto", "--name", `${name}${suffix}`, "--k8s-version", version],
        { AFTERSHOCK_PUBLISHED: list },
        path.join(work, `auto-${suffix}.log`),
      );
      await timed(["cluster", "delete", `${name}${suffix}`], {}, path.join(work, `auto-${suffix}-delete.log`));
      return { commandS: secs(r.ms), exitCode: r.exitCode, said: r.out.split("\n").filter((l) => /node image:|kind:|instead/.test(l)) };
    };
    result.autoWhenNothingAnswers = await autoCreate("a");

    // 4. auto with the mirror answering -> it pulls.
    await using _registry2 = await startLocalRegistry(defaultCacheDir(), progress);
    result.autoWhenMirrorAnswers = await autoCreate("b");
  }
  await appendFile(path.join(here, "results.jsonl"), JSON.stringify(result) + "\n");
  console.log(JSON.stringify(result, null, 2));
  console.log(`logs in ${work}`);
  await rm(path.join(work, "cache"), { recursive: true, force: true });
}

main().catch((e: unknown) => exitOnError("bench", e));
