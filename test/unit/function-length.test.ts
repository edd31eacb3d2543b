import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Issue 34's thin front door and engine: no function in these folders longer than this many lines. */
const LIMIT = 80;
const FOLDERS = ["harness/cli", "harness/engine"];

function* tsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(rel);
    else if (e.name.endsWith(".ts")) yield rel;
  }
}

export interface FunctionSpan {
  file: string;
  name: string;
  lines: number;
}

/** Every function, method, arrow function and accessor in a source text, with its length in lines (TypeScript's parser). */
export function functionSpans(file: string, text: string): FunctionSpan[] {
  const src = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const spans: FunctionSpan[] = [];
  const nameOf = (n: ts.Node): string => {
    const named = (n as { name?: ts.Node }).name;
    if (named && ts.isIdentifier(named)) return named.text;
    if (named && ts.isPropertyName(named)) return named.getText(src);
    const p = n.parent;
    if (p && ts.isVariableDeclaration(p) && ts.isIdentifier(p.name)) return p.name.text;
    if (p && ts.isPropertyAssignment(p)) return p.name.getText(src);
    return "(anonymous)";
  };
  const visit = (n: ts.Node) => {
    if (ts.isFunctionLike(n) && (n as { body?: ts.Node }).body) {
      const start = src.getLineAndCharacterOfPosition(n.getStart(src)).line;
      const end = src.getLineAndCharacterOfPosition(n.getEnd()).line;
      spans.push({ file, name: nameOf(n), lines: end - start + 1 });
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return spans;
}

describe("function length in cli/ and engine/", () => {
  it("measures what it says: a function's lines, nested ones counted on their own", () => {
    const text = ["function outer() {", "  const inner = () => {", "    return 1;", "  };", "  return inner();", "}", ""].join("\n");
    expect(functionSpans("x.ts", text).map((s) => [s.name, s.lines])).toEqual([
      ["outer", 6],
      ["inner", 3],
    ]);
  });

  it(`no function is longer than ${LIMIT} lines`, () => {
    const spans = FOLDERS.flatMap((d) => [...tsFiles(d)].flatMap((f) => functionSpans(f, readFileSync(path.join(root, f), "utf8"))));
    const longest = [...spans].sort((a, b) => b.lines - a.lines);
    for (const d of FOLDERS) {
      const top = longest.find((s) => s.file.startsWith(d + "/"));
      if (top) console.log(`longest in ${d}/: ${top.name} (${top.file}), ${top.lines} lines`);
    }
    expect(
      longest.filter((s) => s.lines > LIMIT).map((s) => `${s.file} ${s.name}: ${s.lines} lines`),
      `functions over ${LIMIT} lines`,
    ).toEqual([]);
  });
});
