import type { Clock } from '../ports/clock.js';

export function fixedClock(at: Date | string | number): Clock {
  const time = new Date(at).getTime();
  return { now: () => new Date(time) };
}

export interface ManualClock extends Clock {
  advance(ms: number): void;
  set(at: Date | string | number): void;
}

export function manualClock(start: Date | string | number = '2026-01-01T00:00:00Z'): ManualClock {
  let time = new Date(start).getTime();
  return {
    now: () => new Date(time),
    advance(ms: number) {
      time += ms;
    },
    set(at) {
      time = new Date(at).getTime();
    },
  };
}
