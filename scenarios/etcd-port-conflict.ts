import {
  apiLoad,
  apiserverReady,
  atRun,
  containerLog,
  containerRunning,
  defineScenario,
  echoService,
  etcdHealthy,
  handOff,
  healthz,
  kubectlTimesOut,
  kubeletReports,
  kubeSystemReady,
  onControlPlane,
  nodesReady,
  sentinels,
  serviceLoad,
  step,
  usersSeeErrors,
  waitFor,
  zombieEtcdOnPort,
} from "../harness/kit/index.js";

/** The shop whose users, and the API clients, load the cluster as in the incident's load test. */
const shop = echoService("shop", 2);
const apiClients = apiLoad({ rate: 10 });
const shopUsers = serviceLoad(shop, { rate: 20, slo: { during: { availability: 0.99, p99: "500ms" } } });
/** The process that holds :2380, as the runbook's ss found it. */
const HOLDER = handOff<{ command: string; pid: number }>("the process holding :2380", 'the runbook step "find who holds :2380"');

export default defineScenario({
  id: "etcd-port-conflict",
  title: "A zombie etcd holds :2380 and the control plane stops answering",
  summary:
    "During a load test every kubectl call hung. The kubelet was running, the API server listened on 6443, but " +
    "its health check failed on etcd. etcd itself crash-looped: an earlier etcd process, no longer managed by the " +
    "kubelet, still held the peer port 2380, so each new etcd container died with 'address already in use'. " +
    "Finding the process holding the port and killing it let the kubelet bring etcd, and the control plane, back. " +
    "As in the incident, load runs throughout: API clients listing objects, and users of a Service.",
  source: { incident: "001", section: "#2 API server health check, #3 etcd port conflict" },
  tags: ["control-plane", "etcd", "load", "nightly", "game-day"],
  gameDay: {
    difficulty: "medium",
    alert:
      "API unresponsive during the load test: every kubectl call hangs until it times out, the API server's health check is " +
      "failing, and API clients see errors. The API server process itself is running.",
    hints: [
      "Ask the API server what it depends on: node-shell control-plane, then curl -k https://localhost:6443/healthz?verbose.",
      "Its datastore keeps restarting: crictl ps -a --name etcd, then crictl logs on the newest attempt.",
      "The log says a port it needs is already taken. Something outside the kubelet's control holds it: find out who, and deal with it.",
    ],
    // What a player types to find the holder. lsof and netstat are not on kind's node image (the runbook uses ss), but a
    // player who knows them types them first; on machines of one's own they answer.
    cause: [/2380/, /\blsof\b/, /\bnetstat\b|\bss\s+-/, /\b(pgrep|pidof)\b.*etcd|\bps\b.*etcd/],
  },
  cluster: { controlPlanes: 1, workers: 1 },
  needs: ["node-shell", "load-generator"],

  setup: [sentinels.configMaps(20), sentinels.deployment("web", 2), shop],
  // The incident began during a load test: API clients (a list that reaches etcd) and the users of a Service.
  // --workload: a team's own service stands in for the demo "shop" (its users' traffic through the fault, judged apart).
  workloadSlot: { replaces: shop },
  load: [apiClients, shopUsers],
  steadyState: [nodesReady(), kubeSystemReady(), apiserverReady(), etcdHealthy()],

  fault: zombieEtcdOnPort({ port: 2380 }),

  symptoms: {
    within: "3m",
    expect: [
      containerLog("etcd", /bind: address already in use/),
      healthz(/\[-\]etcd failed/),
      kubectlTimesOut("5s"),
      kubeletReports("etcd", /CrashLoopBackOff/),
      usersSeeErrors(apiClients),
    ],
  },

  runbook: [
    // The incident ran lsof, which kind's node image does not have (clusters/kind/node-contract.ts): ss (iproute2) answers
    // the same question, and the step says which command it ran.
    step(
      "find who holds :2380",
      onControlPlane`ss -ltnp ${"sport = :2380"}   # the incident used lsof -nP -iTCP:2380 -sTCP:LISTEN; kind's node image has no lsof`.keep(
        (out, { found }) => {
          const holder = /users:\(\("([^"]+)",pid=(\d+)/.exec(out);
          if (!holder) throw new Error(`nothing listens on :2380:\n${out}`);
          found.set(HOLDER, { command: holder[1]!, pid: Number(holder[2]) });
          return `ss -ltnp 'sport = :2380' (in place of the incident's lsof, which the node image does not have):\n${out}`;
        },
      ),
    ),
    step(
      "kill the zombie",
      onControlPlane`kill -9 ${atRun("<pid from ss>", ({ found }) => found.need(HOLDER).pid)}`.keep((_, { found }) => {
        const { command, pid } = found.need(HOLDER);
        return `killed ${command} (pid ${pid})`;
      }),
    ),
    step(
      "wait for the kubelet to bring etcd back",
      "crictl ps --name etcd   # until Running",
      async (ctx) => {
        const o = await waitFor(containerRunning("etcd"), ctx, "5m");
        return o.observed;
      },
      "6m",
    ),
  ],

  decisiveStep: "kill the zombie",

  verify: {
    within: "5m",
    expect: [nodesReady(), kubeSystemReady(), apiserverReady(), etcdHealthy()],
  },
});
