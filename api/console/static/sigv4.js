// AWS Signature Version 4 (header form) in the browser, for the console's
// calls to the control plane. It signs what the AWS SDKs sign for these
// operations: the host and x-amz-date headers and the SHA-256 of the body,
// with the canonical URI being the already-escaped path escaped once more
// (an ARN label "arn:aws:kafka:..." travels as "arn%3Aaws%3Akafka%3A..." and
// is canonicalised as "arn%253Aaws%253Akafka%253A...").
//
// HMAC-SHA256 and SHA-256 come from WebCrypto. WebCrypto exists only in
// secure contexts (https:, or http: on localhost / 127.0.0.1); elsewhere a
// small built-in SHA-256 is used instead so that the console also works on a
// plain-http address inside a private network.

const encoder = new TextEncoder();
const subtle = globalThis.isSecureContext !== false ? globalThis.crypto?.subtle : undefined;

const ALGORITHM = "AWS4-HMAC-SHA256";

/** Percent-encodes the UTF-8 bytes of s except A-Za-z0-9-._~ (and '/' unless encodeSlash): the AWS rule. */
export function uriEncode(s, encodeSlash = true) {
  let out = "";
  for (const b of encoder.encode(s)) {
    if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) ||
        b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e || (b === 0x2f && !encodeSlash)) {
      out += String.fromCharCode(b);
    } else {
      out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
    }
  }
  return out;
}

function toHex(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function bytesOf(data) {
  return typeof data === "string" ? encoder.encode(data) : new Uint8Array(data);
}

/** SHA-256 of data (string or bytes) as lower-case hex. */
export async function sha256Hex(data, { useWebCrypto = true } = {}) {
  const bytes = bytesOf(data);
  if (subtle && useWebCrypto) {
    return toHex(new Uint8Array(await subtle.digest("SHA-256", bytes)));
  }
  return toHex(sha256(bytes));
}

/** HMAC-SHA256 of data under key (both strings or bytes). */
export async function hmacSHA256(key, data, { useWebCrypto = true } = {}) {
  const k = bytesOf(key), d = bytesOf(data);
  if (subtle && useWebCrypto) {
    const ck = await subtle.importKey("raw", k, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new Uint8Array(await subtle.sign("HMAC", ck, d));
  }
  return hmac(k, d);
}

/** yyyymmddThhmmssZ */
export function amzDate(date) {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * Signs a request and returns the URL to fetch and the headers to send.
 *
 *   method       "GET", "POST", ...
 *   host         the Host header the browser will send (location.host)
 *   path         the escaped path, e.g. "/replication/v1/replicators/arn%3Aaws%3A..."
 *   query        [[name, value], ...] (unencoded); sent in this order, signed sorted
 *   body         request body (string), "" for none
 *   credentials  { accessKeyId, secretAccessKey, sessionToken? }
 *   region, service
 *   date         signing time (default now)
 */
export async function sign({ method, host, path, query = [], body = "", credentials, region, service, date = new Date(), useWebCrypto = true }) {
  const opts = { useWebCrypto };
  const stamp = amzDate(date);
  const day = stamp.slice(0, 8);
  const pairs = query.map(([k, v]) => [uriEncode(String(k)), uriEncode(String(v))]);
  const queryString = pairs.map(([k, v]) => `${k}=${v}`).join("&");
  const canonicalQuery = [...pairs]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`).join("&");

  const headers = { host, "x-amz-date": stamp };
  if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(";");
  const payloadHash = await sha256Hex(body, opts);
  const canonicalRequest = [
    method,
    uriEncode(path || "/", false),
    canonicalQuery,
    names.map((n) => `${n}:${String(headers[n]).trim().replace(/ +/g, " ")}\n`).join(""),
    signedHeaders,
    payloadHash,
  ].join("\n");

  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = [ALGORITHM, stamp, scope, await sha256Hex(canonicalRequest, opts)].join("\n");
  let key = await hmacSHA256("AWS4" + credentials.secretAccessKey, day, opts);
  for (const part of [region, service, "aws4_request"]) key = await hmacSHA256(key, part, opts);
  const signature = toHex(await hmacSHA256(key, stringToSign, opts));

  const out = {
    "X-Amz-Date": stamp,
    Authorization: `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
  if (credentials.sessionToken) out["X-Amz-Security-Token"] = credentials.sessionToken;
  return { url: queryString ? `${path}?${queryString}` : path, headers: out, canonicalRequest, stringToSign, signature };
}

// --- SHA-256 and HMAC without WebCrypto (FIPS 180-4) ---------------------------

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

function sha256(msg) {
  const len = msg.length;
  const padded = new Uint8Array(((len + 9 + 63) >> 6) << 6);
  padded.set(msg);
  padded[len] = 0x80;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, Math.floor(len / 0x20000000));
  dv.setUint32(padded.length - 4, (len << 3) >>> 0);
  const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const W = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = dv.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(W[i - 15], 7) ^ rotr(W[i - 15], 18) ^ (W[i - 15] >>> 3);
      const s1 = rotr(W[i - 2], 17) ^ rotr(W[i - 2], 19) ^ (W[i - 2] >>> 10);
      W[i] = W[i - 16] + s0 + W[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      h = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
  }
  const out = new Uint8Array(32);
  const odv = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) odv.setUint32(4 * i, H[i]);
  return out;
}

function hmac(key, data) {
  if (key.length > 64) key = sha256(key);
  const block = new Uint8Array(64);
  block.set(key);
  const inner = new Uint8Array(64 + data.length);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) {
    inner[i] = block[i] ^ 0x36;
    outer[i] = block[i] ^ 0x5c;
  }
  inner.set(data, 64);
  outer.set(sha256(inner), 64);
  return sha256(outer);
}
