import {
  apiAcceptsPods,
  apiLoad,
  apiserverReady,
  apiserverRefuses,
  defineScenario,
  echoService,
  findStoppedComponents,
  keepsServing,
  kubeSystemReady,
  nodesReady,
  restoreStaticPods,
  serviceLoad,
  staticPodsStopped,
  step,
  waitFor,
} from "../harness/kit/index.js";

const web = echoService("web", 2);
/** Its users, during the outage too (k6). */
const webUsers = serviceLoad(web, { rate: 20, k6: "loads/constant-rate.k6.ts", slo: { during: { availability: 0.99, p99: "500ms" } } });
/** On three control planes (the variant ha): the same users, and API clients through the load balancer. */
const haWebUsers = serviceLoad(web, { rate: 20, slo: { during: { availability: 0.99, p99: "500ms" } } });
const haApiClients = apiLoad({ rate: 10, slo: { during: { availability: 0.9 } } });

export default defineScenario({
  id: "apiserver-down",
  title: "The API server dies; workloads that do not need it keep serving",
  summary:
    "The Kubernetes docs' failure modes list an API server VM shutdown or crash: nothing new can be started, " +
    "stopped or updated, but pods and Services that do not depend on the API carry on. Here the API server " +
    "stops on a single control plane while users load a Service through a NodePort; kubectl fails and no pod " +
    "can be created, and the load shows what the users of the Service felt meanwhile. The runbook finds the " +
    "missing container and its manifest, puts the manifest back, and the API server returns.",
  source: { incident: "002", section: "Specific scenarios: API server VM shutdown or apiserver crashing" },
  tags: ["control-plane", "apiserver", "load", "nightly", "game-day"],
  gameDay: {
    difficulty: "easy",
    alert:
      "Deploys are failing: kubectl and the CI pipeline get 'connection refused' from the cluster endpoint on :6443. " +
      "The web shop's own traffic looks normal.",
    hints: [
      "Nothing answers on :6443 at all. Look at the control-plane machine itself: node-shell control-plane, then crictl ps -a.",
      "The kubelet runs the control plane from static pod manifests in /etc/kubernetes/manifests. Which one is missing there?",
      "Someone parked that file elsewhere under /etc/kubernetes. Put it back and the kubelet starts the component within seconds.",
    ],
    cause: [/crictl\s+ps/, /manifests/, /aftershock-stopped/, /kube-apiserver/],
  },
  cluster: { controlPlanes: 1, workers: 1 },
  needs: ["node-shell", "load-generator"],

  setup: [web],
  steadyState: [nodesReady(), kubeSystemReady(), apiserverReady()],
  // What the Service's users feel during the outage is the point: the SLO holds during the fault too.
  // --workload: a team's own service stands in for the demo "web" (its users' traffic through the fault, judged apart).
  workloadSlot: { replaces: web },
  load: [webUsers],

  fault: staticPodsStopped(["kube-apiserver"], { why: "its process is gone and nothing restarts it" }),

  symptoms: {
    within: "2m",
    expect: [apiserverRefuses(), apiAcceptsPods(false)],
    // 002: existing pods and Services that do not depend on the API keep working.
    stillWorks: [keepsServing(webUsers, { availability: 0.99, forSeconds: 20 })],
  },

  runbook: [
    findStoppedComponents(["kube-apiserver"]),
    restoreStaticPods(["kube-apiserver"]),
    step(
      "wait for the API server to answer",
      "kubectl get --raw /readyz   # until ok",
      async (ctx) => (await waitFor(apiserverReady(), ctx, "2m")).observed,
      "3m",
    ),
  ],
  decisiveStep: "restore the kube-apiserver manifest",

  verify: {
    within: "3m",
    expect: [apiserverReady(), nodesReady(), kubeSystemReady(), apiAcceptsPods(true)],
  },

  variants: [
    {
      name: "ha",
      summary:
        "the mitigation 002 names, high availability: on three control planes one API server dies and API requests through the load balancer " +
        "keep succeeding, apart from the seconds before the balancer's health check takes it out",
      change: {
        cluster: { controlPlanes: 3, workers: 1 },
        load: [haWebUsers, haApiClients],
        symptoms: {
          within: "2m",
          expect: [apiserverRefuses()],
          stillWorks: [
            apiAcceptsPods(true),
            keepsServing(haWebUsers, { availability: 0.99, forSeconds: 20 }),
            keepsServing(haApiClients, { availability: 0.9, forSeconds: 20 }),
          ],
        },
      },
    },
  ],
});
