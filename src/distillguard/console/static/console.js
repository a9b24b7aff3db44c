// distillguard console: CSRF header for htmx, charts (vega-embed), the linking graph (cytoscape).
// No inline script anywhere: data comes from <script type="application/json"> blocks and
// JSON endpoints, and every text is inserted with textContent (never as HTML).
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrf;
  });

  function el(tag, text) { var n = document.createElement(tag); if (text !== undefined) n.textContent = text; return n; }

  function charts() {
    if (!window.vegaEmbed) return;
    document.querySelectorAll(".chart[data-spec]").forEach(function (div) {
      var src = document.getElementById(div.getAttribute("data-spec"));
      if (!src) return;
      var spec = JSON.parse(src.textContent);
      window.vegaEmbed(div, spec, { actions: false, renderer: "svg" }).catch(function (err) {
        div.textContent = "chart unavailable: " + err;
      });
    });
  }

  function kindTexts(g, mask) {
    var out = [];
    for (var c = 0; c < g.kinds.length; c++) { if (mask & (1 << c)) out.push(g.legend[c]); }
    return out;
  }

  function list(items) {
    var ul = el("ul");
    items.forEach(function (r) { ul.appendChild(el("li", r)); });
    return ul;
  }

  // One edge: the reasons from the legend at once, then its weights and evidence from
  // /campaigns/ID/edge.json (one small request per click).
  function showEdge(panel, g, k, campaign) {
    panel.replaceChildren();
    var e = g.edge;
    if (g.aggregated) {
      panel.appendChild(el("h3", "Links between these two groups"));
      panel.appendChild(list(e.c[k].map(function (x) { return x[1] + " links: " + g.legend[x[0]]; })));
      return;
    }
    var a = g.node.id[e.s[k]], b = g.node.id[e.t[k]];
    panel.appendChild(el("h3", "Why " + a + " and " + b + " are linked"));
    var ul = list(kindTexts(g, e.m[k]));
    panel.appendChild(ul);
    panel.appendChild(el("p", "total weight " + e.w[k]));
    var q = "?a=" + encodeURIComponent(a) + "&b=" + encodeURIComponent(b);
    var base = "/campaigns/" + encodeURIComponent(campaign);
    var link = el("a", "open this link");
    link.href = base + "/edge" + q;
    panel.appendChild(link);
    fetch(base + "/edge.json" + q, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (d) {
      var full = list(d.reasons.map(function (r) { return r.text; }));
      full.className = "edge-detail";
      ul.replaceWith(full);
    }).catch(function () { /* the legend text stays */ });
  }

  function showNode(panel, g, i) {
    panel.replaceChildren();
    var n = g.node;
    if (!g.aggregated) {
      panel.appendChild(el("h3", n.id[i]));
      panel.appendChild(el("p", "risk " + n.risk[i] + " · " + n.events[i] + " requests"));
      var link = el("a", "open account");
      link.href = "/accounts/" + encodeURIComponent(n.id[i]);
      panel.appendChild(link);
      return;
    }
    panel.appendChild(el("h3", n.label[i]));
    panel.appendChild(el("p", "mean risk " + n.risk[i] + " · " + n.events[i] + " requests"));
    panel.appendChild(list(n.inner[i].map(function (x) { return x[1] + " links: " + g.legend[x[0]]; })));
    var s = el("p", "e.g. ");
    n.sample[i].forEach(function (acc) {
      var x = el("a", acc); x.href = "/accounts/" + encodeURIComponent(acc); s.appendChild(x); s.appendChild(document.createTextNode(" "));
    });
    panel.appendChild(s);
  }

  var KIND_COLORS = { payment: "#b42318", ip: "#dc6803", slash24: "#f79009", asn_ua: "#98a2b3",
    creation_burst: "#7a5af8", family: "#2952cc", lockstep: "#0e9384", signal_profile: "#6172f3" };

  // The compact document (see distillguard/console/graph.py) -> cytoscape elements. Element
  // data hold only what the style needs plus the index into the document's arrays.
  function elements(g) {
    var n = g.node, e = g.edge, out = new Array(n.x.length + e.s.length), i;
    var colors = g.kinds.map(function (name) { return KIND_COLORS[name] || "#98a2b3"; });
    for (i = 0; i < n.x.length; i++) {
      out[i] = { group: "nodes", data: { id: "n" + i, i: i, risk: n.risk[i], accounts: g.aggregated ? n.accounts[i] : 1,
        label: g.aggregated ? n.label[i] : "" }, position: { x: n.x[i], y: n.y[i] } };
    }
    for (i = 0; i < e.s.length; i++) {
      out[n.x.length + i] = { group: "edges", data: { id: "e" + i, k: i, source: "n" + e.s[i], target: "n" + e.t[i],
        color: colors[e.k[i]], weight: e.w[i] } };
    }
    return out;
  }

  function graph() {
    var box = document.getElementById("graph");
    if (!box || !window.cytoscape) return;
    var panel = document.getElementById("edge-panel");
    var campaign = decodeURIComponent(box.getAttribute("data-src").split("/")[2]);
    var t0 = performance.now();
    fetch(box.getAttribute("data-src"), { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (g) {
      var t1 = performance.now();
      var big = g.nodes > 800;
      var style = [
        { selector: "node", style: { "width": g.aggregated ? "mapData(accounts, 1, 5000, 14, 70)" : 9,
          "height": g.aggregated ? "mapData(accounts, 1, 5000, 14, 70)" : 9,
          "background-color": "mapData(risk, 0, 1, #16a34a, #b42318)", "label": g.aggregated ? "data(label)" : "",
          "font-size": 9 } },
        { selector: "edge", style: { "width": g.aggregated ? "mapData(weight, 1, 200, 0.5, 6)" : "mapData(weight, 0, 3, 0.5, 3)",
          "line-color": "data(color)", "opacity": 0.55, "curve-style": "haystack" } },
        { selector: ":selected", style: { "line-color": "#111827", "background-color": "#111827", "opacity": 1, "width": 4 } }
      ];
      var els = elements(g);
      var t2 = performance.now();
      var cy = window.cytoscape({
        container: box,
        elements: els,
        layout: { name: "preset", fit: false },
        textureOnViewport: big,
        hideEdgesOnViewport: big,
        motionBlur: false,
        pixelRatio: 1,
        style: style
      });
      window.dgGraph = cy;
      var t3 = performance.now();
      cy.on("tap", "edge", function (ev) { showEdge(panel, g, ev.target.data("k"), campaign); });
      cy.on("tap", "node", function (ev) { showNode(panel, g, ev.target.data("i")); });
      var note = el("p", g.accounts + " accounts, " + g.pairs + " linked pairs" +
        (g.aggregated ? " — drawn as " + g.nodes + " sub-clusters" : "") +
        (g.edges_dropped ? " — " + g.edges_dropped + " weakest links not drawn" : ""));
      note.className = "muted";
      var wrap = box.parentNode;
      wrap.parentNode.insertBefore(note, wrap);
      cy.resize();
      cy.fit(undefined, 24);
      cy.one("render", function () {
        var t4 = performance.now();
        window.dgGraphTimings = { fetch_ms: t1 - t0, elements_ms: t2 - t1, init_ms: t3 - t2,
          render_ms: t4 - t3, total_ms: t4 - t0 };
        box.setAttribute("data-ready", "1");
      });
      cy.forceRender();
    }).catch(function (err) { box.textContent = "graph unavailable: " + err.message; });
  }

  function actionForm() {
    var sel = document.getElementById("action-select");
    if (!sel) return;
    var form = sel.form;
    function sync() {
      var a = sel.value;
      var show = { rpm: a === "throttle", tpm: a === "throttle", concurrency: a === "throttle", strength: a === "watermark", expires_days: true };
      Object.keys(show).forEach(function (k) {
        var input = form.querySelector('[name="' + k + '"]');
        if (input) { input.parentNode.style.display = show[k] ? "" : "none"; input.required = (k === "expires_days" && a === "allow"); }
      });
    }
    sel.addEventListener("change", sync);
    form.addEventListener("submit", function (e) {
      var opt = sel.options[sel.selectedIndex].text;
      var n = form.querySelector('button[type="submit"]').textContent;
      if (!window.confirm(opt.split(" — ")[0] + ": " + n + "?")) e.preventDefault();
    });
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () { charts(); graph(); actionForm(); });
})();
