import {
  apiserverReady,
  defineScenario,
  deletedPodReplaced,
  echoService,
  findStoppedComponents,
  inTurn,
  kubectl,
  keepsServing,
  kubeSystemReady,
  newDeploymentFilled,
  newPodScheduled,
  nodesReady,
  restoreStaticPods,
  serviceLoad,
  staticPodsStopped,
  step,
} from "../harness/kit/index.js";

/** The Service whose users keep being served, and a batch worker whose deleted pod the controllers must replace. */
const web = echoService("web", 2);
const worker = echoService("worker", 2);
const webUsers = serviceLoad(web, { rate: 20, slo: { during: { availability: 0.99, p99: "500ms" } } });

export default defineScenario({
  id: "controllers-down",
  title: "The controller manager and the scheduler stop; nothing new happens, what runs keeps running",
  summary:
    "The Kubernetes docs' failure modes say the supporting services (node and replication controllers, the " +
    "scheduler) fail like the API server they sit beside. Here both stop while the API server stays up and " +
    "users load a Service: kubectl answers, but a new pod is never scheduled, a new Deployment never gets " +
    "pods and a deleted pod is never replaced, while the running pods keep serving. Putting their static pod " +
    "manifests back lets them catch up on everything asked of them meanwhile.",
  source: {
    incident: "002",
    section: "Specific scenarios: supporting services (node controller, replication controller manager, scheduler) VM shutdown or crashes",
  },
  tags: ["control-plane", "controllers", "load", "nightly", "game-day"],
  gameDay: {
    difficulty: "easy",
    alert:
      "Rollouts are stuck: new pods stay Pending with no node assigned, a new Deployment shows 0 pods, and deleted pods are not " +
      "replaced. kubectl answers and the running services are fine.",
    hints: [
      "Pending with no node means nobody decides placement; a Deployment without pods means nobody reconciles. Which components do those jobs? kubectl get pods -n kube-system",
      "They are static pods on the control-plane machine: node-shell control-plane, then crictl ps -a and ls /etc/kubernetes/manifests.",
      "Their manifests were moved out of the kubelet's directory; find them under /etc/kubernetes and move them back.",
    ],
    cause: [/controller-manager|scheduler/, /manifests/, /aftershock-stopped/, /tier=control-plane/],
  },
  cluster: { controlPlanes: 1, workers: 1 },
  needs: ["node-shell", "load-generator"],

  // The pod deleted during the outage is a batch worker's, not one behind the Service: with the endpoint
  // controllers down, a deleted pod behind a Service would stay in its endpoints and users would see errors.
  setup: [web, worker],
  steadyState: [nodesReady(), kubeSystemReady(), apiserverReady()],
  // --workload: a team's own service stands in for the demo "web" (its users' traffic through the fault, judged apart).
  workloadSlot: { replaces: web },
  load: [webUsers],

  fault: staticPodsStopped(["kube-controller-manager", "kube-scheduler"], { why: "their processes are gone and nothing restarts them" }),

  symptoms: {
    within: "2m",
    expect: [newPodScheduled("unscheduled"), newDeploymentFilled("empty"), deletedPodReplaced(worker, "not-replaced")],
    stillWorks: [apiserverReady(), keepsServing(webUsers, { availability: 0.99, forSeconds: 20 })],
  },

  runbook: [
    step(
      "see what is stuck",
      inTurn(kubectl`get pods -A --field-selector=status.phase=Pending -o wide`, kubectl`get pods -n kube-system -l tier=control-plane`),
    ),
    findStoppedComponents(["kube-controller-manager", "kube-scheduler"]),
    restoreStaticPods(["kube-controller-manager", "kube-scheduler"]),
  ],
  decisiveStep: "restore the kube-controller-manager and kube-scheduler manifests",

  verify: {
    within: "3m",
    expect: [newPodScheduled("scheduled"), newDeploymentFilled("filled"), deletedPodReplaced(worker, "replaced"), kubeSystemReady(), nodesReady()],
  },
});
