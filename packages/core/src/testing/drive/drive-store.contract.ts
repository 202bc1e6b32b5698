import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Account } from '../../directory/directory.js';
import type { UsageStore } from '../../usage/usage-store.js';
import type { DirectoryStore } from '../../directory/directory-store.js';
import type { DriveNode, DriveSpace, DriveStore, LockStore } from '../../drive/drive-store.js';
import { expectKind } from '../contracts/expect-error.js';
import type { ContractSubject } from '../contracts/subject.js';

export interface DriveContractExtra {
  /** The directory the drive's accounts and groups live in (same database for SQL stores). */
  directory: DirectoryStore;
  usage: UsageStore;
}

const blob = (text: string) => createHash('sha256').update(text).digest('hex');

async function expectReason(promise: Promise<unknown>, reason: string): Promise<void> {
  const error = await expectKind(promise, 'conflict');
  expect((error.detail as { reason?: string } | undefined)?.reason).toBe(reason);
}

export function driveStoreContract(name: string, subject: ContractSubject<DriveStore, DriveContractExtra>): void {
  describe(`DriveStore contract: ${name}`, () => {
    let drive: DriveStore;
    let directory: DirectoryStore;
    let usage: UsageStore;
    let cleanup: () => Promise<void>;
    let alice: Account;
    let home: DriveSpace;

    const file = (parent: string, n: string, text: string, extra: object = {}) =>
      drive.writeFile(parent, n, { blobId: blob(text), size: Buffer.byteLength(text), contentType: 'text/plain', ...extra });
    const node = async (id: string) => (await drive.getNode(id))!;

    beforeEach(async () => {
      ({ subject: drive, directory, usage, cleanup } = await subject.make());
      await directory.createDomain({ name: 'ms.example.tg' });
      alice = await directory.createAccount({ address: 'alice@ms.example.tg', displayName: 'Alice', quotaBytes: 1000 });
      home = await drive.ensureHome(alice);
    });
    afterEach(async () => cleanup());

    it('creates one home per account, even when asked concurrently', async () => {
      const bob = await directory.createAccount({ address: 'bob@ms.example.tg', displayName: 'Bob' });
      const homes = await Promise.all(Array.from({ length: 5 }, () => drive.ensureHome(bob)));
      expect(new Set(homes.map((h) => h.id)).size).toBe(1);
      expect(homes[0]).toMatchObject({ name: 'bob@ms.example.tg', kind: 'home', accountId: bob.id, groupId: null });
      expect((await drive.findSpace('bob@ms.example.tg'))?.id).toBe(homes[0]!.id);
      expect(await drive.findSpace('nobody@ms.example.tg')).toBeNull();
      const root = await node(home.rootId);
      expect(root).toMatchObject({ kind: 'dir', parentId: null, size: 0, spaceId: home.id });
      expect((await drive.listSpaces({ accountIds: [alice.id, bob.id] })).map((s) => s.name)).toEqual(['alice@ms.example.tg', 'bob@ms.example.tg']);
    });

    it('resolves paths as far as they exist and lists folders in name order', async () => {
      const docs = await drive.createFolder(home.rootId, 'Documents');
      await file(docs.id, 'b.txt', 'bee');
      const a = await file(docs.id, 'a.txt', 'ay');
      await drive.createFolder(docs.id, 'été');
      const chain = await drive.resolve(home.rootId, ['Documents', 'a.txt']);
      expect(chain.map((n) => n.name)).toEqual(['', 'Documents', 'a.txt']);
      expect(chain[2]!.id).toBe(a.node.id);
      expect((await drive.resolve(home.rootId, ['Documents', 'missing', 'deeper'])).map((n) => n.name)).toEqual(['', 'Documents']);
      expect(await drive.resolve('00000000-0000-0000-0000-000000000000', ['x'])).toEqual([]);
      const located = await drive.locate('alice@ms.example.tg', ['Documents', 'a.txt', 'deeper']);
      expect(located?.space.id).toBe(home.id);
      expect(located?.chain.map((n) => n.id)).toEqual(chain.map((n) => n.id));
      expect(await drive.locate('nobody@ms.example.tg', [])).toBeNull();
      expect((await drive.children(docs.id)).map((n) => n.name)).toEqual(['a.txt', 'b.txt', 'été']);
      // Deep paths resolve across several query chunks.
      let at = home.rootId;
      const names: string[] = [];
      for (let i = 0; i < 40; i++) {
        names.push(`d${i}`);
        at = (await drive.createFolder(at, `d${i}`)).id;
      }
      const deep = await drive.resolve(home.rootId, [...names, 'nothing']);
      expect(deep).toHaveLength(41);
      expect(deep[40]!.id).toBe(at);
      expect((await drive.locate('alice@ms.example.tg', names))?.chain[40]?.id).toBe(at);
      expect((await drive.locate('alice@ms.example.tg', [...names.slice(0, 20), 'gap', ...names.slice(20)]))?.chain).toHaveLength(21);
    });

    it('refuses bad names and taken names with precise errors', async () => {
      for (const bad of ['', '.', '..', 'a/b', 'nul\u0000', 'tab\tname', 'x'.repeat(256), '\ud800']) {
        await expectKind(drive.createFolder(home.rootId, bad), 'invalid');
        await expectKind(file(home.rootId, bad, 'x'), 'invalid');
      }
      await drive.createFolder(home.rootId, 'Docs');
      await expectReason(drive.createFolder(home.rootId, 'Docs'), 'exists');
      await expectReason(file(home.rootId, 'Docs', 'x'), 'is-folder');
      const f = await file(home.rootId, 'f.txt', 'x');
      await expectReason(drive.createFolder(f.node.id, 'below-a-file'), 'not-a-folder');
      await expectReason(drive.createFolder('00000000-0000-0000-0000-000000000000', 'orphan'), 'no-parent');
    });

    it('bumps the version and size of every ancestor on each change, and only theirs', async () => {
      const a = await drive.createFolder(home.rootId, 'a');
      const b = await drive.createFolder(a.id, 'b');
      const side = await drive.createFolder(home.rootId, 'side');
      const before = { root: await node(home.rootId), a: await node(a.id), b: await node(b.id), side: await node(side.id) };
      const f = await file(b.id, 'deep.txt', 'hello');
      const after = { root: await node(home.rootId), a: await node(a.id), b: await node(b.id), side: await node(side.id) };
      expect(after.root.version).toBeGreaterThan(before.root.version);
      expect(after.a.version).toBeGreaterThan(before.a.version);
      expect(after.b.version).toBeGreaterThan(before.b.version);
      expect(after.side.version).toBe(before.side.version);
      expect([after.root.size, after.a.size, after.b.size, after.side.size]).toEqual([5, 5, 5, 0]);
      expect(f.node.version).toBe(after.b.version);
      await drive.remove(f.node.id);
      expect((await node(a.id)).version).toBeGreaterThan(after.a.version);
      expect((await node(home.rootId)).size).toBe(0);
    });

    it('overwrites a file in place: same id, kept properties, new version, checked expectations', async () => {
      const first = await file(home.rootId, 'f.txt', 'one', { modifiedAt: new Date('2020-01-02T03:04:05Z') });
      expect(first.created).toBe(true);
      expect(first.node.modifiedAt.toISOString()).toBe('2020-01-02T03:04:05.000Z');
      await drive.patchProperties(first.node.id, [{ op: 'set', name: '{urn:x}color', value: '<color xmlns="urn:x">red</color>' }]);
      await file(home.rootId, 'f.txt', 'two');
      await expectReason(drive.writeFile(home.rootId, 'f.txt', { blobId: blob('x'), size: 1 }, { version: first.node.version }), 'precondition');
      const current = (await drive.resolve(home.rootId, ['f.txt']))[1]!;
      const again = await drive.writeFile(home.rootId, 'f.txt', { blobId: blob('four'), size: 4 }, { version: current.version });
      expect(again.created).toBe(false);
      expect(again.node.id).toBe(first.node.id);
      expect(again.node.version).toBeGreaterThan(current.version);
      expect(again.node).toMatchObject({ blobId: blob('four'), size: 4 });
      expect((await drive.properties([first.node.id])).get(first.node.id)).toEqual([{ name: '{urn:x}color', value: '<color xmlns="urn:x">red</color>' }]);
      await expectReason(drive.writeFile(home.rootId, 'f.txt', { blobId: blob('x'), size: 1 }, { presence: 'absent' }), 'precondition');
      await expectReason(drive.writeFile(home.rootId, 'new.txt', { blobId: blob('x'), size: 1 }, { presence: 'present' }), 'precondition');
      await expectKind(drive.writeFile(home.rootId, 'bad.txt', { blobId: 'nothex', size: 1 }), 'invalid');
      await expectKind(drive.writeFile(home.rootId, 'bad.txt', { blobId: blob('x'), size: -1 }), 'invalid');
    });

    it('moves keep the id, fix sizes on both sides and refuse cycles, roots and taken names', async () => {
      const a = await drive.createFolder(home.rootId, 'a');
      const b = await drive.createFolder(home.rootId, 'b');
      const inner = await drive.createFolder(a.id, 'inner');
      const f = await file(inner.id, 'f.txt', '12345');
      const vB = (await node(b.id)).version;
      const moved = await drive.move(inner.id, b.id, 'renamed', { overwrite: false });
      expect(moved).toMatchObject({ replaced: false });
      expect(moved.node).toMatchObject({ id: inner.id, name: 'renamed', parentId: b.id });
      expect((await node(a.id)).size).toBe(0);
      expect((await node(b.id)).size).toBe(5);
      expect((await node(b.id)).version).toBeGreaterThan(vB);
      expect((await drive.resolve(home.rootId, ['b', 'renamed', 'f.txt']))[3]?.id).toBe(f.node.id);
      await expectReason(drive.move(b.id, moved.node.id, 'loop', { overwrite: false }), 'cycle');
      await expectReason(drive.move(b.id, b.id, 'self', { overwrite: false }), 'cycle');
      await expectKind(drive.move(home.rootId, a.id, 'root', { overwrite: true }), 'forbidden');
      const other = await file(a.id, 'other.txt', 'xy');
      await expectReason(drive.move(other.node.id, moved.node.id, 'f.txt', { overwrite: false }), 'exists');
      const replaced = await drive.move(other.node.id, moved.node.id, 'f.txt', { overwrite: true });
      expect(replaced.replaced).toBe(true);
      expect(await drive.getNode(f.node.id)).toBeNull();
      expect((await node(b.id)).size).toBe(2);
      expect((await usage.get(alice.id)).total).toBe(2);
      // Moving onto itself is a no-op.
      expect((await drive.move(b.id, home.rootId, 'b', { overwrite: false })).replaced).toBe(false);
    });

    it('copies trees with their properties, sharing blobs, within limits', async () => {
      const src = await drive.createFolder(home.rootId, 'src');
      const sub = await drive.createFolder(src.id, 'sub');
      const f = await file(sub.id, 'f.txt', 'abc');
      await drive.patchProperties(f.node.id, [{ op: 'set', name: '{urn:x}p', value: '<p xmlns="urn:x">v</p>' }]);
      await drive.patchProperties(src.id, [{ op: 'set', name: '{urn:x}q', value: '<q xmlns="urn:x"/>' }]);
      const copy = await drive.copy(src.id, home.rootId, 'dst', { overwrite: false });
      expect(copy.node.id).not.toBe(src.id);
      expect(copy.node.size).toBe(3);
      const chain = await drive.resolve(home.rootId, ['dst', 'sub', 'f.txt']);
      expect(chain).toHaveLength(4);
      expect(chain[3]!.id).not.toBe(f.node.id);
      expect(chain[3]!.blobId).toBe(f.node.blobId);
      const props = await drive.properties([chain[3]!.id, copy.node.id]);
      const ofChildren = await drive.childProperties(chain[2]!.id);
      expect([...ofChildren.keys()]).toEqual([chain[3]!.id]);
      expect((await drive.childProperties(home.rootId)).get(src.id)).toEqual([{ name: '{urn:x}q', value: '<q xmlns="urn:x"/>' }]);
      expect(props.get(chain[3]!.id)).toEqual([{ name: '{urn:x}p', value: '<p xmlns="urn:x">v</p>' }]);
      expect(props.get(copy.node.id)).toEqual([{ name: '{urn:x}q', value: '<q xmlns="urn:x"/>' }]);
      expect((await node(home.rootId)).size).toBe(6);
      expect((await usage.get(alice.id)).total).toBe(6);
      const shallow = await drive.copy(src.id, home.rootId, 'shallow', { overwrite: false, depth: 0 });
      expect(await drive.children(shallow.node.id)).toEqual([]);
      expect(shallow.node.size).toBe(0);
      await expectReason(drive.copy(src.id, sub.id, 'into-self', { overwrite: false }), 'cycle');
      await expectReason(drive.copy(src.id, home.rootId, 'dst', { overwrite: false }), 'exists');
      await expectKind(drive.copy(src.id, home.rootId, 'too-big', { overwrite: false, limit: 1 }), 'too-large');
      expect((await drive.resolve(home.rootId, ['too-big']))).toHaveLength(1);
      const over = await drive.copy(f.node.id, home.rootId, 'dst', { overwrite: true });
      expect(over).toMatchObject({ replaced: true });
      expect(over.node.kind).toBe('file');
      expect((await node(home.rootId)).size).toBe(6);
    });

    it('removes whole subtrees, never a root', async () => {
      const a = await drive.createFolder(home.rootId, 'a');
      const b = await drive.createFolder(a.id, 'b');
      const f = await file(b.id, 'f.txt', 'data');
      await drive.patchProperties(f.node.id, [{ op: 'set', name: '{urn:x}p', value: '<p xmlns="urn:x"/>' }]);
      await drive.remove(a.id);
      expect(await drive.getNode(b.id)).toBeNull();
      expect(await drive.getNode(f.node.id)).toBeNull();
      expect((await drive.properties([f.node.id])).size).toBe(0);
      expect((await node(home.rootId)).size).toBe(0);
      await expectKind(drive.remove(home.rootId), 'forbidden');
      await expectKind(drive.remove(a.id), 'not-found');
      const g = await file(home.rootId, 'g.txt', 'x');
      await expectReason(drive.remove(g.node.id, { version: g.node.version - 1 }), 'precondition');
    });

    it('applies property patches in document order, atomically', async () => {
      const f = await file(home.rootId, 'p.txt', 'x');
      await drive.patchProperties(f.node.id, [
        { op: 'set', name: '{urn:x}a', value: '<a xmlns="urn:x">1</a>' },
        { op: 'remove', name: '{urn:x}a' },
        { op: 'set', name: '{urn:x}b', value: '<b xmlns="urn:x">2</b>' },
        { op: 'set', name: '{}plain', value: '<plain xmlns="">3</plain>' },
      ]);
      const names = () => drive.properties([f.node.id]).then((p) => (p.get(f.node.id) ?? []).map((d) => d.name).sort());
      expect(await names()).toEqual(['{urn:x}b', '{}plain']);
      await expectKind(
        drive.patchProperties(f.node.id, [
          { op: 'remove', name: '{urn:x}b' },
          { op: 'set', name: 'not clark', value: '<x/>' },
        ]),
        'invalid',
      );
      expect(await names()).toEqual(['{urn:x}b', '{}plain']);
      const many = Array.from({ length: 300 }, (_, i) => ({ op: 'set' as const, name: `{urn:many}p${i}`, value: `<p${i} xmlns="urn:many"/>` }));
      await expectKind(drive.patchProperties(f.node.id, many), 'invalid');
      expect(await names()).toEqual(['{urn:x}b', '{}plain']);
      await expectKind(drive.patchProperties('00000000-0000-0000-0000-000000000000', []), 'not-found');
    });

    it('enforces the account quota across writes, copies and moves, leaving nothing behind', async () => {
      const big = await file(home.rootId, 'big.bin', 'x'.repeat(600));
      await expectKind(drive.writeFile(home.rootId, 'more.bin', { blobId: blob('y'), size: 500 }), 'quota');
      expect((await drive.resolve(home.rootId, ['more.bin']))).toHaveLength(1);
      await expectKind(drive.copy(big.node.id, home.rootId, 'copy.bin', { overwrite: false }), 'quota');
      expect((await drive.resolve(home.rootId, ['copy.bin']))).toHaveLength(1);
      expect(await drive.usage(home.id)).toEqual({ used: 600, quota: 1000 });
      expect((await usage.get(alice.id))).toEqual({ drive: 600, mail: 0, calendar: 0, contacts: 0, total: 600, messages: 0 });
      // Replacing a file only charges the difference.
      await drive.writeFile(home.rootId, 'big.bin', { blobId: blob('z'), size: 1000 });
      expect((await usage.get(alice.id)).total).toBe(1000);
    });

    it('keeps group folders apart, with their own quota, and moves bytes between owners', async () => {
      const group = await directory.createGroup({ name: 'sante-staff', domain: 'ms.example.tg' });
      const space = await drive.createGroupSpace({ name: 'sante-staff', groupId: group.id, quotaBytes: 10 });
      expect(space).toMatchObject({ kind: 'group', groupId: group.id, accountId: null, quotaBytes: 10 });
      await expectKind(drive.createGroupSpace({ name: 'Bad Name', groupId: group.id }), 'invalid');
      await expectKind(drive.createGroupSpace({ name: 'sante-staff', groupId: group.id }), 'conflict');
      const f = await file(home.rootId, 'f.txt', '1234');
      const moved = await drive.move(f.node.id, space.rootId, 'f.txt', { overwrite: false });
      expect(moved.node.spaceId).toBe(space.id);
      expect((await usage.get(alice.id)).total).toBe(0);
      expect(await drive.usage(space.id)).toEqual({ used: 4, quota: 10 });
      await expectKind(drive.writeFile(space.rootId, 'g.txt', { blobId: blob('g'), size: 7 }), 'quota');
      const dir = await drive.createFolder(home.rootId, 'dir');
      await file(dir.id, 'h.txt', 'hh');
      await drive.move(dir.id, space.rootId, 'dir', { overwrite: false });
      const inGroup = await drive.resolve(space.rootId, ['dir', 'h.txt']);
      expect(inGroup.every((n) => n.spaceId === space.id)).toBe(true);
      expect((await drive.listSpaces({ groupIds: [group.id] })).map((s) => s.id)).toEqual([space.id]);
      // Listed for whoever its root is granted to, directly or through a group, and for nobody else.
      const reader = await directory.createGroup({ name: 'sante-readers', domain: 'ms.example.tg' });
      const bob = await directory.createAccount({ address: 'bob@ms.example.tg', displayName: 'Bob' });
      expect(await drive.listSpaces({ grantedTo: [{ kind: 'account', id: bob.id }, { kind: 'group', id: reader.id }] })).toEqual([]);
      await drive.setGrants(inGroup[1]!.id, [{ principal: { kind: 'account', id: bob.id }, access: 'read' }]);
      expect(await drive.listSpaces({ grantedTo: [{ kind: 'account', id: bob.id }] })).toEqual([]);
      await drive.setGrants(space.rootId, [
        { principal: { kind: 'account', id: bob.id }, access: 'read' },
        { principal: { kind: 'group', id: reader.id }, access: 'write' },
      ]);
      expect((await drive.listSpaces({ grantedTo: [{ kind: 'account', id: bob.id }] })).map((s) => s.id)).toEqual([space.id]);
      expect((await drive.listSpaces({ grantedTo: [{ kind: 'group', id: reader.id }] })).map((s) => s.id)).toEqual([space.id]);
      expect(await drive.listSpaces({ grantedTo: [{ kind: 'group', id: bob.id }] })).toEqual([]);
      expect((await drive.listSpaces({ accountIds: [alice.id], grantedTo: [{ kind: 'account', id: bob.id }] })).map((s) => s.id)).toEqual([home.id, space.id]);
      await drive.removeSpace(space.id);
      expect(await drive.findSpace('sante-staff')).toBeNull();
      expect(await drive.getNode(inGroup[2]!.id)).toBeNull();
    });

    it('lists bounded subtrees parents first', async () => {
      const a = await drive.createFolder(home.rootId, 'a');
      const b = await drive.createFolder(a.id, 'b');
      await file(b.id, 'z.txt', 'z');
      await file(a.id, 'c.txt', 'c');
      const all = await drive.descendants(home.rootId, 10);
      expect(all !== 'too-many' && all.map((e) => e.path.join('/'))).toEqual(['a', 'a/b', 'a/b/z.txt', 'a/c.txt']);
      expect(await drive.descendants(home.rootId, 3)).toBe('too-many');
    });

    it('replaces grants and finds referenced blobs', async () => {
      const bob = await directory.createAccount({ address: 'bob@ms.example.tg', displayName: 'Bob' });
      const group = await directory.createGroup({ name: 'team', domain: 'ms.example.tg' });
      const shared = await drive.createFolder(home.rootId, 'shared');
      await drive.setGrants(shared.id, [
        { principal: { kind: 'account', id: bob.id }, access: 'read' },
        { principal: { kind: 'group', id: group.id }, access: 'write' },
      ]);
      expect((await drive.grantsOn([shared.id, home.rootId])).map((g) => `${g.principal.kind}:${g.access}`).sort()).toEqual(['account:read', 'group:write']);
      await drive.setGrants(shared.id, [{ principal: { kind: 'account', id: bob.id }, access: 'write' }]);
      expect(await drive.grantsOn([shared.id])).toEqual([{ nodeId: shared.id, principal: { kind: 'account', id: bob.id }, access: 'write' }]);
      await expectKind(drive.setGrants(shared.id, [{ principal: { kind: 'robot' as 'account', id: bob.id }, access: 'read' }]), 'invalid');
      const f = await file(shared.id, 'f.txt', 'kept');
      const refs = await drive.referencedBlobs([f.node.blobId!, blob('orphan')]);
      expect([...refs]).toEqual([f.node.blobId]);
    });

    it('stays consistent under concurrent writers in one folder', async () => {
      const dir = await drive.createFolder(home.rootId, 'busy');
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => file(dir.id, `f${i}.txt`, 'ab')));
      expect(results.every((r) => r.created)).toBe(true);
      expect((await node(dir.id)).size).toBe(40);
      expect((await node(home.rootId)).size).toBe(40);
      expect((await usage.get(alice.id)).total).toBe(40);
      const same = await Promise.all(Array.from({ length: 5 }, () => file(dir.id, 'same.txt', 'xyz')));
      expect(same.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(same.map((r) => r.node.id)).size).toBe(1);
      expect((await node(dir.id)).size).toBe(43);
    });

    it('keeps mtimes a client sets', async () => {
      const f = await file(home.rootId, 'm.txt', 'x');
      const rootBefore = (await node(home.rootId)).version;
      const set = await drive.setModified(f.node.id, new Date('2001-02-03T04:05:06Z'));
      expect(set.modifiedAt.toISOString()).toBe('2001-02-03T04:05:06.000Z');
      expect(set.version).toBeGreaterThan(f.node.version);
      expect((await node(home.rootId)).version).toBeGreaterThan(rootBefore);
      await expectKind(drive.setModified(f.node.id, new Date(NaN)), 'invalid');
    });
  });
}

export function lockStoreContract(name: string, subject: ContractSubject<LockStore>): void {
  describe(`LockStore contract: ${name}`, () => {
    let locks: LockStore;
    let cleanup: () => Promise<void>;
    const t0 = new Date('2026-03-01T10:00:00Z');
    const later = (s: number) => new Date(t0.getTime() + s * 1000);
    let n = 0;
    const lock = (root: string, extra: Partial<{ depth: 0 | 'infinity'; scope: 'exclusive' | 'shared'; timeoutSeconds: number }> = {}) =>
      locks.acquire(
        { token: `opaquelocktoken:t-${++n}`, root, depth: 0, scope: 'exclusive', owner: '<D:owner xmlns:D="DAV:">me</D:owner>', principalId: 'p1', timeoutSeconds: 60, ...extra },
        t0,
      );

    beforeEach(async () => {
      ({ subject: locks, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());

    it('grants exclusive locks alone and shared locks together', async () => {
      const x = await lock('/files/a/doc.txt');
      expect(x).toMatchObject({ root: '/files/a/doc.txt', depth: 0, scope: 'exclusive', principalId: 'p1', timeoutSeconds: 60 });
      expect(x.expiresAt.getTime()).toBe(later(60).getTime());
      const error = await expectKind(lock('/files/a/doc.txt'), 'conflict');
      expect((error.detail as { locks: string[] }).locks).toEqual(['/files/a/doc.txt']);
      await expectKind(lock('/files/a/doc.txt', { scope: 'shared' }), 'conflict');
      await lock('/files/a/s.txt', { scope: 'shared' });
      await lock('/files/a/s.txt', { scope: 'shared' });
      await expectKind(lock('/files/a/s.txt'), 'conflict');
      expect(await locks.covering('/files/a/s.txt', t0)).toHaveLength(2);
    });

    it('follows depth: infinity locks cover descendants, depth 0 only the root', async () => {
      await lock('/files/a/dir', { depth: 'infinity' });
      await expectKind(lock('/files/a/dir/sub/f.txt'), 'conflict');
      expect((await locks.covering('/files/a/dir/sub/f.txt', t0)).map((l) => l.root)).toEqual(['/files/a/dir']);
      expect(await locks.covering('/files/a/dirty', t0)).toEqual([]);
      await lock('/files/a/zero');
      expect(await locks.covering('/files/a/zero/f.txt', t0)).toEqual([]);
      // Several paths in one read: the locks that apply to any of them, each once.
      expect((await locks.covering(['/files/a/zero/f.txt', '/files/a/zero', '/files/a/dir/x'], t0)).map((l) => l.root).sort()).toEqual(['/files/a/dir', '/files/a/zero']);
      expect(await locks.covering([], t0)).toEqual([]);
      await lock('/files/a/zero/f.txt');
      await expectKind(lock('/files/a/zero', { depth: 'infinity' }), 'conflict');
      expect((await locks.below('/files/a/zero', t0)).map((l) => l.root)).toEqual(['/files/a/zero/f.txt']);
      expect((await locks.below('/files/a', t0)).map((l) => l.root).sort()).toEqual(['/files/a/dir', '/files/a/zero', '/files/a/zero/f.txt']);
      expect(await locks.below('/FILES/a', t0)).toEqual([]);
    });

    it('takes prefixes literally (no wildcards, case-sensitive)', async () => {
      await lock('/files/a_b/x');
      await lock('/files/a%/y');
      expect(await locks.below('/files/a', t0)).toEqual([]);
      expect(await locks.below('/files/aXb', t0)).toEqual([]);
      expect((await locks.below('/files/a_b', t0)).map((l) => l.root)).toEqual(['/files/a_b/x']);
      expect(await locks.removeTree('/files/A_b')).toBe(0);
      expect(await locks.removeTree('/files/a_b')).toBe(1);
    });

    it('expires, refreshes, releases and purges', async () => {
      const x = await lock('/f', { timeoutSeconds: 10 });
      expect(await locks.get(x.token, later(9))).not.toBeNull();
      expect(await locks.get(x.token, later(10))).toBeNull();
      const refreshed = await locks.refresh(x.token, 100, later(5));
      expect(refreshed?.expiresAt.getTime()).toBe(later(105).getTime());
      expect(await locks.covering('/f', later(50))).toHaveLength(1);
      expect(await locks.refresh('opaquelocktoken:unknown', 100, t0)).toBeNull();
      await expectKind(locks.refresh(x.token, 0, t0), 'invalid');
      const y = await lock('/g', { timeoutSeconds: 1 });
      expect(await locks.refresh(y.token, 10, later(2))).toBeNull();
      // An expired lock no longer conflicts.
      await locks.acquire({ token: 'opaquelocktoken:new-g', root: '/g', depth: 0, scope: 'exclusive', owner: null, principalId: 'p2', timeoutSeconds: 5 }, later(2));
      expect(await locks.purgeExpired(later(200))).toBe(3);
      expect(await locks.release(x.token)).toBe(false);
      const z = await lock('/h');
      expect(await locks.release(z.token)).toBe(true);
      expect(await locks.get(z.token, t0)).toBeNull();
    });

    it('removes whole trees and validates input', async () => {
      await lock('/d', { depth: 'infinity', scope: 'shared' });
      await lock('/d/e/f', { scope: 'shared' });
      await lock('/other');
      expect(await locks.removeTree('/d')).toBe(2);
      expect((await locks.below('/', t0)).map((l) => l.root)).toEqual(['/other']);
      await expectKind(lock('relative/path'), 'invalid');
      await expectKind(lock('/trailing/'), 'invalid');
      await expectKind(lock('/x', { timeoutSeconds: 0 }), 'invalid');
      await expectKind(lock(`/${'x'.repeat(3000)}`), 'invalid');
    });
  });
}
