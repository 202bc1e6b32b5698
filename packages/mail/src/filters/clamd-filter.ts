import type { MalwareScanner, ScanResult } from '@palabre/core';
import type { FailMode, FilterInput, FilterVerdict, MessageFilter } from './message-filter.js';

/**
 * Malware scanning of mail: an infected message is refused at SMTP time (inbound and submission
 * alike), a message too large to scan passes with a header saying so, and clamd unreachable follows
 * the fail mode (closed: 451, the client retries).
 */
export class ClamdFilter implements MessageFilter {
  readonly name = 'clamd';

  constructor(
    private readonly scanner: MalwareScanner,
    private readonly failMode: FailMode = 'closed',
    private readonly onError?: (error: Error) => void,
  ) {}

  async scan(input: FilterInput): Promise<FilterVerdict> {
    let result: ScanResult;
    try {
      result = await this.scanner.scan(input.message());
    } catch (error) {
      this.onError?.(error as Error);
      if (this.failMode === 'open') return { action: 'accept', headers: 'X-Virus-Scanned: not scanned (scanner unavailable)\r\n' };
      return { action: 'defer', code: '4.7.1', reason: 'the message could not be scanned for malware now, try again later' };
    }
    if (result.kind === 'infected')
      return { action: 'reject', code: '5.7.1', reason: `message refused: malware found (${result.signature})` };
    if (result.kind === 'too-large') return { action: 'accept', headers: 'X-Virus-Scanned: not scanned (too large)\r\n' };
    return { action: 'accept', headers: 'X-Virus-Scanned: clean (ClamAV)\r\n' };
  }
}
