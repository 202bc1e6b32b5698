import { MemoryDirectoryStore } from '@palabre/core/testing';
import { describe, expect, it } from 'vitest';
import { RecipientResolver } from './recipient-resolver.js';

async function directory() {
  const d = new MemoryDirectoryStore();
  await d.createDomain({ name: 'sante.gouv.tg' });
  await d.addDomainAlias('sante.gouv.tg', 'ms.gouv.tg');
  const awa = await d.createAccount({ address: 'awa@sante.gouv.tg' });
  const kofi = await d.createAccount({ address: 'kofi@sante.gouv.tg' });
  await d.addAlias('direction@sante.gouv.tg', awa.id);
  const outer = await d.createGroup({ name: 'tous', domain: 'sante.gouv.tg', address: 'tous@sante.gouv.tg' });
  const inner = await d.createGroup({ name: 'drh', domain: 'sante.gouv.tg', address: null });
  await d.addGroupMember(inner.id, { accountId: kofi.id });
  await d.addGroupMember(outer.id, { accountId: awa.id });
  await d.addGroupMember(outer.id, { groupId: inner.id });
  await d.createGroup({ name: 'vide', domain: 'sante.gouv.tg', address: 'vide@sante.gouv.tg' });
  return { d, awa, kofi };
}

describe('RecipientResolver', () => {
  it('resolves primary addresses, aliases, domain aliases, sub-addresses and nested groups', async () => {
    const { d, awa, kofi } = await directory();
    const r = new RecipientResolver(d, 0);
    expect(await r.resolve('Awa@Sante.Gouv.TG')).toMatchObject({ kind: 'local', via: 'primary', accounts: [{ id: awa.id }] });
    expect(await r.resolve('direction@ms.gouv.tg')).toMatchObject({ kind: 'local', via: 'alias', accounts: [{ id: awa.id }] });
    expect(await r.resolve('awa+rapports@sante.gouv.tg')).toMatchObject({ kind: 'local', accounts: [{ id: awa.id }] });
    const group = await r.resolve('tous@sante.gouv.tg');
    expect(group.kind === 'local' && group.accounts.map((a) => a.id).sort()).toEqual([awa.id, kofi.id].sort());
    expect(await r.resolve('vide@sante.gouv.tg')).toMatchObject({ kind: 'unknown' });
    expect(await r.resolve('personne@sante.gouv.tg')).toMatchObject({ kind: 'unknown' });
    expect(await r.resolve('x@example.org')).toMatchObject({ kind: 'remote', domain: 'example.org' });
    await d.updateAccount(kofi.id, { status: 'suspended' });
    expect(await r.resolve('kofi@sante.gouv.tg')).toMatchObject({ kind: 'disabled' });
    expect(await r.maySendAs(awa.id, 'direction@sante.gouv.tg')).toBe(true);
    expect(await r.maySendAs(awa.id, 'kofi@sante.gouv.tg')).toBe(false);
    expect(await r.maySendAs(awa.id, 'not an address')).toBe(false);
  });

  it('reuses answers for a few seconds, then sees directory changes', async () => {
    const { d, kofi } = await directory();
    let lookups = 0;
    const counting = new Proxy(d, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (prop === 'resolveAddress') return (...a: unknown[]) => (lookups++, (v as (...x: unknown[]) => unknown).apply(target, a));
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const r = new RecipientResolver(counting, 50);
    await Promise.all([r.resolve('kofi@sante.gouv.tg'), r.resolve('KOFI@sante.gouv.tg')]);
    await r.resolve('kofi@sante.gouv.tg');
    expect(lookups).toBe(1);
    await d.updateAccount(kofi.id, { status: 'suspended' });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await r.resolve('kofi@sante.gouv.tg')).toMatchObject({ kind: 'disabled' });
  });
});
