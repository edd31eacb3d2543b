import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { docker } from "../../clusters/docker.js";
import { afterBackgroundBuilds, cli, shopCopy } from "./helpers.js";

const shopWith = (edit: (yaml: string) => string, files: Record<string, string> = {}) => shopCopy({ "aftershock.yaml": edit }, files);

const notBuilt = shopWith((y) => y.replace("- aftershock.local/echo:v1", "- aftershock.local/never-built:v0"));
const noService = shopWith((y) => y.replace("service: web", "service: checkout"));
const badChart = shopWith((y) => y.replace(/^ {2}manifests: k8s.*$/m, "  helm: { chart: chart, release: shop }"), {
  "chart/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
  "chart/templates/web.yaml": "apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec:\n  ports: [{ port: {{ .Values.web.port }} }]\n",
});

/** Every container, volume and network on the machine, whoever made it. */
async function everything(): Promise<string[]> {
  return [
    ...(await docker.ids("container", [])).map((id) => `container ${id}`),
    ...(await docker.ids("volume", [])).map((id) => `volume ${id}`),
    ...(await docker.ids("network", [])).map((id) => `network ${id}`),
  ].sort();
}

/** The host's Docker configuration as it is now: the doctor must not have changed it for input it then refused. */
const daemonJson = (): string =>
  existsSync("/etc/docker/daemon.json") ? createHash("sha256").update(readFileSync("/etc/docker/daemon.json")).digest("hex") : "absent";

/**
 * With a working Docker engine (the global setup's doctor), bad input must still fail before anything is
 * created: one line, a non-zero exit, and not one container, volume or network more than before.
 */
// It counts every Docker object: nothing may be building beside it.
beforeAll(afterBackgroundBuilds);

/**
 * The lines the doctor and a build print as they go (ConsoleProgress, clusters/progress.ts): a step begun, done or
 * skipped, a heartbeat, a note (the doctor's checks are notes: "  ✓ docker …") or a warning ("! ✗ …", a check that
 * does not block). A step that failed ("✗ …") or an "aftershock:" line is not progress: it would say the error twice.
 */
const PROGRESS = /^(• .+ …|✓ .+|↷ .+| {2}\S.*|! .+)$/;

describe("bad input fails before anything is created", () => {
  // Each case says when it is refused: before the doctor, the error is all that is printed (one line); after it
  // (its input can only be judged with Docker or Helm), the doctor's and the build's progress lines come first, and
  // the error is the one line after them. Which are before the doctor was seen with docker, go, kind and helm
  // replaced by scripts that record any call: none was made, and the output was that one line.
  it.each([
    // stdin is not a terminal here, as in CI: a game day needs a person.
    [["scenario", "etcd-port-conflict", "--game-day"], "before the doctor", /^aftershock: error E_BAD_INPUT: --game-day needs an interactive terminal/],
    // A node image reference Docker cannot parse (upper case): refused as text, before the doctor and kind.
    [
      ["scenario", "etcd-port-conflict", "--image", "NotAnImage:x"],
      "before the doctor",
      /^aftershock: error E_BAD_INPUT: --image must be an image reference such as kindest\/node:v1\.29\.14, got "NotAnImage:x"/,
    ],
    [
      ["demo", "--image", "NotAnImage:x"],
      "before the doctor",
      /^aftershock: error E_BAD_INPUT: --image must be an image reference such as kindest\/node:v1\.29\.14, got "NotAnImage:x"/,
    ],
    // A valid reference that is neither on this machine nor pullable (checked after the doctor, before kind).
    [
      ["demo", "--image", "aftershock.local/never-built:v0"],
      "after the doctor",
      /^aftershock: error E_BAD_INPUT: image aftershock\.local\/never-built:v0 is not on this machine and could not be pulled/,
    ],
    [
      ["scenario", "etcd-port-conflict", "--k8s-version", "v1.31.0"],
      "before the doctor",
      /^aftershock: error E_BAD_VERSION: Kubernetes v1\.31\.0 cannot be built offline here/,
    ],
    [["scenario", "etcd-port-conflict", "--reporter", "console,pdf"], "before the doctor", /^aftershock: error E_BAD_INPUT: unknown reporter "pdf"/],
    [["scenario", "etcd-port-conflit"], "before the doctor", /^aftershock: error E_BAD_INPUT: unknown scenario "etcd-port-conflit"/],
    [["suite", "--keep"], "before the doctor", /^aftershock: error E_BAD_INPUT: --keep is not an option of pnpm suite/],
    [["cluster", "create", "--workers", "9"], "before the doctor", /^aftershock: error E_BAD_INPUT: --workers must be a whole number from 0 to 5/],
    // A version the offline builder does not know, even for a plan that creates nothing.
    [
      ["scenario", "etcd-port-conflict", "--k8s-version", "v1.29.999", "--dry-run"],
      "before the doctor",
      /^aftershock: error E_BAD_VERSION: Kubernetes v1\.29\.999 is not a release the offline builder knows/,
    ],
    // A registry the nodes would be told to trust, and a cluster name kind would refuse: both before kind runs.
    [
      ["cluster", "create", "--insecure-registry", "not_a_host:99999"],
      "before the doctor",
      /^aftershock: error E_BAD_INPUT: --insecure-registry must be HOST\[:PORT\] with a port from 1 to 65535, got "not_a_host:99999"/,
    ],
    [["cluster", "create", "--name", "Bad_Name"], "before the doctor", /^aftershock: error E_BAD_INPUT: --name "Bad_Name" must be lower-case letters/],
    // list and delete take none of create's flags, and say so rather than ignore them.
    [["cluster", "list", "--workers", "2"], "before the doctor", /^aftershock: error E_BAD_INPUT: --workers is not an option of pnpm cluster list/],
    [["cluster", "delete", "--workers", "2"], "before the doctor", /^aftershock: error E_BAD_INPUT: --workers is not an option of pnpm cluster delete/],
    // A bench answers a bad flag as the CLI does, not with a stack trace.
    [["@bench/cluster.ts", "--shapes", "2+1"], "before the doctor", /^bench: error E_BAD_INPUT: --shapes: bad shape "2\+1"/],
    [["@bench/cluster.ts", "--bogus"], "before the doctor", /^bench: error E_BAD_INPUT: Unknown option '--bogus'/],
    // A team's workload: what can be known about it before a cluster (its images, its Service, its chart).
    [
      ["scenario", "etcd-port-conflict", "--workload", notBuilt],
      "after the doctor",
      /^aftershock: error E_BAD_INPUT: workload \S+aftershock\.yaml: image aftershock\.local\/never-built:v0 is not in the local Docker/,
    ],
    [
      ["scenario", "etcd-port-conflict", "--workload", noService],
      "before the doctor",
      /^aftershock: error E_BAD_INPUT: workload \S+aftershock\.yaml: users\.service "checkout" is not a Service it deploys \(its Services: store, web\)/,
    ],
    [
      ["scenario", "etcd-port-conflict", "--workload", badChart],
      "after the doctor",
      /^aftershock: error E_BAD_INPUT: workload \S+aftershock\.yaml: the chart does not render: template: shop\/templates\/web\.yaml:.*nil pointer evaluating/,
    ],
  ] as [string[], "before the doctor" | "after the doctor", RegExp][])("%j, refused %s", async (args, when, expected) => {
    const before = await everything();
    const config = daemonJson();
    // "@file" runs another entry (a bench) instead of the CLI.
    const entry = args[0]!.startsWith("@") ? args[0]!.slice(1) : undefined;
    const r = await cli(entry ? args.slice(1) : args, 5 * 60_000, {}, entry);
    expect(r.code, r.output).toBe(2);
    const lines = r.output.replace(/\n$/, "").split("\n");
    // The error is one line, the last thing printed, and no other line is an error or a stack trace.
    expect(lines.at(-1), r.output).toMatch(expected);
    if (when === "before the doctor") expect(lines, "exactly one line").toEqual([lines.at(-1)]);
    else
      expect(
        lines.slice(0, -1).filter((l) => !PROGRESS.test(l)),
        `only progress lines before the error:\n${r.output}`,
      ).toEqual([]);
    expect(r.output).not.toMatch(/^\s+at \S+ \(|^\s+at (file|node):/m);
    expect(await everything()).toEqual(before);
    expect(daemonJson(), "/etc/docker/daemon.json changed").toBe(config);
  });
});
