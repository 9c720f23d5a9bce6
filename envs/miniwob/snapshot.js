// The page outline for selfgym's web envs, computed inside the page.
// Returns {utterance, nodes} where nodes are {id, role, name, value, states, depth} in document
// order (the format of selfgym.envs.web.outline). Every element that gets a node keeps a stable
// id in its data-sgid attribute for the rest of the episode; text runs between elements become
// id-less "text" nodes. Containers without text of their own are folded into their children.
(maxNodes) => {
  const SKIP_IDS = new Set(["reward-display", "sync-task-cover", "click-canvas", "query", "attention-canvas"]);
  const TEXT_INPUTS = new Set(["text", "password", "email", "number", "search", "tel", "url", "date", "time",
                               "datetime-local", "month", "week", ""]);
  const NAMED_BY_CONTENT = new Set(["link", "button", "heading", "tab", "menuitem", "option", "treeitem"]);
  if (window.__sgNext === undefined) window.__sgNext = 1;
  const nodes = [];
  const clean = (s) => (s || "").replace(/\s+/g, " ").trim();

  function visible(el) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return null;
    const cs = window.getComputedStyle(el);
    return cs.visibility !== "hidden" && cs.display !== "none" && cs.opacity !== "0" ? cs : null;
  }
  function idOf(el) {
    if (!el.dataset.sgid) el.dataset.sgid = String(window.__sgNext++);
    return el.dataset.sgid;
  }
  function labelFor(el) {
    if (el.getAttribute("aria-label")) return el.getAttribute("aria-label");
    if (el.id) {
      const l = document.querySelector('label[for="' + el.id + '"]');
      if (l) return clean(l.textContent);
    }
    const wrap = el.closest("label");
    if (wrap) return clean(wrap.textContent);
    const prev = el.previousElementSibling;
    if (prev && prev.tagName === "LABEL") return clean(prev.textContent);
    return el.getAttribute("placeholder") || el.getAttribute("title") || "";
  }
  function roleOf(el) {
    const explicit = el.getAttribute("role");
    if (explicit) return explicit;
    const tag = el.tagName.toLowerCase();
    if (tag === "button") return "button";
    if (tag === "a") return "link";
    if (tag === "select") return "combobox";
    if (tag === "textarea") return "textbox";
    if (tag === "input") {
      const t = (el.getAttribute("type") || "").toLowerCase();
      if (t === "checkbox" || t === "radio") return t;
      if (t === "button" || t === "submit" || t === "reset") return "button";
      if (t === "range") return "slider";
      return TEXT_INPUTS.has(t) ? "textbox" : "input-" + t;
    }
    if (/^h[1-6]$/.test(tag)) return "heading";
    if (tag === "li") return "listitem";
    if (tag === "td" || tag === "th") return "cell";
    if (tag === "img") return "img";
    if (tag === "label") return "label";
    if (tag === "svg") return "graphic";
    if (el instanceof SVGElement) return "graphic-" + tag;
    return null;
  }
  function push(el, role, name, value, depth) {
    const states = [];
    if (el.checked) states.push("checked");
    if (el.disabled) states.push("disabled");
    if (document.activeElement === el && el !== document.body) states.push("focused");
    const exp = el.getAttribute("aria-expanded");
    if (exp === "true") states.push("expanded");
    if (exp === "false") states.push("collapsed");
    if (el.getAttribute("aria-selected") === "true") states.push("selected");
    if (el.tagName === "SELECT") states.push("options=" + Array.from(el.options).map((o) => clean(o.text)).join("|"));
    if (el instanceof SVGElement && el.tagName !== "svg") {
      const fill = el.getAttribute("fill");
      if (fill) states.push("fill=" + fill);
    }
    nodes.push({id: idOf(el), role: role, name: clean(name).slice(0, 200), value: value, states: states, depth: depth});
  }
  function walk(el, depth) {
    if (nodes.length >= maxNodes) return;
    if (SKIP_IDS.has(el.id) || el.tagName === "SCRIPT" || el.tagName === "STYLE" || el.tagName === "OPTION") return;
    const cs = visible(el);
    if (!cs) return;
    let role = roleOf(el);
    // Text styled as clickable (a pointer cursor its parent does not set) reads as a link;
    // without text it is named by its class ("trash", "star").
    const pointerLink = !role && cs.cursor === "pointer" && el.parentElement &&
        window.getComputedStyle(el.parentElement).cursor !== "pointer";
    if (pointerLink) role = "link";
    const kids = [];
    let hasText = false, hasElem = false;
    el.childNodes.forEach((c) => {
      if (c.nodeType === 3) { if (clean(c.data)) { kids.push(c); hasText = true; } }
      else if (c.nodeType === 1) { kids.push(c); hasElem = true; }
    });
    const tag = el.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") {
      let value = null;
      if (tag === "SELECT") value = el.selectedIndex >= 0 ? clean(el.options[el.selectedIndex].text) : "";
      else if (role === "textbox" || role === "slider" || role.startsWith("input-")) value = el.value;
      push(el, role, labelFor(el), value, depth);
      return;
    }
    if (tag === "LABEL" && el.querySelector("input, select, textarea")) {
      el.childNodes.forEach((c) => { if (c.nodeType === 1) walk(c, depth); });
      return;
    }
    if (!hasElem) {
      const text = clean(el.textContent);
      if (text || role) {
        const label = text || el.getAttribute("aria-label") || el.getAttribute("title") ||
          (pointerLink ? String(el.className || "") : "");
        push(el, role || "text", label, null, depth);
      } else if ((cs.content || "").startsWith("url(") || cs.backgroundImage !== "none") {
        // An icon drawn by CSS: name it by its title or class ("trash", "star", "reply").
        const name = el.getAttribute("aria-label") || el.getAttribute("title") || String(el.className || "");
        push(el, cs.cursor === "pointer" ? "button" : "img", name, null, depth);
      }
      return;
    }
    let childDepth = depth;
    if (role || el === document.body || el.onclick || el.hasAttribute("tabindex")) {
      const own = NAMED_BY_CONTENT.has(role) ? el.textContent : "";
      push(el, el === document.body ? "RootWebArea" : (role || "generic"), el === document.body ? document.title : own,
           null, depth);
      childDepth = depth + 1;
    }
    kids.forEach((c) => {
      if (c.nodeType === 3) nodes.push({id: null, role: "text", name: clean(c.data).slice(0, 200), value: null, states: [], depth: childDepth});
      else walk(c, childDepth);
    });
  }
  walk(document.body, 0);
  let utterance = "";
  try {
    const u = core.getUtterance();
    utterance = typeof u === "string" ? u : (u && u.utterance) || "";
  } catch (e) {
    const q = document.getElementById("query");
    utterance = q ? clean(q.textContent) : "";
  }
  return {utterance: utterance, nodes: nodes};
}
