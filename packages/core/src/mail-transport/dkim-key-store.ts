/** DKIM signing keys per hosted domain (RFC 6376). Private keys never leave the server. */

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

export interface DkimKey {
  /** Signing domain, lower-case A-label (the `d=` tag). */
  readonly domain: string;
  /** The `s=` tag: the DNS record lives at `<selector>._domainkey.<domain>`. */
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
  /** Base64 of the DER SubjectPublicKeyInfo (rsa) or raw key (ed25519): the DNS `p=` value. */
  readonly publicKey: string;
  /** Only the active key of a domain signs; older ones stay for rotation until removed. */
  readonly active: boolean;
  /**
   * Made by a rotation and waiting for its DNS record to be published: it does not sign until
   * activated (then the previous key is retired). Never both active and pending.
   */
  readonly pending: boolean;
  readonly createdAt: Date;
}

export type NewDkimKey = Omit<DkimKey, 'active' | 'pending' | 'createdAt'> & { createdAt?: Date };

/** What `palabre dkim list` calls a key. */
export const dkimKeyState = (key: Pick<DkimKey, 'active' | 'pending'>): 'signing' | 'pending' | 'retired' => (key.active ? 'signing' : key.pending ? 'pending' : 'retired');

export interface DkimKeyStore {
  /**
   * Add a key; it becomes the domain's active key (the previous one stays, inactive), or, with
   * `pending`, waits beside the active one until `activate`.
   */
  add(key: NewDkimKey, options?: { pending?: boolean }): Promise<DkimKey>;
  /** The key becomes the one that signs; the previous active key is retired. NotFoundError when absent. */
  activate(domain: string, selector: string): Promise<DkimKey>;
  /** The key that signs mail of this domain, or null. */
  active(domain: string): Promise<DkimKey | null>;
  list(domain?: string): Promise<DkimKey[]>;
  remove(domain: string, selector: string): Promise<void>;
}
