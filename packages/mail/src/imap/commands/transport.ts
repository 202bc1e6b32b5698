import { AUTHENTICATED, NOT_AUTHENTICATED, defineCommand, noArgs } from '../command.js';
import { bad, no } from '../errors.js';

export const starttlsCommand = defineCommand({
  name: 'STARTTLS',
  states: NOT_AUTHENTICATED,
  parse: noArgs,
  async run(s, _args, tag) {
    if (s.secure) throw bad('TLS is already active');
    if (!s.ctx.tls) throw bad('TLS is not available');
    await s.writer.line(`${tag} OK Begin TLS negotiation now`);
    await s.startTls();
    return { answered: true };
  },
});

/** RFC 4978. */
export const compressCommand = defineCommand({
  name: 'COMPRESS',
  states: AUTHENTICATED,
  parse(r) {
    r.sp();
    const algorithm = r.atom('algorithm').toUpperCase();
    r.end();
    return algorithm;
  },
  async run(s, algorithm, tag) {
    if (!s.ctx.compress) throw bad('Compression is not offered');
    if (algorithm !== 'DEFLATE') throw bad('Unknown compression algorithm');
    if (s.writer.compressed) throw no('COMPRESSIONACTIVE', 'Compression is already active');
    await s.writer.line(`${tag} OK DEFLATE active`);
    await s.startCompression();
    return { answered: true };
  },
});

export const enableCommand = defineCommand({
  name: 'ENABLE',
  states: ['authenticated'],
  parse(r) {
    const caps: string[] = [];
    while (r.maybeSp()) caps.push(r.atom('capability').toUpperCase());
    if (!caps.length) throw bad('ENABLE needs a capability');
    r.end();
    return caps;
  },
  async run(s, caps) {
    const enabled: string[] = [];
    for (const cap of caps) {
      if (cap === 'IMAP4REV2' && !s.rev2) {
        s.rev2 = true;
        enabled.push('IMAP4rev2');
      } else if (cap === 'UTF8=ACCEPT' && !s.utf8Accept) {
        s.utf8Accept = true;
        enabled.push('UTF8=ACCEPT');
      } else if (cap === 'CONDSTORE' && !s.condstore) {
        s.condstore = true;
        enabled.push('CONDSTORE');
      } else if (cap === 'QRESYNC' && !s.qresync) {
        s.qresync = true;
        s.condstore = true;
        enabled.push('QRESYNC');
      }
    }
    await s.untagged(enabled.length ? `ENABLED ${enabled.join(' ')}` : 'ENABLED');
  },
});
