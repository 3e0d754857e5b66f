/*
 * verifier.js: the offline verifier page. Reads dropped, chosen or pasted receipts and chains
 * locally (FileReader, never the network) and shows heso's verdict with the reason, the
 * signatures and, for a chain, the chain drawn with its first broken entry.
 */
(function () {
  "use strict";
  const V = globalThis.HesoVerify;
  const T = globalThis.HesoTransparency;
  const { h, add, clear, short, verdictBadge, pre, chainPicture } = globalThis.HesoUI;
  const $ = (id) => document.getElementById(id);
  const utf8 = new TextEncoder();

  /** The trust inputs, read as heso verify reads --trust and heso.toml. */
  function options() {
    return V.trustOptions(V.trustFromToml($("approvers").value, V.parsePinnedKeys($("trust").value)));
  }

  /** What a transparency file is: "proof", "consistency", "checkpoint" or null. */
  function sniffTransparency(bytes) {
    const start = new TextDecoder().decode(bytes.subarray(0, 64));
    if (start.startsWith(T.TLOG_PROOF_V1 + "\n")) return "proof";
    if (/^old (0|[1-9][0-9]*)\n/.test(start)) return "consistency";
    const text = new TextDecoder().decode(bytes.subarray(0, 4096));
    if (!text.startsWith("{") && !text.startsWith("[") && text.includes("\n\n\u2014 ")) return "checkpoint";
    return null;
  }

  /** The log and witness keys (vkeys, one per line: type 0x01 log keys, 0x04 witnesses) and
   * the threshold (blank: every witness listed), as heso verify takes --key, --witness and
   * --threshold. */
  async function transparencyTrust() {
    const lines = $("vkeys").value.split("\n").map((l) => l.trim()).filter(Boolean);
    const keys = await Promise.all(lines.map((l) => T.parseVkey(l)));
    const log_keys = keys.filter((k) => k.type === 1).map((k) => k.vkey);
    const witnesses = keys.filter((k) => k.type === 4).map((k) => k.vkey);
    const raw = $("threshold").value.trim();
    const threshold = raw === "" ? witnesses.length : Number(raw);
    if (!Number.isInteger(threshold) || threshold < 0 || threshold > witnesses.length) {
      throw new Error(`a threshold of ${raw} needs that many witness keys (${witnesses.length} given)`);
    }
    if (!log_keys.length) {
      throw new Error("paste the log's verifier key (vkey, from `heso checkpoint`) under " +
        "Trust to check checkpoints and proofs");
    }
    return { log_keys, witnesses, threshold };
  }

  /** Sort inputs into a chain (receipts.jsonl + head + torn), single receipts, and
   * transparency files (checkpoints, inclusion and consistency proofs). */
  function classify(inputs) {
    const out = { chain: null, head: null, torn: null, receipts: [], proofs: [], consistency: [], checkpoints: [] };
    for (const item of inputs) {
      const name = item.name.toLowerCase();
      const tkind = sniffTransparency(item.bytes);
      const kind = name.endsWith(".torn") ? "torn" : V.sniff(item.bytes);
      if (tkind === "proof") out.proofs.push(item);
      else if (tkind === "consistency") out.consistency.push(item);
      else if (tkind === "checkpoint") out.checkpoints.push(item);
      else if (kind === "torn") out.torn = item.bytes;
      else if (kind === "head" || name === "chain.head.json") out.head = item.bytes;
      else if (kind === "chain" || name.endsWith(".jsonl")) out.chain = item;
      else out.receipts.push(item);
    }
    return out;
  }

  async function run(inputs) {
    const result = clear($("result"));
    document.body.dataset.state = "verifying";
    try {
      const opts = options();
      const sorted = classify(inputs);
      if (!sorted.chain && sorted.head && !sorted.receipts.length) {
        add(result, h("p", { class: "hint" },
          "That is a chain head (chain.head.json): drop it together with receipts.jsonl."));
      }
      if (sorted.chain) {
        const headText = $("head").value.trim();
        const head = sorted.head || (headText ? utf8.encode(headText) : null);
        add(result, await chainView(sorted.chain, head, sorted.torn, opts));
      }
      for (const item of sorted.receipts) add(result, await receiptView(item, opts));
      if (sorted.proofs.length || sorted.consistency.length || sorted.checkpoints.length) {
        const trust = await transparencyTrust();
        for (const view of await transparencyViews(sorted, trust)) add(result, view);
      }
    } catch (exc) {
      add(result, h("div", { class: "verdict bad", "data-verdict": "Error" },
        h("span", { class: "verdict-code" }, "Could not verify"),
        h("span", { class: "verdict-reason" }, String(exc && exc.message ? exc.message : exc))));
    }
    document.body.dataset.state = "done";
  }

  /** As heso verify warns: a valid verdict without a pinned key proves integrity, not origin. */
  function unpinned(v, opts) {
    return v.ok && !opts.trustedOperators
      ? h("p", { class: "hint unpinned" }, "No operator key is pinned, so this proves the " +
        "evidence is intact, not who wrote it (a store re-signed wholesale under another key " +
        "would also pass): paste heso.toml with its [heso] operator_keys, or pin the key.")
      : null;
  }

  function row(label, ...value) {
    return h("tr", {}, h("th", {}, label), h("td", {}, ...value));
  }

  async function receiptView(item, opts) {
    const v = await V.verifyReceiptBytes(item.bytes, opts);
    const card = h("section", { class: "card receipt-result", "data-file": item.name });
    add(card, h("h2", {}, item.name), verdictBadge(v.toJSON()), unpinned(v, opts));
    const r = v.receipt;
    const c = r && typeof r === "object" && r.content && typeof r.content === "object" ? r.content : null;
    if (c) {
      const a = c.action && typeof c.action === "object" ? c.action : {};
      const p = c.policy && typeof c.policy === "object" ? c.policy : {};
      add(card, h("table", { class: "facts" },
        row("action", h("code", {}, String(a.verb ?? "?")), " ", String(a.tool_name ?? "?")),
        row("decision", h("span", { class: `decision ${p.decision}` }, String(p.decision ?? "?")),
          " by rule ", h("code", {}, String(p.rule_id ?? "?"))),
        row("workflow / account", `${a.workflow ?? "?"} / ${a.account ?? "?"}`),
        row("captured at", String(c.captured_at ?? "?")),
        row("action_hash", h("code", { class: "hash" }, String(c.action_hash ?? ""))),
        row("operator", h("code", { class: "hash" }, String(c.agent_identity ?? ""))),
        r.multi_approval ? row("approval", `group ${r.multi_approval.group}, ` +
          `${r.multi_approval.threshold} of its members`) : null));
    }
    if (v.checks && v.checks.length) {
      add(card, h("h3", {}, "What was checked"), h("ul", { class: "checks" },
        v.checks.map((k) => h("li", { class: k.ok ? "ok" : "bad" },
          k.what === "action_hash"
            ? `BLAKE3 of the RFC 8785 canonical content: ${short(k.actual, 16)}… ` +
              (k.ok ? "matches" : `differs from the claimed ${short(k.claimed, 16)}…`)
            : `${k.what} signature by ${short(k.key, 20)}…: ` +
              (k.ok ? "verifies" : "does not verify") + (k.note ? ` (${k.note})` : "")))));
    }
    if (c && c.action && c.action.fields) {
      add(card, h("details", { class: "fields", open: true }, h("summary", {}, "fields"),
        pre(c.action.fields)));
    }
    if (r !== undefined) {
      add(card, h("details", {}, h("summary", {}, "the whole receipt"), pre(r)));
    }
    return card;
  }

  function transparencyCard(kind, title, r) {
    const card = h("section", { class: `card ${kind}-result`, "data-file": title });
    const j = r.ok ? { verdict: "Valid", ok: true } : { verdict: "NotInLog", ok: false, reason: r.reason };
    add(card, h("h2", {}, title), verdictBadge(j));
    if (r.ok) {
      const parts = [];
      if (r.index !== undefined) parts.push(`entry ${r.index} of the log's ${r.size} entries`);
      else if (r.old_size !== undefined) parts.push(`the log at ${r.size} entries extends the checkpoint at ${r.old_size}`);
      else parts.push(`checkpoint of ${r.origin} at ${r.size} entries`);
      if (r.cosigned_by && r.cosigned_by.length) parts.push(`cosigned by ${r.cosigned_by.join(", ")}`);
      add(card, h("p", { class: "summary" }, parts.join("; ")));
    }
    return card;
  }

  /** Inclusion (each proof against each receipt given), consistency (each checkpoint given
   * against each consistency proof), or the checkpoints alone. */
  async function transparencyViews(sorted, trust) {
    const views = [];
    const text = (item) => new TextDecoder().decode(item.bytes);
    for (const proof of sorted.proofs) {
      if (!sorted.receipts.length) {
        views.push(h("p", { class: "hint" }, `${proof.name} is an inclusion proof: drop it with the receipt it proves.`));
      }
      for (const receipt of sorted.receipts) {
        const r = await T.verifyReceiptInclusion(receipt.bytes, text(proof), trust);
        views.push(transparencyCard("inclusion", `${receipt.name} in ${proof.name}`, r));
      }
    }
    for (const cons of sorted.consistency) {
      if (!sorted.checkpoints.length) {
        views.push(h("p", { class: "hint" }, `${cons.name} is a consistency proof: drop it with the older checkpoint.`));
      }
      for (const old of sorted.checkpoints) {
        const r = await T.verifyConsistencyProof(old.bytes, text(cons), trust);
        views.push(transparencyCard("consistency", `${cons.name} extends ${old.name}`, r));
      }
    }
    if (!sorted.consistency.length) {
      for (const cp of sorted.checkpoints) {
        views.push(transparencyCard("checkpoint", cp.name, await T.verifyCheckpoint(cp.bytes, trust)));
      }
    }
    return views;
  }

  async function chainView(item, headBytes, tornBytes, opts) {
    const v = await V.verifyChain({ chain: item.bytes, head: headBytes, torn: tornBytes }, opts);
    const head = headBytes ? await V.readHead(headBytes) : null;
    const card = h("section", { class: "card chain-result", "data-file": item.name });
    const j = v.toJSON();
    add(card, h("h2", {}, item.name + (headBytes ? " + chain.head.json" : "")), verdictBadge(j),
      unpinned(v, opts));
    if (v.ok) {
      const d = v.details;
      add(card, h("p", { class: "summary" },
        `${d.entries} entries, ${d.sealed} sealed by the signed head` +
          (d.unsealed ? `, ${d.unsealed} after it (unsealed)` : "") +
          (d.l1_receipts ? `, ${d.l1_receipts} co-signed by approvers (L1)` : "") +
          (d.torn_tails_recovered ? `, ${d.torn_tails_recovered} torn tail(s) recovered` : "")));
    } else if (v.entry !== null) {
      add(card, h("p", { class: "summary" }, `First broken entry: #${v.entry}`));
    }
    add(card, h("div", { class: "picture" }, chainPicture({
      entries: v.entries, verdict: j,
      head: head && !(head instanceof V.Verdict) ? head : null,
    })));
    return card;
  }

  async function readFiles(fileList) {
    const items = [];
    for (const f of fileList) items.push({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) });
    return items;
  }

  /** Reading files is asynchronous: say so at once, so a stale "done" is never mistaken for
   * the verdict on the files just given. */
  async function runFiles(files) {
    document.body.dataset.state = "verifying";
    await run(await readFiles(files));
  }

  function init() {
    const drop = $("drop");
    $("pick").addEventListener("click", () => $("files").click());
    $("files").addEventListener("change", async (e) => {
      await runFiles(e.target.files);
      e.target.value = "";
    });
    drop.addEventListener("dragover", (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", async (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      await runFiles(e.dataTransfer.files);
    });
    $("verify").addEventListener("click", async () => {
      let text = $("paste").value;
      if (!text.trim()) return;
      const chain = V.sniff(utf8.encode(text)) === "chain";
      // A text box drops the final newline a receipts.jsonl ends with; put it back.
      if (chain && !text.endsWith("\n")) text += "\n";
      await run([{ name: chain ? "pasted receipts.jsonl" : "pasted receipt", bytes: utf8.encode(text) }]);
    });
    if (!globalThis.crypto || !crypto.subtle) {
      $("result").append(h("p", { class: "hint bad" },
        "WebCrypto is unavailable: open this file directly (file:) or from https: or localhost."));
    }
    document.body.dataset.state = "ready";
  }

  init();
})();
