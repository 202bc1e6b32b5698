import { escapeText } from '@palabre/webdav';

/**
 * Apple's XML property list (the format `plutil -lint` checks): dictionaries, arrays, strings,
 * integers and booleans are all a configuration profile needs. Written here rather than with a
 * library: the format is five elements, and the writer must never emit what a strict reader refuses
 * (keys are written in the order given; integers are checked to be integers).
 */
export type PlistValue = string | number | boolean | readonly PlistValue[] | { readonly [key: string]: PlistValue };

function write(value: PlistValue, indent: string, out: string[]): void {
  if (typeof value === 'string') out.push(`${indent}<string>${escapeText(value)}</string>`);
  else if (typeof value === 'boolean') out.push(`${indent}<${value}/>`);
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`plist integers only, got ${value}`);
    out.push(`${indent}<integer>${value}</integer>`);
  } else if (Array.isArray(value)) {
    out.push(`${indent}<array>`);
    for (const item of value) write(item, `${indent}\t`, out);
    out.push(`${indent}</array>`);
  } else {
    out.push(`${indent}<dict>`);
    for (const [key, item] of Object.entries(value)) {
      out.push(`${indent}\t<key>${escapeText(key)}</key>`);
      write(item, `${indent}\t`, out);
    }
    out.push(`${indent}</dict>`);
  }
}

/** A whole plist document, UTF-8, with Apple's DOCTYPE line (readers need it not, but expect it). */
export function plistXml(root: PlistValue): string {
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
  ];
  write(root, '', out);
  out.push('</plist>', '');
  return out.join('\n');
}
