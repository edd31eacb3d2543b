import { parseArgs, type ParseArgsConfig } from "node:util";
import { AftershockError } from "../../clusters/errors.js";

/**
 * Flag parsing and error exits shared by the CLI (main.ts) and the benches: a bad flag is one line and exit 2,
 * never node's stack trace of the parseArgs TypeError.
 */

/** Exit codes of the error codes that mean "bad input" (2) and the others with a code of their own; the rest exit 1. */
export const EXIT: Record<string, number> = {
  E_BAD_INPUT: 2,
  E_BAD_VERSION: 2,
  E_CAPABILITY: 2,
  E_REFUSED: 2,
  E_IMAGES: 2,
  E_PREFLIGHT: 6,
  E_INTERRUPTED: 130,
};

export type Values = Record<string, string | boolean | undefined>;

/** parseArgs (strict, positionals allowed, -h/--help added) with its error as E_BAD_INPUT: "Unknown option '--x'". */
export function parse(args: string[], options: ParseArgsConfig["options"], allowPositionals = true): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    // Node's first line, without its advice on positionals that start with "-" (none of ours does).
    const why = (e as Error).message
      .split("\n")[0]!
      .replace(/^TypeError \[[A-Z_]+\]: /, "")
      .replace(/\. To specify a positional argument .*$/, "");
    throw new AftershockError("E_BAD_INPUT", why, { hint: "see --help" });
  }
}

/** A whole-number flag from min to max, or dflt when not given. */
export function int(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new AftershockError("E_BAD_INPUT", `--${name} must be a whole number from ${min} to ${max}, got "${v}"`);
  }
  return Number(v);
}

/** The last word of a command: one line on stderr and the exit code of the error's code (a stack only for the unexpected). */
export function exitOnError(prog: string, e: unknown): never {
  // A scope's release (`await using`) that failed after its body had failed: said by the release's error, as the
  // try/finally it replaced said it.
  while (e instanceof SuppressedError) e = e.error;
  if (e instanceof AftershockError) {
    process.stderr.write(`${prog}: error ${e.code}: ${e.oneLine()}\n`);
    process.exit(EXIT[e.code] ?? 1);
  }
  process.stderr.write(`${prog}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
}
