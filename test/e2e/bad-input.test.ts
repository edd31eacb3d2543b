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

/**
 * With a working Docker engine (the global setup's doctor), bad input must still fail before anything is
 * created: one line, a non-zero exit, and not one container, volume or network more than before.
 */
// It counts every Docker object: nothing may be building beside it.
beforeAll(afterBackgroundBuilds);

describe("bad input fails before anything is created", () => {
  it.each([
    // stdin is not a terminal here, as in CI: a game day needs a person.
    [["scenario", "etcd-port-conflict", "--game-day"], /^aftershock: error E_BAD_INPUT: --game-day needs an interactive terminal/],
    // A node image reference Docker cannot parse (upper case): refused as text, before the doctor and kind.
    [
      ["scenario", "etcd-port-conflict", "--image", "NotAnImage:x"],
      /^aftershock: error E_BAD_INPUT: --image must be an image reference such as kindest\/node:v1\.29\.14, got "NotAnImage:x"/,
    ],
    [
      ["demo", "--image", "NotAnImage:x"],
      /^aftershock: error E_BAD_INPUT: --image must be an image reference such as kindest\/node:v1\.29\.14, got "NotAnImage:x"/,
    ],
    // A valid reference that is neither on this machine nor pullable (checked after the doctor, before kind).
    [
      ["demo", "--image", "aftershock.local/never-built:v0"],
      /^aftershock: error E_BAD_INPUT: image aftershock\.local\/never-built:v0 is not on this machine and could not be pulled/,
    ],
    [["scenario", "etcd-port-conflict", "--k8s-version", "v1.31.0"], /^aftershock: error E_BAD_VERSION: Kubernetes v1\.31\.0 cannot be built offline here/],
    [["scenario", "etcd-port-conflict", "--reporter", "console,pdf"], /^aftershock: error E_BAD_INPUT: unknown reporter "pdf"/],
    [["scenario", "etcd-port-conflit"], /^aftershock: error E_BAD_INPUT: unknown scenario "etcd-port-conflit"/],
    [["suite", "--keep"], /^aftershock: error E_BAD_INPUT: --keep is not an option of pnpm suite/],
    [["cluster", "create", "--workers", "9"], /^aftershock: error E_BAD_INPUT: --workers must be a whole number from 0 to 5/],
    // A team's workload: what can be known about it before a cluster (its images, its Service, its chart).
    [
      ["scenario", "etcd-port-conflict", "--workload", notBuilt],
      /^aftershock: error E_BAD_INPUT: workload \S+aftershock\.yaml: image aftershock\.local\/never-built:v0 is not in the local Docker/,
    ],
    [
      ["scenario", "etcd-port-conflict", "--workload", noService],
      /^aftershock: error E_BAD_INPUT: workload \S+aftershock\.yaml: users\.service "checkout" is not a Service it deploys \(its Services: store, web\)/,
    ],
    [
      ["scenario", "etcd-port-conflict", "--workload", badChart],
      /^aftershock: error E_BAD_INPUT: workload \S+aftershock\.yaml: the chart does not render: template: shop\/templates\/web\.yaml:.*nil pointer evaluating/,
    ],
  ])("%j", async (args, expected) => {
    const before = await everything();
    const r = await cli(args, 5 * 60_000);
    expect(r.code, r.output).toBe(2);
    // Exactly one error line, and it is the last thing printed: nothing after it, no stack trace anywhere (the
    // doctor's check lines may come before it, on the same stream).
    const lines = r.output.split("\n").filter((l) => l.trim());
    const errors = lines.filter((l) => l.startsWith("aftershock: "));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(expected);
    expect(lines.at(-1), r.output).toBe(errors[0]);
    expect(r.output).not.toMatch(/^\s+at \S+ \(|^\s+at (file|node):/m);
    expect(await everything()).toEqual(before);
  });
});
