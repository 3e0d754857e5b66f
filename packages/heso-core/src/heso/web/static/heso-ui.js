/*
 * heso-ui.js: DOM helpers and pictures shared by the offline verifier page and heso console:
 * a verdict badge, a JSON viewer, the chain drawn as linked entries (the first broken link
 * highlighted) and a timeline of actions by decision. Text is always set with textContent,
 * never parsed as HTML, and passes through escapeText first. Exposes globalThis.HesoUI.
 * Licence: Apache-2.0, as heso.
 */
(function (root) {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  const DECISIONS = ["allow", "require_approval", "block"];
  const DECISION_LABELS = { allow: "allowed", require_approval: "needs approval", block: "blocked" };

  // What str.isprintable() rejects in Python (heso.display.escape): Unicode's "other" and
  // "separator" categories, the space excepted.
  const UNPRINTABLE = /[\p{C}\p{Z}]/gu;

  function escapeChar(ch) {
    if (ch === " ") return ch;
    const cp = ch.codePointAt(0);
    const hex = cp.toString(16);
    if (cp < 0x100) return "\\x" + hex.padStart(2, "0");
    if (cp < 0x10000) return "\\u" + hex.padStart(4, "0");
    return "\\U" + hex.padStart(8, "0");
  }

  /** Text an agent or the store supplied, safe to show: terminal escapes, bidi controls,
   * zero-width characters and line separators become visible escapes (\x1b, \u202e), as
   * heso.display.escape writes them for the CLI. */
  function escapeText(text) {
    return String(text).replace(UNPRINTABLE, escapeChar);
  }

  /** h("div", {class: "x", onclick: f}, "text", child, ...): an element. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  /** s("rect", {...}): an SVG element. */
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k === "title" || k === "aria-label") el.setAttribute(k, escapeText(v));
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }

  function append(el, children) {
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(escapeText(c)));
    }
  }

  /** Append children (nodes or text), skipping null, undefined and false. */
  function add(el, ...children) {
    append(el, children);
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  const short = (hex, n = 12) => (typeof hex === "string" ? hex.slice(0, n) : "");

  /** The verdict as a badge: green for Valid, red otherwise, with the reason under it. */
  function verdictBadge(v) {
    const ok = v.verdict === "Valid" || v.ok === true;
    const code = v.verdict || v.code;
    const title = ok ? (v.trust_level ? `Valid (${v.trust_level})` : "Valid") : code;
    const where = !ok && v.entry !== null && v.entry !== undefined ? ` at entry ${v.entry}` : "";
    return h(
      "div",
      { class: `verdict ${ok ? "ok" : "bad"}`, "data-verdict": code, "data-entry": v.entry ?? "" },
      h("span", { class: "verdict-code" }, title + where),
      v.reason ? h("span", { class: "verdict-reason" }, v.reason) : null,
    );
  }

  /** A collapsible, syntax-coloured JSON view built from nodes (no HTML parsing). */
  function jsonView(value, indent = 0) {
    const pad = "  ".repeat(indent);
    if (value === null) return h("span", { class: "j-null" }, "null");
    if (typeof value === "boolean") return h("span", { class: "j-bool" }, String(value));
    if (typeof value === "number") return h("span", { class: "j-num" }, String(value));
    if (typeof value === "string") return h("span", { class: "j-str" }, JSON.stringify(value));
    // Line breaks are the view's own layout, so they are text nodes (escapeText would show
    // them as \x0a); every value is JSON.stringify'd, so none of its characters is a break.
    const layout = (text) => document.createTextNode(text);
    if (Array.isArray(value)) {
      if (!value.length) return "[]";
      const out = [layout("[\n")];
      value.forEach((v, i) => {
        out.push(pad + "  ", jsonView(v, indent + 1), layout(i < value.length - 1 ? ",\n" : "\n"));
      });
      out.push(pad + "]");
      return h("span", {}, ...out);
    }
    const keys = Object.keys(value);
    if (!keys.length) return "{}";
    const out = [layout("{\n")];
    keys.forEach((k, i) => {
      out.push(pad + "  ", h("span", { class: "j-key" }, JSON.stringify(k)), ": ");
      out.push(jsonView(value[k], indent + 1), layout(i < keys.length - 1 ? ",\n" : "\n"));
    });
    out.push(pad + "}");
    return h("span", {}, ...out);
  }

  const pre = (value) => h("pre", { class: "json" }, jsonView(value));

  // ------------------------------------------------------------------------------ the chain

  /**
   * Entries to draw: every one when there are few, else a window around the focus (the first
   * broken entry, or the end) with gaps marked. Each item is an entry or {gap: count}.
   */
  function chainWindow(entries, focus, max = 42) {
    if (entries.length <= max) return entries.slice();
    const half = Math.floor(max / 2);
    let start = Math.max(0, Math.min(entries.length - max, focus - half));
    const out = [];
    if (start > 2) {
      out.push(entries[0], { gap: start - 1 });
    } else {
      start = 0;
    }
    out.push(...entries.slice(start, start + max));
    const rest = entries.length - (start + max);
    if (rest > 0) out.push({ gap: rest });
    return out;
  }

  /**
   * The chain as linked boxes. `chain` is {entries: [{seq, hash, status, code?,
   * trust_level?}], verdict: {verdict, entry, ...}, head?: {length}, offset?, total?}; status is
   * "ok", "broken" or "unchecked"; with `offset`/`total` the entries are a window of a longer
   * chain (the console pages it). The broken entry (and its link, for ChainBroken/SequenceMismatch) is red;
   * a torn tail, missing (truncated) entries and the signed head are drawn too.
   */
  function chainPicture(chain) {
    const v = chain.verdict || {};
    const entries = (chain.entries || []).map((e) => Object.assign({}, e));
    const code = v.verdict || v.code;
    // A window of a longer chain: `offset` entries before it, `total` in all.
    const offset = chain.offset || 0;
    const total = chain.total ?? offset + entries.length;
    const atEnd = offset + entries.length >= total;
    if (code === "TornTail" && atEnd) entries.push({ seq: total, torn: true, status: "broken" });
    if (code === "ChainTruncated" && atEnd && chain.head && chain.head.length > total) {
      const shown = Math.min(chain.head.length, total + 42);
      for (let i = total; i < shown; i++) {
        entries.push({ seq: i, missing: true, status: i === total ? "broken" : "missing" });
      }
    }
    const focusIdx = entries.findIndex((e) => e.status === "broken");
    let items;
    if (offset === 0 && atEnd) {
      items = chainWindow(entries, focusIdx >= 0 ? focusIdx : entries.length - 1);
    } else {
      items = [...(offset > 0 ? [{ gap: offset }] : []), ...entries];
      if (!atEnd) items.push({ gap: total - offset - (chain.entries || []).length });
    }
    const W = 128, H = 58, GAP = 30, PER_ROW = 7, ROW_GAP = 34, PAD = 8;
    const rows = Math.max(1, Math.ceil(items.length / PER_ROW));
    const width = PAD * 2 + PER_ROW * W + (PER_ROW - 1) * GAP;
    const height = PAD * 2 + rows * H + (rows - 1) * ROW_GAP + 18;
    const svg = s("svg", {
      class: "chain-picture", viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `audit chain: ${entries.length} entries, ${code || "not verified"}`,
    });
    svg.append(s("defs", {},
      s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7",
        markerHeight: "7", orient: "auto-start-reverse" },
      s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow-head" })),
      s("marker", { id: "arrow-bad", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7",
        markerHeight: "7", orient: "auto-start-reverse" },
      s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow-head bad" }))));
    const pos = (i) => {
      const r = Math.floor(i / PER_ROW), c = i % PER_ROW;
      return { x: PAD + c * (W + GAP), y: PAD + r * (H + ROW_GAP) };
    };
    const linkBroken = (e) =>
      e && e.status === "broken" && (e.code === "ChainBroken" || e.code === "SequenceMismatch");
    items.forEach((item, i) => {
      const { x, y } = pos(i);
      if (i > 0) {
        const p = pos(i - 1);
        const bad = linkBroken(item);
        const unchecked = item.status === "unchecked" || item.status === "missing";
        const cls = `link${bad ? " bad" : ""}${unchecked ? " unchecked" : ""}`;
        const marker = bad ? "url(#arrow-bad)" : "url(#arrow)";
        if (p.y === y) {
          svg.append(s("line", { x1: p.x + W, y1: y + H / 2, x2: x - 2, y2: y + H / 2,
            class: cls, "marker-end": marker }));
        } else {
          const mid = p.y + H + ROW_GAP / 2;
          svg.append(s("polyline", {
            points: `${p.x + W / 2},${p.y + H} ${p.x + W / 2},${mid} ${x + W / 2},${mid} ${x + W / 2},${y - 2}`,
            class: cls, fill: "none", "marker-end": marker,
          }));
        }
      }
      if (item.gap !== undefined) {
        svg.append(s("g", { class: "entry gap" },
          s("rect", { x, y, width: W, height: H, rx: 8 }),
          s("text", { x: x + W / 2, y: y + H / 2 + 4, "text-anchor": "middle" },
            `… ${item.gap} more …`)));
        return;
      }
      const status = item.torn ? "torn" : item.missing ? "missing" : item.status;
      const broken = item.status === "broken";
      const g = s("g", {
        class: `entry ${status}${broken ? " broken" : ""}`,
        "data-seq": item.seq, "data-status": item.status,
      });
      g.append(s("title", {}, item.torn ? "torn last line (incomplete)"
        : item.missing ? `entry ${item.seq} is missing (the signed head covers it)`
          : `entry ${item.seq}: ${item.hash}${item.code ? " — " + item.code : ""}`));
      g.append(s("rect", { x, y, width: W, height: H, rx: 8 }));
      g.append(s("text", { x: x + 10, y: y + 20, class: "seq" },
        item.torn ? "torn tail" : `#${item.seq}`));
      const sub = item.torn ? "incomplete" : item.missing ? "missing" : short(item.hash, 10) + "…";
      g.append(s("text", { x: x + 10, y: y + 38, class: "hash" }, sub));
      const tag = broken ? (item.code || code || "broken")
        : item.trust_level === "L1" ? "L1" : item.status === "unchecked" ? "not checked" : "";
      if (tag) g.append(s("text", { x: x + 10, y: y + 52, class: "tag" }, tag));
      svg.append(g);
    });
    const sealed = chain.head ? chain.head.length : null;
    const legend = sealed !== null
      ? `signed head covers ${sealed} entr${sealed === 1 ? "y" : "ies"}`
      : "no signed head";
    svg.append(s("text", { x: PAD, y: height - 4, class: "legend" },
      `${chain.total ?? entries.filter((e) => !e.torn && !e.missing).length} entries · ${legend}`));
    return svg;
  }

  // ------------------------------------------------------------------------------ timeline

  /**
   * A stacked bar chart of actions over time by decision. `timeline` is {buckets: [{start,
   * counts: {allow, block, require_approval}}], bucket: seconds}.
   */
  function timelinePicture(timeline) {
    const buckets = timeline.buckets || [];
    const W = 960, H = 170, L = 36, B = 26, T = 10;
    const svg = s("svg", { class: "timeline", viewBox: `0 0 ${W} ${H}`, role: "img",
      "aria-label": "actions over time by decision" });
    const max = Math.max(1, ...buckets.map((b) => DECISIONS.reduce((n, d) => n + (b.counts[d] || 0), 0)));
    const plotW = W - L - 8, plotH = H - B - T;
    const bw = buckets.length ? plotW / buckets.length : plotW;
    svg.append(s("line", { x1: L, y1: T + plotH, x2: W - 8, y2: T + plotH, class: "axis" }));
    svg.append(s("text", { x: L - 6, y: T + 8, "text-anchor": "end", class: "tick" }, String(max)));
    svg.append(s("text", { x: L - 6, y: T + plotH, "text-anchor": "end", class: "tick" }, "0"));
    buckets.forEach((b, i) => {
      let y = T + plotH;
      const x = L + i * bw + Math.min(2, bw * 0.1);
      const w = Math.max(1, bw - Math.min(4, bw * 0.2));
      for (const d of DECISIONS) {
        const n = b.counts[d] || 0;
        if (!n) continue;
        const hgt = (n / max) * plotH;
        y -= hgt;
        svg.append(s("rect", { x, y, width: w, height: hgt, class: `bar ${d}` },
          s("title", {}, `${b.start}: ${n} ${DECISION_LABELS[d]}`)));
      }
    });
    if (buckets.length) {
      svg.append(s("text", { x: L, y: H - 6, class: "tick" }, buckets[0].start));
      svg.append(s("text", { x: W - 8, y: H - 6, "text-anchor": "end", class: "tick" },
        buckets[buckets.length - 1].start));
    }
    return svg;
  }

  function legend() {
    return h("div", { class: "legend" }, DECISIONS.map((d) =>
      h("span", { class: `key ${d}` }, h("i", {}), DECISION_LABELS[d])));
  }

  root.HesoUI = {
    h, s, add, clear, short, escapeText, verdictBadge, jsonView, pre, chainPicture, chainWindow, timelinePicture,
    legend, DECISIONS, DECISION_LABELS,
  };
})(globalThis);
