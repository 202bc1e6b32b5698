import { createPrivateKey, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/**
 * CMS SignedData (RFC 5652) around a configuration profile, the form Apple devices check: the profile
 * bytes encapsulated, one signer identified by issuer and serial number, SHA-256, the signed attributes
 * of §11 (content type, message digest, signing time) and the whole certificate chain, so that a device
 * that trusts the root shows the profile as "Verified". pkijs is pure JavaScript over WebCrypto.
 */

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';

export interface SigningIdentity {
  /** PEM: the certificate first, then its intermediates (a `fullchain.pem` as is). */
  readonly cert: Buffer | string;
  /** PEM private key of the first certificate (RSA or ECDSA P-256/P-384/P-521). */
  readonly key: Buffer | string;
}

/** The DER of every PEM block of one kind, in order. */
export function pemBlocks(pem: Buffer | string, label: string): Buffer[] {
  const text = typeof pem === 'string' ? pem : pem.toString('latin1');
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

const CURVES: Record<string, { namedCurve: string; hash: string }> = {
  prime256v1: { namedCurve: 'P-256', hash: 'SHA-256' },
  secp384r1: { namedCurve: 'P-384', hash: 'SHA-384' },
  secp521r1: { namedCurve: 'P-521', hash: 'SHA-512' },
};

function signingAlgorithm(key: KeyObject): { algorithm: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams; hash: string } {
  if (key.asymmetricKeyType === 'rsa') return { algorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, hash: 'SHA-256' };
  const curve = key.asymmetricKeyType === 'ec' ? CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''] : undefined;
  if (!curve) throw new Error(`cannot sign profiles with a ${key.asymmetricKeyType ?? 'unknown'} key (RSA or ECDSA P-256/384/521 only)`);
  return { algorithm: { name: 'ECDSA', namedCurve: curve.namedCurve }, hash: curve.hash };
}

const toArrayBuffer = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** Signs with one certificate and key, checked against each other once, when it is made. */
export class CmsSigner {
  private constructor(
    private readonly engine: pkijs.CryptoEngine,
    private readonly certificates: pkijs.Certificate[],
    private readonly privateKey: CryptoKey,
    private readonly hash: string,
    /** Subject of the signing certificate, for logs and banners. */
    readonly subject: string,
  ) {}

  static async create(identity: SigningIdentity): Promise<CmsSigner> {
    const ders = pemBlocks(identity.cert, 'CERTIFICATE');
    if (ders.length === 0) throw new Error('no PEM certificate to sign with');
    const leaf = new X509Certificate(ders[0]!);
    const key = createPrivateKey(identity.key);
    if (!leaf.checkPrivateKey(key)) throw new Error('the private key does not match the certificate');
    const { algorithm, hash } = signingAlgorithm(key);
    const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as never });
    const pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
    const privateKey = await engine.importKey('pkcs8', toArrayBuffer(pkcs8), algorithm, false, ['sign']);
    const certificates = ders.map((der) => pkijs.Certificate.fromBER(toArrayBuffer(der)));
    return new CmsSigner(engine, certificates, privateKey, hash, leaf.subject.replace(/\n/g, ', '));
  }

  /** The DER ContentInfo of a SignedData holding `content` (attached, as Apple expects). */
  async sign(content: Uint8Array, now = new Date()): Promise<Buffer> {
    const leaf = this.certificates[0]!;
    const data = toArrayBuffer(content);
    const digest = await this.engine.digest({ name: this.hash }, data);
    const signedData = new pkijs.SignedData({
      version: 1,
      encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID_DATA, eContent: new asn1js.OctetString({ valueHex: data }) }),
      signerInfos: [
        new pkijs.SignerInfo({
          version: 1,
          sid: new pkijs.IssuerAndSerialNumber({ issuer: leaf.issuer, serialNumber: leaf.serialNumber }),
          signedAttrs: new pkijs.SignedAndUnsignedAttributes({
            type: 0,
            attributes: [
              new pkijs.Attribute({ type: OID_CONTENT_TYPE, values: [new asn1js.ObjectIdentifier({ value: OID_DATA })] }),
              new pkijs.Attribute({ type: OID_SIGNING_TIME, values: [new asn1js.UTCTime({ valueDate: now })] }),
              new pkijs.Attribute({ type: OID_MESSAGE_DIGEST, values: [new asn1js.OctetString({ valueHex: digest })] }),
            ],
          }),
        }),
      ],
      certificates: this.certificates,
    });
    await signedData.sign(this.privateKey, 0, this.hash, data, this.engine);
    const info = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: signedData.toSchema(true) });
    return Buffer.from(info.toSchema().toBER(false));
  }
}
