import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { FailMode, FilterInput, FilterVerdict, MessageFilter } from './message-filter.js';

export interface RspamdOptions {
  /** The normal worker, e.g. `http://127.0.0.1:11333` (`/checkv2` is appended). */
  readonly url: string;
  /** The controller worker for learning, e.g. `http://127.0.0.1:11334`; none: no training. */
  readonly controllerUrl?: string;
  /** Sent as the `Password` header (rspamd's `password`/`enable_password`). */
  readonly password?: string;
  readonly timeoutMs?: number;
  readonly failMode?: FailMode;
  /** The host name rspamd is told it runs for (`MTA-Name`). */
  readonly hostname?: string;
}

/** rspamd's answer to /checkv2 (the parts used). */
export interface RspamdAnswer {
  readonly action: string;
  readonly score: number;
  readonly required_score?: number;
  readonly symbols?: Record<string, { readonly score?: number }>;
  readonly subject?: string;
}

/** Largest answer read from rspamd: it is JSON of symbols, not the message. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * rspamd's HTTP protocol (https://rspamd.com/doc/developers/protocol.html): the message as the
 * body of `POST /checkv2`, the SMTP context in headers (IP, Helo, From, one Rcpt per recipient,
 * User for authenticated submission, Queue-Id), a JSON answer with an action.
 */
export class RspamdClient {
  readonly timeoutMs: number;

  constructor(readonly options: RspamdOptions) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  async check(input: FilterInput): Promise<RspamdAnswer> {
    const { envelope } = input;
    const headers: Record<string, string | string[]> = {
      'Content-Length': String(input.size),
      IP: envelope.ip,
      From: envelope.sender,
      Rcpt: envelope.recipients.map((r) => r.resolved.address),
      'Queue-Id': input.id,
    };
    if (envelope.helo) headers.Helo = envelope.helo;
    if (envelope.principal) headers.User = envelope.principal.address;
    if (this.options.hostname) headers['MTA-Name'] = this.options.hostname;
    if (this.options.password) headers.Password = this.options.password;
    const answer = await this.post(new URL('/checkv2', this.options.url), headers, input.message());
    const parsed = JSON.parse(answer) as Partial<RspamdAnswer>;
    if (typeof parsed.action !== 'string' || typeof parsed.score !== 'number') throw new Error('rspamd: an answer without action or score');
    return parsed as RspamdAnswer;
  }

  /** Teach the controller that a message is spam or ham (`/learnspam`, `/learnham`). */
  async learn(kind: 'spam' | 'ham', message: AsyncIterable<Buffer>, size: number): Promise<void> {
    if (!this.options.controllerUrl) return;
    const headers: Record<string, string> = { 'Content-Length': String(size) };
    if (this.options.password) headers.Password = this.options.password;
    await this.post(new URL(kind === 'spam' ? '/learnspam' : '/learnham', this.options.controllerUrl), headers, message, true);
  }

  private post(url: URL, headers: Record<string, string | string[]>, body: AsyncIterable<Buffer>, learning = false): Promise<string> {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<string>((resolve, reject) => {
      const req = send(url, { method: 'POST', headers, timeout: this.timeoutMs }, (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
          if (text.length > MAX_ANSWER_BYTES) req.destroy(new Error('rspamd: answer too large'));
        });
        res.on('end', () => {
          // Learning a message already learnt answers 208 (rspamd ≥ 2): not an error.
          if (res.statusCode === 200 || (learning && res.statusCode === 208)) resolve(text);
          else reject(new Error(`rspamd: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
        });
        res.on('error', reject);
      });
      const deadline = setTimeout(() => req.destroy(new Error(`rspamd: no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('close', () => clearTimeout(deadline));
      req.on('timeout', () => req.destroy(new Error(`rspamd: idle for ${this.timeoutMs} ms`)));
      req.on('error', reject);
      (async () => {
        for await (const chunk of body) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        req.end();
      })().catch((error: unknown) => req.destroy(error as Error));
    });
  }
}

/** An rspamd action and what the intake does with it (configurable per action). */
export type SpamDisposition = 'reject' | 'junk' | 'defer' | 'accept';

export const DEFAULT_SPAM_POLICY: Readonly<Record<string, SpamDisposition>> = {
  reject: 'reject',
  'soft reject': 'defer',
  greylist: 'defer',
  'rewrite subject': 'junk',
  'add header': 'junk',
  'no action': 'accept',
};

/**
 * Spam filtering with rspamd: its action applied by policy, `X-Spam-*` fields on the stored copy.
 * Submission (a signed-in agent's outgoing mail, perhaps a stolen account's) is scanned too; there,
 * `junk` means nothing and passes, while `reject` refuses the send.
 */
export class RspamdFilter implements MessageFilter {
  readonly name = 'rspamd';

  constructor(
    private readonly client: RspamdClient,
    private readonly policy: Readonly<Record<string, SpamDisposition>> = DEFAULT_SPAM_POLICY,
    private readonly onError?: (error: Error) => void,
  ) {}

  async scan(input: FilterInput): Promise<FilterVerdict> {
    let answer: RspamdAnswer;
    try {
      answer = await this.client.check(input);
    } catch (error) {
      this.onError?.(error as Error);
      if ((this.client.options.failMode ?? 'open') === 'open')
        return { action: 'accept', headers: 'X-Spam-Checker: not checked (rspamd unavailable)\r\n' };
      return { action: 'defer', code: '4.7.1', reason: 'the message could not be checked for spam now, try again later' };
    }
    const disposition = this.policy[answer.action] ?? 'accept';
    const spam = disposition === 'junk' || disposition === 'reject';
    const required = typeof answer.required_score === 'number' ? ` required=${answer.required_score.toFixed(2)}` : '';
    const symbols = Object.keys(answer.symbols ?? {})
      .filter((s) => /^[A-Z0-9_]{1,64}$/.test(s))
      .sort()
      .slice(0, 50)
      .join(',\r\n\t'); // folded: fifty symbols would pass the 998-octet line limit
    const headers =
      `X-Spam-Status: ${spam ? 'Yes' : 'No'}, score=${answer.score.toFixed(2)}${required}\r\n` +
      `X-Spam-Action: ${answer.action.replace(/[^a-z ]/gi, '')}\r\n` +
      (symbols ? `X-Spam-Symbols: ${symbols}\r\n` : '');
    if (disposition === 'reject') return { action: 'reject', code: '5.7.1', reason: 'message refused as spam' };
    if (disposition === 'defer') return { action: 'defer', code: '4.7.1', reason: 'message deferred by the spam filter, try again later' };
    if (disposition === 'junk' && input.envelope.role === 'mx') return { action: 'junk', headers };
    return { action: 'accept', headers };
  }
}
