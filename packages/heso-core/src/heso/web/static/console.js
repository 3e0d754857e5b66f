/*
 * console.js: the heso console in the browser. Lists receipts (filters, a timeline by
 * decision), shows a receipt with its verification, draws the chain, and lets an approver
 * approve or deny with a key held by this browser: an Ed25519 key made by WebCrypto as
 * non-extractable and kept in IndexedDB, so its private half never leaves the browser.
 */
(function () {
  "use strict";
  const V = globalThis.HesoVerify;
  const { h, add, clear, short, escapeText, verdictBadge, pre, chainPicture, timelinePicture, legend } = globalThis.HesoUI;
  const view = document.getElementById("view");
  const state = { csrf: null, session: null, key: null, filters: {}, page: 0, showAll: false,
    onlyMine: false, slaOrder: 1, openApproval: null, chainOffset: null };

  // ------------------------------------------------------------------------------ HTTP

  async function api(path, body) {
    const init = { credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = state.csrf;
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.message || `${response.status} ${response.statusText}`);
    return data;
  }

  // ------------------------------------------------------------------------------ the browser key

  const DB_NAME = "heso-console", STORE = "keys", SLOT = "approver";

  function openDb() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function withStore(mode, fn) {
    const db = await openDb();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const req = fn(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(req.result);
        tx.onerror = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  const loadKey = () => withStore("readonly", (s) => s.get(SLOT));
  const forgetKey = () => withStore("readwrite", (s) => s.delete(SLOT));

  /** A new Ed25519 key pair whose private key cannot be exported, kept in IndexedDB. */
  async function createKey() {
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const record = {
      privateKey: pair.privateKey,
      publicKey: pair.publicKey,
      public: "ed25519:" + V.toHex(raw),
      created: new Date().toISOString(),
    };
    await withStore("readwrite", (s) => s.put(record, SLOT));
    return record;
  }

  async function sign(bytes) {
    const sig = await crypto.subtle.sign({ name: "Ed25519" }, state.key.privateKey, bytes);
    return V.toHex(new Uint8Array(sig));
  }

  /** Who this browser's key is in heso.toml: {name, groups: [group names]} or null. */
  function registration() {
    if (!state.key || !state.session) return null;
    let name = null;
    const groups = [];
    for (const [g, def] of Object.entries(state.session.approvers)) {
      for (const [member, key] of Object.entries(def.members)) {
        if (key === state.key.public) {
          name = member;
          groups.push(g);
        }
      }
    }
    return name ? { name, groups } : null;
  }

  /**
   * Approve or deny: the browser signs the approval statement (heso.receipt.approval_message)
   * and the decision record, exactly what `heso approve` signs with a key file.
   */
  async function decide(actionHash, decision, reason, wantedGroup) {
    const q = encodeURIComponent(state.key.public);
    const ctx = await api(`/api/approvals/${actionHash}?public_key=${q}`);
    const signer = ctx.signer;
    if (!signer.approver) throw new Error("this browser's key is not registered in heso.toml");
    const open = signer.groups.filter((g) => !g.decided);
    const group = open.find((g) => g.group === wantedGroup) || open[0];
    if (!group) {
      throw new Error(`${signer.approver} has already decided, or is in no group that may decide`);
    }
    const approvalSignature = await sign(
      V.approvalMessage(actionHash, group.group, group.threshold, decision));
    const record = {
      kind: "decision", by: "approver", decision, action_hash: actionHash, group: group.group,
      threshold: group.threshold, approver: signer.approver, at: ctx.at,
      approval_signature: approvalSignature,
    };
    if (reason) record.reason = reason;
    const part = {
      record,
      signer: {
        key_id: "approver:" + signer.approver, public_key: state.key.public,
        signature: await sign(V.recordMessage(record)),
      },
    };
    return api(`/api/approvals/${actionHash}/decision`, { part });
  }

  // ------------------------------------------------------------------------------ views

  const debounce = (fn, ms) => {
    let t = null;
    return (...args) => {
      clearTimeout(t);
      t = setTimeout(() => fn(...args), ms);
    };
  };

  function flash(box, ok, text) {
    add(clear(box), h("div", { class: `flash ${ok ? "ok" : "bad"}`, role: "status" }, text));
  }

  function loaded(name) {
    view.dataset.loaded = name;
  }

  function facts(rows) {
    return h("table", { class: "facts" }, rows.filter(Boolean).map(([k, ...v]) =>
      h("tr", {}, h("th", {}, k), h("td", {}, ...v))));
  }

  /** The trust inputs heso verify reads from this project (pinned keys, approvers). */
  function browserOptions() {
    return V.trustOptions(state.session.trust);
  }

  // -- receipts

  const FILTER_KEYS = ["q", "verb", "tool", "decision", "outcome", "workflow", "account", "host",
    "last", "since", "until"];
  const PAGE = 100;
  const RANGES = [["", "any time"], ["1h", "last hour"], ["24h", "last 24 h"], ["7d", "last 7 days"],
    ["30d", "last 30 days"]];
  const OUTCOME_PILL = { ran: "allow", approved: "allow", blocked: "block", denied: "block",
    expired: "block", waiting: "require_approval", unreadable: "block" };

  /** The filters (and page) as a query string: the same in the address bar and the API. */
  function filterParams(withPage) {
    const params = new URLSearchParams();
    for (const k of FILTER_KEYS) if (state.filters[k]) params.set(k, state.filters[k]);
    if (withPage && state.page) params.set("page", String(state.page));
    return params;
  }

  /** Keep the address bar in step with the filters, so a view can be shared or bookmarked. */
  function syncAddress() {
    const q = filterParams(true).toString();
    const path = location.hash.replace(/^#/, "").split("?")[0] || "receipts";
    const want = `#${path.startsWith("entry/") ? path : "receipts"}${q ? "?" + q : ""}`;
    if (location.hash !== want && !(want === "#receipts" && !location.hash)) {
      history.replaceState(null, "", want);
    }
  }

  async function showReceipts(selected) {
    clear(view);
    const timeline = h("div", { class: "picture" });
    const count = h("span", { class: "muted", id: "receipt-count" });
    const table = h("div", {});
    const pager = h("div", { class: "pager row", id: "pager" });
    const indexing = h("p", { class: "hint", id: "indexing", hidden: true });
    const detail = h("div", { id: "detail" });
    const filterBox = h("div", { class: "filters" });
    const exports = h("div", { class: "row exports" });
    add(view,
      h("section", { class: "card" }, h("h2", {}, "Actions over time"), legend(), timeline),
      detail,
      h("section", { class: "card" }, h("h2", {}, "Receipts ", count), filterBox, exports,
        indexing, table, pager),
    );
    const f = state.filters;
    const changed = () => { state.page = 0; refresh(); };
    const input = (name, placeholder) => {
      const el = h("input", { name, placeholder, value: f[name] || "", type: "search" });
      el.addEventListener("input", debounce(() => { f[name] = el.value; changed(); }, 200));
      return el;
    };
    const selects = {};
    const select = (name, label) => {
      const el = h("select", { name, "aria-label": label }, h("option", { value: "" }, `any ${label}`));
      el.addEventListener("change", () => { f[name] = el.value; changed(); });
      selects[name] = el;
      return el;
    };
    const time = (name) => {
      const el = h("input", { name, type: "datetime-local", value: f[name] || "" });
      el.addEventListener("change", () => { f[name] = el.value; changed(); });
      return el;
    };
    const since = time("since");
    const range = h("select", { name: "last", "aria-label": "time range" },
      RANGES.map(([v, label]) => h("option", { value: v }, label)));
    range.value = f.last || "";
    since.disabled = !!f.last;
    range.addEventListener("change", () => {
      f.last = range.value;
      since.disabled = !!f.last;
      changed();
    });
    add(filterBox,
      input("q", "search hash, tool, rule, fields…"),
      select("verb", "verb"), select("tool", "tool"), select("decision", "decision"),
      select("outcome", "outcome"), select("workflow", "workflow"), select("account", "account"),
      select("host", "host"),
      h("div", { class: "times" }, range, "or from", since, "to", time("until"), "(UTC)"),
    );
    const exportLink = (format) => h("a", { class: "button secondary", id: `export-${format}`,
      download: `heso-receipts.${format}` }, `Export ${format.toUpperCase()}`);
    const jsonl = exportLink("jsonl"), csv = exportLink("csv");
    add(exports, jsonl, csv, h("span", { class: "hint" }, "the filtered receipts, every page"));

    let generation = 0;
    async function refresh() {
      const mine = ++generation;
      syncAddress();
      const params = filterParams(false);
      jsonl.href = "/api/export?" + new URLSearchParams([...params, ["format", "jsonl"]]);
      csv.href = "/api/export?" + new URLSearchParams([...params, ["format", "csv"]]);
      const offset = (state.page || 0) * PAGE;
      const data = await api(`/api/receipts?${params}&limit=${PAGE}&offset=${offset}`);
      if (mine !== generation) return;
      for (const [name, el] of Object.entries(selects)) {
        const keep = f[name] || "";
        add(clear(el), h("option", { value: "" }, `any ${name}`),
          data.facets[name].map((v) => h("option", { value: v }, v)));
        el.value = keep;
      }
      // the host column: only a store that records hosts (PostgreSQL) has any
      const withHost = data.facets.host.length > 0;
      selects.host.hidden = !withHost && !f.host;
      count.textContent = `${data.matched} of ${data.total}`;
      const checking = data.index_check === "checking";
      indexing.hidden = data.complete && !checking;
      indexing.dataset.indexCheck = data.index_check;
      indexing.textContent = !data.complete ? `Indexing the store: ${data.indexed} of ` +
        `${data.total} entries so far. The newest receipts are listed; filters and the ` +
        "timeline cover the entries indexed so far." : checking ? "The saved console index " +
        "is being checked against the store: filtered results and the timeline may still " +
        "change. Exports wait for the check." : "";
      showIndexBanner(data);
      const body = h("tbody", {}, data.rows.map((r) => {
        const tr = h("tr", { class: "clickable", "data-seq": r.seq, "data-hash": r.action_hash },
          h("td", {}, `#${r.seq}`),
          h("td", {}, r.captured_at.replace("T", " ").replace("Z", "")),
          h("td", {}, h("code", {}, r.verb), " ", r.tool),
          h("td", {}, h("span", { class: `pill ${r.decision}` }, r.decision)),
          h("td", { class: "outcome" }, h("span", { class: `pill ${OUTCOME_PILL[r.outcome] || ""}`,
            "data-outcome": r.outcome }, r.outcome)),
          h("td", {}, r.workflow), h("td", {}, r.account),
          withHost ? h("td", { class: "host", title: "unsigned: recorded by the store" }, r.host) : null,
          h("td", {}, r.approvers ? h("span", { class: "pill l1" }, `co-signed ×${r.approvers}`) : ""),
          h("td", {}, h("code", {}, short(r.action_hash))));
        tr.addEventListener("click", () => {
          const q = filterParams(true).toString();
          location.hash = `#entry/${r.seq}${q ? "?" + q : ""}`;
        });
        return tr;
      }));
      add(clear(table), h("table", { class: "list" },
        h("thead", {}, h("tr", {}, ["entry", "captured (UTC)", "action", "decision", "outcome",
          "workflow", "account", withHost ? "host (unsigned)" : null, "approvers", "action_hash"]
          .filter((c) => c !== null).map((c) => h("th", {}, c)))), body));
      if (!data.rows.length) add(table, h("p", { class: "hint" }, "No receipt matches."));
      const last = Math.max(0, Math.ceil(data.matched / PAGE) - 1);
      const go = (page) => { state.page = page; refresh(); };
      const button = (label, page, disabled, cls) => {
        const b = h("button", { type: "button", class: `secondary ${cls}`, disabled }, label);
        b.addEventListener("click", () => go(page));
        return b;
      };
      const page = state.page || 0;
      add(clear(pager),
        button("« newest", 0, page === 0, "first"), button("‹ newer", page - 1, page === 0, "prev"),
        h("span", { class: "muted", id: "page-info" }, data.rows.length
          ? `${offset + 1}–${offset + data.rows.length} of ${data.matched}` : `0 of ${data.matched}`),
        button("older ›", page + 1, page >= last, "next"), button("oldest »", last, page >= last, "last"));
      loaded("receipts");
      api(`/api/timeline?${params}`).then((tl) => {
        if (mine === generation) add(clear(timeline), timelinePicture(tl));
      }).catch(() => {});
      if (!data.complete || checking) {
        setTimeout(() => { if (mine === generation && document.body.contains(table)) refresh(); }, 2000);
      }
    }
    await refresh();
    if (selected !== undefined) await showEntry(detail, selected);
  }

  async function showEntry(box, seq) {
    const data = await api(`/api/entries/${seq}`);
    clear(box);
    const card = h("section", { class: "card entry-detail", "data-seq": seq });
    add(box, card);
    if (data.error) {
      add(card, h("h2", {}, `Entry #${seq}`), h("p", { class: "hint bad" }, data.error));
      return;
    }
    const r = data.receipt, c = r.content, a = c.action, p = c.policy;
    add(card, 
      h("h2", {}, `Entry #${seq}: `, h("code", {}, a.verb), " ", a.tool_name),
      verdictBadge(data.verdict),
      facts([
        ["decision", h("span", { class: `decision ${p.decision}` }, p.decision), " by rule ",
          h("code", {}, p.rule_id), p.rule_display ? ` (${p.rule_display})` : ""],
        ["workflow / account", `${a.workflow} / ${a.account}`],
        a.agent ? ["agent", a.agent] : null,
        ["captured at", c.captured_at],
        data.row.host ? ["host", data.row.host, h("span", { class: "muted" },
          " (unsigned: recorded by the store, not part of the receipt)")] : null,
        ["action_hash", h("code", { class: "hash" }, c.action_hash)],
        ["operator", h("code", { class: "hash" }, c.agent_identity)],
        ["signatures", r.signatures.map((s) => h("div", {}, h("code", {}, s.key_id), " ",
          h("span", { class: "muted" }, short(s.public_key, 24) + "…")))],
        r.multi_approval ? ["approval", `group ${r.multi_approval.group}, ` +
          `${r.multi_approval.threshold} of its members`] : null,
        ["chain", data.chain.verdict
          ? `entry #${seq} · ${data.chain.status} · chain verdict ${data.chain.verdict.summary}`
          : `entry #${seq} · the chain is being verified`],
        data.approval ? ["approval flow", h("a", { href: "#approvals" }, "see Approvals")] : null,
      ]),
    );
    const browserCheck = h("p", { class: "hint", "data-browser-verdict": "" });
    add(card, browserCheck);
    V.verifyReceipt(r, browserOptions()).then((v) => {
      browserCheck.dataset.browserVerdict = v.code;
      browserCheck.textContent = escapeText(
        `Verified again in this browser (WebCrypto): ${v.toString()}`);
    });
    const blob = new Blob([JSON.stringify(r, null, 2) + "\n"], { type: "application/json" });
    add(card, 
      h("details", { open: true }, h("summary", {}, "fields"), pre(a.fields)),
      h("details", {}, h("summary", {}, "the whole receipt"), pre(r)),
      h("div", { class: "row" }, h("a", {
        class: "button", href: URL.createObjectURL(blob), download: `receipt-${short(c.action_hash)}.json`,
      }, "Download receipt"), h("span", { class: "hint" },
        "check it anywhere with `heso verify receipt.json` or the offline verifier page")),
    );
    const proofBox = h("div", { class: "proof", "data-proof": "" }, h("h3", {}, "Transparency log"),
      h("p", { class: "hint" }, "Proving this entry against the latest checkpoint…"));
    add(card, proofBox);
    if (card.getBoundingClientRect().top < 0 || card.getBoundingClientRect().top > innerHeight) {
      card.scrollIntoView({ block: "start" });
    }
    await showProof(proofBox, seq);
    loaded(`entry/${seq}`);
  }

  /** The entry's inclusion proof against the latest checkpoint, as the server verified it. */
  async function showProof(box, seq) {
    let p;
    try {
      p = await api(`/api/entries/${seq}/proof`);
    } catch (exc) {
      p = { status: "failed", message: String(exc.message || exc) };
    }
    box.dataset.proof = p.status;
    add(clear(box), h("h3", {}, "Transparency log"));
    if (p.status !== "verified") {
      add(box, h("p", { class: `hint${p.status === "failed" ? " bad" : ""}` },
        p.status === "failed" ? `Inclusion proof failed: ${p.message}` : p.message));
      return;
    }
    const blob = new Blob([p.proof], { type: "text/plain" });
    add(box, facts([
      ["inclusion", h("span", { class: "pill allow" }, "verified"),
        ` in the checkpoint of ${p.checkpoint_size} entries (${p.path_length} hashes)`],
      ["root", h("code", { class: "hash" }, p.root)],
      ["cosignatures", `${p.cosignatures} of ${p.threshold} required`],
      ["log key", p.pinned_by],
    ]), h("div", { class: "row" }, h("a", { class: "button secondary", href: URL.createObjectURL(blob),
      download: `entry-${seq}.tlog-proof` }, "Download proof"), h("span", { class: "hint" },
      "check it with `heso verify receipt.json --checkpoint entry.tlog-proof` or the verifier page")));
  }

  // -- checkpoints

  async function showCheckpoints() {
    const data = await api("/api/checkpoints");
    const card = h("section", { class: "card checkpoints" }, h("h2", {}, "Checkpoints"));
    add(clear(view), card);
    if (!data.available) {
      add(card, h("p", { class: "hint", id: "no-checkpoints" }, data.message));
      loaded("checkpoints");
      return;
    }
    add(card, h("p", { class: "hint" }, `${data.count} checkpoints; the newest ${data.checkpoints.length} ` +
      `shown. Each is verified with the log key of ${data.pinned_by} and ${data.threshold} of ` +
      `${data.witnesses} witness cosignatures required.`));
    const body = h("tbody", {}, data.checkpoints.map((c) => h("tr", { "data-size": c.size },
      h("td", {}, String(c.size)),
      h("td", {}, h("code", { class: "hash" }, c.root || "")),
      h("td", { class: "cosignatures" }, `${c.cosignatures} / ${data.threshold}`,
        c.cosigned_by && c.cosigned_by.length ? h("span", { class: "muted" },
          ` (${c.cosigned_by.join(", ")})`) : ""),
      h("td", {}, h("span", { class: `pill ${c.ok ? "allow" : "block"}`, "data-ok": String(c.ok) },
        c.ok ? "verified" : "failed"), c.ok ? "" : h("span", { class: "bad" }, ` ${c.error}`)))));
    add(card, h("table", { class: "list" }, h("thead", {}, h("tr", {},
      ["size", "root hash", "cosignatures / threshold", "verdict"].map((t) => h("th", {}, t)))),
      body));
    loaded("checkpoints");
  }

  // -- chain

  const CHAIN_PAGE = 42;

  async function showChain() {
    const q = state.chainOffset === null ? "" : `?offset=${state.chainOffset}&limit=${CHAIN_PAGE}`;
    const data = await api("/api/chain" + q);
    clear(view);
    const card = h("section", { class: "card chain-result" }, h("h2", {}, "Audit chain"));
    add(view, card);
    if (!data.verdict) {
      add(card, h("p", { class: "hint", id: "chain-verifying" },
        `Verifying the chain (${data.total} entries)… the picture appears when it is done.`));
      setTimeout(() => { if (document.body.contains(card)) showChain(); }, 2000);
      loaded("chain");
      return;
    }
    const v = data.verdict;
    add(card, verdictBadge(v));
    if (v.ok && v.entries !== undefined) {
      add(card, h("p", { class: "summary" }, `${v.entries} entries, ${v.sealed} sealed by the ` +
        `signed head` + (v.unsealed ? `, ${v.unsealed} after it` : "") +
        (v.l1_receipts ? `, ${v.l1_receipts} co-signed by approvers (L1)` : "")));
    } else if (v.entry !== undefined && v.entry !== null) {
      add(card, h("p", { class: "summary" }, `First broken entry: #${v.entry}. `,
        v.entry < data.total ? h("a", { href: `#entry/${v.entry}` }, "open it") : ""));
    }
    const picture = chainPicture({ entries: data.entries, verdict: v, head: data.head,
      offset: data.offset, total: data.total });
    picture.addEventListener("click", (e) => {
      const g = e.target.closest("g.entry[data-seq]");
      if (g && Number(g.dataset.seq) < data.total) location.hash = `#entry/${g.dataset.seq}`;
    });
    const move = (label, offset, disabled, cls) => {
      const b = h("button", { type: "button", class: `secondary ${cls}`, disabled }, label);
      b.addEventListener("click", () => { state.chainOffset = offset; showChain(); });
      return b;
    };
    const start = data.offset, end = data.offset + data.entries.length;
    const broken = !v.ok && v.entry !== undefined && v.entry !== null && v.entry < data.total;
    add(card, h("div", { class: "picture" }, picture),
      h("div", { class: "row pager", id: "chain-pager" },
        move("« first", 0, start === 0, "first"),
        move("‹ earlier", Math.max(0, start - CHAIN_PAGE), start === 0, "prev"),
        h("span", { class: "muted", id: "chain-range" },
          data.entries.length ? `entries #${start}–#${end - 1} of ${data.total}` : `${data.total} entries`),
        move("later ›", end, end >= data.total, "next"),
        move("newest »", Math.max(0, data.total - CHAIN_PAGE), end >= data.total, "last"),
        broken ? move("the broken entry", Math.max(0, v.entry - Math.floor(CHAIN_PAGE / 2)), false,
          "broken") : null));
    if (data.head) {
      add(card, h("p", { class: "hint" },
        `Signed head: ${data.head.length} entries, sealed ${data.head.sealed_at} by ${short(data.head.operator, 24)}…`));
    }
    loaded("chain");
  }

  // -- the banner every tab shows

  let statusTimer = null;

  /** Ask for the chain's verdict and show a banner above every tab when it fails. */
  async function refreshStatus() {
    clearTimeout(statusTimer);
    let again = 15000;
    try {
      const s = await api("/api/status");
      showBanner(s);
      showIndexBanner(s);
      if (!s.verdict || s.verifying || s.index_check === "checking") again = 2000;
    } catch (exc) {
      /* the next poll retries */
    }
    statusTimer = setTimeout(refreshStatus, again);
  }

  /** A warning above every tab when the saved console index did not match the store. */
  function showIndexBanner(s) {
    const banner = document.getElementById("index-banner");
    banner.hidden = !s.index_warning;
    banner.textContent = s.index_warning ? `Warning: ${s.index_warning}.` : "";
  }

  function showBanner(s) {
    const banner = document.getElementById("banner");
    const v = s.verdict;
    banner.dataset.verdict = v ? v.verdict : "";
    if (!v) {
      banner.className = "banner info";
      add(clear(banner), `Verifying the audit chain (${s.entries} entries)…`);
      banner.hidden = false;
      return;
    }
    if (v.ok) {
      banner.hidden = true;
      clear(banner);
      return;
    }
    banner.className = "banner bad";
    const where = v.entry !== undefined && v.entry !== null ? ` at entry #${v.entry}` : "";
    add(clear(banner), h("strong", {}, `Audit chain broken: ${v.verdict}${where}.`), " ",
      v.reason || "", " ", h("a", { href: "#chain" }, "see the chain"));
    banner.hidden = false;
  }

  // -- approvals

  async function refreshPending() {
    try {
      const rows = await api("/api/approvals");
      const badge = document.getElementById("pending-count");
      badge.hidden = rows.length === 0;
      badge.textContent = String(rows.length);
    } catch (exc) {
      /* the badge is a convenience */
    }
  }

  /** Whether this browser's approver may still decide for `a` (an open action, a group of
   * theirs that they have not decided for yet). */
  function canApprove(a, reg) {
    if (!reg || !a.open) return false;
    return a.groups.some((g) => reg.groups.includes(g.group) &&
      !a.approvals.some((x) => x.approver === reg.name && x.group === g.group));
  }

  async function showApprovals(message) {
    const all = await api("/api/approvals" + (state.showAll ? "?all=1" : ""));
    clear(view);
    const reg = registration();
    const head = h("section", { class: "card" }, h("h2", {}, "Waiting for a human"));
    const status = h("div", { id: "approval-status" });
    if (message) flash(status, message.ok, message.text);
    const checkbox = (id, checked, label, onChange) => {
      const box = h("input", { type: "checkbox", id });
      box.checked = checked;
      box.addEventListener("change", () => onChange(box.checked));
      return h("label", { class: "inline" }, box, label);
    };
    add(head,
      h("p", { class: "hint" }, !state.key
        ? "This browser has no approver key yet: create one under “Browser key” to approve here."
        : reg ? `You approve as ${reg.name} (${reg.groups.join(", ")}) with this browser's key.`
          : "This browser's key is not registered in heso.toml yet (see “Browser key”)."),
      h("div", { class: "row" },
        checkbox("only-mine", state.onlyMine, " only what I can approve",
          (on) => { state.onlyMine = on; showApprovals(); }),
        checkbox("show-all", state.showAll, " show decided actions too",
          (on) => { state.showAll = on; showApprovals(); })),
      status);
    add(view, head);
    const rows = all.filter((a) => !state.onlyMine || canApprove(a, reg));
    const left = (a) => (a.open && a.sla_left_seconds !== undefined ? a.sla_left_seconds : Infinity);
    rows.sort((x, y) => state.slaOrder * (left(x) - left(y) || 0) ||
      (x.captured_at < y.captured_at ? -1 : 1));
    const detail = h("div", { id: "approval-detail" });
    if (!rows.length) {
      add(view, h("p", { class: "hint" }, state.onlyMine && all.length
        ? "Nothing here is yours to approve." : "Nothing is waiting for approval."));
    } else {
      const sort = h("button", { type: "button", class: "sort", id: "sort-sla",
        "data-order": state.slaOrder > 0 ? "asc" : "desc" },
      `SLA left ${state.slaOrder > 0 ? "▲" : "▼"}`);
      sort.addEventListener("click", () => { state.slaOrder = -state.slaOrder; showApprovals(); });
      const body = h("tbody", {}, rows.map((a) => approvalRow(a, reg, detail, status)));
      add(view, h("section", { class: "card" }, h("table", { class: "list queue" },
        h("thead", {}, h("tr", {}, h("th", {}, sort), ...["status", "action", "rule",
          "approvers needed", "workflow / account", "captured (UTC)"].map((c) => h("th", {}, c)))),
        body)));
    }
    add(view, detail);
    const open = rows.find((a) => a.action_hash === state.openApproval);
    if (open) add(detail, approvalCard(open, reg, status));
    await refreshPending();
    loaded("approvals");
  }

  function approvalRow(a, reg, detail, status) {
    const tr = h("tr", { class: "clickable", "data-hash": a.action_hash, "data-status": a.status });
    if (a.status === "corrupt") {
      add(tr, h("td", {}, ""), h("td", {}, h("span", { class: "pill block" }, "corrupt")),
        h("td", { colspan: 5 }, short(a.action_hash), " ", h("span", { class: "hint bad" }, a.error)));
      return tr;
    }
    const overdue = a.open && a.sla_left_seconds !== undefined && a.sla_left_seconds < 0;
    const sla = !a.open ? "—" : a.sla_left !== undefined ? a.sla_left : "no SLA";
    const pill = a.open ? "require_approval" : ["denied", "expired"].includes(a.status) ? "block" : "allow";
    add(tr,
      h("td", {}, h("span", { class: `sla${overdue ? " overdue" : ""}` }, sla)),
      h("td", {}, h("span", { class: `pill ${pill}` }, a.status),
        canApprove(a, reg) ? h("span", { class: "pill l1 yours" }, "yours") : ""),
      h("td", {}, h("code", {}, a.verb), " ", a.tool_name),
      h("td", {}, h("code", {}, a.rule_id)),
      h("td", {}, a.groups.map((g) => `${g.group} ${g.approvals}/${g.threshold ?? "?"}`).join("; ")),
      h("td", {}, `${a.workflow} / ${a.account}`),
      h("td", {}, a.captured_at.replace("T", " ").replace("Z", "")));
    tr.addEventListener("click", () => {
      state.openApproval = a.action_hash;
      for (const row of tr.parentNode.children) row.classList.toggle("selected", row === tr);
      add(clear(detail), approvalCard(a, reg, status));
      detail.firstChild.scrollIntoView({ block: "nearest" });
    });
    if (a.action_hash === state.openApproval) tr.classList.add("selected");
    return tr;
  }

  function approvalCard(a, reg, status) {
    const card = h("section", { class: "approval", "data-hash": a.action_hash, "data-status": a.status });
    if (a.status === "corrupt") {
      add(card, h("h3", {}, short(a.action_hash)), h("p", { class: "hint bad" }, a.error));
      return card;
    }
    const needs = a.groups.map((g) => g.threshold === null
      ? `${g.group} (not defined in heso.toml!)`
      : `${g.group} ${g.approvals}/${g.threshold} (${g.members.join(", ")})`).join("; ");
    const overdue = a.open && a.sla_left_seconds !== undefined && a.sla_left_seconds < 0;
    const pill = a.open ? "require_approval" : ["denied", "expired"].includes(a.status) ? "block" : "allow";
    add(card,
      h("h3", {}, h("code", {}, a.verb), " ", a.tool_name, " ", h("span", { class: `pill ${pill}` }, a.status)),
      facts([
        ["rule", h("code", {}, a.rule_id), a.rule_display ? ` — ${a.rule_display}` : ""],
        ["approvers needed", h("span", { class: "needs" }, needs)],
        a.approvals.length ? ["approved so far", a.approvals.map((x) =>
          `${x.approver} (${x.group}) at ${x.at}`).join(", ")] : null,
        a.deadline && a.open ? ["SLA", h("span", { class: `sla${overdue ? " overdue" : ""}` },
          `${a.sla_left} → ${a.on_timeout}`), h("span", { class: "muted" }, ` (deadline ${a.deadline})`)] : null,
        a.deadline && !a.open ? ["deadline", a.deadline] : null,
        ["workflow / account", `${a.workflow} / ${a.account}`],
        ["captured at", a.captured_at],
        ["action_hash", h("code", { class: "hash" }, a.action_hash)],
      ]),
      h("details", { open: true }, h("summary", {}, "fields"), pre(a.fields)),
    );
    if (!a.open) return card;
    const eligible = reg ? a.groups.filter((g) => reg.groups.includes(g.group)).map((g) => g.group) : [];
    const reason = h("input", { class: "reason", placeholder: "reason (optional, signed)", name: "reason" });
    const groupSel = eligible.length > 1
      ? h("select", { name: "group" }, eligible.map((g) => h("option", { value: g }, g))) : null;
    const why = !state.key ? "create a browser key first"
      : !reg ? "register this browser's key in heso.toml first"
        : !eligible.length ? `${reg.name} is in no group that may decide this` : "";
    const act = async (decision, button) => {
      button.disabled = true;
      try {
        const out = await decide(a.action_hash, decision, reason.value.trim(),
          groupSel ? groupSel.value : undefined);
        const text = decision === "denied"
          ? `${out.approver} denied ${short(out.action_hash)}: it will not run`
          : `${out.approver} approved ${short(out.action_hash)} for ${out.group}: ` +
            `${out.approvals} of ${out.threshold}` + (out.status === "approved"
              ? " — approved: the L1 receipt is minted when the action resumes" : "");
        await showApprovals({ ok: true, text });
      } catch (exc) {
        flash(status, false, String(exc.message || exc));
        button.disabled = false;
      }
    };
    const approve = h("button", { type: "button", class: "approve", disabled: !!why, title: why },
      "Approve");
    const deny = h("button", { type: "button", class: "deny danger", disabled: !!why, title: why },
      "Deny");
    approve.addEventListener("click", () => act("approved", approve));
    deny.addEventListener("click", () => act("denied", deny));
    add(card, h("div", { class: "row" }, reason, groupSel, approve, deny),
      why ? h("p", { class: "hint" }, why) : null);
    return card;
  }

  // -- the key

  async function showKey() {
    clear(view);
    const card = h("section", { class: "card key-card" }, h("h2", {}, "This browser's approver key"));
    add(view, card);
    if (!globalThis.crypto || !crypto.subtle) {
      add(card, h("p", { class: "hint bad" }, "WebCrypto is unavailable on this page."));
      return;
    }
    if (!state.key) {
      const button = h("button", { type: "button", id: "create-key" }, "Create a signing key in this browser");
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          state.key = await createKey();
          await showKey();
        } catch (exc) {
          add(card, h("p", { class: "hint bad" }, `Could not create a key: ${exc.message || exc}`));
          button.disabled = false;
        }
      });
      add(card, 
        h("p", {}, "Approving from the console signs with an Ed25519 key made here by WebCrypto. " +
          "Its private half is non-extractable: no script, not even this page, can read it, and " +
          "it never leaves this browser."),
        h("p", { class: "hint" }, `It is stored (IndexedDB) for ${location.origin} only: start ` +
          "heso console on the same host and port to use it again."),
        button);
      loaded("key");
      return;
    }
    const reg = registration();
    const name = h("input", { name: "name", value: reg ? reg.name : "", placeholder: "your name, e.g. alice" });
    const groups = Object.keys(state.session.approvers);
    const group = h("input", { name: "group", value: reg ? reg.groups[0] : groups[0] || "oncall",
      placeholder: "group", list: "known-groups" });
    const snippet = h("div", { class: "key-box", id: "toml-snippet" });
    const render = () => {
      const n = name.value.trim() || "<name>";
      const g = group.value.trim() || "<group>";
      snippet.textContent = state.session.approvers[g]
        ? `# add to the members of [approvers.${g}] in heso.toml:\n${n} = "${state.key.public}"`
        : `[approvers.${g}]\nmembers = { ${n} = "${state.key.public}" }`;
    };
    name.addEventListener("input", render);
    group.addEventListener("input", render);
    render();
    const reload = h("button", { type: "button", class: "secondary" }, "I registered it: reload heso.toml");
    reload.addEventListener("click", async () => {
      state.session = await api("/api/session");
      await showKey();
    });
    const forget = h("button", { type: "button", class: "danger" }, "Forget this key");
    forget.addEventListener("click", async () => {
      await forgetKey();
      state.key = null;
      await showKey();
    });
    add(card, 
      h("p", {}, reg
        ? h("span", { class: "decision allow", id: "key-status", "data-registered": reg.name },
          `Registered as ${reg.name} in ${reg.groups.join(", ")}.`)
        : h("span", { class: "decision require_approval", id: "key-status" },
          "Not registered yet: add it to heso.toml, then reload.")),
      h("label", {}, "public key"),
      h("div", { class: "key-box", id: "public-key" }, state.key.public),
      h("p", { class: "hint" }, `Created ${state.key.created}; private key non-extractable, ` +
        `stored for ${location.origin} only.`),
      h("div", { class: "row" }, name, group),
      h("datalist", { id: "known-groups" }, groups.map((g) => h("option", { value: g }))),
      h("label", {}, "register it in heso.toml"), snippet,
      h("div", { class: "row" }, reload, forget),
    );
    loaded("key");
  }

  // ------------------------------------------------------------------------------ routing

  /** `#tab/arg?query`: the tab, its argument and the filters in the address. */
  function parseAddress() {
    const [path, query] = (location.hash.replace(/^#/, "") || "receipts").split("?");
    const [tab, arg] = path.split("/");
    return { tab: tab || "receipts", arg, params: new URLSearchParams(query || "") };
  }

  async function route() {
    const { tab, arg, params } = parseAddress();
    if (tab === "receipts" || tab === "entry") {
      state.filters = {};
      for (const k of FILTER_KEYS) if (params.get(k)) state.filters[k] = params.get(k);
      state.page = Math.max(0, parseInt(params.get("page") || "0", 10) || 0);
    }
    if (tab !== "chain") state.chainOffset = null;
    const current = tab === "entry" ? "receipts" : tab;
    for (const b of document.querySelectorAll("#tabs button")) {
      b.setAttribute("aria-selected", String(b.dataset.tab === current));
    }
    view.dataset.loaded = "";
    try {
      if (tab === "entry") await showReceipts(Number(arg));
      else if (tab === "chain") await showChain();
      else if (tab === "checkpoints") await showCheckpoints();
      else if (tab === "approvals") await showApprovals();
      else if (tab === "key") await showKey();
      else await showReceipts();
    } catch (exc) {
      add(clear(view), h("section", { class: "card" },
        h("p", { class: "hint bad", id: "error" }, String(exc.message || exc))));
      loaded("error");
    }
  }

  async function init() {
    for (const b of document.querySelectorAll("#tabs button")) {
      b.addEventListener("click", () => {
        const q = b.dataset.tab === "receipts" ? filterParams(true).toString() : "";
        location.hash = "#" + b.dataset.tab + (q ? "?" + q : "");
      });
    }
    window.addEventListener("hashchange", route);
    try {
      state.session = await api("/api/session");
      state.csrf = state.session.csrf;
      const project = document.getElementById("project");
      project.textContent = state.session.project.split("/").filter(Boolean).pop() || "/";
      project.title = state.session.project;
      state.key = (await loadKey().catch(() => null)) || null;
    } catch (exc) {
      add(clear(view), h("section", { class: "card" }, h("p", { class: "hint bad" }, String(exc.message || exc))));
      return;
    }
    await refreshPending();
    refreshStatus();
    await route();
    document.body.dataset.state = "ready";
  }

  init();
})();
