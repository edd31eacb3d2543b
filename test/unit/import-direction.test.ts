import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The house's floors, bottom first. A file may import files of its own floor or of a floor below, never one
 * above:
 *   clusters/ → nothing outside clusters/
 *   harness/load/ (users' traffic through the fault: streams, their seconds, SLO arithmetic) → clusters/
 *   harness/kit/ (what scenario authors use, with the scenario definition API) → clusters/
 *   harness/engine/ (runs a scenario, keeps its journal, calls the reporters' hooks) → kit, clusters
 *   harness/reports/ (reporters, history, trends: read journals) → engine, kit, clusters
 *   harness/gameday/ → reports, engine, kit, clusters
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
const FLOORS = ["clusters/", "harness/load/", "harness/kit/", "harness/engine/", "harness/reports/", "harness/gameday/", "harness/cli/"];

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

const floorOf = (file: string): number => FLOORS.findIndex((f) => file.startsWith(f));

/** Why an import goes against the direction, or undefined when it is fine. */
export function wrongWay(from: string, to: string): string | undefined {
  if (from.startsWith("scenarios/")) {
    if (to.startsWith("scenarios/") || to === AUTHOR_ENTRY) return undefined;
    return `a scenario imports only ${AUTHOR_ENTRY} (and other scenarios)`;
  }
  const f = floorOf(from);
  if (f < 0) return `${from} is on no floor (${FLOORS.join(", ")})`;
  const t = floorOf(to);
  if (t < 0) return `${FLOORS[f]} imports nothing outside ${FLOORS.slice(0, f + 1).join(", ")}`;
  if (t > f) return `${FLOORS[f]} is below ${FLOORS[t]}: it may not import it`;
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

  it("points down only: cli → gameday → reports → engine → kit → clusters, and scenarios import the author's entry", () => {
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

  it("can fail: an import up a floor, a scenario reaching past the entry and a circle are each found", () => {
    expect(wrongWay("harness/kit/probes.ts", "harness/engine/journal.ts")).toMatch(/below harness\/engine/);
    expect(wrongWay("clusters/kube.ts", "harness/kit/types.ts")).toMatch(/clusters\/ is below harness\/kit\//);
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
