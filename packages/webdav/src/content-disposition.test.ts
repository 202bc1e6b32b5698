import { describe, expect, it } from 'vitest';
import { dispositionOf, isActiveType } from './content-disposition.js';

describe('content-disposition', () => {
  it('calls active every type a browser may run script from, in any spelling', () => {
    for (const type of ['text/html', 'TEXT/HTML; charset=utf-8', 'application/xhtml+xml', 'image/svg+xml', 'application/xml', 'text/xml', 'application/vnd.evil+xml', 'text/xsl', 'application/javascript', 'text/ecmascript', 'multipart/x-mixed-replace; boundary=x', 'application/x-shockwave-flash']) {
      expect(isActiveType(type), type).toBe(true);
    }
    for (const type of ['text/plain', 'image/png', 'application/pdf', 'application/zip', 'video/mp4']) expect(isActiveType(type), type).toBe(false);
  });

  it('displays inline only passive types', () => {
    for (const type of ['image/png', 'image/JPEG', 'audio/mpeg', 'video/webm', 'text/plain; charset=utf-8']) expect(dispositionOf(type), type).toBeNull();
    for (const type of ['text/html', 'image/svg+xml', 'application/pdf', 'application/octet-stream', 'text/csv']) expect(dispositionOf(type), type).toBe('attachment');
  });
});
