import { describe, expect, it } from 'vitest';
import { DEFAULT_BLOB_SETTLE_MS } from '@palabre/core';
import { afterSettling, periodicJob, type JobLeadership } from '../src/serve/periodic.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('periodicJob', () => {
  it('runs once more after the delay `again` asks for, once, and not after stop()', async () => {
    const runs: number[] = [];
    let next = 0;
    const job = periodicJob('gc', 3_600_000, { background: true, leadership: null, again: (n: number) => (n === 1 ? 30 : null) }, async () => {
      runs.push(++next);
      return next;
    });
    await job.start();
    await sleep(150);
    // The start run asked for one more; the second asked for none; the interval is an hour away.
    expect(runs).toEqual([1, 2]);
    await job.stop(0);

    const later = periodicJob('gc', 3_600_000, { background: true, leadership: null, again: () => 40 }, async () => {
      runs.push(++next);
      return next;
    });
    await later.start();
    await sleep(5);
    await later.stop(0);
    await sleep(100);
    expect(runs).toEqual([1, 2, 3]);
  });

  it('asks `again` only on the node that ran the job', async () => {
    const asked: unknown[] = [];
    const notLeader: JobLeadership = { runExclusive: async () => ({ ran: false }) };
    const job = periodicJob('gc', 3_600_000, { background: true, leadership: notLeader, again: (r: string) => (asked.push(r), 10) }, async () => 'ran');
    await job.start();
    await sleep(50);
    await job.stop(0);
    expect(asked).toEqual([]);
  });

  it('schedules the collectors\' second look just after their trash has settled', () => {
    expect(afterSettling({ trashed: 0 })).toBeNull();
    expect(afterSettling({ trashed: 3 })).toBeGreaterThan(DEFAULT_BLOB_SETTLE_MS);
    expect(afterSettling({ trashed: 3 })).toBeLessThan(DEFAULT_BLOB_SETTLE_MS + 60_000);
  });
});
