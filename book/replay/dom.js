// The two ways the replay's scripts make elements (replay.js, ladder.js, states.js, quiz.js):
// every attribute set as an attribute and every text as text, never parsed as HTML, so that
// nothing from a trace can become markup.
(function () {
  'use strict';

  const SVG_NS = 'http://www.w3.org/2000/svg';

  function make(node, attrs, text) {
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /// An HTML element.
  function el(tag, attrs, text) {
    return make(document.createElement(tag), attrs, text);
  }

  /// An SVG element.
  function svg(tag, attrs, text) {
    return make(document.createElementNS(SVG_NS, tag), attrs, text);
  }

  /// A field of a step's detail (`seq (raw)`, `flags`, …), as src/replay/detail.rs names it.
  function field(step, name) {
    const pair = step.detail.find(([key]) => key === name);
    return pair ? pair[1] : undefined;
  }

  window.stDom = { el, svg, field };
})();
