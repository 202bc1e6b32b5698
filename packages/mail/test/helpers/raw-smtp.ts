import net from 'node:net';
import tls from 'node:tls';

export interface Reply {
  code: number;
  text: string;
  lines: string[];
}

/** A byte-exact SMTP client for hostile-input tests: sends exactly what it is told. */
export class RawSmtp {
  private buf = '';
  private waiters: ((r: Reply) => void)[] = [];
  closed = false;

  private constructor(public socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  static async connect(port: number): Promise<{ c: RawSmtp; greeting: Reply }> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const c = new RawSmtp(socket);
    return { c, greeting: await c.reply() };
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      this.pump();
    });
    socket.on('close', () => {
      this.closed = true;
      this.pump();
    });
    socket.on('error', () => undefined);
  }

  private pump(): void {
    while (this.waiters.length) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.buf);
      if (!m) {
        if (this.closed) this.waiters.shift()!({ code: 0, text: 'closed', lines: [] });
        else return;
        continue;
      }
      this.buf = this.buf.slice(m[0].length);
      const lines = m[0].trimEnd().split(/\r?\n/).map((l) => l.slice(4));
      this.waiters.shift()!({ code: Number(m[0].slice(0, 3)), text: lines.join(' | '), lines });
    }
  }

  reply(): Promise<Reply> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.pump();
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async cmd(line: string): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  async starttls(): Promise<Reply> {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 220) return r;
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.buf = '';
    this.attach(secure);
    return r;
  }

  /** A submission session over STARTTLS, signed in with AUTH PLAIN (the reply to AUTH returned with it). */
  static async signedIn(port: number, user: string, pass: string): Promise<{ c: RawSmtp; auth: Reply }> {
    const { c } = await RawSmtp.connect(port);
    await c.cmd('EHLO laptop');
    await c.starttls();
    await c.cmd('EHLO laptop');
    return { c, auth: await c.authPlain(user, pass) };
  }

  async authPlain(user: string, pass: string): Promise<Reply> {
    return this.cmd(`AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString('base64')}`);
  }

  /** DATA with `payload` sent verbatim (the caller writes the terminator). */
  async dataRaw(payload: string | Buffer): Promise<Reply> {
    const r = await this.cmd('DATA');
    if (r.code !== 354) return r;
    this.socket.write(payload);
    return this.reply();
  }

  /** One RFC 3030 chunk: `BDAT <bytes> [LAST]` and the bytes, then its reply. */
  async bdat(chunk: string | Buffer, last = false, size?: number): Promise<Reply> {
    const bytes = Buffer.from(chunk);
    this.socket.write(Buffer.concat([Buffer.from(`BDAT ${size ?? bytes.length}${last ? ' LAST' : ''}\r\n`), bytes]));
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}
