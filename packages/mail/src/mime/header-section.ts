import { fieldBody, scanHeader } from './header-block.js';

export interface HeaderField {
  /** Lower-case field name; '' for a line that is no header field. */
  readonly name: string;
  /** The value as the MIME layer reads it (`fieldBody`): unfolded, trimmed, UTF-8 or Latin-1. */
  readonly value: string;
  /** The field's bytes as received, folded lines and final CRLF included. */
  readonly raw: Buffer;
}

/**
 * A message's header section as SMTP intake needs it: the fields the one header parser
 * (`scanHeader`) finds, in order, with their raw bytes so that the section can be written back
 * unchanged except for fields we drop. Lines that are no field are kept, nameless.
 */
export class HeaderSection {
  private constructor(
    readonly fields: readonly HeaderField[],
    /** True when the section ended with an empty line (a body may follow). */
    readonly terminated: boolean,
  ) {}

  static parse(header: Buffer): HeaderSection {
    const scan = scanHeader(header);
    const fields = scan.lines.map((line) => ({
      name: line.name.toLowerCase(),
      value: line.name ? fieldBody(header, line) : '',
      raw: header.subarray(line.start, line.end),
    }));
    return new HeaderSection(fields, scan.terminated);
  }

  get(name: string): string | undefined {
    return this.fields.find((f) => f.name === name)?.value;
  }

  getAll(name: string): string[] {
    return this.fields.filter((f) => f.name === name).map((f) => f.value);
  }

  has(name: string): boolean {
    return this.fields.some((f) => f.name === name);
  }

  /** The section as bytes, without the fields `drop` selects, terminated by an empty line. */
  toBuffer(drop: (field: HeaderField) => boolean = () => false): Buffer {
    const parts = this.fields.filter((f) => !drop(f)).map((f) => (f.raw[f.raw.length - 1] === 0x0a ? f.raw : Buffer.concat([f.raw, Buffer.from('\r\n')])));
    parts.push(Buffer.from('\r\n'));
    return Buffer.concat(parts);
  }
}
