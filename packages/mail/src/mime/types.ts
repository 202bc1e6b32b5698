/** The MIME tree as stored with each message: byte offsets into the message for BODY[section] fetches. */
export interface PartNode {
  /** `type/subtype`, lower case. */
  readonly t: string;
  /** Offset of the part's MIME header. */
  readonly hs: number;
  /** Offset of the part's body (just after the blank line ending its header). */
  readonly bs: number;
  /** Offset just past the body (before the CRLF that precedes the next boundary). */
  readonly be: number;
  /** Content-Transfer-Encoding, lower case. */
  readonly enc: string;
  /** Charset of a text part. */
  readonly cs?: string;
  /** Children of a multipart. */
  readonly c?: readonly PartNode[];
  /** The message inside a message/rfc822 (or message/global) part. */
  readonly m?: PartNode;
}

/** `MessageAnalysis.data` as produced by analyzeMessage (JSON). */
export type AnalysisData = {
  readonly v: 1;
  /** ENVELOPE, BODY and BODYSTRUCTURE in their IMAP wire form, rendered once at delivery. */
  readonly envelope: string;
  readonly body: string;
  readonly bodystructure: string;
  readonly parts: PartNode;
  /** Sent date (Date header), the instant in ms. */
  readonly date: number | null;
  /** The Date header's date and time as written, read as UTC (ms), for SENTBEFORE/SENTON/SENTSINCE. */
  readonly dateWritten: number | null;
  readonly messageId: string | null;
  /** Decoded text for SEARCH FROM/TO/CC/BCC/SUBJECT. */
  readonly search: { readonly subject: string; readonly from: string; readonly to: string; readonly cc: string; readonly bcc: string };
  /** What the analyzer had to cut short (too deep, too many parts, oversized header). */
  readonly limits?: readonly string[];
};
