import { WORKLOAD_IMAGES } from "../../clusters/images/workloads.js";
import { DEFAULT_KUBERNETES_VERSION, profileFor, TESTED_VERSIONS } from "../../clusters/versions.js";

/** The version of the other line, on which versions.test.ts runs a control-plane scenario. */
export const OTHER_VERSION: string = profileFor(DEFAULT_KUBERNETES_VERSION)!.line === profileFor("v1.29.15")!.line ? TESTED_VERSIONS.at(-1)! : "v1.29.15";

/** Workload images the first test files do not need: built in the background (background-builds.ts). */
export const LATER_IMAGES: string[] = [WORKLOAD_IMAGES.traefik, WORKLOAD_IMAGES.ledger];
