import { writeFileSync } from "node:fs";
import { ConsoleProgress } from "../../clusters/progress.js";
import { laterBuilds } from "./later-images.js";

/**
 * What the e2e tests need only later, built by a child of the global setup at the lowest CPU and I/O priority while
 * the first test files run (it takes only the cycles their clusters leave idle). It holds the cache's build lock
 * while it builds, so a test that needs one of these before it is done waits for it; the others go on (see
 * clusters/images/build-lock.ts). What and in which order: laterBuilds in later-images.ts.
 */
// Started in a session of its own (detached), it has a scheduler autogroup of its own, and with autogroups on (as
// here) a process's nice counts only inside its group: the group's own nice is what makes it yield to the tests.
try {
  writeFileSync("/proc/self/autogroup", "19");
} catch {
  /* no autogroups: the nice of the process is enough */
}
for (const { ensure } of laterBuilds(new ConsoleProgress())) await ensure();
