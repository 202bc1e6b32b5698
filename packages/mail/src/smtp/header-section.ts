import addressparser from 'nodemailer/lib/addressparser';

export interface HeaderField {
  /** Lower-case field name. */
  readonly name: string;
  /** Unfolded value, UTF-8 decoded (RFC 6532), trimmed. */
  readonly value: string;
  /** The field's bytes as received, folded lines and final CRLF included. */
  readonly raw: Buffer;
}

/**
 * A message's header section (RFC 5322 §2.2), parsed once: fields in order, with their raw bytes so
 * that the section can be written back unchanged except for fields we drop.
 */
export class HeaderSection {
  private constructor(
    readonly fields: readonly HeaderField[],
    /** True when the section ended with an empty line (a body may follow). */
    readonly terminated: boolean,
  ) {}

  static parse(header: Buffer): HeaderSection {
    const fields: HeaderField[] = [];
    let terminated = false;
    let start = 0;
    let i = 0;
    const n = header.length;
    while (i < n) {
      // Find the end of this logical line: a CRLF not followed by WSP.
      let end = header.indexOf(0x0a, i);
      if (end < 0) end = n - 1;
      const lineLength = end + 1 - start;
      if (start === end - 1 && header[start] === 0x0d) {
        terminated = true;
        break;
      }
      const next = header[end + 1];
      if (next === 0x20 || next === 0x09) {
        i = end + 1;
        continue;
      }
      const raw = header.subarray(start, start + lineLength);
      const text = raw.toString('utf8');
      const colon = text.indexOf(':');
      if (colon > 0 && /^[\x21-\x39\x3b-\x7e]+$/.test(text.slice(0, colon))) {
        fields.push({
          name: text.slice(0, colon).toLowerCase(),
          value: text.slice(colon + 1).replace(/\r?\n[ \t]/g, ' ').trim(),
          raw,
        });
      } else {
        // Not a header field (garbage or an mbox "From " line): keep the bytes, nameless.
        fields.push({ name: '', value: '', raw });
      }
      start = end + 1;
      i = start;
    }
    return new HeaderSection(fields, terminated);
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

/** The mailboxes of an address-list field (From, Sender, To…), lower-cased, groups flattened. */
export function headerAddresses(value: string | undefined): string[] {
  if (!value) return [];
  const out: string[] = [];
  const walk = (list: ReturnType<typeof addressparser>) => {
    for (const item of list) {
      if ('group' in item && Array.isArray(item.group)) walk(item.group);
      else if (item.address) out.push(item.address.toLowerCase());
    }
  };
  walk(addressparser(value, { flatten: false }) as ReturnType<typeof addressparser>);
  return out;
}
