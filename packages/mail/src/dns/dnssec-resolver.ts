import { randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP, Socket } from 'node:net';
import * as packet from 'dns-packet';

/**
 * A stub resolver that asks one configured validating resolver (unbound, a local BIND, …) and reads
 * its verdict: node:dns cannot say whether an answer was DNSSEC-validated, and DANE (RFC 7672) is
 * only as good as that bit. Queries carry RD and the EDNS0 DO bit (RFC 3225); the answer is `secure`
 * only when the resolver set AD (RFC 4035 §3.2.3, RFC 6840 §5.8), which is why the resolver must be
 * one we trust on a path we trust (loopback, RFC 4035 §4.9.3). A bogus answer is what a validating
 * resolver turns into SERVFAIL (RFC 4035 §5.5).
 *
 * Spoofing and junk: every query goes from a fresh socket (a random source port chosen by the kernel)
 * with a random ID; an answer counts only when it comes from the address and port asked, carries the
 * ID, is a response to a standard query, and repeats the question. Anything else is dropped and the
 * query waits for the real answer until its deadline. A truncated answer (TC) is asked again over TCP
 * (RFC 7766), with the same checks and a 2-byte length frame, so at most 64 KiB is ever read.
 */

export type DnssecType = 'A' | 'AAAA' | 'MX' | 'TLSA' | 'DNSKEY' | 'TXT';

export interface TlsaRecord {
  /** RFC 6698 §2.1.1 certificate usage (0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE). */
  readonly usage: number;
  /** 0: the full certificate, 1: its SubjectPublicKeyInfo. */
  readonly selector: number;
  /** 0: exact, 1: SHA-256, 2: SHA-512. */
  readonly matchingType: number;
  readonly data: Buffer;
}

export type DnssecRecord = string | { readonly exchange: string; readonly priority: number } | TlsaRecord | Buffer;

export interface DnssecAnswer {
  /** The response code: NOERROR, NXDOMAIN, SERVFAIL (what a validating resolver answers for bogus data), … */
  readonly rcode: string;
  /** The resolver set AD: every record of the answer (or the denial) validated. */
  readonly secure: boolean;
  /** The name the records belong to, after the CNAME chain in the answer. */
  readonly name: string;
  /** Records of the asked type at `name`: addresses as text, MX as {exchange, priority}, TLSA, DNSKEY as raw data. */
  readonly records: readonly DnssecRecord[];
}

export class DnsQueryError extends Error {
  constructor(
    readonly code: 'ETIMEOUT' | 'EBADRESP' | 'ECONNREFUSED' | 'EBADNAME',
    message: string,
  ) {
    super(message);
    this.name = 'DnsQueryError';
  }
}

export interface DnssecResolverOptions {
  /** The validating resolver, `127.0.0.1:53` or `[::1]:53` (an IP address: naming it would need DNS). */
  readonly server: string;
  /** One query, UDP and any TCP retry together (default 5 s). */
  readonly timeoutMs?: number;
}

export type DnssecResolver = ((name: string, type: DnssecType) => Promise<DnssecAnswer>) & { readonly server: string };

/** EDNS0 buffer size of the 2020 DNS flag day: answers above it come truncated and go to TCP. */
const UDP_PAYLOAD = 1232;
const NAME = /^(?=.{1,253}\.?$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$/;

/** `host:port` of a resolver (IPv4, or IPv6 in brackets); port 53 when left out. */
export function parseResolverAddress(text: string): { host: string; port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(text) ?? /^([0-9.]+)(?::(\d{1,5}))?$/.exec(text);
  const host = m?.[1] ?? '';
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!m || !isIP(host) || port < 1 || port > 65535) throw new Error(`DNSSEC resolver must be an IP address and port, as 127.0.0.1:53 (got ${JSON.stringify(text).slice(0, 80)})`);
  return { host, port };
}

export function createDnssecResolver(options: DnssecResolverOptions): DnssecResolver {
  const server = parseResolverAddress(options.server);
  const timeoutMs = options.timeoutMs ?? 5_000;
  const resolve = async (name: string, type: DnssecType): Promise<DnssecAnswer> => {
    // The root ('.') is a name too: `palabre doctor` asks for its DNSKEY.
    const qname = name === '.' ? '.' : name.replace(/\.$/, '').toLowerCase();
    if (qname !== '.' && !NAME.test(qname)) throw new DnsQueryError('EBADNAME', `not a domain name: ${JSON.stringify(name).slice(0, 80)}`);
    const deadline = Date.now() + timeoutMs;
    const id = randomInt(0, 65536);
    const query = packet.encode({
      type: 'query',
      id,
      flags: packet.RECURSION_DESIRED,
      questions: [{ type, name: qname, class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: UDP_PAYLOAD, flags: packet.DNSSEC_OK } as never],
    });
    const expect = { id, qname, type };
    let response = await overUdp(server, query, expect, deadline);
    if (response.flag_tc) response = await overTcp(server, query, expect, deadline);
    return toAnswer(response, qname, type);
  };
  return Object.assign(resolve, { server: options.server });
}

interface Expected {
  readonly id: number;
  readonly qname: string;
  readonly type: DnssecType;
}

/** What dns-packet decodes, with the header fields its types leave out. */
type Decoded = ReturnType<typeof packet.decode> & { readonly opcode?: string; readonly rcode?: string };

/** Why a packet is not the answer to our query, or null when it is. */
function mismatch(buf: Buffer, expect: Expected): { problem: string } | { response: Decoded } {
  if (buf.length < 12) return { problem: 'a packet shorter than a DNS header' };
  if (buf.readUInt16BE(0) !== expect.id) return { problem: 'an answer with another ID' };
  let response: Decoded;
  try {
    response = packet.decode(buf) as Decoded;
  } catch {
    return { problem: 'a malformed answer' };
  }
  if (response.type !== 'response' || (response.opcode ?? 'QUERY') !== 'QUERY') return { problem: 'a packet that is not a response to a query' };
  const q = response.questions ?? [];
  if (q.length !== 1 || q[0]!.type !== expect.type || (q[0]!.class ?? 'IN') !== 'IN' || (q[0]!.name.toLowerCase() || '.') !== expect.qname) {
    return { problem: 'an answer to another question' };
  }
  return { response };
}

function overUdp(server: { host: string; port: number }, query: Buffer, expect: Expected, deadline: number): Promise<Decoded> {
  return new Promise<Decoded>((resolve, reject) => {
    const socket: UdpSocket = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    let last = 'no answer';
    const finish = (error: Error | null, response?: Decoded) => {
      clearTimeout(timer);
      socket.removeAllListeners('message');
      socket.on('error', () => undefined);
      try {
        socket.close();
      } catch {
        // already closed
      }
      if (error) reject(error);
      else resolve(response!);
    };
    const timer = setTimeout(() => finish(new DnsQueryError('ETIMEOUT', `DNS query for ${expect.type} ${expect.qname} to ${server.host}:${server.port}: ${last} in time`)), Math.max(1, deadline - Date.now()));
    socket.on('error', (error: Error & { code?: string }) =>
      finish(new DnsQueryError(error.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'EBADRESP', `DNS query to ${server.host}:${server.port}: ${error.message}`)),
    );
    socket.on('message', (msg, rinfo) => {
      // Only the resolver we asked, from the port we asked: anyone can send a datagram to our port.
      if (rinfo.address !== server.host || rinfo.port !== server.port) {
        last = `only a packet from ${rinfo.address}:${rinfo.port}`;
        return;
      }
      const check = mismatch(msg, expect);
      if ('problem' in check) last = `only ${check.problem}`;
      else finish(null, check.response);
    });
    // A connected socket: the kernel drops datagrams from any other address, and ICMP refusals come back as errors.
    socket.connect(server.port, server.host, () => socket.send(query, (error) => error && finish(new DnsQueryError('EBADRESP', error.message))));
  });
}

function overTcp(server: { host: string; port: number }, query: Buffer, expect: Expected, deadline: number): Promise<Decoded> {
  return new Promise<Decoded>((resolve, reject) => {
    const socket = new Socket();
    let buffered = Buffer.alloc(0);
    let done = false;
    const finish = (error: Error | null, response?: Decoded) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(response!);
    };
    const timer = setTimeout(() => finish(new DnsQueryError('ETIMEOUT', `DNS query over TCP for ${expect.type} ${expect.qname}: no answer in time`)), Math.max(1, deadline - Date.now()));
    socket.on('error', (error: Error & { code?: string }) => finish(new DnsQueryError(error.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'EBADRESP', `DNS over TCP to ${server.host}:${server.port}: ${error.message}`)));
    socket.on('close', () => finish(new DnsQueryError('EBADRESP', `DNS over TCP to ${server.host}:${server.port}: closed before a whole answer`)));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      // The frame length is 16 bits: nothing past 2 + 65,535 bytes is ever kept.
      if (buffered.length < 2) return;
      const length = buffered.readUInt16BE(0);
      if (buffered.length < 2 + length) return;
      const check = mismatch(buffered.subarray(2, 2 + length), expect);
      // Over TCP the connection is ours alone: a wrong answer on it is the resolver's, not a spoofer's.
      if ('problem' in check) finish(new DnsQueryError('EBADRESP', `DNS over TCP: ${check.problem}`));
      else finish(null, check.response);
    });
    socket.connect(server.port, server.host, () => {
      const frame = Buffer.alloc(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      socket.write(frame);
    });
  });
}

const dropDot = (name: string) => name.replace(/\.$/, '').toLowerCase();

function toAnswer(response: Decoded, qname: string, type: DnssecType): DnssecAnswer {
  const answers = (response.answers ?? []) as { type: string; name: string; data: unknown }[];
  // Follow the CNAME chain the resolver put in the answer (bounded: a loop is not followed forever).
  let name = qname;
  for (let hops = 0; hops < 8; hops++) {
    const cname = answers.find((a) => a.type === 'CNAME' && dropDot(a.name) === name);
    if (!cname || type === ('CNAME' as string)) break;
    name = dropDot(String(cname.data));
  }
  const records: DnssecRecord[] = [];
  for (const a of answers) {
    if (a.type !== type || dropDot(a.name) !== name) continue;
    const record = recordOf(type, a.data);
    if (record !== null) records.push(record);
  }
  return { rcode: String(response.rcode ?? 'NOERROR'), secure: ((response.flags ?? 0) & packet.AUTHENTIC_DATA) !== 0, name, records };
}

function recordOf(type: DnssecType, data: unknown): DnssecRecord | null {
  switch (type) {
    case 'A':
    case 'AAAA':
      return typeof data === 'string' && isIP(data) ? data : null;
    case 'MX': {
      const mx = data as { exchange?: unknown; preference?: unknown };
      return typeof mx?.exchange === 'string' && typeof mx.preference === 'number' ? { exchange: dropDot(mx.exchange), priority: mx.preference } : null;
    }
    case 'TLSA': {
      const t = data as { usage?: unknown; selector?: unknown; matchingType?: unknown; certificate?: unknown };
      if (typeof t?.usage !== 'number' || typeof t.selector !== 'number' || typeof t.matchingType !== 'number' || !Buffer.isBuffer(t.certificate)) return null;
      return { usage: t.usage, selector: t.selector, matchingType: t.matchingType, data: t.certificate };
    }
    case 'TXT':
      return Array.isArray(data) ? Buffer.concat(data.map((d) => (Buffer.isBuffer(d) ? d : Buffer.from(String(d))))) : null;
    default:
      return Buffer.isBuffer(data) ? data : Buffer.from(JSON.stringify(data ?? null));
  }
}
