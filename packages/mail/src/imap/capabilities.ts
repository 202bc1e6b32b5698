export interface CapabilityContext {
  readonly authenticated: boolean;
  /** TLS is on (or the session is plaintext but passwords are allowed: local development). */
  readonly secure: boolean;
  readonly tlsAvailable: boolean;
  readonly insecureAuth: boolean;
  readonly compressed: boolean;
  /** COMPRESS=DEFLATE is offered (the server's `compress` option). */
  readonly compressOffered: boolean;
  readonly maxMessageBytes: number;
  /** RFC 5464 METADATA is offered (a metadata store was given). */
  readonly metadata: boolean;
}

/** Listed after login (and in the OK of LOGIN/AUTHENTICATE). */
export const AUTHENTICATED_CAPABILITIES = [
  'LITERAL+',
  'SASL-IR',
  'ID',
  'ENABLE',
  'IDLE',
  'NOTIFY',
  'NAMESPACE',
  'UNSELECT',
  'UIDPLUS',
  'MULTIAPPEND',
  'MOVE',
  'CHILDREN',
  'SPECIAL-USE',
  'CREATE-SPECIAL-USE',
  'LIST-EXTENDED',
  'LIST-STATUS',
  'STATUS=SIZE',
  'UTF8=ACCEPT',
  'ESEARCH',
  'SEARCHRES',
  'SORT',
  'SORT=DISPLAY',
  'ESORT',
  'THREAD=ORDEREDSUBJECT',
  'THREAD=REFERENCES',
  'WITHIN',
  'SAVEDATE',
  'CONDSTORE',
  'QRESYNC',
  'BINARY',
  'QUOTA',
  'QUOTA=RES-STORAGE',
  'QUOTA=RES-MESSAGE',
  'QUOTA=RES-MAILBOX',
  'ACL',
  'RIGHTS=texk',
] as const;

export function capabilities(c: CapabilityContext): string[] {
  const caps = ['IMAP4rev1', 'IMAP4rev2'];
  if (!c.authenticated) {
    caps.push('LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE');
    if (c.tlsAvailable && !c.secure) caps.push('STARTTLS');
    if (c.secure || c.insecureAuth) caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
    else caps.push('LOGINDISABLED');
    return caps;
  }
  caps.push(...AUTHENTICATED_CAPABILITIES, `APPENDLIMIT=${c.maxMessageBytes}`);
  if (c.metadata) caps.push('METADATA');
  if (c.compressOffered && !c.compressed) caps.push('COMPRESS=DEFLATE');
  return caps;
}
