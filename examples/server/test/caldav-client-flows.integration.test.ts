import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSite, serveHttp, siteKinds, type ServedHttp, type Site } from './helpers.js';

/**
 * Recorded client flows (test/fixtures/clients/*.json): the request sequences Apple Calendar, DAVx5,
 * Thunderbird and Evolution send on discovery and first sync, with their quirks, replayed in order
 * against `palabre serve`. `{user}`, `{calendar}` and values captured by earlier steps (`{token}`,
 * `{etag}`) are filled in; each step checks its status and the key parts of the answer.
 */

interface Step {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly auth?: boolean;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly bodyLines?: readonly string[];
  readonly expect: {
    readonly status: number;
    readonly location?: string;
    /** The whole body, byte for byte. */
    readonly body?: string;
    readonly contains?: readonly string[];
    readonly absent?: readonly string[];
    readonly header?: Record<string, string>;
    readonly capture?: Record<string, string>;
    readonly captureHeader?: Record<string, string>;
  };
}

interface Flow {
  readonly client: string;
  readonly source: string;
  /** What `{calendar}` is made as before the flow: a calendar (default) or an address book. */
  readonly collection?: 'calendar' | 'addressbook';
  readonly steps: readonly Step[];
}

const FIXTURES = new URL('./fixtures/clients/', import.meta.url);
const flows = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(new URL(f, FIXTURES), 'utf8')) as Flow] as const);

const USER = 'secretariat@sante.gouv.test';
const PASS = 'A long enough passphrase';

describe.each(siteKinds)('recorded client flows against palabre serve (%s)', (kind) => {
  let site: Site;
  let served: ServedHttp;

  beforeAll(async () => {
    site = await makeSite(kind);
    for (const argv of [['domain', 'add', 'sante.gouv.test'], ['user', 'add', USER, '--password', PASS]]) expect((await site.run(...argv)).code).toBe(0);
    served = await serveHttp(site);
  }, 120_000);
  afterAll(async () => {
    await served?.stop();
    await site?.cleanup();
  });

  it.each(flows)('%s', async (name, flow) => {
    expect(flow.steps.length).toBeGreaterThan(3);
    const vars = new Map<string, string>([
      ['user', USER],
      ['calendar', `cal-${name}`],
    ]);
    const fill = (text: string) => text.replace(/\{([a-z0-9]+)\}/g, (whole, key: string) => vars.get(key) ?? whole);
    const made =
      flow.collection === 'addressbook'
        ? await fetch(`${served.origin}/dav/addressbooks/${USER}/cal-${name}/`, {
            method: 'MKCOL',
            headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`, 'content-type': 'application/xml' },
            body: '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>',
          })
        : await fetch(`${served.origin}/dav/calendars/${USER}/cal-${name}/`, { method: 'MKCALENDAR', headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}` } });
    expect(made.status).toBe(201);
    for (const step of flow.steps) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(step.headers ?? {})) headers[k] = fill(v);
      if (step.auth !== false) headers.authorization = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;
      const body = step.body !== undefined ? fill(step.body) : step.bodyLines ? fill(step.bodyLines.join('\r\n')) : undefined;
      const res = await fetch(`${served.origin}${fill(step.path)}`, { method: step.method, headers, body: body ?? null, redirect: 'manual' });
      const text = await res.text();
      const where = `${flow.client} — ${step.name}`;
      expect({ step: where, status: res.status }).toEqual({ step: where, status: step.expect.status });
      if (step.expect.location) expect(new URL(res.headers.get('location') ?? '', served.origin).pathname, where).toBe(step.expect.location);
      for (const [h, v] of Object.entries(step.expect.header ?? {})) expect(res.headers.get(h) ?? '', where).toContain(fill(v));
      if (step.expect.body !== undefined) expect(text, where).toBe(step.expect.body);
      for (const part of step.expect.contains ?? []) expect(text, where).toContain(fill(part));
      for (const part of step.expect.absent ?? []) expect(text, where).not.toContain(fill(part));
      for (const [key, pattern] of Object.entries(step.expect.capture ?? {})) {
        const m = new RegExp(pattern).exec(text);
        expect(m, `${where}: ${key}`).not.toBeNull();
        vars.set(key, m![1]!);
      }
      // `etag|unquote`: the header's value without its quotes (to write it as a client mangles it).
      for (const [key, spec] of Object.entries(step.expect.captureHeader ?? {})) {
        const [header, transform] = spec.split('|');
        const value = res.headers.get(header!);
        expect(value, `${where}: ${header}`).toBeTruthy();
        vars.set(key, transform === 'unquote' ? value!.replace(/^(W\/)?"|"$/g, '') : value!);
      }
    }
  });
});
