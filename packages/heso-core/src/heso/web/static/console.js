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
  const state = { csrf: null, session: null, key: null, filters: {}, showAll: false };

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

  async function showReceipts(selected) {
    clear(view);
    const timeline = h("div", { class: "picture" });
    const count = h("span", { class: "muted" });
    const table = h("div", {});
    const detail = h("div", { id: "detail" });
    const filterBox = h("div", { class: "filters" });
    add(view, 
      h("section", { class: "card" }, h("h2", {}, "Actions over time"), legend(), timeline),
      detail,
      h("section", { class: "card" }, h("h2", {}, "Receipts ", count), filterBox, table),
    );
    const f = state.filters;
    const input = (name, placeholder) => {
      const el = h("input", { name, placeholder, value: f[name] || "", type: "search" });
      el.addEventListener("input", debounce(() => { f[name] = el.value; refresh(); }, 200));
      return el;
    };
    const selects = {};
    const select = (name, label) => {
      const el = h("select", { name, "aria-label": label }, h("option", { value: "" }, `any ${label}`));
      el.addEventListener("change", () => { f[name] = el.value; refresh(); });
      selects[name] = el;
      return el;
    };
    const time = (name) => {
      const el = h("input", { name, type: "datetime-local", value: f[name] || "" });
      el.addEventListener("change", () => { f[name] = el.value; refresh(); });
      return el;
    };
    add(filterBox, 
      input("q", "search hash, tool, rule, fields…"),
      select("verb", "verb"), select("tool", "tool"), select("decision", "decision"),
      select("workflow", "workflow"), select("account", "account"),
      h("div", { class: "times" }, "from", time("since"), "to", time("until"), "(UTC)"),
    );

    async function refresh() {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(f)) if (v) params.set(k, v);
      params.set("limit", "200");
      const data = await api("/api/receipts?" + params);
      for (const [name, el] of Object.entries(selects)) {
        const keep = f[name] || "";
        add(clear(el), h("option", { value: "" }, `any ${name}`),
          data.facets[name].map((v) => h("option", { value: v }, v)));
        el.value = keep;
      }
      count.textContent = `${data.matched} of ${data.total}`;
      add(clear(timeline), timelinePicture(data.timeline));
      const body = h("tbody", {}, data.rows.map((r) => {
        const tr = h("tr", { class: "clickable", "data-seq": r.seq, "data-hash": r.action_hash },
          h("td", {}, `#${r.seq}`),
          h("td", {}, r.captured_at.replace("T", " ").replace("Z", "")),
          h("td", {}, h("code", {}, r.verb), " ", r.tool),
          h("td", {}, h("span", { class: `pill ${r.decision}` }, r.decision)),
          h("td", {}, r.workflow), h("td", {}, r.account),
          h("td", {}, r.approvers ? h("span", { class: "pill l1" }, `co-signed ×${r.approvers}`) : ""),
          h("td", {}, h("code", {}, short(r.action_hash))));
        tr.addEventListener("click", () => { location.hash = `#entry/${r.seq}`; });
        return tr;
      }));
      add(clear(table), h("table", { class: "list" },
        h("thead", {}, h("tr", {}, ["entry", "captured (UTC)", "action", "decision", "workflow",
          "account", "approvers", "action_hash"].map((c) => h("th", {}, c)))), body));
      if (!data.rows.length) add(table, h("p", { class: "hint" }, "No receipt matches."));
      loaded("receipts");
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
        ["action_hash", h("code", { class: "hash" }, c.action_hash)],
        ["operator", h("code", { class: "hash" }, c.agent_identity)],
        ["signatures", r.signatures.map((s) => h("div", {}, h("code", {}, s.key_id), " ",
          h("span", { class: "muted" }, short(s.public_key, 24) + "…")))],
        r.multi_approval ? ["approval", `group ${r.multi_approval.group}, ` +
          `${r.multi_approval.threshold} of its members`] : null,
        ["chain", `entry #${seq} · ${data.chain.status} · chain verdict ${data.chain.verdict.summary}`],
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
    if (card.getBoundingClientRect().top < 0 || card.getBoundingClientRect().top > innerHeight) {
      card.scrollIntoView({ block: "start" });
    }
    loaded(`entry/${seq}`);
  }

  // -- chain

  async function showChain() {
    const data = await api("/api/chain");
    clear(view);
    const v = data.verdict;
    const card = h("section", { class: "card chain-result" }, h("h2", {}, "Audit chain"),
      verdictBadge(v));
    if (v.ok && v.entries !== undefined) {
      add(card, h("p", { class: "summary" }, `${v.entries} entries, ${v.sealed} sealed by the ` +
        `signed head` + (v.unsealed ? `, ${v.unsealed} after it` : "") +
        (v.l1_receipts ? `, ${v.l1_receipts} co-signed by approvers (L1)` : "")));
    } else if (v.entry !== undefined) {
      add(card, h("p", { class: "summary" }, `First broken entry: #${v.entry}. `,
        v.entry < data.entries.length ? h("a", { href: `#entry/${v.entry}` }, "open it") : ""));
    }
    const picture = chainPicture({ entries: data.entries, verdict: v, head: data.head });
    picture.addEventListener("click", (e) => {
      const g = e.target.closest("g.entry[data-seq]");
      if (g && Number(g.dataset.seq) < data.entries.length) location.hash = `#entry/${g.dataset.seq}`;
    });
    add(card, h("div", { class: "picture" }, picture));
    if (data.head) {
      add(card, h("p", { class: "hint" },
        `Signed head: ${data.head.length} entries, sealed ${data.head.sealed_at} by ${short(data.head.operator, 24)}…`));
    }
    add(view, card);
    loaded("chain");
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

  async function showApprovals(message) {
    const rows = await api("/api/approvals" + (state.showAll ? "?all=1" : ""));
    clear(view);
    const reg = registration();
    const head = h("section", { class: "card" }, h("h2", {}, "Waiting for a human"));
    const status = h("div", { id: "approval-status" });
    if (message) flash(status, message.ok, message.text);
    const toggle = h("input", { type: "checkbox", id: "show-all" });
    toggle.checked = state.showAll;
    toggle.addEventListener("change", () => { state.showAll = toggle.checked; showApprovals(); });
    add(head, 
      h("p", { class: "hint" }, !state.key
        ? "This browser has no approver key yet: create one under “Browser key” to approve here."
        : reg ? `You approve as ${reg.name} (${reg.groups.join(", ")}) with this browser's key.`
          : "This browser's key is not registered in heso.toml yet (see “Browser key”)."),
      h("label", {}, toggle, " show decided actions too"), status);
    add(view, head);
    if (!rows.length) {
      add(view, h("p", { class: "hint" }, "Nothing is waiting for approval."));
    }
    for (const a of rows) add(view, approvalCard(a, reg, status));
    await refreshPending();
    loaded("approvals");
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
    const overdue = a.sla_left_seconds !== undefined && a.sla_left_seconds < 0;
    const pill = a.open ? "require_approval" : ["denied", "expired"].includes(a.status) ? "block" : "allow";
    add(card,
      h("h3", {}, h("code", {}, a.verb), " ", a.tool, " ", h("span", { class: `pill ${pill}` }, a.status)),
      facts([
        ["rule", h("code", {}, a.rule_id), a.rule_display ? ` — ${a.rule_display}` : ""],
        ["approvers needed", h("span", { class: "needs" }, needs)],
        a.approvals.length ? ["approved so far", a.approvals.map((x) =>
          `${x.approver} (${x.group}) at ${x.at}`).join(", ")] : null,
        a.deadline ? ["SLA", h("span", { class: `sla${overdue ? " overdue" : ""}` },
          `${a.sla_left} → ${a.on_timeout}`), h("span", { class: "muted" }, ` (deadline ${a.deadline})`)] : null,
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

  async function route() {
    const hash = location.hash.replace(/^#/, "") || "receipts";
    const [tab, arg] = hash.split("/");
    const current = tab === "entry" ? "receipts" : tab;
    for (const b of document.querySelectorAll("#tabs button")) {
      b.setAttribute("aria-selected", String(b.dataset.tab === current));
    }
    view.dataset.loaded = "";
    try {
      if (tab === "entry") await showReceipts(Number(arg));
      else if (tab === "chain") await showChain();
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
      b.addEventListener("click", () => { location.hash = "#" + b.dataset.tab; });
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
    await route();
    document.body.dataset.state = "ready";
  }

  init();
})();
