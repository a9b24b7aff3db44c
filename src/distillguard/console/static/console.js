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

  function showEdge(panel, d, campaign) {
    panel.replaceChildren();
    if (d.source) {
      var h = el("h3");
      if (d.a) {
        h.textContent = "Why " + d.a + " and " + d.b + " are linked";
      } else {
        h.textContent = "Links between these two groups";
      }
      panel.appendChild(h);
      var ul = el("ul");
      (d.reasons || []).forEach(function (r) { ul.appendChild(el("li", r)); });
      panel.appendChild(ul);
      if (d.a) {
        var a = el("a", "open this link");
        a.href = "/campaigns/" + encodeURIComponent(campaign) + "/edge?a=" + encodeURIComponent(d.a) + "&b=" + encodeURIComponent(d.b);
        panel.appendChild(a);
      }
    } else if (d.account) {
      panel.appendChild(el("h3", d.account));
      panel.appendChild(el("p", "risk " + d.risk + " · " + d.events + " requests"));
      var link = el("a", "open account");
      link.href = "/accounts/" + encodeURIComponent(d.account);
      panel.appendChild(link);
    } else {
      panel.appendChild(el("h3", d.label));
      panel.appendChild(el("p", "mean risk " + d.risk + " · " + d.events + " requests"));
      var inner = el("ul");
      (d.inner || []).forEach(function (r) { inner.appendChild(el("li", r)); });
      panel.appendChild(inner);
      var s = el("p", "e.g. ");
      (d.sample || []).forEach(function (acc) {
        var x = el("a", acc); x.href = "/accounts/" + encodeURIComponent(acc); s.appendChild(x); s.appendChild(document.createTextNode(" "));
      });
      panel.appendChild(s);
    }
  }

  var KIND_COLORS = { payment: "#b42318", ip: "#dc6803", slash24: "#f79009", asn_ua: "#98a2b3",
    creation_burst: "#7a5af8", family: "#2952cc", lockstep: "#0e9384", signal_profile: "#6172f3" };

  function graph() {
    var box = document.getElementById("graph");
    if (!box || !window.cytoscape) return;
    var panel = document.getElementById("edge-panel");
    var campaign = decodeURIComponent(box.getAttribute("data-src").split("/")[2]);
    fetch(box.getAttribute("data-src"), { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (g) {
      var big = g.nodes > 800;
      var cy = window.cytoscape({
        container: box,
        elements: g.elements,
        layout: { name: "preset" },
        textureOnViewport: big,
        hideEdgesOnViewport: big,
        pixelRatio: 1,
        style: [
          { selector: "node", style: { "width": g.aggregated ? "mapData(accounts, 1, 5000, 14, 70)" : 9,
            "height": g.aggregated ? "mapData(accounts, 1, 5000, 14, 70)" : 9,
            "background-color": "mapData(risk, 0, 1, #16a34a, #b42318)", "label": g.aggregated ? "data(label)" : "",
            "font-size": 9 } },
          { selector: "edge", style: { "width": "mapData(weight, 0, 3, 0.5, 3)", "line-color": function (e) { return KIND_COLORS[e.data("kind")] || "#98a2b3"; },
            "opacity": 0.55, "curve-style": "haystack" } },
          { selector: ":selected", style: { "line-color": "#111827", "background-color": "#111827", "opacity": 1, "width": 4 } }
        ]
      });
      window.dgGraph = cy;
      cy.resize();
      cy.fit(undefined, 24);
      cy.on("tap", "edge", function (e) { showEdge(panel, e.target.data(), campaign); });
      cy.on("tap", "node", function (e) { showEdge(panel, e.target.data(), campaign); });
      var note = el("p", g.accounts + " accounts, " + g.pairs + " linked pairs" +
        (g.aggregated ? " — drawn as " + g.nodes + " sub-clusters" : "") +
        (g.edges_dropped ? " — " + g.edges_dropped + " weakest links not drawn" : ""));
      note.className = "muted";
      var wrap = box.parentNode;
      wrap.parentNode.insertBefore(note, wrap);
      cy.resize();
      cy.fit(undefined, 24);
      box.setAttribute("data-ready", "1");
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
