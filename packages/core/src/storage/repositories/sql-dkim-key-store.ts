import { normalizeDomain } from '../../address.js';
import { NotFoundError } from '../../errors.js';
import { checkDkimKey, checkSelector } from '../../dkim-key-rules.js';
import type { DkimAlgorithm, DkimKey, DkimKeyStore } from '../../ports/dkim-key-store.js';
import type { Database } from '../database.js';
import { DkimKeyEntity, type DkimKeyRow } from '../entities/mail-transport.js';

export class SqlDkimKeyStore implements DkimKeyStore {
  constructor(private readonly db: Database) {}

  async add(input: Omit<DkimKey, 'active' | 'createdAt'> & { createdAt?: Date }): Promise<DkimKey> {
    const key = checkDkimKey(input);
    return this.db.transaction(
      async (m) => {
        await m.update(DkimKeyEntity, { domain: key.domain }, { active: false });
        await m.insert(DkimKeyEntity, {
          domain: key.domain,
          selector: key.selector,
          algorithm: key.algorithm,
          privateKey: key.privateKeyPem,
          publicKey: key.publicKey,
          active: true,
          createdAt: key.createdAt.getTime(),
        });
        return key;
      },
      { what: 'adding a DKIM key' },
    );
  }

  async active(domain: string): Promise<DkimKey | null> {
    const name = normalizeDomain(domain);
    return this.db.run(async (m) => {
      const row = await m.findOne(DkimKeyEntity, { where: { domain: name, active: true } });
      return row ? toKey(row) : null;
    }, 'reading a DKIM key');
  }

  async list(domain?: string): Promise<DkimKey[]> {
    const where = domain === undefined ? {} : { domain: normalizeDomain(domain) };
    return this.db.run(
      async (m) => (await m.find(DkimKeyEntity, { where, order: { domain: 'ASC', createdAt: 'DESC' } })).map(toKey),
      'listing DKIM keys',
    );
  }

  async remove(domain: string, selector: string): Promise<void> {
    const name = normalizeDomain(domain);
    checkSelector(selector);
    await this.db.run(async (m) => {
      const result = await m.delete(DkimKeyEntity, { domain: name, selector: selector.toLowerCase() });
      if (!result.affected) throw new NotFoundError(`no DKIM key ${selector} for ${name}`);
    }, 'removing a DKIM key');
  }
}

function toKey(row: DkimKeyRow): DkimKey {
  return {
    domain: row.domain,
    selector: row.selector,
    algorithm: row.algorithm as DkimAlgorithm,
    privateKeyPem: row.privateKey,
    publicKey: row.publicKey,
    active: Boolean(row.active),
    createdAt: new Date(Number(row.createdAt)),
  };
}
