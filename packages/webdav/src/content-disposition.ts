/**
 * User files are served on the same origin as the DAV API (issue 11): a file a browser renders as a page
 * runs with the viewer's credentials and could read their drive. So every file goes out sandboxed
 * (`USER_CONTENT_CSP`: no script, an opaque origin, nothing loaded) with `X-Content-Type-Options: nosniff`,
 * only passive types display inline (RFC 6266 Content-Disposition), and a type that could run script is
 * never taken from the uploading client. Previews belong on another origin (the web portal's).
 */
export const USER_CONTENT_CSP = "default-src 'none'; sandbox";

/** The media type without parameters, lower-case. */
function essence(type: string): string {
  return type.split(';', 1)[0]!.trim().toLowerCase();
}

// Types a browser displays without running anything the file says (images, sound, video, plain text).
const PASSIVE = /^(?:image\/(?:png|jpeg|gif|webp|avif|bmp)|audio\/[a-z0-9.+-]+|video\/[a-z0-9.+-]+|text\/plain)$/;

// Types a browser may run script from, or render as a document that may: HTML, XML of any kind (XHTML
// and SVG inside it), XSLT, scripts, multipart (x-mixed-replace parts are rendered), plug-ins. Broad on
// purpose: a false positive only stores a client's type as application/octet-stream.
const ACTIVE = /html|xml|xsl|script|svg|^multipart\/|flash/;

/** Could a browser run script from content of this type? Such a type is never taken from the client. */
export function isActiveType(type: string): boolean {
  return ACTIVE.test(essence(type));
}

/** `attachment` unless the type displays passively, in which case null (inline). */
export function dispositionOf(type: string): string | null {
  return PASSIVE.test(essence(type)) ? null : 'attachment';
}
