// Signed acknowledgements, in the browser: an Ed25519 seed (64 hex digits, kept in sessionStorage only) signs
// SHA-256("deconfliction-ack-v1\n" + canonical JSON {...}) exactly as core/record.py's ack_message/ack_digest do.

import { api } from "./api.js";

const SEED_KEY = "deconfliction.signkey";
// PKCS#8 DER prefix of an Ed25519 private key (RFC 8410): the 32-byte seed follows.
const PKCS8_PREFIX = "302e020100300506032b657004220420";
export const ACK_STATEMENT = "received and understood";

const hexToBytes = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
const bytesToHex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const b64urlToHex = (s) => bytesToHex(Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)));

export const seedStore = {
  get: () => sessionStorage.getItem(SEED_KEY),
  set: (hex) => sessionStorage.setItem(SEED_KEY, hex),
  clear: () => sessionStorage.removeItem(SEED_KEY),
};

export function normaliseSeed(text) {
  const hex = text.trim().toLowerCase().replace(/^0x/, "");
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error("bad-seed");
  return hex;
}

/** {privateKey, publicKeyHex} from a 64-hex seed. Throws "no-ed25519" where the browser lacks WebCrypto Ed25519. */
export async function importSeed(seedHex) {
  let privateKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", hexToBytes(PKCS8_PREFIX + seedHex), { name: "Ed25519" }, true, [
      "sign",
    ]);
  } catch (err) {
    if (err.name === "NotSupportedError") throw new Error("no-ed25519");
    throw err;
  }
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  return { privateKey, publicKeyHex: b64urlToHex(jwk.x) };
}

/**
 * The bytes a party signs the digest of: context line + canonical JSON (sorted keys, no whitespace, UTF-8 — the
 * keys below are written in sorted order, and JSON.stringify of these strings and integers matches orjson).
 */
export function ackMessage({ acknowledgedAtMs, noticeLeafHash, objectId, partyId, revision }) {
  const json = JSON.stringify({
    acknowledged_at_ms: acknowledgedAtMs,
    notice_leaf_hash: noticeLeafHash,
    object_id: objectId,
    party_id: partyId,
    revision,
    statement: ACK_STATEMENT,
  });
  return new TextEncoder().encode(`deconfliction-ack-v1\n${json}`);
}

export async function ackDigest(fields) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", ackMessage(fields)));
}

/** The acknowledgement body's signing fields: {signature, signed_at, key_id?}. */
export async function signAck(signer, fields) {
  const digest = await ackDigest(fields);
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, signer.privateKey, digest);
  const body = { signature: bytesToHex(signature), signed_at: new Date(fields.acknowledgedAtMs).toISOString() };
  if (signer.keyId) body.key_id = signer.keyId;
  return body;
}

/** The loaded signer (its key id looked up among the party's registered keys), or null without a seed. */
export async function loadSigner(partyId) {
  const seed = seedStore.get();
  if (!seed) return null;
  const signer = await importSeed(seed);
  signer.keyId = null;
  signer.registered = false;
  try {
    const { keys } = await api(`/v1/parties/${encodeURIComponent(partyId)}/keys`);
    const mine = keys.find((k) => k.public_key === signer.publicKeyHex && !k.revoked_at);
    if (mine) {
      signer.keyId = mine.key_id;
      signer.registered = true;
    }
  } catch {
    // unknown: the hub will say so when an acknowledgement is sent
  }
  return signer;
}

export async function registerKey(partyId, publicKeyHex) {
  return api(`/v1/parties/${encodeURIComponent(partyId)}/keys`, {
    method: "POST",
    body: { public_key: publicKeyHex },
    idempotent: true,
  });
}
