import {
  apiWritable,
  defineScenario,
  echoService,
  type Fault,
  kubeletReports,
  kubeSystemReady,
  LOST_NODE,
  nodeNotReady,
  nodeReboot,
  nodeShell,
  nodesReady,
  runtimeAnswers,
  runtimeUnreachable,
  type ScenarioContext,
  serviceLoad,
  step,
  usersSeeErrors,
  waitNodeReady,
} from "../harness/kit/index.js";

/** The one worker: the machine that is rebooted, asked the same way before and after the fault. */
const rebooted = (ctx: Pick<ScenarioContext, "cluster">): string | undefined => nodeShell(ctx.cluster).nodes.find((n) => n.role === "worker")?.name;
const onRebooted = (ctx: ScenarioContext) => nodeShell(ctx.cluster).node(rebooted(ctx)!);

/**
 * /etc/containerd/config.toml as Docker's containerd.io package installs it: an unversioned (version 1) file whose
 * one setting disables the CRI plugin, because Docker itself does not need it. A node whose configuration is
 * replaced by it (a package reinstalled or upgraded, a config "reset" to the package's) runs containerd, but
 * containerd no longer serves the kubelet's runtime API.
 */
const PACKAGE_DEFAULT = `#   containerd.io package default: Docker Engine does not use the CRI plugin, so it is disabled.
#   (Everything else is left at containerd's built-in defaults.)
disabled_plugins = ["cri"]

#root = "/var/lib/containerd"
#state = "/run/containerd"
#subreaper = true
#oom_score = 0

#[grpc]
#  address = "/run/containerd/containerd.sock"
#  uid = 0
#  gid = 0
`;

/** Where the fault keeps the worker's own containerd configuration, for the rollback. */
const SAVED = "/etc/containerd/config.toml.before-aftershock";

/**
 * The rollback, for a run that ends before its runbook repaired the worker (the symptoms not seen, a failure, Ctrl-C):
 * the worker's own configuration back and its containerd and kubelet restarted. Harmless to repeat, and a no-op
 * after the runbook: a configuration that no longer disables the CRI plugin is left as it is.
 */
const UNDO = `if [ -f ${SAVED} ]; then
  if grep -q '^disabled_plugins = \\["cri"\\]' /etc/containerd/config.toml; then
    cp ${SAVED} /etc/containerd/config.toml && systemctl restart containerd && systemctl restart kubelet && echo "the worker's own containerd config put back; containerd and the kubelet restarted"
  else
    echo "containerd's config no longer disables the CRI plugin (the runbook repaired it): left as it is"
  fi
  rm -f ${SAVED}
else
  echo "no saved config: the fault never replaced it"
fi`;

/** The Service whose users feel the worker's reboot; the generator stays off that worker. */
const web = echoService("web", 2);
const webUsers = serviceLoad(web, { rate: 20, awayFrom: rebooted });

const rebootedWithPackageDefault: Fault = {
  title: "a worker is rebooted (as after the incident's resize) and comes back with containerd.io's package default config: the CRI plugin disabled",
  plan: [
    'cat > /etc/containerd/config.toml   # the containerd.io package\'s file: disabled_plugins = ["cri"]',
    // The reboot capability: over ssh, systemctl reboot on the machine; on kind, docker stop and start on this host (a
    // node container cannot reboot itself).
    "systemctl reboot   # the worker restarts (kind: docker stop <worker> && docker start <worker>): systemd shuts down, then boots containerd and the kubelet again",
  ],
  async inject(ctx) {
    if (!rebooted(ctx)) throw new Error("the cluster has no worker to reboot");
    const worker = onRebooted(ctx);
    ctx.found.set(LOST_NODE, worker.name);
    await worker.sh(`[ -f ${SAVED} ] || cp -p /etc/containerd/config.toml ${SAVED}`);
    await worker.exec(["tee", "/etc/containerd/config.toml"], { input: PACKAGE_DEFAULT });
    ctx.evidence("fault", `${worker.name} rebooted: ${await nodeReboot(ctx.cluster).rebootNode(worker.name)}`);
    const after = await worker.sh("systemctl is-active containerd kubelet; grep -n disabled_plugins /etc/containerd/config.toml", { allowFailure: true });
    ctx.evidence("fault", `${worker.name}: containerd, kubelet ${after.stdout.trim().split("\n").join(", ")}`);
  },
  // Without it a run that ended before the runbook left the worker NotReady (seen over ssh on 2026-12-07: the next
  // run on that cluster was refused by its preflight). On kind the cluster goes anyway; on a team's machine it must not.
  rollback: step(
    "put the worker's own containerd config back if it still disables the CRI plugin, and restart containerd and the kubelet",
    UNDO,
    async (ctx) => (await onRebooted(ctx).sh(UNDO, { timeout: "2m" })).stdout.trim(),
    "2m",
  ),
};

/**
 * `containerd config default`, then the settings this node's kubelet and machine need (a real operator's list,
 * each read from the node, not assumed): the systemd cgroup driver the kubelet is configured with, the pause
 * image the node has (nothing can pull another here, and from 1.35 only the runtime names it), the layers of
 * images imported unpacked, the missing hugetlb controller of a cgroup v1 container, oom_score_adj clamped
 * where the machine lacks CAP_SYS_RESOURCE, and the registry hosts directory the node has (/etc/containerd/certs.d:
 * containerd 2.x's default leaves config_path empty, and without it the node could no longer pull from the
 * plain-HTTP registry it was told to trust; seen over ssh on 2026-12-07, where the next run's pod on the repaired
 * worker failed with "server gave HTTP response to HTTPS client").
 */
const REPAIR = `set -euo pipefail
driver=$(awk '/^cgroupDriver:/{print $2}' /var/lib/kubelet/config.yaml)
pause=$(ctr -n k8s.io images ls -q | awk '/\\/pause:/ && !n++')
restrict=false; (( (0x$(awk '/^CapBnd/{print $2}' /proc/1/status) >> 24) & 1 )) || restrict=true
systemd=false; [[ $driver == systemd ]] && systemd=true
hosts=''; [[ -d /etc/containerd/certs.d ]] && hosts=/etc/containerd/certs.d
cp /etc/containerd/config.toml /etc/containerd/config.toml.broken
containerd config default > /etc/containerd/config.toml
sed -i -E \\
  -e "s#^(\\s*SystemdCgroup\\s*=\\s*).*#\\1$systemd#" \\
  -e "s#^(\\s*sandbox(_image)?\\s*=\\s*).*#\\1'$pause'#" \\
  -e "s#^(\\s*discard_unpacked_layers\\s*=\\s*).*#\\1false#" \\
  -e "s#^(\\s*tolerate_missing_hugetlb_controller\\s*=\\s*).*#\\1true#" \\
  -e "s#^(\\s*restrict_oom_score_adj\\s*=\\s*).*#\\1$restrict#" \\
  -e "s#^(\\s*config_path\\s*=\\s*).*#\\1'$hosts'#" \\
  /etc/containerd/config.toml
echo "kubelet cgroupDriver=$driver; pause=$pause; CAP_SYS_RESOURCE missing: $restrict; registry hosts: \${hosts:-none}"
grep -nE '^\\s*(version|SystemdCgroup|sandbox(_image)?|discard_unpacked_layers|tolerate_missing_hugetlb_controller|restrict_oom_score_adj|config_path)\\s*=' /etc/containerd/config.toml`;

export default defineScenario({
  id: "node-reboot-containerd-default",
  title: "A worker reboots and its kubelet does not come back: containerd's config is the package default",
  summary:
    "In the Harbor cascade a worker was given more memory and rebooted; afterwards the kubelet would not run and " +
    "the node stayed NotReady, and the operators reset containerd's configuration before rejoining it. Here the " +
    "worker's containerd configuration is the one Docker's containerd.io package ships, whose only setting turns " +
    "the CRI plugin off, and the machine really reboots: containerd starts, the kubelet cannot use it and fails " +
    "at start, crictl cannot reach the runtime, the node goes NotReady and the web Service on it stops answering " +
    "while the rest of the cluster works. The runbook is the operator's triage on the machine (kubelet status and " +
    "journal, crictl info, swap), containerd's default configuration with the settings the kubelet needs, and " +
    "both restarted.",
  source: { incident: "000", section: "1.4–1.5 node resize and reboot, kubelet down, containerd config reset" },
  tags: ["node", "containerd", "load", "nightly", "game-day"],
  gameDay: {
    difficulty: "medium",
    alert:
      "One worker has been NotReady since its maintenance window (a memory upgrade) ended twenty minutes ago; the web service on it is down for its users. " +
      "The rest of the cluster and the API work.",
    hints: [
      "Go to the machine (node-shell <worker>): systemctl status kubelet, journalctl -u kubelet -n 30. What does the kubelet say about its runtime?",
      "Ask the runtime yourself: crictl info. containerd is running; does it serve the CRI? Look at /etc/containerd/config.toml.",
      "Write containerd's default configuration (containerd config default) and set what this kubelet needs (cgroup driver, the pause image it has), then restart containerd and the kubelet.",
    ],
    cause: [
      /journalctl.*kubelet|systemctl\s+status\s+kubelet/,
      /crictl\s+info/,
      /containerd\s+config\s+default|config\.toml/,
      /systemctl\s+restart\s+containerd/,
    ],
  },
  cluster: { controlPlanes: 1, workers: 1 },
  // A reboot only (node-reboot): kind's lifecycle serves it with docker stop/start, an inventory's machines with a reboot over ssh.
  needs: ["node-shell", "node-reboot", "load-generator"],

  setup: [web],
  steadyState: [nodesReady(), kubeSystemReady(), runtimeAnswers(rebooted)],
  // On a cluster this tool did not create the generator is a pod: kept off the worker that reboots, it sees what users see.
  load: [webUsers],

  fault: rebootedWithPackageDefault,

  symptoms: {
    within: "3m",
    expect: [
      nodeNotReady(rebooted),
      // The runtime's own error, as the kubelet logs it when it gives up at start.
      kubeletReports("containerd.sock", /unknown service runtime\.v1\.RuntimeService/, rebooted),
      runtimeUnreachable(rebooted),
      usersSeeErrors(webUsers),
    ],
    // The machine's trouble is its own: the API and the control plane keep working.
    stillWorks: [apiWritable()],
  },

  runbook: [
    step("the kubelet's status and journal on the rebooted worker", "systemctl status kubelet\njournalctl -u kubelet -n 30 --no-pager", async (ctx) => {
      const r = await onRebooted(ctx).sh(
        "systemctl status kubelet --no-pager 2>&1 | head -n 4; echo '# journalctl -u kubelet'; journalctl -u kubelet -n 30 --no-pager -o cat | grep -E 'error|fail' | tail -n 3",
        { allowFailure: true },
      );
      return r.stdout.trim();
    }),
    step("ask the runtime what the kubelet asks it", "crictl info", async (ctx) => {
      const r = await onRebooted(ctx).exec(["crictl", "--timeout", "5s", "info"], { allowFailure: true });
      return `exit ${r.exitCode}: ${(r.stderr.trim() || r.stdout.trim()).split("\n").pop()}`;
    }),
    step("swap, as the incident's operator checked (triage only: never turned on inside a node)", "swapon --show", async (ctx) => {
      const r = await onRebooted(ctx).sh("swapon --show --noheadings; systemctl is-active containerd", { allowFailure: true });
      const lines = r.stdout.trim().split("\n");
      const active = lines.pop();
      return `${lines.length ? `swap: ${lines.join("; ")}` : "no swap"}; containerd ${active}`;
    }),
    step("look at containerd's configuration", "cat /etc/containerd/config.toml", async (ctx) => {
      return (await onRebooted(ctx).sh("grep -vE '^\\s*(#|$)' /etc/containerd/config.toml", { allowFailure: true })).stdout.trim();
    }),
    step(
      "write containerd's default configuration with the settings this kubelet needs",
      "containerd config default > /etc/containerd/config.toml\n# then: SystemdCgroup (the kubelet's cgroupDriver), sandbox = the node's pause image, discard_unpacked_layers = false, tolerate_missing_hugetlb_controller, restrict_oom_score_adj, config_path = /etc/containerd/certs.d (the registry hosts)",
      async (ctx) => (await onRebooted(ctx).sh(REPAIR, { timeout: "30s" })).stdout.trim(),
    ),
    step("restart containerd, then the kubelet", "systemctl restart containerd && crictl info && systemctl restart kubelet", async (ctx) => {
      const r = await onRebooted(ctx).sh(
        "systemctl restart containerd; for _ in $(seq 30); do crictl --timeout 2s info >/dev/null 2>&1 && break; sleep 1; done; crictl --timeout 5s info >/dev/null && echo 'crictl info: answers'; systemctl restart kubelet; systemctl is-active containerd kubelet",
        { timeout: "90s" },
      );
      return r.stdout.trim();
    }),
    waitNodeReady(),
  ],
  decisiveStep: "write containerd's default configuration with the settings this kubelet needs",

  verify: {
    within: "4m",
    expect: [nodesReady(), kubeSystemReady(), runtimeAnswers(rebooted)],
  },
});
