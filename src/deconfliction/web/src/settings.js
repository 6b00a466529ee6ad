// The signing key panel: load an Ed25519 seed (kept in sessionStorage only), show its public key and whether the
// hub knows it, and register it with the party.

import { $ } from "./dom.js";
import { t } from "./i18n.js";
import { loadSigner, normaliseSeed, registerKey, seedStore } from "./signing.js";

export class SettingsPanel {
  constructor(ctx) {
    this.ctx = ctx;
    this.problem = "";
    this.pending = null; // the key being loaded: an acknowledgement waits for it
    const input = $("#sign-key");
    $("#sign-key-form").addEventListener("submit", (e) => e.preventDefault());
    $("#sign-key-load").addEventListener("click", () => this.load());
    // Pasting a whole key loads it: no extra step between pasting and signing.
    input.addEventListener("input", () => {
      if (/^\s*(0x)?[0-9a-fA-F]{64}\s*$/.test(input.value)) this.load();
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        this.load();
      }
    });
    $("#sign-key-clear").addEventListener("click", () => this.forget());
    $("#register-key").addEventListener("click", () => this.register());
  }

  async restore() {
    if (!seedStore.get()) {
      this.render();
      return;
    }
    await this.activate();
  }

  load() {
    this.pending = this.loadNow().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  async loadNow() {
    const input = $("#sign-key");
    try {
      seedStore.set(normaliseSeed(input.value));
    } catch {
      this.problem = t("sign.bad_seed");
      this.render();
      return;
    }
    input.value = "";
    await this.activate();
  }

  async activate() {
    this.problem = "";
    try {
      this.ctx.signer = await loadSigner(this.ctx.me.id);
    } catch (err) {
      this.ctx.signer = null;
      seedStore.clear();
      this.problem = err.message === "no-ed25519" ? t("sign.unsupported") : err.message;
    }
    this.render();
    this.ctx.inbox?.render();
  }

  forget() {
    seedStore.clear();
    this.ctx.signer = null;
    this.problem = "";
    this.render();
    this.ctx.inbox?.render();
  }

  async register() {
    const signer = this.ctx.signer;
    if (!signer) return;
    try {
      const key = await registerKey(this.ctx.me.id, signer.publicKeyHex);
      signer.keyId = key.key_id;
      signer.registered = true;
      this.problem = "";
    } catch (err) {
      this.problem = err.message;
    }
    this.render();
  }

  render() {
    const out = $("#sign-key-state");
    const signer = this.ctx.signer;
    $("#register-key").hidden = !signer || signer.registered;
    out.classList.toggle("error", Boolean(this.problem));
    if (this.problem) {
      out.textContent = this.problem;
      return;
    }
    if (!signer) {
      out.textContent = t("sign.none");
      return;
    }
    out.textContent = signer.registered
      ? t("sign.loaded", { key: signer.publicKeyHex, id: signer.keyId })
      : t("sign.unregistered", { key: signer.publicKeyHex });
  }
}
