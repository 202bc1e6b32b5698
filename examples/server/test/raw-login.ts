import net from 'node:net';

/**
 * One login attempt per connection, over a raw socket from a chosen loopback address (all of
 * 127.0.0.0/8 is ours on Linux), returning exactly the bytes of the server's answer to it: what an
 * attacker compares between an existing and an unknown account. HTTP: basicRequest in core/testing.
 */
class Lines {
  private buf = '';
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, from: string): Promise<Lines> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress: from });
      socket.once('connect', () => resolve(new Lines(socket)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  async line(): Promise<string | null> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const end = this.buf.indexOf('\r\n');
      if (end >= 0) {
        const line = this.buf.slice(0, end);
        this.buf = this.buf.slice(end + 2);
        return line;
      }
      if (this.closed) return null;
      if (Date.now() > deadline) throw new Error('timed out waiting for a line');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Lines up to one whose fourth character is a space (SMTP's last line of a reply). */
  async smtpReply(): Promise<string> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line();
      if (line === null) throw new Error(`connection closed after ${lines.join(' | ')}`);
      lines.push(line);
      if (line[3] !== '-') return lines.join('\r\n');
    }
  }

  /** Lines up to the tagged answer to `tag`. */
  async imapTagged(tag: string): Promise<string> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line();
      if (line === null) throw new Error(`connection closed after ${lines.join(' | ')}`);
      lines.push(line);
      if (line.startsWith(`${tag} `)) return lines.join('\r\n');
    }
  }

  write(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** `a LOGIN user pass` on a fresh connection: the answer's bytes (untagged lines included). */
export async function imapLogin(port: number, from: string, user: string, password: string): Promise<string> {
  const c = await Lines.connect(port, from);
  try {
    await c.line();
    const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
    c.write(`a LOGIN ${quote(user)} ${quote(password)}\r\n`);
    return await c.imapTagged('a');
  } finally {
    c.close();
  }
}

/** EHLO then `AUTH PLAIN` on a fresh submission connection: the AUTH reply's bytes. */
export async function smtpAuth(port: number, from: string, user: string, password: string): Promise<string> {
  const c = await Lines.connect(port, from);
  try {
    await c.smtpReply();
    c.write('EHLO client.example\r\n');
    await c.smtpReply();
    c.write(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}\r\n`);
    return await c.smtpReply();
  } finally {
    c.close();
  }
}
