import type { ClusterAccess, NodeHandle, NodeLifecycle, NodeShell } from "../contract.js";
import { AftershockError } from "../errors.js";
import { quote } from "../exec.js";
import { scanShell, SHELL_BUILTINS, type ShellScan } from "../shell-words.js";
import { PINNED, profileFor } from "../versions.js";

/**
 * The node contract: what a scenario may expect on a node is what an upstream kindest/node image of that version
 * offers (the commands on its PATH below), plus the images the run loads itself and the files it copies in for the
 * run under a directory of its own (RUN_OWNED_DIRS: etcd's etcdutl from the node's own etcd image, the zombie etcd
 * of etcd-port-conflict). So a scenario that passes on Aftershock's own node image passes on a pulled one, and the
 * offline builder's image offers no more than kind's (clusters/images/builder.ts NODE_PACKAGES).
 *
 * Read from kind's own definition of its node image (kubernetes-sigs/kind), never copied: the base image
 * (images/base/Dockerfile: a Debian slim image, the packages its clean-install names, containerd, ctr, runc, crictl
 * and containerd-fuse-overlayfs built in its stages, files/usr/local/bin) and the node build on top of it
 * (pkg/build/nodeimage/buildcontext.go puts kubeadm, kubelet and kubectl in /usr/bin; images/ are preloaded, CNI
 * plugins live in /opt/cni/bin, off PATH). Each Debian package's commands are its executables in /usr/bin,
 * /usr/sbin, /bin and /sbin, with the names its maintainer scripts add through update-alternatives (awk, iptables,
 * which, pager, …), as the package lists of Debian 12 "bookworm" (12.x, 2026-12) have them: dpkg -L, or dpkg -c of
 * the .deb for the ones this machine does not have installed.
 */

/** Debian bookworm's packages and the commands each puts on PATH (only packages some kind node image has). */
const BOOKWORM_COMMANDS: Readonly<Record<string, string>> = {
  adduser: "addgroup adduser delgroup deluser",
  apt: "apt apt-cache apt-cdrom apt-config apt-get apt-key apt-mark",
  "base-passwd": "update-passwd",
  bash: "bash bashbug clear_console rbash",
  bsdutils: "logger renice script scriptlive scriptreplay wall",
  "ca-certificates": "update-ca-certificates",
  conntrack: "conntrack",
  coreutils:
    "[ arch b2sum base32 base64 basename basenc cat chcon chgrp chmod chown chroot cksum comm cp csplit cut date dd df dir dircolors " +
    "dirname du echo env expand expr factor false fmt fold groups head hostid id install join link ln logname ls md5sum " +
    "md5sum.textutils mkdir mkfifo mknod mktemp mv nice nl nohup nproc numfmt od paste pathchk pinky pr printenv printf ptx pwd " +
    "readlink realpath rm rmdir runcon seq sha1sum sha224sum sha256sum sha384sum sha512sum shred shuf sleep sort split stat stdbuf stty " +
    "sum sync tac tail tee test timeout touch tr true truncate tsort tty uname unexpand uniq unlink users vdir wc who whoami yes",
  curl: "curl",
  dash: "dash sh",
  debconf:
    "debconf debconf-apt-progress debconf-communicate debconf-copydb debconf-escape debconf-set-selections debconf-show " +
    "dpkg-preconfigure dpkg-reconfigure",
  debianutils: "add-shell installkernel ischroot remove-shell run-parts savelog tempfile update-shells which which.debianutils",
  diffutils: "cmp diff diff3 sdiff",
  dmsetup: "blkdeactivate dmsetup dmstats",
  dpkg:
    "dpkg dpkg-deb dpkg-divert dpkg-fsys-usrunmess dpkg-maintscript-helper dpkg-query dpkg-realpath dpkg-split dpkg-statoverride " +
    "dpkg-trigger start-stop-daemon update-alternatives",
  e2fsprogs:
    "badblocks chattr debugfs dumpe2fs e2freefrag e2fsck e2image e2label e2mmpstatus e2scrub e2scrub_all e2undo e4crypt e4defrag " +
    "filefrag fsck.ext2 fsck.ext3 fsck.ext4 lsattr mke2fs mkfs.ext2 mkfs.ext3 mkfs.ext4 mklost+found resize2fs tune2fs",
  ethtool: "ethtool",
  findutils: "find xargs",
  "fuse-overlayfs": "fuse-overlayfs",
  fuse3: "fusermount fusermount3 mount.fuse mount.fuse3",
  gpgv: "gpgv",
  grep: "egrep fgrep grep rgrep",
  gzip: "gunzip gzexe gzip uncompress zcat zcmp zdiff zegrep zfgrep zforce zgrep zless zmore znew",
  hostname: "dnsdomainname domainname hostname nisdomainname ypdomainname",
  "init-system-helpers": "deb-systemd-helper deb-systemd-invoke invoke-rc.d service update-rc.d",
  iproute2: "arpd bridge ctstat dcb devlink genl ip lnstat nstat rdma routel rtacct rtmon rtstat ss tc tipc vdpa",
  iptables:
    "arptables arptables-nft arptables-nft-restore arptables-nft-save arptables-restore arptables-save ebtables ebtables-nft " +
    "ebtables-nft-restore ebtables-nft-save ebtables-restore ebtables-save ebtables-translate ip6tables ip6tables-apply " +
    "ip6tables-legacy ip6tables-legacy-restore ip6tables-legacy-save ip6tables-nft ip6tables-nft-restore ip6tables-nft-save " +
    "ip6tables-restore ip6tables-restore-translate ip6tables-save ip6tables-translate iptables iptables-apply iptables-legacy " +
    "iptables-legacy-restore iptables-legacy-save iptables-nft iptables-nft-restore iptables-nft-save iptables-restore " +
    "iptables-restore-translate iptables-save iptables-translate iptables-xml nfnl_osf xtables-legacy-multi xtables-monitor " +
    "xtables-nft-multi",
  jq: "jq",
  keyutils: "key.dns_resolver keyctl request-key",
  kmod: "depmod insmod kmod lsmod modinfo modprobe rmmod",
  "libc-bin": "getconf getent iconv iconvconfig ld.so ldconfig ldd locale localedef pldd tzselect zdump zic",
  "libcap2-bin": "capsh getcap getpcaps setcap",
  "libpam-modules-bin": "faillock mkhomedir_helper pam_namespace_helper pam_timestamp_check pwhistory_helper unix_chkpwd unix_update",
  "libpam-runtime": "pam-auth-update pam_getenv",
  login: "faillog lastlog login newgrp nologin sg",
  logsave: "logsave",
  mawk: "awk mawk nawk",
  mount: "losetup mount swapoff swapon umount",
  "ncurses-bin": "captoinfo clear infocmp infotocap reset tabs tic toe tput tset",
  "nfs-common":
    "blkmapd mount.nfs mount.nfs4 mountstats nfsconf nfsidmap nfsiostat nfsstat rpc.gssd rpc.idmapd rpc.statd rpc.svcgssd rpcctl " +
    "rpcdebug showmount sm-notify start-statd umount.nfs umount.nfs4",
  nftables: "nft",
  "open-iscsi": "iscsi-iname iscsi_discovery iscsiadm iscsid iscsistart",
  openssl: "c_rehash openssl",
  passwd:
    "chage chfn chgpasswd chpasswd chsh cpgr cppw expiry gpasswd groupadd groupdel groupmems groupmod grpck grpconv grpunconv newusers " +
    "passwd pwck pwconv pwunconv shadowconfig useradd userdel usermod vigr vipw",
  "perl-base": "perl perl5.36.0",
  pigz: "pigz unpigz",
  procps: "free kill pgrep pidwait pkill pmap ps pwdx skill slabtop snice sysctl tload top uptime vmstat w watch",
  python3: "pdb3 pydoc3 pygettext3",
  "python3-minimal": "py3clean py3compile py3versions python3",
  "python3.11": "pdb3.11 pydoc3.11 pygettext3.11",
  "python3.11-minimal": "python3.11",
  rpcbind: "rpcbind rpcinfo",
  sed: "sed",
  "sensible-utils": "select-editor sensible-browser sensible-editor sensible-pager",
  systemd:
    "busctl hostnamectl journalctl kernel-install localectl loginctl networkctl systemctl systemd systemd-analyze systemd-ask-password " +
    "systemd-cat systemd-cgls systemd-cgtop systemd-creds systemd-cryptenroll systemd-delta systemd-detect-virt systemd-escape " +
    "systemd-firstboot systemd-id128 systemd-inhibit systemd-machine-id-setup systemd-mount systemd-notify systemd-path systemd-repart " +
    "systemd-run systemd-socket-activate systemd-stdio-bridge systemd-sysext systemd-sysusers systemd-tmpfiles " +
    "systemd-tty-ask-password-agent systemd-umount timedatectl",
  "sysvinit-utils": "fstab-decode killall5 pidof",
  tar: "rmt rmt-tar tar tarcat",
  ucf: "lcf ucf ucfq ucfr",
  udev: "systemd-hwdb udevadm",
  "util-linux":
    "addpart agetty blkdiscard blkid blkzone blockdev chcpu chmem choom chrt ctrlaltdel delpart dmesg fallocate findfs findmnt flock " +
    "fsck fsck.cramfs fsck.minix fsfreeze fstrim getopt getty hardlink i386 ionice ipcmk ipcrm ipcs isosize last lastb ldattach linux32 " +
    "linux64 lsblk lscpu lsipc lslocks lslogins lsmem lsns mcookie mesg mkfs mkfs.bfs mkfs.cramfs mkfs.minix mkswap more mountpoint " +
    "namei nsenter pager partx pivot_root prlimit readprofile rename.ul resizepart rev rtcwake runuser setarch setpriv setsid setterm " +
    "su sulogin swaplabel switch_root taskset uclampset unshare utmpdump wdctl whereis wipefs x86_64 zramctl",
  "util-linux-extra": "fincore hwclock lsfd lsirq",
};

/**
 * debian:bookworm-slim, the base of kind ≤ v0.31's images: its packages with commands on PATH, as
 * debuerreotype/docker-debian-artifacts bookworm/slim/rootfs.manifest lists them (the same set as mmdebstrap
 * --variant=minbase, which builds Aftershock's own rootfs).
 */
const BOOKWORM_SLIM = [
  "adduser apt base-passwd bash bsdutils coreutils dash debconf debianutils diffutils dpkg e2fsprogs findutils gpgv grep gzip hostname",
  "init-system-helpers libc-bin libpam-modules-bin libpam-runtime login logsave mawk mount ncurses-bin passwd perl-base sed sysvinit-utils tar",
  "util-linux util-linux-extra",
].join(" ");

/**
 * debian:trixie-slim, the base of kind ≥ v0.32's images (trixie/slim/rootfs.manifest of the same repository): no
 * adduser, gpgv, e2fsprogs, logsave or util-linux-extra any more (kind installs e2fsprogs itself), and sqv, whose
 * command is not listed here (no scenario needs it). Its packages' commands are taken from bookworm's lists above:
 * no trixie package list was read here, so a command trixie added is missing (the safe side) and one it dropped
 * from a package both have would still be listed.
 */
const TRIXIE_SLIM = [
  "apt base-passwd bash bsdutils coreutils dash debconf debianutils diffutils dpkg findutils grep gzip hostname init-system-helpers libc-bin",
  "libpam-modules-bin libpam-runtime login mawk mount ncurses-bin passwd perl-base sed sysvinit-utils tar util-linux",
].join(" ");

/**
 * images/base/Dockerfile, the clean-install line (the same at v0.24.0 and v0.33.0, which adds e2fsprogs, part of
 * bookworm-slim already): what Aftershock's own node rootfs installs too (clusters/images/builder.ts NODE_PACKAGES).
 */
export const KIND_PACKAGES = [
  ..."systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod libseccomp2 pigz fuse-overlayfs nfs-common open-iscsi".split(" "),
  ..."bash ca-certificates curl jq procps".split(" "),
] as const;
const KIND_INSTALLS = KIND_PACKAGES.join(" ");

/**
 * What apt adds to KIND_INSTALLS on bookworm (apt-get -s --no-install-recommends, as clean-install runs it,
 * from bookworm-slim's packages), where it has commands. Trixie's could not be resolved here: left out there.
 */
const BOOKWORM_DEPENDENCIES =
  "dmsetup fuse3 keyutils libcap2-bin openssl python3 python3-minimal python3.11 python3.11-minimal rpcbind sensible-utils ucf udev";

/**
 * Built from source in images/base/Dockerfile's stages (/usr/local/bin, /usr/local/sbin/runc), its files/usr/local/bin
 * scripts, /sbin/init (a link to systemd), and what the node build adds to /usr/bin (pkg/build/nodeimage/buildcontext.go).
 */
const KIND_OWN = "containerd containerd-shim-runc-v2 ctr containerd-fuse-overlayfs-grpc runc crictl clean-install entrypoint init kubeadm kubelet kubectl";

export interface NodeContract {
  /** The kind release whose node image this is. */
  kind: string;
  /** Its base image. */
  base: string;
  /** Where it was read, for people: the repository, tag and files. */
  readFrom: string;
  /** Every command on the PATH of such a node. */
  commands: ReadonlySet<string>;
}

function contract(kind: string, base: string, readFrom: string, packages: string): NodeContract {
  const commands = new Set(KIND_OWN.split(" "));
  for (const p of packages.split(" ")) for (const c of (BOOKWORM_COMMANDS[p] ?? "").split(" ").filter(Boolean)) commands.add(c);
  return { kind, base, readFrom, commands };
}

/** The node contracts of the kind releases clusters/versions.ts uses, by kind release. */
export const NODE_CONTRACTS: Readonly<Record<string, NodeContract>> = {
  // kubernetes-sigs/kind tag v0.24.0 (36d544b0): images/base/Dockerfile (BASE_IMAGE debian:bookworm-slim, the
  // clean-install list, containerd v1.7.18, runc v1.1.13, crictl v1.30.0 stages), images/base/files/usr/local/bin,
  // pkg/build/nodeimage/buildcontext.go and internal/kube/builder_*.go (kubeadm, kubelet, kubectl into /usr/bin).
  [PINNED.kind]: contract(
    PINNED.kind,
    "debian:bookworm-slim",
    "kubernetes-sigs/kind v0.24.0: images/base/Dockerfile, images/base/files, pkg/build/nodeimage",
    `${BOOKWORM_SLIM} ${KIND_INSTALLS} ${BOOKWORM_DEPENDENCIES}`,
  ),
  // kind v0.33.0: no tag v0.33.0 in the snapshot of kubernetes-sigs/kind read here (its newest is v0.33.0-alpha,
  // bb8a702f); read at main fed26882 (2026-08-21, version 0.33.0-alpha, after v0.33.0-alpha and v0.32.0), whose
  // images/base/Dockerfile differs from v0.33.0-alpha's only in the containerd and runc versions: BASE_IMAGE
  // debian:trixie-slim, the same clean-install list plus e2fsprogs, containerd v2.3.4, runc v1.4.3, crictl v1.36.0.
  [PINNED.kindCurrent]: contract(
    PINNED.kindCurrent,
    "debian:trixie-slim",
    "kubernetes-sigs/kind main fed26882 (0.33.0-alpha; no v0.33.0 tag in the snapshot): images/base/Dockerfile, images/base/files, pkg/build/nodeimage",
    `${TRIXIE_SLIM} ${KIND_INSTALLS} e2fsprogs`,
  ),
};

/** For a version no profile covers (an existing cluster's v1.33, say): only what every kind image used here offers. */
const EVERY_KIND: NodeContract = (() => {
  const all = Object.values(NODE_CONTRACTS);
  return {
    kind: all.map((c) => c.kind).join(" and "),
    base: all.map((c) => c.base).join(" and "),
    readFrom: "what the node images of every kind release Aftershock uses have in common",
    commands: new Set([...all[0]!.commands].filter((c) => all.every((x) => x.commands.has(c)))),
  };
})();

/** The contract of a node of Kubernetes `kubernetesVersion` (profileFor gives its kind release). */
export function nodeContractFor(kubernetesVersion: string): NodeContract {
  let kind: string | undefined;
  try {
    kind = profileFor(kubernetesVersion)?.kind;
  } catch {
    kind = undefined; // not a version number profileFor reads: the common part
  }
  return (kind && NODE_CONTRACTS[kind]) || EVERY_KIND;
}

/** Is `command` on the PATH of an upstream kindest/node of Kubernetes `kubernetesVersion`? */
export function offersCommand(command: string, kubernetesVersion: string): boolean {
  return nodeContractFor(kubernetesVersion).commands.has(command);
}

/**
 * Directories a run puts its own files in on a node (never a user's): a binary run from there by its absolute path is
 * the run's, copied in for it (etcdutl from the node's etcd image, the zombie etcd), not something the image must have.
 */
export const RUN_OWNED_DIRS = ["/run/aftershock/", "/opt/aftershock/", "/var/lib/aftershock/"] as const;

/** Whether a command word of a node script runs something the contract does not promise; why, when it does. */
function breach(name: string, scan: Pick<ShellScan, "functions">, c: NodeContract, builtins: boolean): boolean {
  if (builtins && (SHELL_BUILTINS.has(name) || scan.functions.has(name))) return false;
  if (name.includes("/")) {
    if (RUN_OWNED_DIRS.some((d) => name.startsWith(d))) return false;
    return !c.commands.has(name.slice(name.lastIndexOf("/") + 1));
  }
  return !c.commands.has(name);
}

/** The commands of a node script (bash) that a kind node of this version does not offer, each once, in order. */
export function scriptNotOffered(script: string, kubernetesVersion: string): string[] {
  const scan = scanShell(script);
  const c = nodeContractFor(kubernetesVersion);
  return [...new Set(scan.commands.filter((x) => !x.dynamic && breach(x.name, scan, c, true)).map((x) => x.name))];
}

/**
 * The same for an argv run without a shell (docker exec, ssh): its program must be on PATH (a shell builtin is not a
 * program), and what it runs in turn (bash -c '…', timeout, xargs, …) must be offered too.
 */
export function argvNotOffered(argv: readonly string[], kubernetesVersion: string): string[] {
  if (!argv.length) return [];
  const c = nodeContractFor(kubernetesVersion);
  const first = argv[0]!;
  const head = breach(first, { functions: new Set() }, c, false) ? [first] : [];
  return [...new Set([...head, ...scriptNotOffered(argv.map(quote).join(" "), kubernetesVersion)])];
}

/** The one-line error for a node command outside the contract. */
export function contractError(node: string, commands: string[], kubernetesVersion: string, what: string): AftershockError {
  const c = nodeContractFor(kubernetesVersion);
  const list = commands.map((x) => `"${x}"`).join(", ");
  return new AftershockError(
    "E_NODE_CONTRACT",
    `node ${node}: ${list} ${commands.length === 1 ? "is" : "are"} not on kind ${c.kind}'s node image (${c.base}) for Kubernetes ${kubernetesVersion}, so a scenario may not run ${commands.length === 1 ? "it" : "them"}: ${what.replace(/\s+/g, " ").slice(0, 160)}`,
    {
      hint: "use what the image offers (clusters/kind/node-contract.ts), a binary of a container through crictl exec, or one the run copies under /run/aftershock",
    },
  );
}

/** A node handle whose exec and sh refuse, before anything runs, a command the contract does not promise. */
export function contractHandle(node: NodeHandle, kubernetesVersion: string): NodeHandle {
  return {
    get name() {
      return node.name;
    },
    get role() {
      return node.role;
    },
    exec(argv, opts) {
      const bad = argvNotOffered(argv, kubernetesVersion);
      if (bad.length) return Promise.reject(contractError(node.name, bad, kubernetesVersion, argv.join(" ")));
      return node.exec(argv, opts);
    },
    sh(script, opts) {
      const bad = scriptNotOffered(script, kubernetesVersion);
      if (bad.length) return Promise.reject(contractError(node.name, bad, kubernetesVersion, script));
      return node.sh(script, opts);
    },
    // A person's shell (game days) is theirs: what they type is not held to the contract.
    ...(node.shellCommand ? { shellCommand: (mode) => node.shellCommand!(mode) } : {}),
  };
}

/**
 * The cluster as a scenario sees it, with every node command held to the contract of its Kubernetes version: the
 * node shell's handles and the fresh machines the lifecycle provides. Everything else is the cluster's own.
 */
export function withNodeContract(c: ClusterAccess): ClusterAccess {
  if (!c.shell && !c.lifecycle) return c;
  const wrapped = new WeakMap<NodeHandle, NodeHandle>();
  const guard = (n: NodeHandle) => {
    let h = wrapped.get(n);
    if (!h) wrapped.set(n, (h = contractHandle(n, c.kubernetesVersion)));
    return h;
  };
  const shell = c.shell;
  const guardedShell: NodeShell | undefined = shell && {
    get nodes() {
      return shell.nodes.map(guard);
    },
    controlPlane: () => guard(shell.controlPlane()),
    node: (name) => guard(shell.node(name)),
  };
  const life = c.lifecycle;
  const guardedLife: NodeLifecycle | undefined = life && {
    rebootNode: (name) => life.rebootNode(name),
    destroyNode: (name) => life.destroyNode(name),
    provisionNode: async (name) => guard(await life.provisionNode(name)),
  };
  // Its own properties as they are (getters stay getters), the node shell and the lifecycle in place of the cluster's.
  return Object.defineProperties(
    {},
    {
      ...Object.getOwnPropertyDescriptors(c),
      ...(guardedShell ? { shell: { value: guardedShell, enumerable: true } } : {}),
      ...(guardedLife ? { lifecycle: { value: guardedLife, enumerable: true } } : {}),
    },
  ) as ClusterAccess;
}
