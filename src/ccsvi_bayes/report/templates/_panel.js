(function () {
  "use strict";
  var dataNode = document.getElementById("panel-data");
  if (!dataNode) { return; }
  var panels = JSON.parse(dataNode.textContent);
  function num(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) { return "\u2013"; }
    return x.toFixed(digits).replace("-", "\u2212");
  }
  function interval(v, digits) {
    return num(v.mean, digits) + " (" + num(v.q025, digits) + " to " + num(v.q975, digits) + ")";
  }
  function setText(node, text, value) {
    if (!node) { return; }
    node.textContent = text;
    node.setAttribute("data-value", value === null || value === undefined ? "" : String(value));
  }
  panels.forEach(function (p) {
    // matched by comparing attribute values, never by building a selector from the id
    var root = null;
    var nodes = document.querySelectorAll("[data-panel]");
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].getAttribute("data-panel") === p.outcome) { root = nodes[i]; break; }
    }
    if (!root) { return; }
    var slider = root.querySelector('[data-role="slider"]');
    var lo = p.axis[0], hi = p.axis[1];
    function x(v) { return 10 + 380 * (v - lo) / (hi - lo); }
    function nearest(x) {
      var best = 0;
      for (var i = 1; i < p.values.length; i++) {
        if (Math.abs(p.values[i].value - x) < Math.abs(p.values[best].value - x)) { best = i; }
      }
      return best;
    }
    function update() {
      var index = nearest(Number(slider.value));
      var v = p.values[index];
      slider.value = String(v.value);  // snap to the swept value
      slider.setAttribute("data-index", String(index));
      setText(root.querySelector('[data-role="knob-value"]'), String(Number(v.value.toPrecision(4))) + (v.baseline ? " (" + (v.baseline_source || "spec value") + ")" : ""), v.value);
      // v.text: the read-outs with the digits each number's Monte Carlo error supports
      var t = v.text || {};
      setText(root.querySelector('[data-role="prob-benefit"]'), t.prob_benefit || num(v.prob_benefit, 2), v.prob_benefit);
      setText(root.querySelector('[data-role="prob-mcid"]'), t.prob_mcid || num(v.prob_mcid, 2), v.prob_mcid);
      var iv = root.querySelector('[data-role="interval"]');
      setText(iv, t.interval || interval(v, 2), v.q025);
      if (iv) { iv.setAttribute("data-q025", String(v.q025)); iv.setAttribute("data-q975", String(v.q975)); iv.setAttribute("data-mean", String(v.mean)); }
      var inst = root.querySelector('[data-role="interval-instrument"]');
      if (inst && p.reference_sd) {
        inst.textContent = num(v.mean * p.reference_sd, 1) + " (" + num(v.q025 * p.reference_sd, 1) + " to " + num(v.q975 * p.reference_sd, 1) + ") " + p.instrument + " points";
      }
      var line = root.querySelector('[data-role="bar-interval"]');
      var dot = root.querySelector('[data-role="bar-mean"]');
      if (line && v.q025 !== null && v.q975 !== null) { line.setAttribute("x1", x(v.q025).toFixed(1)); line.setAttribute("x2", x(v.q975).toFixed(1)); }
      if (dot && v.mean !== null) { dot.setAttribute("cx", x(v.mean).toFixed(1)); }
      root.setAttribute("data-index", String(index));
    }
    slider.addEventListener("input", update);
    slider.addEventListener("change", update);
    update();
  });
}());
