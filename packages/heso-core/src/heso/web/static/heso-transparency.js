/*
 * heso-transparency.js: offline checks of a heso log's checkpoints and proofs in the page.
 *
 * A port of heso.transparency's verifiers (docs/spec/transparency.md): RFC 6962 hashing with
 * SHA-256 (WebCrypto), the RFC 9162 inclusion and consistency proof verifiers, C2SP signed
 * notes (Ed25519 through HesoVerify.ed25519Verify, and cosignature/v1), verifier keys (vkey),
 * C2SP checkpoints with a witness threshold, tlog-proof files whose extra line is the entry's
 * prev hash, and consistency proof files. Sizes and indexes are BigInts (up to 2^64 - 1).
 * Exposes globalThis.HesoTransparency. It makes no network request. Licence: Apache-2.0.
 */
(function (root) {
  "use strict";

  const HV = root.HesoVerify;
  const utf8 = new TextEncoder();
  const TLOG_PROOF_V1 = "c2sp.org/tlog-proof@v1";
  const ED25519 = 0x01;
  const COSIGNATURE_V1 = 0x04;
  const MAX_SIGNATURES = 100;
  const MAX_NOTE_BYTES = 1 << 20;
  const MAX_SIZE = (1n << 64n) - 1n;
  const MAX_TIMESTAMP = (1n << 63n) - 1n;
  const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;
  const HEX8 = /^[0-9a-f]{8}$/;
  const SIG_PREFIX = "\u2014 ";

  class TransparencyError extends Error {}
  const fail = (message) => {
    throw new TransparencyError(message);
  };

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }
  const leafHash = (leaf) => sha256(HV.concatBytes(new Uint8Array([0]), leaf));
  const nodeHash = (l, r) => sha256(HV.concatBytes(new Uint8Array([1]), l, r));
  const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

  function b64decode(text) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) return null;
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function b64encode(bytes) {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }

  function parseDecimal(text, what) {
    if (!DECIMAL.test(text) || BigInt(text) > MAX_SIZE) {
      fail(`invalid ${what} ${JSON.stringify(text.slice(0, 30))}: a decimal with no leading zeros`);
    }
    return BigInt(text);
  }
  function parseHash(text, what) {
    const raw = b64decode(text);
    if (raw === null || raw.length !== 32 || b64encode(raw) !== text) {
      fail(`invalid ${what} ${JSON.stringify(text.slice(0, 60))}: base64 of 32 bytes`);
    }
    return raw;
  }

  // ------------------------------------------------------------------- RFC 9162 verifiers

  /** RFC 9162 2.1.3.2: leaf hash `leaf` is entry `index` of the tree `size` with `rootHash`. */
  async function verifyInclusion(leaf, index, size, proof, rootHash) {
    index = BigInt(index);
    size = BigInt(size);
    if (index >= size) fail(`leaf index ${index} is not in a tree of size ${size}`);
    let fn = index;
    let sn = size - 1n;
    let r = leaf;
    for (const p of proof) {
      if (sn === 0n) fail(`inclusion proof has ${proof.length} hashes, more than a tree of size ${size} needs`);
      if (fn & 1n || fn === sn) {
        r = await nodeHash(p, r);
        while (!(fn & 1n) && fn) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) fail(`inclusion proof has ${proof.length} hashes, fewer than a tree of size ${size} needs`);
    if (!sameBytes(r, rootHash)) {
      fail(`inclusion proof for leaf ${index} does not lead to the root hash of size ${size}`);
    }
  }

  /** RFC 9162 2.1.4.2: the tree (size2, root2) extends (size1, root1). */
  async function verifyConsistency(size1, size2, root1, root2, proof) {
    size1 = BigInt(size1);
    size2 = BigInt(size2);
    if (size2 < size1) fail(`tree size ${size2} is smaller than ${size1}: not an extension`);
    if (size1 === 0n) fail("a consistency proof from the empty tree proves nothing");
    if (size1 === size2) {
      if (proof.length) fail("equal tree sizes need an empty consistency proof");
      if (!sameBytes(root1, root2)) fail(`two different root hashes for tree size ${size1}`);
      return;
    }
    if (!proof.length) fail(`empty consistency proof from size ${size1} to ${size2}`);
    const path = [...proof];
    if ((size1 & (size1 - 1n)) === 0n) path.unshift(root1);
    let fn = size1 - 1n;
    let sn = size2 - 1n;
    while (fn & 1n) {
      fn >>= 1n;
      sn >>= 1n;
    }
    let fr = path[0];
    let sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0n) fail(`consistency proof from size ${size1} to ${size2} has too many hashes`);
      if (fn & 1n || fn === sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        while (!(fn & 1n) && fn) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) fail(`consistency proof from size ${size1} to ${size2} is too short`);
    if (!sameBytes(fr, root1)) fail(`consistency proof does not lead to the root hash of size ${size1}`);
    if (!sameBytes(sr, root2)) fail(`consistency proof does not lead to the root hash of size ${size2}`);
  }

  // ------------------------------------------------------------------ signed notes, vkeys

  const hasControl = (text) => /[\u0000-\u0009\u000b-\u001f]/.test(text);

  function checkKeyName(name) {
    if (!name || name.includes("+") || /\s/.test(name) || hasControl(name)) {
      fail(`invalid key name ${JSON.stringify(name)}: no spaces, '+' or control characters`);
    }
  }

  async function keyId(name, type, publicKey) {
    const digest = await sha256(HV.concatBytes(name, "\n", new Uint8Array([type]), publicKey));
    return ((digest[0] << 24) | (digest[1] << 16) | (digest[2] << 8) | digest[3]) >>> 0;
  }

  /** A verifier key in its text form: {name, id, type, key, vkey}; throws what is wrong. */
  async function parseVkey(text) {
    const vkey = String(text).trim();
    const [name, ident, b64] = [vkey.split("+")[0], vkey.split("+")[1] ?? "", vkey.split("+").slice(2).join("+")];
    checkKeyName(name);
    if (!HEX8.test(ident)) fail(`invalid verifier key for '${name}': the key ID must be 8 lowercase hex digits`);
    const blob = b64decode(b64);
    if (blob === null || blob.length < 2) fail(`invalid verifier key for '${name}': the key part is not base64 of type || key`);
    const type = blob[0];
    const key = blob.subarray(1);
    if (type !== ED25519 && type !== COSIGNATURE_V1) fail(`verifier key '${name}' has an unknown signature type`);
    if (key.length !== 32) fail(`verifier key '${name}': an Ed25519 key is 32 bytes`);
    const id = await keyId(name, type, key);
    if (id !== parseInt(ident, 16)) {
      fail(`verifier key '${name}': the key ID ${ident} does not match the name and key (a mistyped or altered vkey)`);
    }
    return { name, id, type, key, vkey };
  }

  function parseNote(data) {
    const bytes = typeof data === "string" ? utf8.encode(data) : data;
    if (bytes.length > MAX_NOTE_BYTES) fail(`a note is at most ${MAX_NOTE_BYTES} bytes`);
    let text;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      fail("a note must be UTF-8");
    }
    if (hasControl(text)) fail("a note may not contain control characters other than newline");
    const split = text.lastIndexOf("\n\n");
    if (split < 0) fail("a note needs a blank line between its text and signatures");
    const body = text.slice(0, split + 1);
    const block = text.slice(split + 2);
    if (!block || !block.endsWith("\n")) fail("a note needs signature lines, each ending with a newline");
    const lines = block.slice(0, -1).split("\n");
    if (lines.length > MAX_SIGNATURES) fail(`a note carries at most ${MAX_SIGNATURES} signatures`);
    const signatures = lines.map((line) => {
      if (!line.startsWith(SIG_PREFIX)) fail("not a signature line (must start with '\u2014 ')");
      const rest = line.slice(SIG_PREFIX.length);
      const sp = rest.indexOf(" ");
      const name = sp < 0 ? rest : rest.slice(0, sp);
      checkKeyName(name);
      const blob = sp < 0 ? null : b64decode(rest.slice(sp + 1));
      if (blob === null || blob.length < 5) fail(`malformed signature for key '${name}'`);
      const id = ((blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3]) >>> 0;
      return { name, id, signature: blob.subarray(4) };
    });
    return { text, body, signatures };
  }

  async function verifySignature(v, text, sig) {
    if (v.type === ED25519) return sig.length === 64 && HV.ed25519Verify(v.key, sig, text);
    if (sig.length !== 72) return false;
    let ts = 0n;
    for (let i = 0; i < 8; i++) ts = (ts << 8n) | BigInt(sig[i]);
    if (ts > MAX_TIMESTAMP) return false;
    const message = HV.concatBytes(`cosignature/v1\ntime ${ts}\n`, text);
    return HV.ed25519Verify(v.key, sig.subarray(8), message);
  }

  /** C2SP signed-note verification, as heso.transparency.note.open_note. */
  async function openNote(data, verifiers) {
    const note = parseNote(data);
    const known = new Map();
    for (const v of verifiers) {
      const pair = `${v.name}\u0000${v.id}`;
      known.set(pair, known.has(pair) && known.get(pair)?.vkey !== v.vkey ? null : v);
    }
    const text = utf8.encode(note.body);
    const verified = [];
    const seen = new Set();
    for (const sig of note.signatures) {
      const pair = `${sig.name}\u0000${sig.id}`;
      if (!known.has(pair)) continue;
      const v = known.get(pair);
      if (v === null) fail(`ambiguous key ${sig.name}: two keys match`);
      if (seen.has(pair)) continue;
      seen.add(pair);
      if (!(await verifySignature(v, text, sig.signature))) {
        fail(`the signature of key ${sig.name}+${sig.id.toString(16).padStart(8, "0")} does not verify: the note was altered or signed by another key`);
      }
      verified.push({ verifier: v, signature: sig });
    }
    if (!verified.length) fail("no trusted key signed this note");
    return { text: note.body, verified };
  }

  // -------------------------------------------------------------------------- checkpoints

  function parseCheckpoint(text) {
    if (!text.endsWith("\n")) fail("a checkpoint's text ends with a newline");
    const lines = text.slice(0, -1).split("\n");
    if (lines.length < 3) fail("a checkpoint has an origin, a tree size and a root hash line");
    if (!lines[0]) fail("a checkpoint origin is one non-empty line");
    if (lines.slice(3).some((l) => !l)) fail("a checkpoint extension is one non-empty line");
    return {
      origin: lines[0],
      size: parseDecimal(lines[1], "checkpoint tree size line"),
      root: parseHash(lines[2], "checkpoint root hash line"),
      extensions: lines.slice(3),
    };
  }

  /** heso.transparency.checkpoint.open_checkpoint: a log key signed it, `threshold` distinct
   * witnesses cosigned it. Returns {checkpoint, cosigners}. */
  async function openCheckpoint(data, logKeys, { origin = null, witnesses = [], threshold = 0 } = {}) {
    if (!logKeys.length) fail("no log key given to verify the checkpoint with");
    if (logKeys.some((k) => k.type !== ED25519)) fail("a witness cosignature key (type 0x04) was given as a log key");
    if (witnesses.some((k) => k.type !== COSIGNATURE_V1)) fail("a witness key must be a cosignature key (type 0x04)");
    if (threshold > witnesses.length) fail(`a threshold of ${threshold} cosignatures needs at least ${threshold} witness keys`);
    const opened = await openNote(data, [...logKeys, ...witnesses]);
    if (!opened.verified.some((v) => logKeys.includes(v.verifier))) {
      fail("the checkpoint is not signed by a trusted log key (only by witnesses)");
    }
    const checkpoint = parseCheckpoint(opened.text);
    if (checkpoint.size === 0n && !sameBytes(checkpoint.root, await sha256(new Uint8Array()))) {
      fail("a checkpoint of size 0 must carry the empty tree's root hash");
    }
    if (origin !== null && checkpoint.origin !== origin) {
      fail(`the checkpoint is for log '${checkpoint.origin}', not '${origin}'`);
    }
    const cosigners = new Map();
    for (const v of opened.verified) {
      if (witnesses.includes(v.verifier)) cosigners.set(HV.toHex(v.verifier.key), v.verifier.name);
    }
    if (cosigners.size < threshold) {
      fail(`the checkpoint carries ${cosigners.size} valid witness cosignature(s); ${threshold} required`);
    }
    return { checkpoint, cosigners: [...cosigners.values()] };
  }

  // ------------------------------------------------------------------------- proof files

  function splitProof(text) {
    const at = text.indexOf("\n\n");
    if (at < 0 || at + 2 >= text.length) fail("a proof needs a blank line and then the checkpoint");
    return [text.slice(0, at).split("\n"), text.slice(at + 2)];
  }

  function parseInclusionProof(text) {
    const [head, checkpoint] = splitProof(text);
    if (head[0] !== TLOG_PROOF_V1) fail(`not a tlog proof: the first line must be ${TLOG_PROOF_V1}`);
    let rest = head.slice(1);
    let extra = null;
    if (rest.length && rest[0].startsWith("extra ")) {
      extra = b64decode(rest[0].slice(6));
      if (extra === null) fail("the proof's extra line is not base64");
      rest = rest.slice(1);
    }
    if (!rest.length || !rest[0].startsWith("index ")) fail("the proof needs an 'index <n>' line");
    const index = parseDecimal(rest[0].slice(6), "entry index");
    if (rest.length - 1 > 64) fail("an inclusion proof has at most 64 hashes");
    const path = rest.slice(1).map((l) => parseHash(l, "proof hash line"));
    return { index, path, checkpoint, extra };
  }

  function parseConsistencyProof(text) {
    const [head, checkpoint] = splitProof(text);
    if (!head[0].startsWith("old ")) fail("a consistency proof starts with an 'old <size>' line");
    const oldSize = parseDecimal(head[0].slice(4), "old tree size");
    if (head.length - 1 > 63) fail("a consistency proof has at most 63 hashes");
    return { oldSize, path: head.slice(1).map((l) => parseHash(l, "proof hash line")), checkpoint };
  }

  /** The chain line (leaf) of `receipt` at the proof's index with the proof's prev. */
  function entryLeaf(receipt, proof) {
    if (proof.extra === null || proof.extra.length !== 32) {
      fail("this proof carries no entry prev hash (extra line): it is not a heso entry proof");
    }
    return HV.concatBytes(
      `{"prev":"${HV.toHex(proof.extra)}","receipt":`,
      HV.canonicalBytes(receipt),
      `,"seq":${proof.index}}`,
    );
  }

  async function trustKeys(trust) {
    const logKeys = await Promise.all((trust.log_keys || []).map(parseVkey));
    const witnesses = await Promise.all((trust.witnesses || []).map(parseVkey));
    return { logKeys, witnesses, threshold: trust.threshold || 0, origin: trust.origin ?? null };
  }

  const outcome = async (work) => {
    try {
      return { ok: true, ...(await work()) };
    } catch (exc) {
      if (exc instanceof TransparencyError || exc instanceof HV.JsonError) {
        return { ok: false, reason: exc.message };
      }
      throw exc;
    }
  };

  /** Check a checkpoint note; trust = {log_keys: [vkey], witnesses: [vkey], threshold, origin}. */
  function verifyCheckpoint(note, trust) {
    return outcome(async () => {
      const t = await trustKeys(trust);
      const cp = await openCheckpoint(note, t.logKeys, t);
      return { origin: cp.checkpoint.origin, size: Number(cp.checkpoint.size), cosigned_by: cp.cosigners };
    });
  }

  /** A receipt (its JSON text) is entry `index` of the log under the proof's checkpoint. */
  function verifyReceiptInclusion(receiptText, proofText, trust) {
    return outcome(async () => {
      const t = await trustKeys(trust);
      const receipt = HV.loadsStrict(receiptText);
      const proof = parseInclusionProof(proofText);
      const leaf = await leafHash(entryLeaf(receipt, proof));
      const cp = await openCheckpoint(utf8.encode(proof.checkpoint), t.logKeys, t);
      await verifyInclusion(leaf, proof.index, cp.checkpoint.size, proof.path, cp.checkpoint.root);
      return { index: Number(proof.index), size: Number(cp.checkpoint.size), cosigned_by: cp.cosigners };
    });
  }

  /** The consistency proof file `newText` proves its checkpoint extends checkpoint `oldNote`. */
  function verifyConsistencyProof(oldNote, newText, trust) {
    return outcome(async () => {
      const t = await trustKeys(trust);
      const older = (await openCheckpoint(oldNote, t.logKeys)).checkpoint;
      const proof = parseConsistencyProof(newText);
      if (older.size !== proof.oldSize) fail(`the proof starts at size ${proof.oldSize}, the old checkpoint has ${older.size}`);
      const newer = await openCheckpoint(utf8.encode(proof.checkpoint), t.logKeys, { ...t, origin: older.origin });
      const cp = newer.checkpoint;
      if (cp.size < older.size) fail(`the newer checkpoint has ${cp.size} entries, fewer than the older ${older.size}: the log was rolled back`);
      if (older.size === 0n) {
        if (proof.path.length) fail("a consistency proof from the empty tree must be empty");
      } else {
        try {
          await verifyConsistency(older.size, cp.size, older.root, cp.root, proof.path);
        } catch (exc) {
          if (!(exc instanceof TransparencyError)) throw exc;
          fail(`the checkpoint at size ${cp.size} does not extend the one at size ${older.size} (the log was rewritten or forked): ${exc.message}`);
        }
      }
      return { old_size: Number(older.size), size: Number(cp.size), cosigned_by: newer.cosigners };
    });
  }

  root.HesoTransparency = {
    TLOG_PROOF_V1, TransparencyError, sha256, leafHash, nodeHash, verifyInclusion,
    verifyConsistency, parseVkey, parseNote, openNote, parseCheckpoint, openCheckpoint,
    parseInclusionProof, parseConsistencyProof, entryLeaf, verifyCheckpoint,
    verifyReceiptInclusion, verifyConsistencyProof,
  };
})(globalThis);
