import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryNotifier } from '@palabre/core';
import {
  DAV,
  DavError,
  READ_ONLY,
  davPath,
  extendedMkcol,
  propRequestOf,
  renderResponses,
  requirePrivilege,
  virtualCollection,
  XmlStream,
  type DavBackend,
  type DavPlugin,
  type DavResource,
} from '../src/index.js';
import { ALICE, backends, startServer, type TestServer } from './harness.js';

const X = 'urn:palabre:test';
const NOTES = 'notes';
const PEEK = `{${X}}peek` as const;

/**
 * A second mount beside the drive, as CalDAV will be: its own method, a wrap of a built-in one, a
 * report that applies only to it, a POST handler and a privilege of its own. Its members keep the
 * names clients chose byte for byte (NFD stays NFD), and one of them is not readable.
 */
function notesPlugin(): DavPlugin & { mounted: string[] } {
  const mounted: string[] = [];
  const names = ['e\u0301cole', 'plain', 'secret'];
  const root = (): DavResource => ({ ...virtualCollection(davPath([NOTES]), backend), resourceTypes: [`{${X}}notebook`], privileges: new Set([...READ_ONLY, 'bind', 'write-properties', PEEK]) });
  const member = (name: string): DavResource => ({
    ...virtualCollection(davPath([NOTES, name]), backend),
    collection: false,
    etag: `"${name.length}"`,
    privileges: name === 'secret' ? new Set([PEEK]) : READ_ONLY,
  });
  const backend: DavBackend = {
    async lookup(_ctx, path) {
      if (path.segments.length === 1) return { resource: root(), parent: null };
      const name = path.segments[1]!;
      return { resource: names.includes(name) ? member(name) : null, parent: root() };
    },
    async *members() {
      yield [member(names[0]!)];
      yield names.slice(1).map(member);
    },
    async makeCollection(_ctx, _parent, name, options) {
      if (options?.resourceTypes.some((t) => t !== `{${X}}notebook`)) throw new DavError(403, 'not a notebook');
      mounted.push(name);
      return { ...root(), path: davPath([NOTES, name]) };
    },
  };
  return {
    name: 'notes',
    mounted,
    setup(host) {
      host.mount(NOTES, backend);
      host.addNamespace('x', X);
      host.addPrivilege({ name: PEEK, parent: 'read', description: 'Peek' });
      host.addCompliance('notebooks', { mount: NOTES });
      // Node's HTTP parser knows a fixed list of methods: MKCALENDAR stands for any extension method.
      host.addMethod('MKCALENDAR', (ctx) => extendedMkcol(ctx, { root: `{${X}}mknotebook`, responseRoot: `{${X}}mknotebook-response`, resourceTypes: [`{${X}}notebook`] }), { mount: NOTES });
      host.addMethod(
        'GET',
        async (ctx, next) => {
          ctx.res.setHeader('x-notes', 'wrapped');
          await next();
        },
        { mount: NOTES },
      );
      host.addProperty({ name: `{${X}}color`, appliesTo: (r) => r.backend === backend, get: (_c, _r, _p, requested) => `asked:${requested ? 'element' : 'none'}` });
      host.addReport({
        name: `{${X}}peek-report`,
        privilege: PEEK,
        appliesTo: (r) => r.backend === backend,
        async handler(ctx, resource) {
          const out = new XmlStream(ctx.res, ctx.dav.namespaces);
          out.begin(207);
          const prop = { ns: DAV, name: 'prop', attributes: [], children: [{ ns: DAV, name: 'getetag', attributes: [], children: [] }] };
          await out.write(await renderResponses(ctx, [resource], propRequestOf(prop as never)));
          await out.end();
        },
      });
      host.addPost({
        root: `{${X}}ping`,
        mount: NOTES,
        async handle(ctx, resource) {
          requirePrivilege(ctx, resource, 'read');
          ctx.res.statusCode = 200;
          ctx.res.end('pong');
        },
      });
    },
  };
}

const propfind = (props: string) => `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:x="${X}"><d:prop>${props}</d:prop></d:propfind>`;

describe.each(backends)('engine extension points on %s', (backend) => {
  let t: TestServer;
  let notes: ReturnType<typeof notesPlugin>;
  beforeAll(async () => {
    notes = notesPlugin();
    t = await startServer(backend, { morePlugins: [notes] });
  });
  afterAll(async () => t.close());

  it('makes a drive folder with its properties in one go (extended MKCOL), and refuses a type it cannot be', async () => {
    const body = `<?xml version="1.0"?><d:mkcol xmlns:d="DAV:"><d:set><d:prop><d:displayname>Budget 2027</d:displayname><x:tag xmlns:x="${X}">finances</x:tag></d:prop></d:set></d:mkcol>`;
    const made = await t.dav('MKCOL', `/dav/files/${ALICE}/budget/`, { body, headers: { 'content-type': 'application/xml' } });
    expect(made.status).toBe(201);
    expect(await made.text()).toContain('mkcol-response');
    const listed = await t.dav('PROPFIND', `/dav/files/${ALICE}/budget/`, { body: propfind('<d:displayname/><x:tag/>'), headers: { depth: '0' } });
    const xml = await listed.text();
    expect(xml).toContain('Budget 2027');
    expect(xml).toContain('finances');
    const typed = `<?xml version="1.0"?><d:mkcol xmlns:d="DAV:"><d:set><d:prop><d:resourcetype><d:collection/><c:calendar xmlns:c="urn:ietf:params:xml:ns:caldav"/></d:resourcetype><d:displayname>x</d:displayname></d:prop></d:set></d:mkcol>`;
    const refused = await t.dav('MKCOL', `/dav/files/${ALICE}/agenda/`, { body: typed, headers: { 'content-type': 'application/xml' } });
    expect(refused.status).toBe(403);
    const answer = await refused.text();
    expect(answer).toMatch(/valid-resourcetype/);
    expect(answer).toMatch(/424/);
    expect((await t.dav('PROPFIND', `/dav/files/${ALICE}/agenda/`, { headers: { depth: '0' } })).status).toBe(404);
    expect((await t.dav('MKCOL', `/dav/files/${ALICE}/weird/`, { body: 'xxxxx', headers: { 'content-type': 'xzy-foo/bar-512' } })).status).toBe(415);
  });

  it('lets PROPPATCH set a drive file\u2019s displayname, and applies nothing when a protected property is in the same request', async () => {
    await t.dav('PUT', `/dav/files/${ALICE}/rapport.txt`, { body: 'texte' });
    const set = (props: string) =>
      t.dav('PROPPATCH', `/dav/files/${ALICE}/rapport.txt`, { body: `<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop>${props}</d:prop></d:set></d:propertyupdate>` });
    expect(await (await set('<d:displayname>Rapport annuel</d:displayname>')).text()).toMatch(/200 OK/);
    const mixed = await (await set('<d:displayname>Autre</d:displayname><d:getetag>"x"</d:getetag>')).text();
    expect(mixed).toMatch(/403 Forbidden[\s\S]*cannot-modify-protected-property/);
    expect(mixed).toMatch(/424 Failed Dependency/);
    const read = await (await t.dav('PROPFIND', `/dav/files/${ALICE}/rapport.txt`, { body: propfind('<d:displayname/>'), headers: { depth: '0' } })).text();
    expect(read).toContain('Rapport annuel');
  });

  it('leaves 404 propstats out with Prefer: return=minimal (RFC 8144) and with Brief: t', async () => {
    for (const headers of [{ prefer: 'return=minimal' }, { brief: 't' }] as Record<string, string>[]) {
      const res = await t.dav('PROPFIND', `/dav/files/${ALICE}/rapport.txt`, { body: propfind('<d:getetag/><x:nothing/>'), headers: { depth: '0', ...headers } });
      const xml = await res.text();
      expect(xml).not.toMatch(/404/);
      expect(xml).toContain('getetag');
      expect(res.headers.get('vary')).toMatch(/Prefer/);
    }
    const full = await (await t.dav('PROPFIND', `/dav/files/${ALICE}/rapport.txt`, { body: propfind('<d:getetag/><x:nothing/>'), headers: { depth: '0' } })).text();
    expect(full).toMatch(/404/);
  });

  it('keeps a plugin\u2019s method, wrap, compliance class and properties to its own mount', async () => {
    const onNotes = await t.dav('MKCALENDAR', '/dav/notes/carnet/', { body: `<x:mknotebook xmlns:x="${X}" xmlns:d="DAV:"/>`, headers: { 'content-type': 'application/xml' } });
    expect(onNotes.status).toBe(201);
    expect(await onNotes.text()).toContain('mknotebook-response');
    expect(notes.mounted).toContain('carnet');
    const onDrive = await t.dav('MKCALENDAR', `/dav/files/${ALICE}/carnet/`);
    expect(onDrive.status).toBe(405);
    expect(onDrive.headers.get('allow')).not.toContain('MKCALENDAR');
    expect((await t.dav('OPTIONS', '/dav/notes/')).headers.get('dav')).toContain('notebooks');
    expect((await t.dav('OPTIONS', `/dav/files/${ALICE}/`)).headers.get('dav')).not.toContain('notebooks');
    expect((await t.dav('OPTIONS', '/dav/notes/')).headers.get('allow')).toContain('MKCALENDAR');
    // The wrap runs, then the built-in GET answers.
    const got = await t.dav('GET', '/dav/notes/plain');
    expect(got.headers.get('x-notes')).toBe('wrapped');
    expect((await t.dav('GET', `/dav/files/${ALICE}/rapport.txt`)).headers.get('x-notes')).toBeNull();
    const colour = await (await t.dav('PROPFIND', '/dav/notes/', { body: propfind('<x:color/>'), headers: { depth: '0' } })).text();
    expect(colour).toContain('asked:element');
    expect(await (await t.dav('PROPFIND', `/dav/files/${ALICE}/rapport.txt`, { body: propfind('<x:color/>'), headers: { depth: '0' } })).text()).toMatch(/color[^]*404/);
  });

  it('lists reports per resource, runs them with their own privilege, and refuses them elsewhere', async () => {
    const report = `<x:peek-report xmlns:x="${X}"/>`;
    const set = await (await t.dav('PROPFIND', '/dav/notes/', { body: propfind('<d:supported-report-set/>'), headers: { depth: '0' } })).text();
    expect(set).toContain('peek-report');
    const driveSet = await (await t.dav('PROPFIND', `/dav/files/${ALICE}/`, { body: propfind('<d:supported-report-set/>'), headers: { depth: '0' } })).text();
    expect(driveSet).not.toContain('peek-report');
    const onDrive = await t.dav('REPORT', `/dav/files/${ALICE}/`, { body: report });
    expect(onDrive.status).toBe(403);
    expect(await onDrive.text()).toContain('supported-report');
    // "secret" grants only x:peek, not read: its report runs, a PROPFIND does not.
    expect((await t.dav('REPORT', '/dav/notes/secret', { body: report })).status).toBe(207);
    expect((await t.dav('PROPFIND', '/dav/notes/secret', { headers: { depth: '0' } })).status).toBe(403);
    const privileges = await (await t.dav('PROPFIND', '/dav/notes/', { body: propfind('<d:supported-privilege-set/>'), headers: { depth: '0' } })).text();
    expect(privileges).toMatch(/<d:read\/>[\s\S]*<x:peek\/>/);
  });

  it('lists only the members the caller may read, page after page, with their names as the client wrote them', async () => {
    const xml = await (await t.dav('PROPFIND', '/dav/notes/', { headers: { depth: '1' }, body: propfind('<d:getetag/>') })).text();
    expect(xml).toContain('/dav/notes/e%CC%81cole');
    expect(xml).toContain('/dav/notes/plain');
    expect(xml).not.toContain('secret');
    // The drive still folds names to NFC: one name, one file.
    await t.dav('PUT', `/dav/files/${ALICE}/e%CC%81te%CC%81.txt`, { body: 'nfd' });
    expect(await (await t.dav('GET', `/dav/files/${ALICE}/%C3%A9t%C3%A9.txt`)).text()).toBe('nfd');
  });

  it('dispatches POST by the body\u2019s root element, for the mount it belongs to', async () => {
    const ping = await t.dav('POST', '/dav/notes/', { body: `<x:ping xmlns:x="${X}"/>`, headers: { 'content-type': 'application/xml' } });
    expect(ping.status).toBe(200);
    expect(await ping.text()).toBe('pong');
    expect((await t.dav('POST', '/dav/notes/', { body: `<x:pong xmlns:x="${X}"/>`, headers: { 'content-type': 'application/xml' } })).status).toBe(400);
    expect((await t.dav('POST', '/dav/notes/', { body: 'x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await t.dav('POST', `/dav/files/${ALICE}/`, { body: `<x:ping xmlns:x="${X}"/>`, headers: { 'content-type': 'application/xml' } })).status).toBe(405);
  });
});

describe('DAV changes on core\u2019s Notifier', () => {
  it('publishes every committed change on the mount\u2019s topic', async () => {
    const notifier = new MemoryNotifier();
    const seen: unknown[] = [];
    await notifier.subscribe('dav.files', (p) => seen.push(p));
    const t = await startServer('sqlite', { notifier });
    try {
      expect((await t.dav('PUT', `/dav/files/${ALICE}/n.txt`, { body: 'x' })).status).toBe(201);
      await t.dav('DELETE', `/dav/files/${ALICE}/n.txt`);
      await new Promise((r) => setTimeout(r, 50));
      expect(seen).toEqual([
        { kind: 'put', path: `/files/${ALICE}/n.txt` },
        { kind: 'delete', path: `/files/${ALICE}/n.txt` },
      ]);
    } finally {
      await t.close();
      await notifier.close();
    }
  });
});
