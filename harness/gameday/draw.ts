import { randomInt } from "node:crypto";
import { AftershockError } from "../../clusters/errors.js";
import { DIFFICULTIES, GAME_DAY_TAG, type Difficulty, type GameDayBrief, type Scenario } from "../model/scenario.js";

/** A scenario a game day can draw: tagged "game-day", with its briefing. */
export type GameDayScenario = Scenario & { gameDay: GameDayBrief };

export const isGameDay = (s: Scenario): s is GameDayScenario => s.tags.includes(GAME_DAY_TAG) && s.gameDay !== undefined;

export function parseDifficulty(v: string | undefined): Difficulty | undefined {
  if (v === undefined) return undefined;
  if (!(DIFFICULTIES as readonly string[]).includes(v))
    throw new AftershockError("E_BAD_INPUT", `--difficulty must be one of ${DIFFICULTIES.join(", ")}, got "${v}"`);
  return v as Difficulty;
}

/** What the player asked for: a tag and/or a difficulty, never a scenario. */
export interface DrawFilter {
  tag?: string;
  difficulty?: Difficulty;
}

/** The game-day scenarios matching the filter, sorted by id (so a seed picks the same one on every machine). */
export function candidates(all: Scenario[], f: DrawFilter): GameDayScenario[] {
  return all
    .filter(isGameDay)
    .filter((s) => (f.tag === undefined || s.tags.includes(f.tag)) && (f.difficulty === undefined || s.gameDay.difficulty === f.difficulty))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** mulberry32 (a small, fast generator of floats in [0, 1)), its seed mixed first so that neighbouring seeds start far apart. */
export function seededRandom(seed: number): () => number {
  let a = (seed ^ 0x9e3779b9) >>> 0;
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
  a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
  a = (a ^ (a >>> 16)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One scenario drawn from those matching the filter: at random, or reproducibly with a seed (tests pick with the
 * same function). No match is a one-line error naming what was asked for.
 */
export function drawScenario(all: Scenario[], f: DrawFilter, seed?: number): { scenario: GameDayScenario; of: number } {
  const pool = candidates(all, f);
  if (!pool.length) {
    const asked = [f.tag !== undefined ? `tag "${f.tag}"` : "", f.difficulty ? `difficulty ${f.difficulty}` : ""].filter(Boolean).join(" and ");
    throw new AftershockError("E_BAD_INPUT", `no game-day scenario has ${asked || "a game-day briefing"}`, {
      hint: `game-day scenarios: ${candidates(all, {}).length}; try another --tag or --difficulty`,
    });
  }
  const i = seed === undefined ? randomInt(pool.length) : Math.floor(seededRandom(seed)() * pool.length);
  return { scenario: pool[i]!, of: pool.length };
}
