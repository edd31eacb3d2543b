import type { Clock } from "../../harness/kit/types.js";

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
