import { ConflictError, NotFoundError, QuotaExceededError } from '../../errors.js';
import { systemClock, type Clock } from '../../ports/clock.js';
import type { SieveScript, SieveScriptInfo, SieveScriptStore } from '../../sieve/sieve-script-store.js';
import { checkOwner, checkScriptContent, checkScriptName, MAX_SIEVE_SCRIPTS } from '../../sieve/sieve-script-rules.js';
import type { Database } from '../database.js';
import { SieveDomainScriptEntity, SieveScriptEntity, type SieveScriptRow } from './entities.js';

export class SqlSieveScriptStore implements SieveScriptStore {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock = systemClock,
  ) {}

  async list(accountId: string): Promise<SieveScriptInfo[]> {
    const id = checkOwner(accountId);
    return this.db.run(async (m) => {
      const rows = await m.find(SieveScriptEntity, { where: { accountId: id }, select: { name: true, active: true, size: true, updatedAt: true } });
      // Code-point order in JS: the databases' collations disagree.
      return rows.sort((a, b) => (a.name < b.name ? -1 : 1)).map((r) => ({ name: r.name, active: Boolean(r.active), size: Number(r.size), updatedAt: new Date(Number(r.updatedAt)) }));
    }, 'listing sieve scripts');
  }

  async get(accountId: string, name: string): Promise<SieveScript | null> {
    const id = checkOwner(accountId);
    const n = checkScriptName(name);
    return this.db.run(async (m) => {
      const row = await m.findOne(SieveScriptEntity, { where: { accountId: id, name: n } });
      return row ? toScript(row) : null;
    }, 'reading a sieve script');
  }

  async getActive(accountId: string): Promise<SieveScript | null> {
    const id = checkOwner(accountId);
    return this.db.run(async (m) => {
      const row = await m.findOne(SieveScriptEntity, { where: { accountId: id, active: true } });
      return row ? toScript(row) : null;
    }, 'reading the active sieve script');
  }

  async put(accountId: string, name: string, content: string): Promise<SieveScriptInfo> {
    const id = checkOwner(accountId);
    const n = checkScriptName(name);
    const text = checkScriptContent(content);
    const now = this.clock.now().getTime();
    const size = Buffer.byteLength(text, 'utf8');
    return this.db.transaction(
      async (m) => {
        const existing = await m.findOne(SieveScriptEntity, { where: { accountId: id, name: n }, select: { active: true } });
        if (existing) {
          await m.update(SieveScriptEntity, { accountId: id, name: n }, { content: text, size, updatedAt: now });
          return { name: n, active: Boolean(existing.active), size, updatedAt: new Date(now) };
        }
        if ((await m.count(SieveScriptEntity, { where: { accountId: id } })) >= MAX_SIEVE_SCRIPTS) throw new QuotaExceededError(`at most ${MAX_SIEVE_SCRIPTS} scripts`);
        await m.insert(SieveScriptEntity, { accountId: id, name: n, content: text, active: false, size, updatedAt: now });
        return { name: n, active: false, size, updatedAt: new Date(now) };
      },
      { what: 'saving a sieve script' },
    );
  }

  async setActive(accountId: string, name: string | null): Promise<void> {
    const id = checkOwner(accountId);
    const n = name === null ? null : checkScriptName(name);
    await this.db.transaction(
      async (m) => {
        if (n !== null && !(await m.findOne(SieveScriptEntity, { where: { accountId: id, name: n }, select: { name: true } }))) throw new NotFoundError('no such script');
        await m.update(SieveScriptEntity, { accountId: id, active: true }, { active: false });
        if (n !== null) await m.update(SieveScriptEntity, { accountId: id, name: n }, { active: true });
      },
      { what: 'activating a sieve script' },
    );
  }

  async rename(accountId: string, from: string, to: string): Promise<void> {
    const id = checkOwner(accountId);
    const a = checkScriptName(from);
    const b = checkScriptName(to);
    await this.db.transaction(
      async (m) => {
        const row = await m.findOne(SieveScriptEntity, { where: { accountId: id, name: a } });
        if (!row) throw new NotFoundError('no such script');
        if (a === b) return;
        if (await m.findOne(SieveScriptEntity, { where: { accountId: id, name: b }, select: { name: true } })) throw new ConflictError('a script of that name exists');
        await m.delete(SieveScriptEntity, { accountId: id, name: a });
        await m.insert(SieveScriptEntity, { ...row, name: b, updatedAt: this.clock.now().getTime() });
      },
      { what: 'renaming a sieve script' },
    );
  }

  async delete(accountId: string, name: string): Promise<void> {
    const id = checkOwner(accountId);
    const n = checkScriptName(name);
    await this.db.transaction(
      async (m) => {
        const row = await m.findOne(SieveScriptEntity, { where: { accountId: id, name: n }, select: { active: true } });
        if (!row) throw new NotFoundError('no such script');
        if (row.active) throw new ConflictError('the active script cannot be deleted');
        await m.delete(SieveScriptEntity, { accountId: id, name: n });
      },
      { what: 'deleting a sieve script' },
    );
  }

  async getDomainScript(domainId: string): Promise<string | null> {
    const id = checkOwner(domainId);
    return this.db.run(async (m) => (await m.findOne(SieveDomainScriptEntity, { where: { domainId: id } }))?.content ?? null, 'reading the domain sieve script');
  }

  async setDomainScript(domainId: string, content: string | null): Promise<void> {
    const id = checkOwner(domainId);
    const text = content === null ? null : checkScriptContent(content);
    await this.db.transaction(
      async (m) => {
        await m.delete(SieveDomainScriptEntity, { domainId: id });
        if (text !== null) await m.insert(SieveDomainScriptEntity, { domainId: id, content: text, updatedAt: this.clock.now().getTime() });
      },
      { what: 'saving the domain sieve script' },
    );
  }
}

function toScript(row: SieveScriptRow): SieveScript {
  return { accountId: row.accountId, name: row.name, content: row.content, active: Boolean(row.active), size: Number(row.size), updatedAt: new Date(Number(row.updatedAt)) };
}
