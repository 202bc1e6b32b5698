import { mkdir, utimes, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@palabre/core';
import { loadConfig } from '../src/config.js';
import { openContext, type Context } from '../src/context.js';
import { runHousekeeping } from '../src/serve/housekeeping.js';
import { makeSite, type Site } from './helpers.js';

describe('housekeeping', () => {
  let site: Site;
  let ctx: Context;
  beforeEach(async () => {
    site = await makeSite('sqlite');
    ctx = await openContext(loadConfig({ data: site.dataDir, env: site.env }), silentLogger);
  });
  afterEach(async () => {
    await ctx.close();
    await site.cleanup();
  });

  it('removes stale upload leftovers, expired failure counters and forgotten devices, and nothing live', async () => {
    const tmp = join(site.dataDir, 'blobs', 'mail', '.tmp');
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, 'crashed-upload'), 'partial');
    const old = new Date(Date.now() - 3 * 3600_000);
    await utimes(join(tmp, 'crashed-upload'), old, old);
    await writeFile(join(tmp, 'live-upload'), 'in progress');
    await ctx.stores.throttle.recordFailure('ip:192.0.2.1', new Date(Date.now() - 2 * ctx.config.auth.failureWindowMs), ctx.config.auth.failureWindowMs);
    await ctx.stores.throttle.recordFailure('ip:192.0.2.2', new Date(), ctx.config.auth.failureWindowMs);
    const kept = await ctx.blobs.mail.put('a real blob');
    await ctx.stores.throttle.rememberDevice('dev:192.0.2.3|awa@sante.gouv.tg', new Date(Date.now() - 2 * ctx.config.auth.knownDeviceMs));
    await ctx.stores.throttle.rememberDevice('dev:192.0.2.4|awa@sante.gouv.tg', new Date());

    await runHousekeeping(ctx);

    expect(await readdir(tmp)).toEqual(['live-upload']);
    expect(await ctx.blobs.mail.stat(kept.id)).not.toBeNull();
    const far = new Date(Date.now() + 1);
    expect(await ctx.stores.throttle.peek('ip:192.0.2.2', far, ctx.config.auth.failureWindowMs)).not.toBeNull();
    const rows = await ctx.db.dataSource.query("SELECT key FROM auth_throttle ORDER BY key");
    expect(rows.map((r: { key: string }) => r.key)).toEqual(['ip:192.0.2.2']);
    const devices = await ctx.db.dataSource.query('SELECT key FROM auth_known_devices ORDER BY key');
    expect(devices.map((r: { key: string }) => r.key)).toEqual(['dev:192.0.2.4|awa@sante.gouv.tg']);
  });

  it('keeps a bounded number of deletion records per sync collection', async () => {
    for (let i = 0; i < 5; i++) await ctx.stores.changeLog.record('drive:space', [{ item: `n${i}`, kind: 'delete' }]);
    await runHousekeeping(ctx, { changeTombstonesKept: 2 });
    expect(await ctx.stores.changeLog.since('drive:space', 0)).toBe('expired');
    const recent = await ctx.stores.changeLog.since('drive:space', 3);
    expect(recent !== 'expired' && recent.changes.map((c) => c.item)).toEqual(['n3', 'n4']);
  });
});
