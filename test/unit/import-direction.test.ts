import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The house's floors, bottom first. A floor may hold rooms side by side. A file may import files of its own room
 * or of a floor below, never of a floor above, nor of another room on its own floor:
 *   clusters/ → nothing outside clusters/ (providers, the capability contract with ClusterFactory, the API client)
 *   harness/load/ (users' traffic through the fault: streams, their seconds, SLO arithmetic) → clusters/
 *   harness/model/ (the run model: the types a scenario is made of and the engine runs, ScenarioContext, Probe
 *     and how one is asked, Outcome) → load, clusters
 *   harness/kit/ (the author's vocabulary) and harness/engine/ (runs a scenario, keeps its journal, calls the
 *     reporters' hooks), side by side → model, load, clusters; the engine imports nothing of the kit, nor the
 *     kit of the engine: both meet in the model
 *   harness/reports/ (reporters, history, trends: read journals) → engine, kit, model, load, clusters
 *   harness/gameday/ → reports and everything below
 *   harness/cli/ → everything in harness/ and clusters/
 * So nothing but cli/ and gameday/ imports reports/, and the engine knows reporters only through its own hook
 * interface (harness/engine/reporter.ts). scenarios/ import the author's entry (harness/kit/index.ts) and
 * other scenarios, nothing else of the repository. Packages and node: modules are not checked.
 *
 * Every import counts: `import type` and `export … from` too, since a type-only circle still means two files
 * that cannot be read apart; and `import("…")` with a literal path.
 */
const ROOT = path.resolve(import.meta.dirname, "../..");
const AUTHOR_ENTRY = "harness/kit/index.ts";
const FLOORS: readonly (readonly string[])[] = [
  ["clusters/"],
  ["harness/load/"],
  ["harness/model/"],
  ["harness/kit/", "harness/engine/"],
  ["harness/reports/"],
  ["harness/gameday/"],
  ["harness/cli/"],
];
const ROOMS = FLOORS.flat();

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)))
    .sort();
}

/** The repository files a file imports (relative specifiers only), with the specifier as written. */
export function importsOf(file: string, text = readFileSync(path.join(ROOT, file), "utf8")): { spec: string; target: string }[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => ({ spec, target: path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, ".ts") }));
}

const roomOf = (file: string): string | undefined => ROOMS.find((r) => file.startsWith(r));
const floorOf = (room: string): number => FLOORS.findIndex((f) => f.includes(room));

/** Why an import goes against the direction, or undefined when it is fine. */
export function wrongWay(from: string, to: string): string | undefined {
  if (from.startsWith("scenarios/")) {
    if (to.startsWith("scenarios/") || to === AUTHOR_ENTRY) return undefined;
    return `a scenario imports only ${AUTHOR_ENTRY} (and other scenarios)`;
  }
  const f = roomOf(from);
  if (!f) return `${from} is on no floor (${ROOMS.join(", ")})`;
  const t = roomOf(to);
  if (!t) return `${f} imports nothing outside ${[f, ...FLOORS.slice(0, floorOf(f)).flat()].join(", ")}`;
  if (t === f) return undefined;
  if (floorOf(t) > floorOf(f)) return `${f} is below ${t}: it may not import it`;
  if (floorOf(t) === floorOf(f)) return `${f} and ${t} are side by side: neither imports the other (they meet on a floor below)`;
  return undefined;
}

/** Every circle in the graph, each once, as a path that starts and ends at the same file. */
export function circles(graph: Map<string, string[]>): string[][] {
  // Tarjan's strongly connected components; a component of more than one file (or a file importing itself) holds a circle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) !== idx.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      on.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || graph.get(v)?.includes(v)) found.push(shortestCircle(graph, new Set(scc)));
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return found;
}

/** One circle through the component's first file (breadth-first, so the shortest one). */
function shortestCircle(graph: Map<string, string[]>, scc: Set<string>): string[] {
  const start = [...scc].sort()[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!scc.has(w)) continue;
      if (w === start) {
        const way = [v];
        while (way[0] !== start) way.unshift(prev.get(way[0]!)!);
        return [...way, start];
      }
      if (!prev.has(w) && w !== start) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

describe("import direction", () => {
  const files = [...tsFiles("clusters"), ...tsFiles("harness"), ...tsFiles("scenarios")];

  it("points down only: cli → gameday → reports → engine | kit → model → load → clusters, and scenarios import the author's entry", () => {
    const wrong: string[] = [];
    for (const file of files)
      for (const { spec, target } of importsOf(file)) {
        const why = wrongWay(file, target);
        if (why) wrong.push(`${file} imports "${spec}": ${why}`);
      }
    expect(wrong).toEqual([]);
  });

  it("has no circles among harness/ files", () => {
    const graph = new Map(
      tsFiles("harness").map((f) => [
        f,
        importsOf(f)
          .map((i) => i.target)
          .filter((t) => t.startsWith("harness/")),
      ]),
    );
    expect(circles(graph).map((c) => c.join(" → "))).toEqual([]);
  });

  it("can fail: an import up a floor, across to the room beside, a scenario reaching past the entry and a circle are each found", () => {
    expect(wrongWay("harness/model/scenario.ts", "harness/kit/steps.ts")).toMatch(/harness\/model\/ is below harness\/kit\//);
    expect(wrongWay("harness/engine/run.ts", "harness/kit/probes.ts")).toMatch(/harness\/engine\/ and harness\/kit\/ are side by side/);
    expect(wrongWay("harness/kit/probes.ts", "harness/engine/journal.ts")).toMatch(/harness\/kit\/ and harness\/engine\/ are side by side/);
    expect(wrongWay("harness/engine/run.ts", "harness/model/probe.ts")).toBeUndefined();
    expect(wrongWay("harness/load/streams.ts", "harness/model/context.ts")).toMatch(/harness\/load\/ is below harness\/model\//);
    expect(wrongWay("clusters/kube.ts", "harness/model/scenario.ts")).toMatch(/clusters\/ is below harness\/model\//);
    expect(wrongWay("clusters/kube.ts", "test/unit/x.ts")).toMatch(/imports nothing outside clusters\//);
    expect(wrongWay("scenarios/x.ts", "harness/engine/runner.ts")).toMatch(/imports only harness\/kit\/index.ts/);
    expect(wrongWay("harness/cli/main.ts", "harness/reports/files.ts")).toBeUndefined();
    expect(importsOf("harness/kit/x.ts", `import type { A } from "../engine/a.js";\nexport { b } from "./b.js";\n`).map((i) => i.target)).toEqual([
      "harness/engine/a.ts",
      "harness/kit/b.ts",
    ]);
    const g = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
      ["d", ["a"]],
    ]);
    expect(circles(g)).toEqual([["a", "b", "c", "a"]]);
  });
});
