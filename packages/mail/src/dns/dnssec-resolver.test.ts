import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import * as packet from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { createDnssecResolver, DnsQueryError, parseResolverAddress } from './dnssec-resolver.js';

/**
 * The stub resolver from the attacker's side: a hostile "resolver" on loopback (UDP and TCP on one
 * port) that answers with wrong IDs, junk, huge packets, other questions, truncation and half frames.
 * The client never crashes, never takes a bad answer, and always finishes by its deadline.
 */

type UdpHandler = (query: ReturnType<typeof packet.decode>, raw: Buffer, reply: (b: Buffer) => void, rinfo: RemoteInfo) => void;
type TcpHandler = (query: ReturnType<typeof packet.decode>, socket: Socket) => void;

interface Hostile {
  port: number;
  udp: UdpHandler;
  tcp: TcpHandler;
  seen: { id: number; port: number }[];
  close(): Promise<void>;
}

const open: Hostile[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

/** A UDP socket and a TCP listener on one port (a resolver's shape); the TCP side of a port may be taken, so a few tries. */
async function bindBoth(): Promise<{ udp: UdpSocket; tcp: Server; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const udp: UdpSocket = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const port = udp.address().port;
    const tcp: Server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) return { udp, tcp, port };
    await new Promise<void>((r) => udp.close(() => r()));
    if (attempt >= 20) throw new Error('no port free for both UDP and TCP');
  }
}

async function hostile(): Promise<Hostile> {
  const { udp, tcp, port } = await bindBoth();
  const sockets = new Set<Socket>();
  const h: Hostile = {
    port,
    seen: [],
    udp: (q, _raw, reply) => reply(answer(q)),
    tcp: (q, s) => s.write(frame(answer(q))),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
      await new Promise<void>((r) => udp.close(() => r()));
    },
  };
  udp.on('message', (msg, rinfo) => {
    const q = packet.decode(msg);
    h.seen.push({ id: q.id!, port: rinfo.port });
    h.udp(q, msg, (b) => udp.send(b, rinfo.port, rinfo.address), rinfo);
  });
  tcp.on('connection', (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('data', (d) => h.tcp(packet.decode(d.subarray(2)), s));
  });
  open.push(h);
  return h;
}

const frame = (b: Buffer) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);

function answer(q: ReturnType<typeof packet.decode>, over: Partial<Parameters<typeof packet.encode>[0]> = {}): Buffer {
  const question = q.questions![0]!;
  return packet.encode({
    type: 'response',
    id: q.id,
    flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | packet.AUTHENTIC_DATA,
    questions: q.questions,
    answers: question.type === 'A' ? [{ type: 'A', name: question.name, ttl: 60, data: '127.0.0.9' }] : [],
    ...over,
  } as never);
}

const resolver = (h: Hostile, timeoutMs = 400) => createDnssecResolver({ server: `127.0.0.1:${h.port}`, timeoutMs });
const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as DnsQueryError);

describe('the DNSSEC stub resolver', () => {
  it('reads records and the AD bit, with a random ID and source port per query', async () => {
    const h = await hostile();
    const r = resolver(h);
    const a = await r('Mx.Example.TEST.', 'A');
    expect(a).toMatchObject({ rcode: 'NOERROR', secure: true, name: 'mx.example.test', records: ['127.0.0.9'] });
    h.udp = (q, _raw, reply) => reply(answer(q, { flags: packet.RECURSION_AVAILABLE }));
    expect((await r('mx.example.test', 'A')).secure).toBe(false);
    for (let i = 0; i < 6; i++) await r('mx.example.test', 'A');
    expect(new Set(h.seen.map((s) => s.id)).size).toBeGreaterThan(1);
    expect(new Set(h.seen.map((s) => s.port)).size).toBeGreaterThan(1);
  });

  it('sends the DO bit (EDNS0) and RD', async () => {
    const h = await hostile();
    let flags = 0;
    let ednsFlags = 0;
    h.udp = (q, _raw, reply) => {
      flags = q.flags ?? 0;
      ednsFlags = ((q.additionals ?? []).find((a) => a.type === 'OPT') as { flags?: number } | undefined)?.flags ?? 0;
      reply(answer(q));
    };
    await resolver(h)('mx.example.test', 'A');
    expect(flags & packet.RECURSION_DESIRED).toBeTruthy();
    expect(ednsFlags & packet.DNSSEC_OK).toBeTruthy();
  });

  it('follows the CNAME chain of the answer, and keeps only records of the name and type asked', async () => {
    const h = await hostile();
    h.udp = (q, _raw, reply) =>
      reply(
        answer(q, {
          answers: [
            { type: 'CNAME', name: 'mx.example.test', ttl: 60, data: 'real.example.test' },
            { type: 'A', name: 'real.example.test', ttl: 60, data: '127.0.0.7' },
            { type: 'A', name: 'elsewhere.example.net', ttl: 60, data: '192.0.2.66' },
          ],
        } as never),
      );
    expect(await resolver(h)('mx.example.test', 'A')).toMatchObject({ name: 'real.example.test', records: ['127.0.0.7'] });
  });

  it('passes SERVFAIL and NXDOMAIN on as the resolver said them', async () => {
    const h = await hostile();
    h.udp = (q, _raw, reply) => reply(answer(q, { flags: packet.RECURSION_AVAILABLE | 2, answers: [] } as never));
    expect(await resolver(h)('bogus.example.test', 'TLSA')).toMatchObject({ rcode: 'SERVFAIL', secure: false, records: [] });
    h.udp = (q, _raw, reply) => reply(answer(q, { flags: packet.RECURSION_AVAILABLE | packet.AUTHENTIC_DATA | 3, answers: [] } as never));
    expect(await resolver(h)('none.example.test', 'A')).toMatchObject({ rcode: 'NXDOMAIN', secure: true });
  });

  it('drops answers with another ID and waits for the real one', async () => {
    const h = await hostile();
    h.udp = (q, _raw, reply) => {
      reply(answer({ ...q, id: (q.id! + 1) & 0xffff }, { answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 60, data: '192.0.2.66' }] } as never));
      setTimeout(() => reply(answer(q)), 30);
    };
    expect((await resolver(h)('mx.example.test', 'A')).records).toEqual(['127.0.0.9']);
    h.udp = (q, _raw, reply) => reply(answer({ ...q, id: (q.id! + 1) & 0xffff }));
    const e = await failure(resolver(h)('mx.example.test', 'A'));
    expect(e).toBeInstanceOf(DnsQueryError);
    expect(e).toMatchObject({ code: 'ETIMEOUT' });
    expect(e!.message).toMatch(/another ID/);
  });

  it('drops answers to another question (a cache-poisoning attempt)', async () => {
    const h = await hostile();
    h.udp = (q, _raw, reply) => reply(answer({ ...q, questions: [{ type: 'A', name: 'victim.example.test', class: 'IN' }] }));
    const e = await failure(resolver(h)('mx.example.test', 'A'));
    expect(e).toMatchObject({ code: 'ETIMEOUT' });
    expect(e!.message).toMatch(/another question/);
    h.udp = (q, _raw, reply) => reply(answer({ ...q, questions: [{ type: 'AAAA', name: 'mx.example.test', class: 'IN' }] }));
    expect(await failure(resolver(h)('mx.example.test', 'A'))).toMatchObject({ code: 'ETIMEOUT' });
  });

  it('survives short, malformed and huge packets, and queries (not responses) sent back', async () => {
    const h = await hostile();
    const cases: ((q: ReturnType<typeof packet.decode>, raw: Buffer) => Buffer)[] = [
      () => Buffer.from([1, 2, 3]),
      // Right ID, header claiming 65535 answers, nothing behind it.
      (q) => Buffer.from([q.id! >> 8, q.id! & 0xff, 0x81, 0x80, 0, 1, 0xff, 0xff, 0, 0, 0, 0]),
      // Right ID and a name whose compression pointer loops on itself.
      (q) => Buffer.concat([Buffer.from([q.id! >> 8, q.id! & 0xff, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]),
      // The biggest datagram there is, of junk behind the right ID.
      (q) => Buffer.concat([Buffer.from([q.id! >> 8, q.id! & 0xff, 0x81, 0x80]), Buffer.alloc(65_000, 0xc0)]),
      // Our own query, echoed.
      (_q, raw) => raw,
    ];
    for (const make of cases) {
      h.udp = (q, raw, reply) => reply(make(q, raw));
      const e = await failure(resolver(h, 300)('mx.example.test', 'A'));
      expect(e).toMatchObject({ code: 'ETIMEOUT' });
    }
    // And the resolver is still fine afterwards.
    h.udp = (q, _raw, reply) => reply(answer(q));
    expect((await resolver(h)('mx.example.test', 'A')).records).toEqual(['127.0.0.9']);
  });

  it('asks again over TCP when the answer is truncated, with the same checks', async () => {
    const h = await hostile();
    h.udp = (q, _raw, reply) => reply(answer(q, { flags: packet.TRUNCATED_RESPONSE | packet.RECURSION_AVAILABLE, answers: [] } as never));
    const many = Array.from({ length: 200 }, (_, i) => ({ type: 'A', name: 'mx.example.test', ttl: 60, data: `127.0.${i >> 8}.${i & 0xff}` }));
    h.tcp = (q, s) => s.write(frame(answer(q, { answers: many } as never)));
    const a = await resolver(h)('mx.example.test', 'A');
    expect(a.records).toHaveLength(200);
    expect(a.secure).toBe(true);
    // Over TCP a wrong answer on our own connection is an error at once.
    h.tcp = (q, s) => s.write(frame(answer({ ...q, id: (q.id! + 1) & 0xffff })));
    expect(await failure(resolver(h)('mx.example.test', 'A'))).toMatchObject({ code: 'EBADRESP' });
    h.tcp = (q, s) => s.write(frame(answer({ ...q, questions: [{ type: 'A', name: 'victim.example.test', class: 'IN' }] })));
    expect(await failure(resolver(h)('mx.example.test', 'A'))).toMatchObject({ code: 'EBADRESP' });
  });

  it('a TCP answer that never ends, stops half-way or is closed finishes with an error', async () => {
    const h = await hostile();
    h.udp = (q, _raw, reply) => reply(answer(q, { flags: packet.TRUNCATED_RESPONSE, answers: [] } as never));
    // A frame announced at 65,535 bytes of which a few come, then nothing.
    h.tcp = (_q, s) => s.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    expect(await failure(resolver(h, 300)('mx.example.test', 'A'))).toMatchObject({ code: 'ETIMEOUT' });
    // A firehose: the client reads one frame's worth and hangs up.
    h.tcp = (_q, s) => {
      const junk = Buffer.alloc(64 * 1024, 0xff);
      const pump = () => {
        while (!s.destroyed && s.write(junk));
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    };
    expect(await failure(resolver(h, 2000)('mx.example.test', 'A'))).toMatchObject({ code: 'EBADRESP' });
    h.tcp = (_q, s) => s.end(Buffer.from([0, 40, 1]));
    expect(await failure(resolver(h)('mx.example.test', 'A'))).toMatchObject({ code: 'EBADRESP' });
  });

  it('a resolver that is not there is an error, not a hang', async () => {
    const h = await hostile();
    const port = h.port;
    await h.close();
    open.splice(0);
    const e = await failure(createDnssecResolver({ server: `127.0.0.1:${port}`, timeoutMs: 500 })('mx.example.test', 'A'));
    expect(['ECONNREFUSED', 'ETIMEOUT']).toContain(e?.code);
  });

  it('refuses to ask for what is not a domain name, and a resolver given by name', async () => {
    const h = await hostile();
    for (const bad of ['', 'a..b', `${'a'.repeat(64)}.test`, 'mx example.test', 'mx.example.test\u0000.evil']) {
      expect(await failure(resolver(h)(bad, 'A'))).toMatchObject({ code: 'EBADNAME' });
    }
    expect(h.seen).toHaveLength(0);
    expect(parseResolverAddress('127.0.0.1:5353')).toEqual({ host: '127.0.0.1', port: 5353 });
    expect(parseResolverAddress('[::1]:53')).toEqual({ host: '::1', port: 53 });
    expect(parseResolverAddress('127.0.0.1')).toEqual({ host: '127.0.0.1', port: 53 });
    for (const bad of ['resolver.example:53', '127.0.0.1:0', '127.0.0.1:70000', '::1:53', '']) expect(() => parseResolverAddress(bad)).toThrow(/IP address/);
  });
});
