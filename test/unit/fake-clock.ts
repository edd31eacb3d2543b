import type { Clock } from "../../clusters/wait.js";

/** A clock that advances only when the engine sleeps: budgets are tested without waiting. */
export class FakeClock implements Clock {
  constructor(public t = 1_000_000) {}
  now() {
    return this.t;
  }
  async sleep(ms: number) {
    this.t += ms;
  }
}
