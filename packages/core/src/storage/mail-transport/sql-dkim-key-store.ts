import { normalizeDomain } from '../../address.js';
import { InvalidInputError, NotFoundError, UnavailableError } from '../../errors.js';
import { isSealed, type SecretBox } from '../../secrets/secret-box.js';
import { checkDkimKey, checkSelector } from '../../mail-transport/dkim-key-rules.js';
import type { DkimAlgorithm, DkimKey, DkimKeyStore, NewDkimKey } from '../../mail-transport/dkim-key-store.js';
import type { Database } from '../database.js';
import { DkimKeyEntity, type DkimKeyRow } from './entities.js';

/** The private key column holds at most this much (a sealed RSA-4096 key is about 4.4 KB). */
const MAX_STORED = 8000;

/**
 * DKIM keys in the database. With a SecretBox, private keys are sealed before they are written and
 * opened when read (keys written before one was configured are read as they are, and sealed by
 * `sealAll`, which also seals again what a previous key file sealed); without one they are stored in clear, which `palabre doctor` reports.
 */
export class SqlDkimKeyStore implements DkimKeyStore {
  constructor(
    private readonly db: Database,
    private readonly secrets: SecretBox | null = null,
  ) {}

  private stored(key: { domain: string; selector: string; privateKeyPem: string }): string {
    if (!this.secrets) return key.privateKeyPem;
    const sealed = this.secrets.seal(key.privateKeyPem, sealContext(key.domain, key.selector));
    if (sealed.length > MAX_STORED) throw new InvalidInputError('the DKIM private key is too large');
    return sealed;
  }

  private toKey(row: DkimKeyRow): DkimKey {
    let privateKeyPem = row.privateKey;
    if (isSealed(privateKeyPem)) {
      if (!this.secrets) throw new UnavailableError(`the DKIM key ${row.selector} of ${row.domain} is sealed: configure secrets.keyFile`);
      privateKeyPem = this.secrets.open(privateKeyPem, sealContext(row.domain, row.selector));
    }
    return { ...toKey(row), privateKeyPem };
  }

  /**
   * Seal again under the current key every private key still in clear (written before a key file was
   * configured) or sealed under a previous key (a key file being replaced); returns how many. One
   * transaction: a key that does not open (sealed under a key no longer configured) changes nothing.
   */
  async sealAll(): Promise<number> {
    const secrets = this.secrets;
    if (!secrets) throw new UnavailableError('no secret key configured (secrets.keyFile)');
    return this.db.transaction(
      async (m) => {
        let sealed = 0;
        for (const row of await m.find(DkimKeyEntity, {})) {
          if (secrets.sealedByCurrent(row.privateKey)) continue;
          const { privateKeyPem } = this.toKey(row);
          await m.update(DkimKeyEntity, { domain: row.domain, selector: row.selector }, { privateKey: this.stored({ domain: row.domain, selector: row.selector, privateKeyPem }) });
          sealed++;
        }
        return sealed;
      },
      { what: 'sealing DKIM keys' },
    );
  }

  /** How many private keys are stored in clear, and how many sealed under a key other than the current one. */
  async sealing(): Promise<{ clear: number; otherKey: number }> {
    const rows = await this.db.run((m) => m.find(DkimKeyEntity, { select: { privateKey: true } }), 'counting DKIM keys');
    let clear = 0;
    let otherKey = 0;
    for (const { privateKey } of rows) {
      if (!isSealed(privateKey)) clear++;
      else if (this.secrets && !this.secrets.sealedByCurrent(privateKey)) otherKey++;
    }
    return { clear, otherKey };
  }

  async add(input: NewDkimKey, options: { pending?: boolean } = {}): Promise<DkimKey> {
    const key = checkDkimKey(input, options.pending === true);
    return this.db.transaction(
      async (m) => {
        if (key.active) await m.update(DkimKeyEntity, { domain: key.domain }, { active: false, pending: false });
        await m.insert(DkimKeyEntity, {
          domain: key.domain,
          selector: key.selector,
          algorithm: key.algorithm,
          privateKey: this.stored(key),
          publicKey: key.publicKey,
          active: key.active,
          pending: key.pending,
          createdAt: key.createdAt.getTime(),
        });
        return key;
      },
      { what: 'adding a DKIM key' },
    );
  }

  async activate(domain: string, selector: string): Promise<DkimKey> {
    const name = normalizeDomain(domain);
    const s = checkSelector(selector);
    return this.db.transaction(
      async (m) => {
        const row = await m.findOne(DkimKeyEntity, { where: { domain: name, selector: s } });
        if (!row) throw new NotFoundError(`no DKIM key ${s} for ${name}`);
        // Every other key of the domain is retired, a pending one too: one rotation at a time.
        await m.update(DkimKeyEntity, { domain: name }, { active: false, pending: false });
        await m.update(DkimKeyEntity, { domain: name, selector: s }, { active: true, pending: false });
        return this.toKey({ ...row, active: true, pending: false });
      },
      { what: 'activating a DKIM key' },
    );
  }

  async active(domain: string): Promise<DkimKey | null> {
    const name = normalizeDomain(domain);
    return this.db.run(async (m) => {
      const row = await m.findOne(DkimKeyEntity, { where: { domain: name, active: true } });
      return row ? this.toKey(row) : null;
    }, 'reading a DKIM key');
  }

  async list(domain?: string): Promise<DkimKey[]> {
    const where = domain === undefined ? {} : { domain: normalizeDomain(domain) };
    return this.db.run(
      async (m) => (await m.find(DkimKeyEntity, { where, order: { domain: 'ASC', createdAt: 'DESC' } })).map((r) => this.toKey(r)),
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

/** What a sealed key is bound to: it opens only as the key of this domain and selector. */
const sealContext = (domain: string, selector: string) => `dkim:${domain}:${selector}`;

function toKey(row: DkimKeyRow): DkimKey {
  return {
    domain: row.domain,
    selector: row.selector,
    algorithm: row.algorithm as DkimAlgorithm,
    privateKeyPem: row.privateKey,
    publicKey: row.publicKey,
    active: Boolean(row.active),
    pending: Boolean(row.pending) && !row.active,
    createdAt: new Date(Number(row.createdAt)),
  };
}
