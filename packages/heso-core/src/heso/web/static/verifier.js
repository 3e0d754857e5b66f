/*
 * verifier.js: the offline verifier page. Reads dropped, chosen or pasted receipts and chains
 * locally (FileReader, never the network) and shows heso's verdict with the reason, the
 * signatures and, for a chain, the chain drawn with its first broken entry.
 */
(function () {
  "use strict";
  const V = globalThis.HesoVerify;
  const { h, add, clear, short, verdictBadge, pre, chainPicture } = globalThis.HesoUI;
  const $ = (id) => document.getElementById(id);
  const utf8 = new TextEncoder();

  /** The trust inputs, read as heso verify reads --trust and heso.toml. */
  function options() {
    return V.trustOptions(V.trustFromToml($("approvers").value, V.parsePinnedKeys($("trust").value)));
  }

  /** Sort inputs into a chain (receipts.jsonl + head + torn) and single receipts. */
  function classify(inputs) {
    const out = { chain: null, head: null, torn: null, receipts: [] };
    for (const item of inputs) {
      const name = item.name.toLowerCase();
      const kind = name.endsWith(".torn") ? "torn" : V.sniff(item.bytes);
      if (kind === "torn") out.torn = item.bytes;
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
