import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cp, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { AftershockError, CommandError, type Duration } from "../errors.js";
import { run } from "../exec.js";
import type { Progress } from "../progress.js";
import { PINNED } from "../versions.js";
import { aboutToBuild } from "./build-lock.js";
import { hostFacts } from "../host/facts.js";
import { goOlderThan } from "../host/doctor.js";

/** A set of binaries built from published Go modules through a small wrapper module. */
export interface GoComponent {
  name: string;
  version: string;
  /** Modules the wrapper requires (published on the module proxy). */
  requires?: { module: string; version: string }[];
  /** A module kept in this repository (with go.mod and go.sum) to build instead of published ones. */
  localSource?: string;
  /**
   * Replace directives the upstream module relies on but which Go ignores in dependencies, e.g. the
   * k8s.io/* staging modules of k8s.io/kubernetes, rewritten to their published releases.
   */
  replaces?: { module: string; version: string; target?: string }[];
  /**
   * What to build: main packages with `go build`, and with `test: true` a package's test binary with `go test -c`
   * (e.g. Kubernetes' e2e.test from k8s.io/kubernetes/test/e2e), with the same tags, ldflags and toolchain.
   */
  outputs: { pkg: string; bin: string; test?: boolean }[];
  ldflags?: string;
  tags?: string;
  /**
   * Build with cgo (runc needs it for libseccomp), linked statically so the binary runs in any node rootfs. The
   * host needs gcc and the C library's static parts (pnpm run doctor installs libseccomp-dev).
   */
  cgoStatic?: boolean;
  /** Expected build time on 2 cores, shown as the step's budget. */
  budget: Duration;
}

export interface BuiltComponent {
  name: string;
  version: string;
  binDir: string;
  bins: Record<string, string>;
  cached: boolean;
  toolchain: string;
}

/**
 * The key of what a component builds: everything in its recipe but its time budget and where local source lives
 * (that source's files are hashed instead). The budget is written as it was when it was `budgetMs`, a number, zeroed
 * in its place, so the components built before it became a Duration keep their keys and are not built again.
 */
export function recipeKey(c: GoComponent): string {
  const h = createHash("sha256");
  const recipe = Object.fromEntries(Object.entries(c).map(([k, v]) => (k === "budget" ? ["budgetMs", 0] : [k, v])));
  h.update(JSON.stringify({ ...recipe, localSource: undefined }));
  if (c.localSource) {
    for (const f of readdirSync(c.localSource).sort()) h.update(f + "\0" + readFileSync(path.join(c.localSource, f)).toString("base64"));
  }
  return h.digest("hex").slice(0, 12);
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** Builds (or finds in the cache) the binaries of one component. Keyed by name, version and recipe. */
export async function buildGoComponent(c: GoComponent, cacheDir: string, progress: Progress): Promise<BuiltComponent> {
  const dir = path.join(cacheDir, "go", `${c.name}-${c.version}-${recipeKey(c)}`);
  const binDir = path.join(dir, "bin");
  const bins = Object.fromEntries(c.outputs.map((o) => [o.bin, path.join(binDir, o.bin)]));
  const marker = path.join(dir, "built.json");
  hostFacts(); // puts /usr/local/go/bin on PATH for the go commands below when the user's PATH lacks it
  if (await exists(marker)) {
    const info = JSON.parse(await readFile(marker, "utf8")) as { toolchain: string };
    return { name: c.name, version: c.version, binDir, bins, cached: true, toolchain: info.toolchain };
  }
  aboutToBuild(`${c.name} ${c.version}`);
  const step = progress.step(`Building ${c.name} ${c.version} from Go modules (${c.outputs.map((o) => o.bin).join(", ")})`, c.budget);
  try {
    await rm(dir, { recursive: true, force: true });
    await mkdir(binDir, { recursive: true });
    const src = path.join(dir, "src");
    if (c.localSource) {
      await cp(c.localSource, src, { recursive: true });
    } else {
      await mkdir(src, { recursive: true });
      await writeFile(path.join(src, "go.mod"), wrapperGoMod(c));
      await writeFile(path.join(src, "tools.go"), toolsGo(c));
    }
    const baseEnv = { CGO_ENABLED: c.cgoStatic ? "1" : "0", GOFLAGS: "-mod=mod -buildvcs=false" };
    let toolchain = "local";
    if (!c.localSource) {
      // A module that says `go 1.27.0` to a local Go 1.26 must get the newer toolchain before `go mod tidy`: the
      // local one, under -e, drops the module from the wrapper's go.mod and the build then takes its @latest (seen
      // with k8s.io/apimachinery v0.38.0-beta.0 turned into v0.37.2), a silent wrong version.
      const newer = await goNewerThanLocal(c.requires ?? [], dir);
      if (newer) {
        progress.warn(
          `${c.name}: ${newer.module} says go ${newer.go}, newer than the local ${newer.local}; building it with ${PINNED.fallbackGoToolchain} from the module proxy`,
        );
        toolchain = PINNED.fallbackGoToolchain;
      }
      await tidy(src, { ...baseEnv, GOTOOLCHAIN: toolchain }, (l) => step.detail(l));
    }
    try {
      await compile(c, src, binDir, { ...baseEnv, GOTOOLCHAIN: toolchain }, (l) => step.detail(l)).catch(async (e: unknown) => {
        // tidy -e goes on past a module it failed to fetch, and leaves it out of the wrapper's go.mod; the build then
        // finds packages in the wrong modules. Seen on a busy machine on 2026-12-07: traefik's go.mod came out with
        // 236 of its 374 lines, and go build said "ambiguous import" for cloud.google.com/go/compute/metadata. The
        // same tidy run again (its modules now cached) wrote the whole go.mod, and the build went through.
        const gap = !c.localSource && e instanceof CommandError ? tidyLeftGap(e.stderrTail) : undefined;
        if (!gap) throw e;
        progress.warn(`${c.name}: the build found the module graph short (${gap}); running go mod tidy again and building once more`);
        await tidy(src, { ...baseEnv, GOTOOLCHAIN: toolchain }, (l) => step.detail(l));
        await compile(c, src, binDir, { ...baseEnv, GOTOOLCHAIN: toolchain }, (l) => step.detail(l));
      });
    } catch (e) {
      if (!(e instanceof CommandError) || toolchain !== "local") throw e;
      progress.warn(
        `${c.name}: the local Go could not build it (${e.stderrTail.trim().split("\n").slice(-1)[0] ?? ""}); retrying with ${PINNED.fallbackGoToolchain} from the module proxy`,
      );
      toolchain = PINNED.fallbackGoToolchain;
      await compile(c, src, binDir, { ...baseEnv, GOTOOLCHAIN: PINNED.fallbackGoToolchain }, (l) => step.detail(l));
    }
    const goVersion = (await run("go", ["version"], { env: { GOTOOLCHAIN: toolchain } })).stdout;
    await writeFile(marker + ".tmp", JSON.stringify({ toolchain, goVersion, builtAt: new Date().toISOString() }));
    await rename(marker + ".tmp", marker);
    step.done(toolchain === "local" ? goVersion.replace(/^go version /, "") : `with ${toolchain}`);
    return { name: c.name, version: c.version, binDir, bins, cached: false, toolchain };
  } catch (e) {
    const refused = e instanceof CommandError ? moduleRefused(e.stderrTail) : undefined;
    const why = refused
      ? `the Go module proxy does not serve ${refused.module}@${refused.version}, which it needs (${refused.answer}: a refusal, not a time-out, so it cannot be built from this proxy; go exited ${(e as CommandError).exitCode ?? "?"})`
      : e instanceof Error
        ? e.message
        : String(e);
    step.fail(refused ? `${refused.module}@${refused.version} is not served (${refused.answer})` : why.split("\n")[0]!);
    throw new AftershockError("E_BUILD", `could not build ${c.name} ${c.version} from Go modules: ${why}`, { cause: e });
  }
}

/** `go mod tidy -e` on the wrapper module. -e: some modules list imports for old Go versions (build-tagged out) that the proxy no longer serves. */
async function tidy(src: string, env: Record<string, string>, onLine: (l: string) => void): Promise<void> {
  await run("go", ["mod", "tidy", "-e"], { cwd: src, env, timeout: "15m", onLine });
}

/**
 * What go build said when the wrapper's go.mod lacks a module it needs (a tidy that went on past a failed fetch),
 * as one line; undefined for any other failure. A refusal by the proxy (moduleRefused) is not a gap: tidying again
 * cannot change it.
 */
export function tidyLeftGap(stderr: string): string | undefined {
  if (moduleRefused(stderr)) return undefined;
  const m =
    /^.*(ambiguous import: found package \S+ in multiple modules|no required module provides package [^\s;]+|missing go\.sum entry for module providing package [^\s;]+).*$/m.exec(
      stderr,
    );
  return m?.[1];
}

/**
 * A module the Go module proxy refused, from go's own words ("reading https://…/<module>/@v/<version>.zip: 403
 * Forbidden", or /@v/list, /.mod, /.info): the one thing that stands in the way, said in one line instead of the
 * go command's flags. A refusal is final (unlike a time-out): the build cannot succeed on this proxy.
 */
export function moduleRefused(stderr: string): { module: string; version: string; answer: string } | undefined {
  const m = /reading https?:\/\/\S+?\/((?:[^/\s]+\/)*?[^/\s]+)\/@v\/(list|[^\s/]+?\.(?:zip|mod|info)):\s*(4\d\d [A-Za-z ]+?)(?:\s*$|\s*\||\n)/m.exec(stderr);
  if (!m) return undefined;
  const version = m[2] === "list" ? "(any version)" : m[2]!.replace(/\.(zip|mod|info)$/, "");
  return { module: m[1]!, version, answer: m[3]!.trim() };
}

/**
 * Outputs whose binary is named as go names it (the package path's last element, a /vN suffix skipped) are built
 * by one `go build -o DIR/ pkg…`: one action graph, so the links of the first binaries overlap the compiles of
 * the others instead of running one after another; the rest one by one with -o FILE.
 */
async function compile(c: GoComponent, src: string, binDir: string, env: Record<string, string>, onLine: (l: string) => void) {
  for (const { args, pkgs } of compileCommands(c, binDir)) {
    onLine(`go ${args[0] === "test" ? "test -c" : "build"} ${pkgs.join(" ")}`);
    await run("go", args, { cwd: src, env, timeout: "60m", onLine });
  }
}

/**
 * The go commands that build a component's outputs, in order. Main packages whose binary is named as go names it
 * go together into one `go build -o DIR/ pkg…`; test binaries each get `go test -c -o FILE pkg` (a test binary is
 * never built together with others); the rest one by one with `go build -o FILE`.
 */
export function compileCommands(c: Pick<GoComponent, "outputs" | "tags" | "ldflags" | "cgoStatic">, binDir: string): { args: string[]; pkgs: string[] }[] {
  const mains = c.outputs.filter((o) => !o.test);
  const together = mains.length > 1 ? mains.filter((o) => goBinaryName(o.pkg) === o.bin) : [];
  const groups = [...(together.length > 1 ? [together] : []), ...c.outputs.filter((o) => !(together.length > 1 && together.includes(o))).map((o) => [o])];
  return groups.map((g) => {
    const test = g.length === 1 && !!g[0]!.test;
    const args = test ? ["test", "-c"] : ["build"];
    args.push("-trimpath", "-o", g.length > 1 ? binDir + path.sep : path.join(binDir, g[0]!.bin));
    if (c.tags) args.push("-tags", c.tags);
    args.push("-ldflags", `-s -w ${c.ldflags ?? ""}${c.cgoStatic ? " -extldflags -static" : ""}`.trim());
    const pkgs = g.map((o) => o.pkg);
    args.push(...pkgs);
    return { args, pkgs };
  });
}

/** The file name `go build -o DIR/` gives a main package: its path's last element, or the one before a major-version suffix. */
export function goBinaryName(pkg: string): string {
  const parts = pkg.split("/");
  const last = parts.at(-1)!;
  return /^v[0-9]+$/.test(last) && parts.length > 1 ? parts.at(-2)! : last;
}

function wrapperGoMod(c: GoComponent): string {
  const lines = [`module aftershock.build/${c.name}`, "", "go 1.22", ""];
  for (const r of c.requires ?? []) lines.push(`require ${r.module} ${r.version}`);
  lines.push("");
  for (const r of c.replaces ?? []) lines.push(`replace ${r.module} => ${r.target ?? r.module} ${r.version}`);
  return lines.join("\n") + "\n";
}

function toolsGo(c: GoComponent): string {
  const imports = [...new Set(c.outputs.map((o) => o.pkg))].map((p) => `\t_ "${p}"`).join("\n");
  return `//go:build tools\n\npackage tools\n\nimport (\n${imports}\n)\n`;
}

/**
 * The first required module whose go.mod asks for a newer Go than the local one (GOTOOLCHAIN=local), read through
 * the module proxy (`go list -m`, which fetches only the go.mod), or undefined when the local Go is new enough.
 */
async function goNewerThanLocal(
  requires: { module: string; version: string }[],
  cwd: string,
): Promise<{ module: string; go: string; local: string } | undefined> {
  if (!requires.length) return undefined;
  const env = { GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod" };
  const local = (await run("go", ["env", "GOVERSION"], { env, cwd })).stdout.trim();
  for (const r of requires) {
    const res = await run("go", ["list", "-m", "-json", `${r.module}@${r.version}`], { env, cwd, allowFailure: true, timeout: "5m" });
    const info = JSON.parse(res.stdout || "{}") as { GoMod?: string };
    // A module the proxy does not serve fails in `go mod tidy` below, with the go command's own words.
    if (!info.GoMod) continue;
    const go = goDirective(await readFile(info.GoMod, "utf8"));
    if (go && goOlderThan(local, go)) return { module: `${r.module}@${r.version}`, go, local };
  }
  return undefined;
}

/** The `go` line of a go.mod ("1.27.0"), if it has one. */
export function goDirective(gomod: string): string | undefined {
  return /^go\s+(\S+)\s*$/m.exec(gomod)?.[1];
}

/** Reads the replace directives of a published module's go.mod (downloading it through the proxy). */
export async function upstreamReplaces(
  module: string,
  version: string,
  rewrite: (target: string, targetVersion?: string) => string | { target: string; version: string } | undefined,
): Promise<{ module: string; version: string; target?: string }[]> {
  const r = await run("go", ["mod", "download", "-json", `${module}@${version}`], {
    allowFailure: true,
    env: { GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod" },
    timeout: "10m",
  });
  const info = JSON.parse(r.stdout || "{}") as { GoMod?: string; Error?: string };
  if (!info.GoMod) {
    throw new AftershockError(
      "E_BAD_VERSION",
      `${module}@${version} is not available from the Go module proxy${info.Error ? `: ${info.Error.split("\n")[0]}` : ""}`,
    );
  }
  const gomod = await readFile(info.GoMod, "utf8");
  const out: { module: string; version: string; target?: string }[] = [];
  for (const m of gomod.matchAll(/^\s*(?:replace\s+)?(\S+)\s+=>\s+(\S+)(?:\s+(\S+))?\s*$/gm)) {
    const v = rewrite(m[2]!, m[3]);
    if (!v) continue;
    // A version alone replaces the module by its own published release; a target names another module (a fork).
    out.push(typeof v === "string" ? { module: m[1]!, version: v } : { module: m[1]!, ...v });
  }
  return out;
}

/** A kubectl built with a node image and still in the cache (of `version`, or any), if there is one. */
export function builtKubectl(cacheDir: string, version?: string): string | undefined {
  const goDir = path.join(cacheDir, "go");
  if (!existsSync(goDir)) return undefined;
  return readdirSync(goDir)
    .filter((d) => d.startsWith(`kubernetes-${version ? `${version}-` : ""}`))
    .map((d) => path.join(goDir, d, "bin", "kubectl"))
    .find((f) => existsSync(f));
}
