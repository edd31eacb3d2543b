/**
 * The commands a bash script runs, read without running it: enough of bash's grammar to find every command word
 * of the scripts and runbook lines Aftershock runs on nodes (clusters/kind/node-contract.ts holds them to what a
 * kind node offers). Pipelines, lists (`;` `&&` `||` `&`), subshells and groups, `$(…)`, backticks and `<(…)`
 * (whose commands count too), `if`/`for`/`while`/`case`, `[[ … ]]` and `(( … ))`, redirections and here-documents
 * (whose bodies are data), assignments before a command, and functions defined in the script. A command that runs
 * another one (sudo, env, nohup, setsid, timeout, xargs, nice, `bash -c '…'`) counts, and so does the one it runs.
 * The arguments of any other command are not commands, so what `crictl exec <id> etcdctl …` runs inside a container
 * is not a command of the node. A command word that is only known when the script runs (`$t -t raw -S`) is
 * reported as dynamic: it cannot be checked here.
 *
 * It never throws: text that is not a script (an unbalanced quote in a runbook's prose) yields what it could read.
 */

export interface ShellCommand {
  /** The command word as bash would look it up: "grep", "/usr/bin/env", "etcdctl". */
  name: string;
  /** Made by an expansion ($var, $(…)): unknown until the script runs. */
  dynamic: boolean;
}

export interface ShellScan {
  commands: ShellCommand[];
  /** Functions the script defines (`name() { … }`, `function name`): calling one is not running a program. */
  functions: Set<string>;
}

/** bash's builtins and keywords that may stand where a command does: none of them is looked up on PATH. */
export const SHELL_BUILTINS: ReadonlySet<string> = new Set(
  (
    ". : [ alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs disown echo enable eval exec " +
    "exit export false fc fg getopts hash help history jobs kill let local logout mapfile popd printf pushd pwd read readarray readonly " +
    "return set shift shopt source suspend test times trap true type typeset ulimit umask unalias unset wait"
  ).split(" "),
);

type Token = { kind: "word"; text: string; dynamic: boolean; arithmetic?: boolean } | { kind: "op"; op: string } | { kind: "redir"; op: string };

const OPS = [";;&", ";;", ";&", "&&", "||", "|&", ";", "|", "&", "(", ")"];
const REDIRS = ["&>>", "&>", ">>", ">&", ">|", "<<<", "<<-", "<<", "<&", "<>", ">", "<"];
const META = new Set([" ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">"]);

/** The index just past the `close` that balances the opener before `from`, skipping quoted text; s.length when none does. */
function balanced(s: string, from: number, open: string, close: string): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\") i++;
    else if (c === "'") i = s.indexOf("'", i + 1) < 0 ? s.length : s.indexOf("'", i + 1);
    else if (c === '"') {
      for (i++; i < s.length && s[i] !== '"'; i++) if (s[i] === "\\") i++;
    } else if (c === open) depth++;
    else if (c === close && --depth === 0) return i + 1;
  }
  return s.length;
}

class Lexer {
  readonly tokens: Token[] = [];
  /** Scripts found inside words ($(…), `…`, <(…)): scanned on their own. */
  readonly inner: string[] = [];
  private i = 0;
  private heredocs: { delimiter: string; strip: boolean }[] = [];
  constructor(private readonly s: string) {}

  run(): this {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === " " || c === "\t") this.i++;
      else if (c === "\\" && s[this.i + 1] === "\n") this.i += 2;
      else if (c === "\n") {
        this.tokens.push({ kind: "op", op: "\n" });
        this.i++;
        this.skipHeredocs();
      } else if (c === "#") {
        while (this.i < s.length && s[this.i] !== "\n") this.i++;
      } else if (s.startsWith("((", this.i)) {
        const end = balanced(s, this.i + 1, "(", ")");
        this.tokens.push({ kind: "word", text: s.slice(this.i, end), dynamic: false, arithmetic: true });
        this.i = end;
      } else if ((c === "<" || c === ">") && s[this.i + 1] === "(") this.word();
      else if (this.redirection()) continue;
      else {
        const op = OPS.find((o) => s.startsWith(o, this.i));
        if (op) {
          this.tokens.push({ kind: "op", op });
          this.i += op.length;
        } else this.word();
      }
    }
    return this;
  }

  /** A redirection at this.i (with its file descriptor: 2>&1, {fd}>x), or false. A here-document's target is read here. */
  private redirection(): boolean {
    const s = this.s;
    const fd = /^(\d+|\{\w+\})?/.exec(s.slice(this.i, this.i + 40))![0];
    const op = REDIRS.find((r) => s.startsWith(r, this.i + fd.length));
    if (!op || (fd && op.startsWith("&"))) return false;
    this.i += fd.length + op.length;
    this.tokens.push({ kind: "redir", op });
    if (op === "<<" || op === "<<-") {
      while (s[this.i] === " " || s[this.i] === "\t") this.i++;
      const start = this.tokens.length;
      this.word();
      const target = this.tokens.splice(start)[0];
      if (target?.kind === "word") this.heredocs.push({ delimiter: target.text, strip: op === "<<-" });
    }
    return true;
  }

  /** After a newline: the bodies of the here-documents begun on the line before, up to each one's delimiter line. */
  private skipHeredocs(): void {
    for (const h of this.heredocs) {
      while (this.i < this.s.length) {
        const end = this.s.indexOf("\n", this.i);
        const line = this.s.slice(this.i, end < 0 ? this.s.length : end);
        this.i = end < 0 ? this.s.length : end + 1;
        if ((h.strip ? line.replace(/^\t+/, "") : line) === h.delimiter) break;
      }
    }
    this.heredocs = [];
  }

  /** One word: its text with quotes removed, and whether an expansion is part of it. */
  private word(): void {
    const s = this.s;
    const start = this.i;
    let text = "";
    let dynamic = false;
    const sub = (from: number, open: string, close: string) => {
      const end = balanced(s, from, open, close);
      this.inner.push(s.slice(from, end - 1));
      dynamic = true;
      return end;
    };
    while (this.i < s.length) {
      const c = s[this.i]!;
      if ((c === "<" || c === ">") && s[this.i + 1] === "(" && text === "") {
        this.i = sub(this.i + 2, "(", ")");
        continue;
      }
      if (META.has(c)) break;
      if (c === "\\") {
        text += s[this.i + 1] ?? "";
        this.i += 2;
      } else if (c === "'") {
        const end = s.indexOf("'", this.i + 1);
        text += s.slice(this.i + 1, end < 0 ? s.length : end);
        this.i = end < 0 ? s.length : end + 1;
      } else if (c === "$" && s[this.i + 1] === "'") {
        const end = s.indexOf("'", this.i + 2);
        text += s.slice(this.i + 2, end < 0 ? s.length : end);
        this.i = end < 0 ? s.length : end + 1;
      } else if (c === '"') {
        this.i++;
        while (this.i < s.length && s[this.i] !== '"') {
          const d = s[this.i]!;
          if (d === "\\" && '$`"\\\n'.includes(s[this.i + 1] ?? "")) {
            text += s[this.i + 1];
            this.i += 2;
          } else if (d === "$" || d === "`") this.i = this.expansion();
          else {
            text += d;
            this.i++;
          }
        }
        dynamic ||= this.sawExpansion;
        this.sawExpansion = false;
        this.i++;
      } else if (c === "$" || c === "`") {
        this.i = this.expansion();
        dynamic = true;
      } else {
        text += c;
        this.i++;
      }
    }
    dynamic ||= this.sawExpansion;
    this.sawExpansion = false;
    // A word made by an expansion is shown as written ($t), since its text is only known when the script runs.
    this.tokens.push({ kind: "word", text: dynamic ? s.slice(start, this.i) : text, dynamic });
  }

  private sawExpansion = false;

  /** An expansion at this.i ($(…), $((…)), ${…}, $name, `…`): the index after it; command substitutions are kept for scanning. */
  private expansion(): number {
    const s = this.s;
    const i = this.i;
    if (s[i] === "`") {
      let end = i + 1;
      while (end < s.length && s[end] !== "`") end += s[end] === "\\" ? 2 : 1;
      this.inner.push(s.slice(i + 1, end));
      this.sawExpansion = true;
      return Math.min(end + 1, s.length);
    }
    const next = s[i + 1];
    if (next === "(" && s[i + 2] === "(") {
      this.sawExpansion = true;
      return balanced(s, i + 2, "(", ")");
    }
    if (next === "(") {
      const end = balanced(s, i + 2, "(", ")");
      this.inner.push(s.slice(i + 2, end - 1));
      this.sawExpansion = true;
      return end;
    }
    if (next === "{") {
      this.sawExpansion = true;
      return balanced(s, i + 2, "{", "}");
    }
    const name = /^(\w+|[@*#?$!0-9-])/.exec(s.slice(i + 1));
    if (!name) return i + 1; // a lone "$" is itself
    this.sawExpansion = true;
    return i + 1 + name[0].length;
  }
}

/** Commands that run the command after their own options: how many words their options take. */
const WRAPPERS: Record<string, { withValue: readonly string[]; leading?: number }> = {
  sudo: { withValue: ["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T"] },
  env: { withValue: ["-u", "-C", "-S", "--unset", "--chdir", "--split-string"] },
  nohup: { withValue: [] },
  exec: { withValue: ["-a"] },
  builtin: { withValue: [] },
  time: { withValue: [] },
  nice: { withValue: ["-n", "--adjustment"] },
  ionice: { withValue: ["-c", "-n", "-p", "-P", "-u", "--class", "--classdata"] },
  setsid: { withValue: [] },
  stdbuf: { withValue: ["-i", "-o", "-e"] },
  chroot: { withValue: ["--userspec", "--groups"], leading: 1 },
  xargs: { withValue: ["-a", "-d", "-E", "-e", "-I", "-i", "-L", "-l", "-n", "-P", "-s", "--arg-file", "--delimiter", "--max-args", "--max-procs"] },
  timeout: { withValue: ["-k", "-s", "--kill-after", "--signal"], leading: 1 },
  watch: { withValue: ["-n", "-d", "--interval", "--differences"] },
  nsenter: { withValue: ["-t", "-S", "-G", "--target", "--setuid", "--setgid", "-w", "-r"] },
  flock: { withValue: ["-w", "-E", "--timeout", "--conflict-exit-code"], leading: 1 },
};
const SHELLS = new Set(["bash", "sh", "dash", "/bin/bash", "/bin/sh", "/usr/bin/bash", "/bin/dash"]);
const ASSIGNMENT = /^[A-Za-z_]\w*(\[[^\]]*\])?\+?=/;
const SEPARATORS = new Set([";", "\n", "&&", "||", "|", "|&", "&", "(", ")", ";;", ";&", ";;&"]);

/** Every command a bash script runs (see the module's comment for what is read and what is not). */
export function scanShell(script: string): ShellScan {
  const out: ShellScan = { commands: [], functions: new Set() };
  scanInto(script, out, 0);
  return out;
}

function scanInto(script: string, out: ShellScan, depth: number): void {
  if (depth > 20) return;
  const lexer = new Lexer(script).run();
  const t = lexer.tokens;
  let i = 0;
  let casePatterns = false;
  const isWord = (k: number, text?: string) => t[k]?.kind === "word" && (text === undefined || (t[k] as { text: string }).text === text);
  while (i < t.length) {
    const tok = t[i]!;
    if (tok.kind === "op") {
      if (tok.op === ";;" || tok.op === ";&" || tok.op === ";;&") casePatterns = true;
      i++;
      continue;
    }
    if (tok.kind === "redir") {
      i += isWord(i + 1) && tok.op !== "<<" && tok.op !== "<<-" ? 2 : 1;
      continue;
    }
    if (casePatterns) {
      if (tok.text === "esac") {
        casePatterns = false;
        i++;
        continue;
      }
      // A pattern list: up to its ")".
      while (i < t.length && !(t[i]!.kind === "op" && (t[i] as { op: string }).op === ")")) i++;
      i++;
      casePatterns = false;
      continue;
    }
    const w = tok.text;
    if (tok.arithmetic || ["then", "else", "elif", "do", "{", "}", "!", "fi", "done", "esac", "if", "while", "until", "in"].includes(w)) {
      i++;
      continue;
    }
    if (w === "[[") {
      while (i < t.length && !isWord(i, "]]")) i++;
      i++;
      continue;
    }
    if (w === "for" || w === "select") {
      while (i < t.length && !(t[i]!.kind === "op" && [";", "\n"].includes((t[i] as { op: string }).op))) i++;
      continue;
    }
    if (w === "case") {
      while (i < t.length && !isWord(i, "in")) i++;
      i++;
      casePatterns = true;
      continue;
    }
    if (w === "function" && isWord(i + 1)) {
      out.functions.add((t[i + 1] as { text: string }).text);
      i += 2;
      continue;
    }
    if (t[i + 1]?.kind === "op" && (t[i + 1] as { op: string }).op === "(" && t[i + 2]?.kind === "op" && (t[i + 2] as { op: string }).op === ")") {
      out.functions.add(w);
      i += 3;
      continue;
    }
    if (ASSIGNMENT.test(w)) {
      i++;
      continue;
    }
    // A simple command: its words up to the next separator, redirections and their targets left out.
    const words: { text: string; dynamic: boolean }[] = [];
    while (i < t.length) {
      const x = t[i]!;
      if (x.kind === "op" && SEPARATORS.has(x.op)) break;
      if (x.kind === "redir") {
        i += isWord(i + 1) && x.op !== "<<" && x.op !== "<<-" ? 2 : 1;
        continue;
      }
      if (x.kind === "word") words.push({ text: x.text, dynamic: x.dynamic });
      i++;
    }
    commandsOf(words, out, depth);
  }
  for (const inner of lexer.inner) scanInto(inner, out, depth + 1);
}

/** The command of a simple command's words, and the ones it runs in turn (wrappers, `bash -c`). */
function commandsOf(words: { text: string; dynamic: boolean }[], out: ShellScan, depth: number): void {
  let k = 0;
  while (k < words.length) {
    const w = words[k]!;
    out.commands.push({ name: w.text, dynamic: w.dynamic });
    if (w.dynamic) return;
    const name = w.text;
    if (SHELLS.has(name)) {
      // bash -c 'script' (options before it, -c alone or combined: -ec, -euc).
      for (let j = k + 1; j < words.length - 1; j++) {
        const o = words[j]!.text;
        if (!o.startsWith("-") || o === "--") break;
        if (/^-[a-zA-Z]*c[a-zA-Z]*$/.test(o)) {
          const script = words[j + 1]!;
          if (!script.dynamic) scanInto(script.text, out, depth + 1);
          break;
        }
      }
      return;
    }
    if (name === "command") {
      // `command -v x` asks about x, it does not run it.
      if (words[k + 1]?.text === "-v" || words[k + 1]?.text === "-V") return;
      k++;
      while (words[k]?.text === "-p") k++;
      continue;
    }
    const wrapper = WRAPPERS[name];
    if (!wrapper) return;
    // env and sudo take VAR=value words before the command, and may mix them with their options.
    const takesAssignments = name === "env" || name === "sudo";
    k++;
    if (takesAssignments) while (k < words.length && ASSIGNMENT.test(words[k]!.text)) k++;
    while (k < words.length) {
      const o = words[k]!.text;
      if (o === "--") {
        k++;
        break;
      }
      if (!o.startsWith("-") || o === "-") break;
      k += wrapper.withValue.includes(o) ? 2 : 1;
      if (takesAssignments) while (k < words.length && ASSIGNMENT.test(words[k]!.text)) k++;
    }
    if (takesAssignments) while (k < words.length && ASSIGNMENT.test(words[k]!.text)) k++;
    k += wrapper.leading ?? 0;
  }
}
