import { AftershockError } from "../errors.js";
import { quote } from "../exec.js";
import { hostCgroupVersion, type CgroupVersion } from "./facts.js";

/**
 * Every cgroup operation Aftershock does, in one place, for cgroup v1 and v2: freezing and thawing, I/O limits
 * and memory readings. Each operation is POSIX sh (dash, busybox ash and bash run it), so the same text runs
 * on the host (`sh -c`), inside a node (`docker exec … sh -c`), or in a VM over ssh. Scripts are built from
 * shell functions of the same names in both versions (`shell` holds them), parameterised by the mount root
 * (normally /sys/fs/cgroup) so tests point them at a fake tree in a temp dir. A cgroup is named as in
 * /proc/<pid>/cgroup ("/kubelet/kubepods/pod…"), relative to the root of its hierarchy.
 *
 * Which version a host has is for clusters/host/facts.ts to say; nothing here looks at /sys/fs/cgroup itself.
 *
 * The functions (all print to stdout, complain on stderr, return non-zero on failure):
 *   cg_dir ROOT CONTROLLER CGROUP           the directory of CGROUP in CONTROLLER's hierarchy (v2: one hierarchy)
 *   cg_of_pid CONTROLLER PID [PROC]         PID's cgroup in CONTROLLER's hierarchy, read from PROC (/proc)
 *   cg_freeze ROOT CGROUP                   freezes CGROUP and what is below it
 *   cg_freeze_state ROOT CGROUP             frozen | freezing | thawed
 *   cg_thaw_below DIR                       thaws every frozen cgroup at or below DIR; prints each, relative to DIR
 *   cg_set_io_limit ROOT CGROUP DEV WIOPS WBPS
 *                                           write IOPS and bytes/s of DEV (maj:min) on CGROUP, 0 = no limit;
 *                                           prints "<dir>: <the limit as read back>"
 *   cg_lift_io_below DIR                    lifts every I/O limit at or below DIR; prints "<rel> (<limits>)"
 *   cg_memory ROOT CGROUP                   "usage N", "oom_kill N" (when the kernel counts it), "limit_hits N"
 */
export interface CgroupOps {
  readonly version: CgroupVersion;
  /** The controller that limits block I/O: blkio (v1) or io (v2). */
  readonly ioController: "blkio" | "io";
  /**
   * Whether an I/O limit holds for the cgroups below the one it is set on. v2's io.max does; v1's blkio
   * throttle holds only for the processes in that very cgroup (so a limit on a pod would not slow its containers).
   */
  readonly ioLimitHierarchical: boolean;
  /** The shell functions above, to put at the top of a script that calls them. */
  readonly shell: string;
  /** The directory of a cgroup under `root` in a controller's hierarchy (v2 has one hierarchy). */
  dir(controller: string, cgroup: string, root?: string): string;
  freeze(cgroup: string, root?: string): string;
  /** Prints the state; read it with parseFreezeState. */
  freezeState(cgroup: string, root?: string): string;
  /** Prints each cgroup thawed, relative to `dir`; read it with parseLines. */
  thawBelow(dir: string): string;
  setIoLimit(cgroup: string, device: string, limit: IoLimit, root?: string): string;
  /** Prints "<rel> (<limits>)" for each cgroup whose limits it lifted; read it with parseLines. */
  liftIoLimitsBelow(dir: string): string;
  /** Prints the readings; read them with parseMemory. */
  memory(cgroup: string, root?: string): string;
  /**
   * Thaws and lifts the I/O limits below each of `cgroups` (in the freezer and I/O hierarchies under `root`),
   * skipping those that do not exist. Read its output with parseReleased.
   */
  release(cgroups: string[], root?: string): string;
  /** What setting `limit` on `cgroup` (a placeholder such as "<etcd cgroup>") writes, for a plan or a runbook. */
  showIoLimit(cgroup: string, limit: IoLimit, device?: string): string[];
  /** What lifting the limit on `cgroup` writes, for a plan or a runbook. */
  showIoLift(cgroup: string, device?: string): string[];
}

/** A write limit; 0 or absent means no limit. */
export interface IoLimit {
  writeIops?: number;
  writeBps?: number;
}

export type FreezeState = "frozen" | "freezing" | "thawed";

export interface MemoryReading {
  usageBytes: number;
  /** Processes the kernel's OOM killer killed in the cgroup; undefined on a v1 kernel that does not count them (before 4.13). */
  oomKills: number | undefined;
  /** Times usage hit the limit (v1 memory.failcnt, v2 memory.events max). */
  limitHits: number | undefined;
}

export const CGROUP_ROOT = "/sys/fs/cgroup";

// Shared by both versions: a directory relative to a base, "." for the base itself.
const COMMON = String.raw`cg_rel() { _r=${"$"}{2#"$1"}; _r=${"$"}{_r#/}; echo "${"$"}{_r:-.}"; }
cg_memory_usage() { _u=$(cat "$1") || return 1; echo "usage $_u"; }`;

const V1 = String.raw`cg_dir() { _p=${"$"}{3#/}; _p=${"$"}{_p%/}; echo "$1/$2${"$"}{_p:+/$_p}"; }
cg_of_pid() { grep -E "^[0-9]+:([^:]*,)?$1(,[^:]*)?:" "${"$"}{3:-/proc}/$2/cgroup" | head -n1 | cut -d: -f3-; }
cg_freeze() { echo FROZEN > "$(cg_dir "$1" freezer "$2")/freezer.state"; }
cg_freeze_state() {
  _s=$(cat "$(cg_dir "$1" freezer "$2")/freezer.state") || return 1
  case $_s in FROZEN*) echo frozen ;; FREEZING*) echo freezing ;; *) echo thawed ;; esac
}
cg_thaw_below() {
  find "$1" -name freezer.state -type f 2>/dev/null | while IFS= read -r _f; do
    case $(cat "$_f" 2>/dev/null) in FROZEN*|FREEZING*) ;; *) continue ;; esac
    if { echo THAWED > "$_f"; } 2>/dev/null; then cg_rel "$1" "${"$"}{_f%/freezer.state}"; else echo "cannot thaw ${"$"}{_f%/freezer.state}" >&2; fi
  done
}
cg_set_io_limit() {
  _d=$(cg_dir "$1" blkio "$2")
  echo "$3 $4" > "$_d/blkio.throttle.write_iops_device" || return 1
  echo "$3 $5" > "$_d/blkio.throttle.write_bps_device" || return 1
  echo "$_d: write_iops_device=[$(cat "$_d/blkio.throttle.write_iops_device")] write_bps_device=[$(cat "$_d/blkio.throttle.write_bps_device")]"
}
cg_lift_io_below() {
  find "$1" -type d 2>/dev/null | while IFS= read -r _d; do
    _had=
    for _t in read_bps write_bps read_iops write_iops; do
      _f=$_d/blkio.throttle.${"$"}{_t}_device
      [ -f "$_f" ] || continue
      _lines=$(cat "$_f" 2>/dev/null) || continue
      while read -r _dev _n; do
        case $_n in ''|0) continue ;; esac
        # "MAJ:MIN 0" is "no limit".
        if { echo "$_dev 0" > "$_f"; } 2>/dev/null; then _had="${"$"}{_had:+$_had, }$_t $_n"; else echo "cannot lift $_f" >&2; fi
      done <<EOF
$_lines
EOF
    done
    [ -z "$_had" ] || echo "$(cg_rel "$1" "$_d") ($_had)"
  done
}
cg_memory() {
  _d=$(cg_dir "$1" memory "$2")
  cg_memory_usage "$_d/memory.usage_in_bytes" || return 1
  sed -n 's/^oom_kill /oom_kill /p' "$_d/memory.oom_control" 2>/dev/null
  _c=$(cat "$_d/memory.failcnt" 2>/dev/null) && echo "limit_hits $_c"
  return 0
}`;

const V2 = String.raw`cg_dir() { _p=${"$"}{3#/}; _p=${"$"}{_p%/}; echo "$1${"$"}{_p:+/$_p}"; }
cg_of_pid() { grep '^0::' "${"$"}{3:-/proc}/$2/cgroup" | head -n1 | cut -d: -f3-; }
cg_freeze() { echo 1 > "$(cg_dir "$1" "" "$2")/cgroup.freeze"; }
cg_freeze_state() {
  _d=$(cg_dir "$1" "" "$2")
  _want=$(cat "$_d/cgroup.freeze") || return 1
  # cgroup.events says whether it is frozen: by its own cgroup.freeze or by an ancestor's.
  case $(sed -n 's/^frozen //p' "$_d/cgroup.events") in 1) echo frozen ;; *) [ "$_want" = 1 ] && echo freezing || echo thawed ;; esac
}
cg_thaw_below() {
  # A cgroup is frozen while it or any ancestor has cgroup.freeze 1, so every such cgroup is thawed, not only
  # the top one; find lists directories ancestors first.
  find "$1" -type d 2>/dev/null | while IFS= read -r _d; do
    [ "$(cat "$_d/cgroup.freeze" 2>/dev/null)" = 1 ] || continue
    if { echo 0 > "$_d/cgroup.freeze"; } 2>/dev/null; then cg_rel "$1" "$_d"; else echo "cannot thaw $_d" >&2; fi
  done
}
cg_enable_io() {
  # io.max exists only where the parent has the io controller in cgroup.subtree_control, and each ancestor down
  # from ROOT must pass it on. Enabling fails (EBUSY) in a cgroup with processes of its own, which is why a node's
  # entrypoint moves its processes out of the root of its namespace.
  _p=$1; _rest=${"$"}{2#/}; _rest=${"$"}{_rest%/}
  while [ -n "$_rest" ]; do
    case " $(cat "$_p/cgroup.subtree_control" 2>/dev/null) " in
      *" io "*|*" +io "*) ;;
      *) { echo +io > "$_p/cgroup.subtree_control"; } 2>/dev/null || { echo "cannot enable the io controller in $_p" >&2; return 1; } ;;
    esac
    case $_rest in */*) _p=$_p/${"$"}{_rest%%/*}; _rest=${"$"}{_rest#*/} ;; *) _rest= ;; esac
  done
}
cg_set_io_limit() {
  _d=$(cg_dir "$1" "" "$2")
  cg_enable_io "$1" "$2" || return 1
  _wiops=$4; [ "$_wiops" != 0 ] || _wiops=max
  _wbps=$5; [ "$_wbps" != 0 ] || _wbps=max
  echo "$3 rbps=max wbps=$_wbps riops=max wiops=$_wiops" > "$_d/io.max" || return 1
  echo "$_d: io.max=[$(grep "^$3 " "$_d/io.max")]"
}
cg_lift_io_below() {
  find "$1" -name io.max -type f 2>/dev/null | while IFS= read -r _f; do
    _lines=$(cat "$_f" 2>/dev/null) || continue
    _had=
    while read -r _dev _rest; do
      _lim=
      for _kv in $_rest; do case $_kv in *=max) ;; *=*) _lim="${"$"}{_lim:+$_lim, }${"$"}{_kv%%=*} ${"$"}{_kv#*=}" ;; esac; done
      [ -n "$_lim" ] || continue
      if { echo "$_dev rbps=max wbps=max riops=max wiops=max" > "$_f"; } 2>/dev/null; then _had="${"$"}{_had:+$_had, }$_lim"; else echo "cannot lift $_f" >&2; fi
    done <<EOF
$_lines
EOF
    [ -z "$_had" ] || echo "$(cg_rel "$1" "${"$"}{_f%/io.max}") ($_had)"
  done
}
cg_memory() {
  _d=$(cg_dir "$1" "" "$2")
  cg_memory_usage "$_d/memory.current" || return 1
  sed -n -e 's/^oom_kill /oom_kill /p' -e 's/^max /limit_hits /p' "$_d/memory.events" 2>/dev/null
  return 0
}`;

const call = (shell: string, fn: string, ...args: string[]) => `${shell}\n${fn} ${args.map(quote).join(" ")}\n`;

/** The cgroup operations of a host of `version` (this host's by default). */
export function cgroupOps(version: CgroupVersion = hostCgroupVersion()): CgroupOps {
  const v2 = version === 2;
  const shell = `${COMMON}\n${v2 ? V2 : V1}`;
  const dir = (controller: string, cgroup: string, root = CGROUP_ROOT) => {
    const rel = cgroup.replace(/^\/+|\/+$/g, "");
    return [root, ...(v2 ? [] : [controller]), ...(rel ? [rel] : [])].join("/");
  };
  return {
    version,
    ioController: v2 ? "io" : "blkio",
    ioLimitHierarchical: v2,
    shell,
    dir,
    freeze: (cgroup, root = CGROUP_ROOT) => call(shell, "cg_freeze", root, cgroup),
    freezeState: (cgroup, root = CGROUP_ROOT) => call(shell, "cg_freeze_state", root, cgroup),
    thawBelow: (d) => call(shell, "cg_thaw_below", d),
    setIoLimit: (cgroup, device, limit, root = CGROUP_ROOT) =>
      call(shell, "cg_set_io_limit", root, cgroup, device, String(limit.writeIops ?? 0), String(limit.writeBps ?? 0)),
    liftIoLimitsBelow: (d) => call(shell, "cg_lift_io_below", d),
    memory: (cgroup, root = CGROUP_ROOT) => call(shell, "cg_memory", root, cgroup),
    release: (cgroups, root = CGROUP_ROOT) =>
      [
        shell,
        ...cgroups.flatMap((cg) => [
          `_fz=${quote(dir("freezer", cg, root))}; if [ -d "$_fz" ]; then cg_thaw_below "$_fz" | sed 's/^/thawed /'; fi`,
          `_io=${quote(dir("blkio", cg, root))}; if [ -d "$_io" ]; then cg_lift_io_below "$_io" | sed 's/^/lifted /'; fi`,
        ]),
        "",
      ].join("\n"),
    showIoLimit: (cgroup, limit, device = "<maj:min>") =>
      v2
        ? [`echo "${formatIoMax(device, { wbps: limit.writeBps || "max", wiops: limit.writeIops || "max" })}" > ${cgroup}/io.max`]
        : [
            `echo "${device} ${limit.writeIops ?? 0}" > ${cgroup}/blkio.throttle.write_iops_device`,
            `echo "${device} ${limit.writeBps ?? 0}" > ${cgroup}/blkio.throttle.write_bps_device`,
          ],
    showIoLift: (cgroup, device = "<maj:min>") =>
      v2
        ? [`echo "${formatIoMax(device, {})}" > ${cgroup}/io.max`]
        : [`echo "${device} 0" > ${cgroup}/blkio.throttle.write_iops_device`, `echo "${device} 0" > ${cgroup}/blkio.throttle.write_bps_device`],
  };
}

/** One io.max line; a key not given is "max" (no limit). */
export interface IoMax {
  device: string;
  rbps: number | "max";
  wbps: number | "max";
  riops: number | "max";
  wiops: number | "max";
}

/** The line io.max takes (and shows) for a device: all four keys, "max" for no limit. */
export function formatIoMax(device: string, l: Partial<Omit<IoMax, "device">>): string {
  return `${device} rbps=${l.rbps ?? "max"} wbps=${l.wbps ?? "max"} riops=${l.riops ?? "max"} wiops=${l.wiops ?? "max"}`;
}

/** The lines of an io.max file. */
export function parseIoMax(text: string): IoMax[] {
  const out: IoMax[] = [];
  for (const line of text.split("\n")) {
    const [device, ...kvs] = line.trim().split(/\s+/);
    if (!device || !/^\d+:\d+$/.test(device)) continue;
    const io: IoMax = { device, rbps: "max", wbps: "max", riops: "max", wiops: "max" };
    for (const kv of kvs) {
      const m = /^(rbps|wbps|riops|wiops)=(max|\d+)$/.exec(kv);
      if (!m) throw new AftershockError("E_PROBE", `unexpected io.max entry "${kv}" in "${line.trim()}"`);
      io[m[1] as "rbps"] = m[2] === "max" ? "max" : Number(m[2]);
    }
    out.push(io);
  }
  return out;
}

/** The non-empty lines a script printed (cgroups thawed, limits lifted). */
export function parseLines(out: string): string[] {
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

export function parseFreezeState(out: string): FreezeState {
  const s = out.trim();
  if (s === "frozen" || s === "freezing" || s === "thawed") return s;
  throw new AftershockError("E_PROBE", `unexpected freezer state "${s}"`);
}

export function parseMemory(out: string): MemoryReading {
  const field = (name: string) => {
    const m = new RegExp(`^${name} (\\d+)$`, "m").exec(out);
    return m ? Number(m[1]) : undefined;
  };
  const usageBytes = field("usage");
  if (usageBytes === undefined) throw new AftershockError("E_PROBE", `no memory usage in "${out.trim().slice(0, 200)}"`);
  return { usageBytes, oomKills: field("oom_kill"), limitHits: field("limit_hits") };
}

/** What `release` printed: the cgroups thawed and the ones whose I/O limits were lifted, each relative to where it was found. */
export function parseReleased(out: string): { thawed: string[]; lifted: string[] } {
  const lines = parseLines(out);
  const pick = (tag: string) => lines.filter((l) => l.startsWith(`${tag} `)).map((l) => l.slice(tag.length + 1));
  return { thawed: pick("thawed"), lifted: pick("lifted") };
}
