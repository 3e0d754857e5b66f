/*
 * heso-verify.js: offline verification of heso action receipts and receipts.jsonl chains.
 *
 * A port of the Python verifier (heso.receipt, heso.ledger) following the contract in
 * docs/spec/{receipt,chain,canonical,verdicts}.md: strict JSON parsing, RFC 8785 canonical
 * bytes, BLAKE3 (implemented below), Ed25519 with WebCrypto plus libsodium's extra checks
 * (canonical S, canonical key, no small-order key or R). It makes no network request.
 * Exposes globalThis.HesoVerify. Licence: Apache-2.0, as heso.
 */
(function (root) {
  "use strict";

  const ALG = "heso-action/v2+ed25519";
  const ACTION_VERSION = "heso-action/2.0";
  const SIGNATURE_ALGORITHM = "Ed25519";
  const OPERATOR_KEY_ID = "operator";
  const APPROVER_KEY_PREFIX = "approver:";
  const OPERATOR_DOMAIN = "heso-action/v2+ed25519\n";
  const APPROVAL_DOMAIN = "heso-approval/v2\n";
  const RECORD_DOMAIN = "heso-approval-record/v1\n";
  const HEAD_ALG = "heso-chain-head/v1+ed25519";
  const HEAD_DOMAIN = "heso-chain-head/v1\n";
  const GENESIS = "0".repeat(64);
  const MAX_PARSE_DEPTH = 128;
  const MAX_ENTRY_BYTES = 16 * 1024 * 1024;
  const MAX_HEAD_BYTES = 64 * 1024;
  const CONTENT_KEYS = [
    "action_version", "captured_at", "agent_identity", "action", "policy", "trust_level",
    "action_hash",
  ];
  const ACTION_REQUIRED = ["verb", "tool_name", "workflow", "account", "fields"];
  const POLICY_REQUIRED = ["rule_id", "rule_display", "matched_conditions", "decision_path"];
  const HEX64 = /^[0-9a-f]{64}$/;
  const HEX128 = /^[0-9a-f]{128}$/;
  const PUBLIC_KEY = /^ed25519:[0-9a-f]{64}$/;
  // ASCII digits only, as heso.receipt (\p{Nd} would take every Unicode digit).
  const RFC3339_UTC = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$/;

  const utf8 = new TextEncoder();
  const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

  // ------------------------------------------------------------------------------ BLAKE3

  const IV = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
    0x5be0cd19,
  ]);
  const PERM = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
  const CHUNK_START = 1, CHUNK_END = 2, PARENT = 4, ROOT = 8;
  const CHUNK_LEN = 1024, BLOCK_LEN = 64;

  function g(s, a, b, c, d, x, y) {
    s[a] = s[a] + s[b] + x;
    let t = s[d] ^ s[a];
    s[d] = (t >>> 16) | (t << 16);
    s[c] = s[c] + s[d];
    t = s[b] ^ s[c];
    s[b] = (t >>> 12) | (t << 20);
    s[a] = s[a] + s[b] + y;
    t = s[d] ^ s[a];
    s[d] = (t >>> 8) | (t << 24);
    s[c] = s[c] + s[d];
    t = s[b] ^ s[c];
    s[b] = (t >>> 7) | (t << 25);
  }

  /** The BLAKE3 compression function; returns the 16-word state. */
  function compress(cv, block, counter, blockLen, flags) {
    const s = new Uint32Array(16);
    s.set(cv, 0);
    s[8] = IV[0]; s[9] = IV[1]; s[10] = IV[2]; s[11] = IV[3];
    s[12] = counter % 0x100000000;
    s[13] = Math.floor(counter / 0x100000000);
    s[14] = blockLen;
    s[15] = flags;
    let m = block;
    for (let r = 0; r < 7; r++) {
      g(s, 0, 4, 8, 12, m[0], m[1]);
      g(s, 1, 5, 9, 13, m[2], m[3]);
      g(s, 2, 6, 10, 14, m[4], m[5]);
      g(s, 3, 7, 11, 15, m[6], m[7]);
      g(s, 0, 5, 10, 15, m[8], m[9]);
      g(s, 1, 6, 11, 12, m[10], m[11]);
      g(s, 2, 7, 8, 13, m[12], m[13]);
      g(s, 3, 4, 9, 14, m[14], m[15]);
      if (r < 6) {
        const p = new Uint32Array(16);
        for (let i = 0; i < 16; i++) p[i] = m[PERM[i]];
        m = p;
      }
    }
    for (let i = 0; i < 8; i++) {
      s[i] ^= s[i + 8];
      s[i + 8] ^= cv[i];
    }
    return s;
  }

  function blockWords(bytes, start, end) {
    const w = new Uint32Array(16);
    for (let i = start, j = 0; i < end; i++, j++) w[j >> 2] |= bytes[i] << ((j & 3) * 8);
    return w;
  }

  const chainingValue = (o) => compress(o.cv, o.words, o.counter, o.blockLen, o.flags).slice(0, 8);

  function parentOutput(left, right) {
    const words = new Uint32Array(16);
    words.set(left, 0);
    words.set(right, 8);
    return { cv: IV, words, counter: 0, blockLen: BLOCK_LEN, flags: PARENT };
  }

  /** BLAKE3-256 (default hash mode) of a Uint8Array; returns 32 bytes. */
  function blake3(bytes) {
    const n = bytes.length;
    const chunks = Math.max(1, Math.ceil(n / CHUNK_LEN));
    const stack = [];
    let out = null;
    for (let c = 0; c < chunks; c++) {
      const start = c * CHUNK_LEN;
      const end = Math.min(n, start + CHUNK_LEN);
      const blocks = Math.max(1, Math.ceil((end - start) / BLOCK_LEN));
      let cv = IV;
      for (let b = 0; b < blocks; b++) {
        const bs = start + b * BLOCK_LEN;
        const be = Math.min(end, bs + BLOCK_LEN);
        const words = blockWords(bytes, bs, be);
        let flags = b === 0 ? CHUNK_START : 0;
        if (b === blocks - 1) {
          out = { cv, words, counter: c, blockLen: be - bs, flags: flags | CHUNK_END };
        } else {
          cv = compress(cv, words, c, BLOCK_LEN, flags).slice(0, 8);
        }
      }
      if (c < chunks - 1) {
        let cvOut = chainingValue(out);
        let total = c + 1;
        while (total % 2 === 0) {
          cvOut = chainingValue(parentOutput(stack.pop(), cvOut));
          total /= 2;
        }
        stack.push(cvOut);
      }
    }
    while (stack.length) out = parentOutput(stack.pop(), chainingValue(out));
    const s = compress(out.cv, out.words, 0, out.blockLen, out.flags | ROOT);
    const digest = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      digest[4 * i] = s[i] & 0xff;
      digest[4 * i + 1] = (s[i] >>> 8) & 0xff;
      digest[4 * i + 2] = (s[i] >>> 16) & 0xff;
      digest[4 * i + 3] = (s[i] >>> 24) & 0xff;
    }
    return digest;
  }

  function toHex(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, "0");
    return s;
  }

  function fromHex(text) {
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }

  const blake3Hex = (bytes) => toHex(blake3(typeof bytes === "string" ? utf8.encode(bytes) : bytes));

  function sameBytes(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  function concatBytes(...parts) {
    const arrays = parts.map((p) => (typeof p === "string" ? utf8.encode(p) : p));
    const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
    let at = 0;
    for (const a of arrays) {
      out.set(a, at);
      at += a.length;
    }
    return out;
  }

  // ------------------------------------------------------------------------------ strict JSON

  class JsonError extends Error {}

  /** Offset of the first byte that is not well-formed UTF-8, or -1. */
  function invalidUtf8At(b) {
    let i = 0;
    while (i < b.length) {
      const c = b[i];
      if (c < 0x80) { i++; continue; }
      let need, min;
      if (c >= 0xc2 && c <= 0xdf) { need = 1; min = 0x80; }
      else if (c >= 0xe0 && c <= 0xef) { need = 2; min = 0x800; }
      else if (c >= 0xf0 && c <= 0xf4) { need = 3; min = 0x10000; }
      else return i;
      let cp = c & (0x3f >> need);
      for (let k = 1; k <= need; k++) {
        const d = b[i + k];
        if (d === undefined || (d & 0xc0) !== 0x80) return i;
        cp = (cp << 6) | (d & 0x3f);
      }
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
      i += need + 1;
    }
    return -1;
  }

  /** Whether a JS string holds only Unicode scalar values (no lone surrogate). */
  function wellFormed(s) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; }
        return false;
      }
      if (c >= 0xdc00 && c <= 0xdfff) return false;
    }
    return true;
  }

  /** A number written with a fraction or exponent at the top level, in lenient mode only. */
  class FloatLiteral {
    constructor(value) { this.value = value; }
  }

  const ESCAPES = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
  const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;

  /**
   * Parse JSON text. strict (the default) is heso.canonical.loads_strict: no duplicate keys,
   * NaN/Infinity, lone surrogates, overflowing numbers or nesting beyond 128. Lenient is
   * Python's json.loads (last duplicate wins, NaN/Infinity allowed).
   * Objects are null-prototype objects; arrays are Arrays.
   */
  function parseText(text, strict) {
    let i = 0;
    const n = text.length;
    const fail = (msg) => {
      throw new JsonError(`${msg} (char ${i})`);
    };
    const ws = () => {
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 32 || c === 9 || c === 10 || c === 13) i++;
        else break;
      }
    };
    const string = () => {
      i++; // opening quote
      let out = "";
      let from = i;
      for (;;) {
        if (i >= n) fail("unterminated string");
        const c = text.charCodeAt(i);
        if (c === 34) {
          out += text.slice(from, i);
          i++;
          break;
        }
        if (c < 0x20) fail("invalid control character in a string");
        if (c !== 92) {
          i++;
          continue;
        }
        out += text.slice(from, i);
        const e = text[i + 1];
        if (e !== undefined && hasOwn(ESCAPES, e)) {
          out += ESCAPES[e];
          i += 2;
        } else if (e === "u") {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("invalid \\uXXXX escape");
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else {
          fail("invalid backslash escape");
        }
        from = i;
      }
      if (strict && !wellFormed(out)) {
        fail("an escaped lone surrogate (\\uD800-\\uDFFF without its pair)");
      }
      return out;
    };
    const number = (depth) => {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) fail("expecting value");
      i = NUMBER.lastIndex;
      const v = Number(m[0]);
      if (!Number.isFinite(v) && strict) fail(`number ${m[0]} is out of range for a double`);
      if (!strict && depth === 1 && (m[1] !== undefined || m[2] !== undefined)) {
        return new FloatLiteral(v);
      }
      return v;
    };
    const value = (depth) => {
      ws();
      if (i >= n) fail("expecting value");
      const c = text[i];
      if (c === "{" || c === "[") {
        if (depth + 1 > MAX_PARSE_DEPTH && strict) fail(`nested deeper than ${MAX_PARSE_DEPTH} levels`);
        return c === "{" ? object(depth + 1) : array(depth + 1);
      }
      if (c === '"') return string();
      for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
        if (text.startsWith(word, i)) {
          i += word.length;
          return v;
        }
      }
      for (const [word, v] of [["NaN", NaN], ["Infinity", Infinity], ["-Infinity", -Infinity]]) {
        if (text.startsWith(word, i)) {
          if (strict) fail("NaN is not a JSON number");
          i += word.length;
          return depth === 1 ? new FloatLiteral(v) : v;
        }
      }
      return number(depth);
    };
    const object = (depth) => {
      i++;
      const out = Object.create(null);
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expecting property name enclosed in double quotes");
        const key = string();
        if (strict && hasOwn(out, key)) fail(`duplicate object key ${JSON.stringify(key)}`);
        ws();
        if (text[i] !== ":") fail("expecting ':' delimiter");
        i++;
        out[key] = value(depth);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return out;
        }
        fail("expecting ',' delimiter");
      }
    };
    const array = (depth) => {
      i++;
      const out = [];
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value(depth));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return out;
        }
        fail("expecting ',' delimiter");
      }
    };
    let result;
    try {
      result = value(0);
    } catch (exc) {
      if (exc instanceof RangeError) throw new JsonError(`nested too deeply: ${exc.message}`);
      throw exc;
    }
    ws();
    if (i < n) fail("extra data after the JSON value");
    return result;
  }

  function decodeUtf8(bytes) {
    const bad = invalidUtf8At(bytes);
    if (bad >= 0) throw new JsonError(`invalid UTF-8 at byte ${bad}`);
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  }

  /** heso.canonical.loads_strict for bytes (or a string). */
  function loadsStrict(data) {
    const text = typeof data === "string" ? data : decodeUtf8(data);
    if (typeof data === "string" && !wellFormed(text)) throw new JsonError("a lone surrogate");
    if (text.startsWith("\ufeff")) throw new JsonError("it starts with a byte order mark");
    return parseText(text, true);
  }

  /** Python's json.loads for bytes: a byte order mark is skipped, NaN and duplicates pass. */
  function loadsLenient(bytes) {
    let text = decodeUtf8(bytes);
    if (text.startsWith("\ufeff")) text = text.slice(1);
    return parseText(text, false);
  }

  // ------------------------------------------------------------------------------ RFC 8785

  const isMapping = (v) =>
    v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof FloatLiteral);
  const isInt = (v) => typeof v === "number" && Number.isSafeInteger(v);

  /** RFC 8785 (JCS) text of a parsed JSON value; encode it as UTF-8 for the canonical bytes. */
  function canonicalize(v) {
    if (v === null) return "null";
    if (v === true) return "true";
    if (v === false) return "false";
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new JsonError(`${v} is not a finite number`);
      return String(v); // ECMAScript Number::toString, which is what RFC 8785 prescribes
    }
    if (typeof v === "string") {
      if (!wellFormed(v)) throw new JsonError("a lone surrogate");
      return JSON.stringify(v);
    }
    if (v instanceof FloatLiteral) return canonicalize(v.value);
    if (Array.isArray(v)) return "[" + v.map(canonicalize).join(",") + "]";
    const keys = Object.keys(v).sort(); // UTF-16 code unit order, as RFC 8785 requires
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalize(v[k])).join(",") + "}";
  }

  const canonicalBytes = (v) => utf8.encode(canonicalize(v));

  // ------------------------------------------------------------------------------ Ed25519

  const L = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
    0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
  ];
  const FF = (head, last) => [head, ...Array(30).fill(0xff), last];
  // libsodium's ge25519_has_small_order list (compared with the top bit of byte 31 cleared).
  const SMALL_ORDER = [
    Array(32).fill(0),
    [1, ...Array(31).fill(0)],
    [
      0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
      0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
      0xfc, 0x05,
    ],
    [
      0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
      0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
      0x03, 0x7a,
    ],
    FF(0xec, 0x7f),
    FF(0xed, 0x7f),
    FF(0xee, 0x7f),
  ];

  function hasSmallOrder(p) {
    return SMALL_ORDER.some((bad) => {
      for (let j = 0; j < 31; j++) if (p[j] !== bad[j]) return false;
      return (p[31] & 0x7f) === bad[31];
    });
  }

  /** libsodium's ge25519_is_canonical: the y coordinate is below 2^255 - 19. */
  function isCanonicalPoint(p) {
    if ((p[31] & 0x7f) !== 0x7f) return true;
    for (let j = 30; j >= 1; j--) if (p[j] !== 0xff) return true;
    return p[0] < 0xed;
  }

  /** S < L, the group order (little-endian). */
  function scalarIsCanonical(s) {
    for (let j = 31; j >= 0; j--) {
      if (s[j] < L[j]) return true;
      if (s[j] > L[j]) return false;
    }
    return false;
  }

  const importedKeys = new Map();

  async function importKey(raw) {
    const id = toHex(raw);
    let key = importedKeys.get(id);
    if (key === undefined) {
      key = crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
      importedKeys.set(id, key);
    }
    return key;
  }

  /** Ed25519 verification as libsodium does it (heso.keys.PublicKey.verify); never throws. */
  async function ed25519Verify(publicKey, signature, message) {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    if (!scalarIsCanonical(signature.subarray(32)) || hasSmallOrder(signature.subarray(0, 32))) {
      return false;
    }
    if (!isCanonicalPoint(publicKey) || hasSmallOrder(publicKey)) return false;
    if (!root.crypto || !root.crypto.subtle) {
      throw new Error(
        "WebCrypto is unavailable here: open this page from a file:, https: or localhost URL",
      );
    }
    try {
      const key = await importKey(publicKey);
      return await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
    } catch (exc) {
      if (exc && exc.name === "NotSupportedError") {
        throw new Error("this browser's WebCrypto has no Ed25519 (Chromium 137 or later has)");
      }
      return false;
    }
  }

  const publicKeyBytes = (text) =>
    typeof text === "string" && PUBLIC_KEY.test(text) ? fromHex(text.slice(8)) : null;

  // ------------------------------------------------------------------------------ verdicts

  /** A verdict: the same codes, trust levels and entries as heso.verdict.Verdict. */
  class Verdict {
    constructor(code, trustLevel = null, reason = "", extra = {}) {
      this.code = code;
      this.trust_level = trustLevel;
      this.reason = reason;
      this.entry = extra.entry ?? null;
      this.action_hash = extra.action_hash ?? null;
      this.details = extra.details ?? {};
    }
    get ok() {
      return this.code === "Valid";
    }
    at(entry) {
      return new Verdict(this.code, this.trust_level, this.reason, {
        entry, action_hash: this.action_hash, details: this.details,
      });
    }
    toString() {
      if (this.ok) return this.trust_level ? `Valid (${this.trust_level})` : "Valid";
      const where = this.entry !== null ? ` at entry ${this.entry}` : "";
      return this.reason ? `${this.code}${where}: ${this.reason}` : `${this.code}${where}`;
    }
    toJSON() {
      const out = { verdict: this.code, ok: this.ok, summary: this.toString() };
      if (this.trust_level !== null) out.trust_level = this.trust_level;
      if (this.reason) out.reason = this.reason;
      if (this.entry !== null) out.entry = this.entry;
      if (this.action_hash !== null) out.action_hash = this.action_hash;
      return Object.assign(out, this.details);
    }
  }

  const fail = (code, reason, extra) => new Verdict(code, null, reason, extra);

  /** Python's repr() of a parsed JSON value, for messages that quote one. */
  function pyRepr(v) {
    if (typeof v === "string") {
      const q = v.includes("'") && !v.includes('"') ? '"' : "'";
      const body = v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r")
        .replace(/\t/g, "\\t");
      return q + (q === "'" ? body.replace(/'/g, "\\'") : body) + q;
    }
    if (v === null) return "None";
    if (v === true) return "True";
    if (v === false) return "False";
    if (Array.isArray(v)) return "[" + v.map(pyRepr).join(", ") + "]";
    if (isMapping(v)) {
      return "{" + Object.keys(v).map((k) => `${pyRepr(k)}: ${pyRepr(v[k])}`).join(", ") + "}";
    }
    if (typeof v === "number" && !(Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER)) {
      return pyFloat(v); // heso.canonical.loads_strict makes every other number a float
    }
    return String(v);
  }

  /** Python's repr() of a float: the shortest digits, fixed from 1e-4 up to 1e16. */
  function pyFloat(v) {
    if (!Number.isFinite(v)) return Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
    const [mantissa, e] = v.toExponential().split("e");
    const exp = Number(e);
    const digits = mantissa.replace("-", "").replace(".", "");
    let out;
    if (exp >= 16 || exp < -4) {
      const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
      out = `${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
    } else if (exp >= 0) {
      out = `${digits.slice(0, exp + 1).padEnd(exp + 1, "0")}.${digits.slice(exp + 1) || "0"}`;
    } else {
      out = `0.${"0".repeat(-exp - 1)}${digits}`;
    }
    return (v < 0 ? "-" : "") + out;
  }

  /** Text from a receipt as a verdict quotes it: at most 80 characters (heso.receipt._clip). */
  function clip(text) {
    const chars = Array.from(String(text));
    return chars.length <= 80 ? String(text) : chars.slice(0, 79).join("") + "…";
  }

  const shown = (v) => clip(pyRepr(v));
  const byCodePoint = (a, b) => {
    const x = Array.from(a), y = Array.from(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const d = x[i].codePointAt(0) - y[i].codePointAt(0);
      if (d) return d;
    }
    return x.length - y.length;
  };

  /** Member names for a verdict: sorted, each shortened, at most five. */
  function names(keys) {
    const sorted = [...keys].sort(byCodePoint);
    const out = sorted.slice(0, 5).map(shown);
    return "[" + out.join(", ") + (sorted.length > 5 ? ", …]" : "]");
  }

  const sameKeys = (obj, keys) => {
    const have = Object.keys(obj);
    return have.length === keys.length && keys.every((k) => hasOwn(obj, k));
  };

  // ------------------------------------------------------------------------------ receipts

  function checkStructure(receipt) {
    const bad = (reason) => fail("MalformedReceipt", reason);
    if (!isMapping(receipt)) return bad("a receipt must be a JSON object");
    if (!hasOwn(receipt, "alg")) return bad("missing 'alg'");
    if (receipt.alg !== ALG) {
      return fail("UnsupportedAlgorithm", `alg ${shown(receipt.alg)} is not ${pyRepr(ALG)}`);
    }
    const extra = Object.keys(receipt)
      .filter((k) => !["alg", "content", "signatures", "multi_approval"].includes(k));
    if (extra.length) return bad(`unknown top-level members ${names(extra)}`);
    const content = receipt.content;
    if (!isMapping(content)) return bad("'content' must be an object");
    const keys = Object.keys(content);
    const missing = CONTENT_KEYS.filter((k) => !hasOwn(content, k));
    const unknown = keys.filter((k) => !CONTENT_KEYS.includes(k));
    if (missing.length || unknown.length) {
      const parts = [];
      if (missing.length) parts.push(`missing ${names(missing)}`);
      if (unknown.length) parts.push(`unknown ${names(unknown)}`);
      return bad("content members: " + parts.join(", "));
    }
    if (content.action_version !== ACTION_VERSION) {
      return fail(
        "UnsupportedAlgorithm",
        `action_version ${shown(content.action_version)} is not ${pyRepr(ACTION_VERSION)}`,
      );
    }
    if (typeof content.action_hash !== "string" || !HEX64.test(content.action_hash)) {
      return bad("action_hash must be 64 lowercase hex digits");
    }
    if (typeof content.captured_at !== "string" || !RFC3339_UTC.test(content.captured_at)) {
      return bad("captured_at must be an RFC 3339 UTC timestamp");
    }
    if (content.trust_level !== "L0" && content.trust_level !== "L1") {
      return bad(`unknown trust_level ${shown(content.trust_level)}`);
    }
    const action = content.action;
    if (!isMapping(action) || ACTION_REQUIRED.some((k) => !hasOwn(action, k))) {
      return bad(`action must be an object with ${pyRepr(ACTION_REQUIRED)}`
        .replace("[", "(").replace(/\]$/, ")"));
    }
    if (!isMapping(action.fields)) return bad("action.fields must be an object");
    const policy = content.policy;
    if (!isMapping(policy) || POLICY_REQUIRED.some((k) => !hasOwn(policy, k))) {
      return bad(`policy must be an object with ${pyRepr(POLICY_REQUIRED)}`
        .replace("[", "(").replace(/\]$/, ")"));
    }
    const sigs = receipt.signatures;
    if (!Array.isArray(sigs) || sigs.length === 0) {
      return bad("'signatures' must be a non-empty array");
    }
    for (const sig of sigs) {
      if (!isMapping(sig) || !sameKeys(sig, ["algorithm", "key_id", "public_key", "signature"])) {
        return bad("each signature needs exactly algorithm, key_id, public_key, signature");
      }
      if (sig.algorithm !== SIGNATURE_ALGORITHM) {
        return fail(
          "UnsupportedAlgorithm", `signature algorithm ${shown(sig.algorithm)} unsupported`,
        );
      }
      if (typeof sig.signature !== "string" || !HEX128.test(sig.signature)) {
        return bad("signature must be 128 lowercase hex digits");
      }
      if (typeof sig.key_id !== "string") return bad("key_id must be a string");
    }
    return null;
  }

  /** The action_hash of a content object: BLAKE3 of JCS(content without action_hash). */
  function computeActionHash(content) {
    const rest = Object.create(null);
    for (const k of Object.keys(content)) if (k !== "action_hash") rest[k] = content[k];
    return blake3Hex(canonicalBytes(rest));
  }

  const operatorMessage = (actionHash) => utf8.encode(OPERATOR_DOMAIN + actionHash);

  /** The bytes an approver signs (heso.receipt.approval_message). */
  function approvalMessage(actionHash, group, threshold, decision = "approved") {
    const statement = { action_hash: actionHash, decision, group, threshold };
    return utf8.encode(APPROVAL_DOMAIN + canonicalize(statement));
  }

  /** The bytes an approver's decision record is signed over (heso.approvals.decisions). */
  const recordMessage = (record) => utf8.encode(RECORD_DOMAIN + canonicalize(record));

  /**
   * Options (all optional), as heso.receipt.verify_receipt:
   *   trustedOperators: Set of "ed25519:<hex>" texts the verifier pins;
   *   approverKeys: Map "ed25519:<hex>" -> approver name (registered approvers);
   *   approverGroups: Map group -> {threshold, keys: Set of "ed25519:<hex>"}.
   * The verdict carries `checks`: what was checked per signature, for display.
   */
  async function verifyReceipt(receipt, opts = {}) {
    const problem = checkStructure(receipt);
    if (problem) return problem;
    const content = receipt.content;
    const claimed = content.action_hash;
    let actual;
    try {
      actual = opts.contentHash || computeActionHash(content);
    } catch (exc) {
      return fail("MalformedReceipt", `content is not canonicalizable: ${exc.message}`);
    }
    const checks = [{ what: "action_hash", ok: actual === claimed, actual, claimed }];
    const withChecks = (v) => {
      v.checks = checks;
      return v;
    };
    if (actual !== claimed) {
      return withChecks(fail(
        "HashMismatch",
        `content hashes to ${actual.slice(0, 16)}…, receipt claims ${claimed.slice(0, 16)}…`,
        { action_hash: claimed },
      ));
    }
    const opSigs = receipt.signatures.filter((s) => s.key_id === OPERATOR_KEY_ID);
    if (opSigs.length !== 1) {
      return withChecks(fail(
        "MalformedReceipt", `expected one operator signature, found ${opSigs.length}`,
        { action_hash: claimed },
      ));
    }
    const op = opSigs[0];
    const identity = publicKeyBytes(content.agent_identity);
    if (identity === null) {
      return withChecks(fail("MalformedReceipt", "agent_identity is not an ed25519 key",
        { action_hash: claimed }));
    }
    if (op.public_key !== content.agent_identity) {
      checks.push({ what: "operator", key: op.public_key, ok: false, note: "wrong key" });
      return withChecks(fail(
        "WrongKey", "the operator signature's key differs from the content's agent_identity",
        { action_hash: claimed },
      ));
    }
    const opOk = await ed25519Verify(identity, fromHex(op.signature), operatorMessage(claimed));
    checks.push({ what: "operator", key: op.public_key, ok: opOk });
    if (!opOk) {
      return withChecks(fail("InvalidSignature", "the operator signature does not verify",
        { action_hash: claimed }));
    }
    if (opts.trustedOperators && !opts.trustedOperators.has(content.agent_identity)) {
      return withChecks(fail(
        "UntrustedKey", `signed by ${content.agent_identity}, which is not a trusted operator key`,
        { action_hash: claimed },
      ));
    }
    const approverSigs = receipt.signatures.filter((s) => s.key_id !== OPERATOR_KEY_ID);
    if (approverSigs.length === 0) {
      if (hasOwn(receipt, "multi_approval")) {
        return withChecks(fail("QuorumNotMet", "multi_approval without approver signatures"));
      }
      return withChecks(new Verdict("Valid", "L0", "", { action_hash: claimed }));
    }
    return withChecks(await verifyApprovals(receipt, approverSigs, claimed, opts, checks));
  }

  async function verifyApprovals(receipt, sigs, actionHash, opts, checks) {
    const multi = receipt.multi_approval;
    if (multi === undefined || multi === null) {
      return fail(
        "MalformedReceipt",
        "approver signatures need a multi_approval block naming the group and threshold " +
          "they signed",
      );
    }
    if (!isMapping(multi) || !sameKeys(multi, ["group", "threshold"])) {
      return fail("MalformedReceipt", "multi_approval must have exactly group and threshold");
    }
    const { group, threshold } = multi;
    if (typeof group !== "string" || !group) {
      return fail("MalformedReceipt", "multi_approval.group must be a non-empty string");
    }
    if (!isInt(threshold) || threshold < 1) {
      return fail("MalformedReceipt", "multi_approval.threshold must be a positive int");
    }
    const approved = approvalMessage(actionHash, group, threshold);
    const groups = opts.approverGroups;
    const registered = groups ? groups.get(group) : undefined;
    const extra = { action_hash: actionHash };
    if (groups && registered === undefined) {
      return fail("UnknownApprover", `approver group ${shown(group)} is not registered`, extra);
    }
    const signers = new Set();
    for (const sig of sigs) {
      if (!sig.key_id.startsWith(APPROVER_KEY_PREFIX)) {
        return fail("MalformedReceipt", `unknown key_id ${shown(sig.key_id)}`);
      }
      const key = publicKeyBytes(sig.public_key);
      if (key === null) return fail("MalformedReceipt", `bad public_key for ${clip(sig.key_id)}`);
      const raw = fromHex(sig.signature);
      const check = { what: sig.key_id, key: sig.public_key, group, threshold };
      checks.push(check);
      if (!(await ed25519Verify(key, raw, approved))) {
        const denial = approvalMessage(actionHash, group, threshold, "denied");
        const what = (await ed25519Verify(key, raw, denial)) ? "a denial" : "not an approval";
        check.ok = false;
        check.note = what;
        return fail(
          "ApprovalMismatch",
          `${clip(sig.key_id)}'s signature is ${what} of this action for group ` +
            `${shown(group)} with threshold ${threshold}`,
          extra,
        );
      }
      check.ok = true;
      const name = opts.approverKeys ? opts.approverKeys.get(sig.public_key) : undefined;
      if (name === undefined) {
        check.note = "not registered";
        return fail("UnknownApprover", `${clip(sig.key_id)} (${sig.public_key}) is not a registered approver`,
          extra);
      }
      check.note = `registered as ${name}`;
      if (sig.key_id !== APPROVER_KEY_PREFIX + name) {
        // key_id is not signed: bound here to the registered owner of the key.
        check.ok = false;
        check.note = `registered as ${name}, not as labelled`;
        return fail(
          "WrongApprover",
          `${clip(sig.key_id)} is signed by ${sig.public_key}, which is registered as ${shown(name)}`,
          extra,
        );
      }
      if (registered !== undefined && !registered.keys.has(sig.public_key)) {
        return fail(
          "UnknownApprover",
          `${clip(sig.key_id)} (${sig.public_key}) is not a member of group ${shown(group)}`,
          extra,
        );
      }
      signers.add(sig.public_key);
    }
    if (registered !== undefined && threshold < registered.threshold) {
      return fail(
        "QuorumNotMet",
        `group ${shown(group)} requires ${registered.threshold} approvers, the receipt claims ` +
          `${threshold}`,
        extra,
      );
    }
    if (signers.size < threshold) {
      return fail("QuorumNotMet", `${signers.size} distinct approvers signed, ${threshold} required`,
        extra);
    }
    return new Verdict("Valid", "L1", "", extra);
  }

  /** heso.receipt.verify_receipt_bytes: parse strictly, then verify. */
  async function verifyReceiptBytes(data, opts = {}) {
    let receipt;
    try {
      receipt = loadsStrict(data);
    } catch (exc) {
      if (!(exc instanceof JsonError)) throw exc;
      return fail("MalformedJson", exc.message.slice(0, 200));
    }
    const verdict = await verifyReceipt(receipt, opts);
    verdict.receipt = receipt;
    return verdict;
  }

  // ------------------------------------------------------------------------------ chains

  /** Split a receipts.jsonl into complete lines (without "\n") and the torn remainder. */
  function splitLines(bytes) {
    const lines = [];
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === 10) {
        lines.push(bytes.subarray(start, i));
        start = i + 1;
      }
    }
    return { lines, torn: bytes.subarray(start) };
  }

  /** The signed head (heso.ledger.format.parse_head): an object, null when absent, or a verdict. */
  async function readHead(bytes) {
    if (bytes === null || bytes === undefined) return null;
    if (bytes.length > MAX_HEAD_BYTES) {
      return fail("HeadInvalid", `chain.head.json is larger than ${MAX_HEAD_BYTES} bytes`);
    }
    let doc, content, operator, sig;
    try {
      doc = loadsStrict(bytes);
      if (!isMapping(doc) || !isMapping(doc.content)) throw new Error("'content'");
      content = doc.content;
      if (doc.alg !== HEAD_ALG || !sameKeys(doc, ["alg", "content", "signature"])) {
        throw new Error("unexpected head shape");
      }
      operator = publicKeyBytes(content.operator);
      if (operator === null) throw new Error("invalid public key");
      const { length, head, size } = content;
      if (!isInt(length) || !isInt(size) || typeof head !== "string") {
        throw new Error("bad head field types");
      }
      if (typeof doc.signature !== "string" || !HEX128.test(doc.signature)) {
        throw new Error("signature must be 128 lowercase hex digits");
      }
      sig = fromHex(doc.signature);
      if (!hasOwn(content, "sealed_at")) throw new Error("'sealed_at'");
    } catch (exc) {
      return fail("HeadInvalid", `chain.head.json is malformed: ${exc.message}`);
    }
    const message = utf8.encode(HEAD_DOMAIN + canonicalize(content));
    if (!(await ed25519Verify(operator, sig, message))) {
      return fail("HeadInvalid", "chain.head.json signature does not verify");
    }
    return {
      length: content.length, head: content.head, size: content.size,
      operator: content.operator, sealed_at: content.sealed_at,
    };
  }

  function anchorOf(head, lines) {
    if (head) return head.operator;
    if (!lines.length) return null;
    try {
      const identity = loadsStrict(lines[0]).receipt.content.agent_identity;
      return publicKeyBytes(identity) === null ? null : identity;
    } catch (exc) {
      return null;
    }
  }

  /** One chain line (heso.ledger.verify.Checker); returns {verdict, seq, receipt, l1}. */
  async function checkEntry(line, i, prevHash, prevSeq, trusted, opts) {
    if (line.length > MAX_ENTRY_BYTES) {
      return { verdict: fail("MalformedEntry", `the line is longer than ${MAX_ENTRY_BYTES} bytes`) };
    }
    let entry;
    try {
      entry = loadsLenient(line);
    } catch (exc) {
      if (!(exc instanceof JsonError)) throw exc;
      return { verdict: fail("MalformedJson", `line is not valid JSON: ${exc.message.slice(0, 160)}`) };
    }
    if (!isMapping(entry) || !sameKeys(entry, ["prev", "receipt", "seq"])) {
      return { verdict: fail("MalformedEntry", "an entry must have exactly prev, receipt and seq") };
    }
    const seq = entry.seq;
    if (!(typeof seq === "number" && Number.isInteger(seq)) || typeof entry.prev !== "string") {
      return { verdict: fail("MalformedEntry", "seq must be an integer and prev a string") };
    }
    // The line must be byte for byte the RFC 8785 form heso writes.
    let canonical;
    try {
      canonical = sameBytes(canonicalBytes(entry), line);
    } catch (exc) {
      if (!(exc instanceof JsonError)) throw exc;
      canonical = false;
    }
    try {
      entry = loadsStrict(line);
    } catch (exc) {
      if (!(exc instanceof JsonError)) throw exc;
      return {
        verdict: fail("MalformedJson", `line is not valid JSON: ${exc.message.slice(0, 160)}`),
        seq,
      };
    }
    if (!canonical) {
      return {
        verdict: fail(
          "MalformedEntry",
          "the line is not in canonical (RFC 8785) form, so it is not the line heso wrote",
        ),
        seq,
      };
    }
    if (i > 0) {
      if (seq !== prevSeq + 1) {
        return {
          verdict: fail(
            "SequenceMismatch",
            `entry says seq ${seq} after seq ${prevSeq}: an entry was deleted, inserted, ` +
              "duplicated or reordered here",
          ),
          seq,
        };
      }
      if (entry.prev !== prevHash) {
        return {
          verdict: fail("ChainBroken", "prev does not match the hash of the entry before it"),
          seq,
        };
      }
    }
    let verdict = await verifyReceipt(entry.receipt, {
      trustedOperators: trusted, approverKeys: opts.approverKeys,
      approverGroups: opts.approverGroups,
    });
    if (!verdict.ok && verdict.code === "UntrustedKey") {
      verdict = fail("OperatorMismatch", verdict.reason, { action_hash: verdict.action_hash });
    }
    return { verdict, seq, receipt: entry.receipt, prev: entry.prev };
  }

  /**
   * heso.ledger.verify_chain over the bytes of receipts.jsonl, chain.head.json (or null) and
   * receipts.torn (or null). Options: trustedOperators, approverKeys, approverGroups (see
   * verifyReceipt), requireSealed (`heso verify --chain --sealed`: entries after the signed
   * head are Unsealed).
   * The verdict's `entries` lists every complete line: {seq, hash, prev, action_hash, status}
   * with status "ok", "broken" (the first failure) or "unchecked" (after it).
   */
  async function verifyChain(files, opts = {}) {
    const bytes = files.chain || new Uint8Array(0);
    const { lines, torn } = splitLines(bytes);
    const head = await readHead(files.head);
    const drawn = lines.map((line, i) => ({ seq: i, hash: blake3Hex(line), status: "unchecked" }));
    const done = (verdict) => {
      verdict.entries = drawn;
      return verdict;
    };
    if (head instanceof Verdict) return done(head);
    if (head && opts.trustedOperators && !opts.trustedOperators.has(head.operator)) {
      return done(fail("HeadInvalid", `head signed by untrusted key ${head.operator}`));
    }
    const anchor = anchorOf(head, lines);
    const trusted = opts.trustedOperators || (anchor !== null ? new Set([anchor]) : null);
    let prevHash = null;
    let prevSeq = null;
    let l1 = 0;
    for (let i = 0; i < lines.length; i++) {
      const r = await checkEntry(lines[i], i, prevHash, prevSeq, trusted, opts);
      const d = drawn[i];
      if (r.prev !== undefined) d.prev = r.prev;
      if (r.receipt && isMapping(r.receipt) && isMapping(r.receipt.content)) {
        d.action_hash = r.receipt.content.action_hash;
      }
      let bad = r.verdict.ok ? null : r.verdict;
      if (i === 0 && bad === null) {
        if (r.seq !== 0) {
          bad = fail(
            "SequenceMismatch",
            `entry says seq ${r.seq}, expected 0: an entry was deleted, inserted, duplicated ` +
              "or reordered here",
          );
        } else if (r.prev !== GENESIS) {
          bad = fail("ChainBroken", "prev does not match the hash of the entry before it");
        }
      }
      if (bad !== null) {
        d.status = "broken";
        d.code = bad.code;
        return done(bad.at(i));
      }
      d.status = "ok";
      d.trust_level = r.verdict.trust_level;
      if (r.verdict.trust_level === "L1") l1++;
      prevHash = d.hash;
      prevSeq = r.seq;
    }
    const total = lines.length;
    if (torn.length) {
      return done(fail(
        "TornTail",
        "the last line is incomplete (a writer was killed mid-write); the next append moves " +
          "it to receipts.torn",
      ).at(total));
    }
    if (head) {
      if (head.length > total) {
        return done(fail(
          "ChainTruncated",
          `the signed head covers ${head.length} entries but only ${total} remain`,
        ).at(total));
      }
      if (!headMatches(bytes, head)) {
        const under = drawn[Math.max(head.length - 1, 0)];
        if (under) Object.assign(under, { status: "broken", code: "HeadMismatch" });
        return done(fail(
          "HeadMismatch", "the entry under the signed head differs from what was signed",
        ).at(Math.max(head.length - 1, 0)));
      }
    } else if (total) {
      return done(fail(
        "HeadMissing", "chain.head.json is missing, so truncation cannot be ruled out",
      ));
    }
    const sealed = head ? head.length : 0;
    if (opts.requireSealed && total > sealed) {
      return done(fail(
        "Unsealed",
        `${total - sealed} entries follow the signed head, which covers ${sealed}; a store ` +
          "at rest must be sealed (entries appended after the seal cannot be told from " +
          "forged ones, and cutting them off would go unnoticed)",
      ).at(sealed));
    }
    const tornRecords = files.torn
      ? new TextDecoder().decode(files.torn).split("\n").filter((l) => l.trim()).length
      : 0;
    const details = {
      entries: total, sealed, unsealed: total - sealed, l1_receipts: l1,
      torn_tails_recovered: tornRecords,
    };
    if (anchor !== null) details.operator = anchor;
    return done(new Verdict("Valid", total ? "L0" : null, "", { details }));
  }

  function headMatches(bytes, head) {
    if (head.length === 0) return head.head === GENESIS && head.size === 0;
    if (head.size > bytes.length || bytes[head.size - 1] !== 10) return false;
    let start = head.size - 1;
    while (start > 0 && bytes[start - 1] !== 10) start--;
    if (head.size - 1 - start > MAX_ENTRY_BYTES) return false;
    return blake3Hex(bytes.subarray(start, head.size - 1)) === head.head;
  }

  // ------------------------------------------------------------------------------ inputs

  /**
   * Verifier options (see verifyReceipt) from trust inputs as plain data, the shape of
   * heso.trust.Trust.to_dict (the console sends it) and of trustFromToml:
   * {operator_keys: [...] | null, pinned_by, approvers: {group: {threshold, members: {name: key}}}}.
   */
  function trustOptions(trust) {
    const approverKeys = new Map();
    const approverGroups = new Map();
    for (const [group, def] of Object.entries(trust.approvers || {})) {
      const keys = new Set();
      for (const [name, key] of Object.entries(def.members)) {
        approverKeys.set(key, name);
        keys.add(key);
      }
      approverGroups.set(group, { threshold: Number(def.threshold), keys });
    }
    const pinned = trust.operator_keys;
    return {
      trustedOperators: pinned && pinned.length ? new Set(pinned) : null,
      pinnedBy: trust.pinned_by || "unpinned",
      approverKeys,
      approverGroups,
    };
  }

  /** A mistake in the trust inputs (heso verify's HesoConfigError). */
  class TrustError extends Error {}

  const APPROVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
  const GROUP_KEYS = ["members", "threshold", "escalate_to"];
  const isTable = (v) =>
    v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);

  function typeName(v) {
    if (typeof v === "boolean") return "a boolean";
    if (typeof v === "bigint") return "an integer";
    if (typeof v === "number") return "a float";
    if (typeof v === "string") return "a string";
    if (Array.isArray(v)) return "an array";
    if (v instanceof Date) return "a date/time";
    return "a table";
  }

  /** Pinned operator keys, one `ed25519:<hex>` per line (blank lines skipped), or null. */
  function parsePinnedKeys(text) {
    const keys = [];
    String(text || "").split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (!line) return;
      if (!PUBLIC_KEY.test(line)) {
        throw new TrustError(`pinned operator keys, line ${i + 1}: expected 'ed25519:<64 lowercase hex>'`);
      }
      keys.push(line);
    });
    return keys.length ? keys : null;
  }

  /** heso.trust.pinned_operator_keys: `[heso] operator_keys`, or null when it pins none. */
  function operatorKeysOf(doc) {
    const table = hasOwn(doc, "heso") ? doc.heso : {};
    if (!isTable(table) || !hasOwn(table, "operator_keys")) return null;
    const keys = table.operator_keys;
    if (!Array.isArray(keys)) throw new TrustError("[heso].operator_keys must be an array of keys");
    keys.forEach((text, i) => {
      if (typeof text !== "string" || !PUBLIC_KEY.test(text)) {
        throw new TrustError(`[heso].operator_keys[${i}]: expected 'ed25519:<64 lowercase hex>'`);
      }
    });
    return keys.length ? [...new Set(keys)].sort() : null;
  }

  /** heso.approvals.registry.load_registry: the [approvers.<group>] tables, validated. */
  function approversOf(doc) {
    const raw = hasOwn(doc, "approvers") ? doc.approvers : Object.create(null);
    if (!isTable(raw)) throw new TrustError(`[approvers] must be a table of groups, not ${typeName(raw)}`);
    const groups = new Map();
    const keyOwner = new Map();
    const nameKey = new Map();
    for (const group of Object.keys(raw)) {
      const table = raw[group];
      if (!APPROVER_NAME.test(group)) throw new TrustError(`invalid approver group name ${pyRepr(group)}`);
      if (!isTable(table)) {
        throw new TrustError(`[approvers.${group}] must be a table, not ${typeName(table)}`);
      }
      for (const key of Object.keys(table)) {
        if (!GROUP_KEYS.includes(key)) {
          throw new TrustError(`unknown key ${pyRepr(key)} in [approvers.${group}]`);
        }
      }
      if (!hasOwn(table, "members")) throw new TrustError(`[approvers.${group}] has no members`);
      const members = table.members;
      if (!isTable(members) || Object.keys(members).length === 0) {
        throw new TrustError(`[approvers.${group}].members must be a non-empty table of name = "ed25519:…"`);
      }
      const out = {};
      for (const name of Object.keys(members)) {
        const text = members[name];
        if (!APPROVER_NAME.test(name)) throw new TrustError(`invalid approver name ${pyRepr(name)}`);
        if (typeof text !== "string") {
          throw new TrustError(`approver ${pyRepr(name)} must map to a public key string, not ${typeName(text)}`);
        }
        if (!PUBLIC_KEY.test(text)) {
          throw new TrustError(`approver ${pyRepr(name)}: expected 'ed25519:<64 lowercase hex>'`);
        }
        if (keyOwner.has(text) && keyOwner.get(text) !== name) {
          throw new TrustError(`the key of ${pyRepr(name)} is already registered as ${pyRepr(keyOwner.get(text))}`);
        }
        if (nameKey.has(name) && nameKey.get(name) !== text) {
          throw new TrustError(`approver ${pyRepr(name)} has a different key in another group`);
        }
        keyOwner.set(text, name);
        nameKey.set(name, text);
        out[name] = text;
      }
      const threshold = hasOwn(table, "threshold") ? table.threshold : 1n;
      if (typeof threshold !== "bigint") {
        throw new TrustError(`[approvers.${group}].threshold must be an integer, not ${typeName(threshold)}`);
      }
      const count = Object.keys(out).length;
      if (threshold < 1n || threshold > BigInt(count)) {
        throw new TrustError(`[approvers.${group}].threshold is ${threshold} but the group has ${count} member(s)`);
      }
      const escalate = hasOwn(table, "escalate_to") ? table.escalate_to : undefined;
      if (escalate !== undefined && typeof escalate !== "string") {
        throw new TrustError(`[approvers.${group}].escalate_to must be a group name, not ${typeName(escalate)}`);
      }
      groups.set(group, { threshold: Number(threshold), members: out, escalate });
    }
    for (const [group, def] of groups) {
      if (def.escalate !== undefined && (def.escalate === group || !groups.has(def.escalate))) {
        throw new TrustError(`[approvers.${group}].escalate_to names ${def.escalate === group
          ? "itself" : `undefined group ${pyRepr(def.escalate)}`}`);
      }
    }
    const approvers = {};
    for (const [group, def] of groups) approvers[group] = { threshold: def.threshold, members: def.members };
    return approvers;
  }

  const MAX_TOML_DEPTH = 64; // heso.trust.MAX_DEPTH

  function tooDeep(doc) {
    const stack = [[doc, 1]];
    while (stack.length) {
      const [value, depth] = stack.pop();
      if (depth > MAX_TOML_DEPTH) return true;
      for (const child of Array.isArray(value) ? value : Object.values(value)) {
        if (Array.isArray(child) || isTable(child)) stack.push([child, depth + 1]);
      }
    }
    return false;
  }

  /** End of a TOML string starting at i (after its closing quotes), and any TOML 1.1 escape. */
  function tomlString(s, i) {
    const q = s[i];
    const multi = s.startsWith(q.repeat(3), i);
    let j = i + (multi ? 3 : 1);
    for (;;) {
      if (j >= s.length) return { end: s.length };
      const c = s[j];
      if (q === '"' && c === "\\") {
        const e = s[j + 1];
        if (e === "e" || e === "x") return { end: j, feature: `the \\${e} escape` };
        j += 2;
      } else if (multi && s.startsWith(q.repeat(3), j)) {
        let end = j + 3;
        for (let k = 0; k < 2 && s[end] === q; k++) end++;
        return { end };
      } else if (!multi && c === q) {
        return { end: j + 1 };
      } else {
        j++;
      }
    }
  }

  const TOKEN_END = /[\s,[\]{}#="']/;
  const TIME_WITHOUT_SECONDS = /(^|[Tt])[0-9]{2}:[0-9]{2}(?![0-9:])/;

  /**
   * The first construct of a TOML document (one that parses) that only TOML 1.1 allows, or null.
   * heso verify reads heso.toml with Python's tomllib, TOML 1.0 (until Python 3.15), where these
   * are syntax errors; the page's parser reads TOML 1.1, so they are refused here.
   */
  function toml11Syntax(text) {
    const s = String(text);
    const stack = []; // "{" or "[" for each open inline table or array value
    let last = ""; // the last significant character inside the innermost inline table
    let afterEquals = false;
    let i = 0;
    const inline = () => stack[stack.length - 1] === "{";
    while (i < s.length) {
      const c = s[i];
      if (c === "\n") {
        if (inline()) return "a newline inside an inline table";
        afterEquals = false;
        i++;
      } else if (c === " " || c === "\t" || c === "\r") {
        i++;
      } else if (c === "#") {
        if (inline()) return "a comment inside an inline table";
        while (i < s.length && s[i] !== "\n") i++;
      } else if (c === '"' || c === "'") {
        const str = tomlString(s, i);
        if (str.feature) return str.feature;
        i = str.end;
        last = "v";
      } else if (c === "[" && !stack.length && !afterEquals) {
        i++; // a table header: skip it (its keys may be quoted)
        while (i < s.length && s[i] !== "]") {
          if (s[i] === '"' || s[i] === "'") {
            const str = tomlString(s, i);
            if (str.feature) return str.feature;
            i = str.end;
          } else {
            i++;
          }
        }
        while (s[i] === "]") i++;
      } else if (c === "{" || c === "[") {
        stack.push(c);
        last = c;
        i++;
      } else if (c === "}" || c === "]") {
        if (c === "}" && last === ",") return "a trailing comma in an inline table";
        stack.pop();
        last = "v";
        i++;
      } else if (c === "," || c === "=") {
        if (c === "=") afterEquals = true;
        last = c;
        i++;
      } else {
        let j = i + 1; // at least one character: a BOM, say, is a token of its own
        while (j < s.length && !TOKEN_END.test(s[j])) j++;
        if (TIME_WITHOUT_SECONDS.test(s.slice(i, j))) return "a time without seconds";
        last = "v";
        i = j;
      }
    }
    return null;
  }

  /**
   * The trust inputs of a heso.toml text, as heso verify reads them (heso.trust.load_trust):
   * `pinned` keys (the page's box, like --trust) replace its [heso] operator_keys. Throws a
   * TrustError on any mistake heso verify refuses. Returns the plain form (see trustOptions).
   */
  function trustFromToml(text, pinned = null) {
    const source = String(text ?? "");
    let doc;
    try {
      doc = root.SmolToml.parse(source, { integersAsBigInt: true });
    } catch (exc) {
      if (!(exc instanceof root.SmolToml.TomlError)) throw exc;
      throw new TrustError(`heso.toml: ${exc.message.split("\n")[0]}`);
    }
    if (tooDeep(doc)) {
      throw new TrustError(`heso.toml: tables and arrays nested more than ${MAX_TOML_DEPTH} levels deep`);
    }
    const newer = toml11Syntax(source);
    if (newer) {
      throw new TrustError(`heso.toml: ${newer} is TOML 1.1, which heso verify (TOML 1.0) refuses`);
    }
    const fromFile = pinned ? null : operatorKeysOf(doc);
    const operatorKeys = pinned ? [...new Set(pinned)].sort() : fromFile;
    return {
      operator_keys: operatorKeys,
      pinned_by: pinned ? "--trust" : fromFile ? "heso.toml" : "unpinned",
      approvers: approversOf(doc),
    };
  }

  /** What some bytes look like: "chain", "head", "receipt" or "unknown". */
  function sniff(bytes) {
    let i = 0;
    while (i < bytes.length && (bytes[i] === 32 || bytes[i] === 10 || bytes[i] === 13 || bytes[i] === 9)) i++;
    const start = new TextDecoder().decode(bytes.subarray(i, i + 512));
    if (start.startsWith('{"prev":')) return "chain";
    if (start.startsWith("{") && start.includes('"' + HEAD_ALG + '"')) return "head";
    if (start.startsWith("{") || start.startsWith("[")) return "receipt";
    return "unknown";
  }

  root.HesoVerify = {
    ALG, GENESIS, blake3, blake3Hex, toHex, fromHex, concatBytes, loadsStrict, loadsLenient,
    canonicalize, canonicalBytes, computeActionHash, approvalMessage, recordMessage,
    operatorMessage, ed25519Verify, verifyReceipt, verifyReceiptBytes, verifyChain, readHead,
    trustOptions, trustFromToml, parsePinnedKeys, toml11Syntax, sniff, Verdict, JsonError,
    TrustError,
  };
})(globalThis);
