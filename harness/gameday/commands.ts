import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";

/**
 * The player's command log: one line per command, `<epoch ms (or s)>\t<command>`, appended by the game shell's
 * PROMPT_COMMAND. A command typed on a node (node-shell) is written as `[node <name>] <command>`.
 */

export interface PlayerCommand {
  /** Epoch ms. */
  at: number;
  command: string;
  /** The node it was typed on (node-shell), if not on this host. */
  node?: string;
}

const LINE = /^(\d{9,13}(?:\.\d+)?)\t(.*)$/;
const ON_NODE = /^\[node ([^\]\s]+)\] (.*)$/s;

/** One line of the log, or undefined for a line that is not a command (empty, or not `<time>\t<command>`). */
export function parseCommandLine(line: string): PlayerCommand | undefined {
  const m = LINE.exec(line.replace(/\r$/, ""));
  if (!m) return undefined;
  const t = Number(m[1]);
  const at = t < 1e11 ? Math.round(t * 1000) : Math.round(t);
  const text = m[2]!.trim();
  const node = ON_NODE.exec(text);
  const command = (node ? node[2]! : text).trim();
  if (!command) return undefined;
  return { at, command, ...(node ? { node: node[1]! } : {}) };
}

export function parseCommandLog(text: string): PlayerCommand[] {
  return text.split("\n").flatMap((l) => parseCommandLine(l) ?? []);
}

/**
 * The whole log after the game (none when it was never written), in the order the commands were typed: the host's
 * `node-shell <node>` line is appended when that shell ends, after the commands typed on the node, though timed
 * when it started.
 */
export async function readCommandLog(file: string): Promise<PlayerCommand[]> {
  return (existsSync(file) ? parseCommandLog(await readFile(file, "utf8")) : []).sort((a, b) => a.at - b.at);
}

/** How a command is shown: "[control-plane] lsof -i :2380" for one typed on a node. */
export const showCommand = (c: PlayerCommand): string => (c.node ? `[${c.node}] ${c.command}` : c.command);

/** The index of the first command that matches any of the cause's patterns, or -1. */
export function firstCauseCommand(commands: readonly PlayerCommand[], cause: readonly RegExp[]): number {
  return commands.findIndex((c) => cause.some((re) => new RegExp(re.source, re.flags.replace(/[gy]/g, "")).test(c.command)));
}

/** Follows the log as it grows: each read() returns the commands appended since the last one (whole lines only). */
export class CommandLogTail {
  private offset = 0;
  private rest = "";
  private readonly decoder = new StringDecoder("utf8");
  constructor(private readonly file: string) {}

  read(): PlayerCommand[] {
    if (!existsSync(this.file)) return [];
    const size = statSync(this.file).size;
    if (size < this.offset) this.offset = 0; // truncated: start over
    if (size === this.offset) return [];
    const fd = openSync(this.file, "r");
    try {
      const buf = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const text = this.rest + this.decoder.write(buf.subarray(0, n));
      const lines = text.split("\n");
      this.rest = lines.pop() ?? "";
      return lines.flatMap((l) => parseCommandLine(l) ?? []);
    } finally {
      closeSync(fd);
    }
  }
}
