// The segment builder's live count: the rule is counted as it is typed (after a pause).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("segment-form") || document.getElementById("rule-form");
  if (!form) return;
  const rule = form.querySelector("#rule");
  const out = document.getElementById("live-count");
  let timer = null;
  const count = async () => {
    if (!rule.value.trim()) { out.textContent = ""; return; }
    const body = new URLSearchParams({ rule: rule.value, _csrf: form.dataset.csrf });
    try {
      const response = await fetch(form.dataset.countUrl, { method: "POST", body, credentials: "same-origin" });
      out.textContent = await response.text();
    } catch (e) { out.textContent = "The count is unavailable."; }
  };
  rule.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(count, 300); });
  if (rule.value.trim()) count();
});

// The visual segment builder: rows of field / comparison / value joined by "all" or "any". It
// writes the rule text (which the live count then counts); a rule typed by hand is read back
// into rows when it is a simple list of conditions, and otherwise left as text.
document.addEventListener("DOMContentLoaded", () => {
  for (const host of document.querySelectorAll(".builder")) {
    let fields;
    try { fields = JSON.parse(host.dataset.fields); } catch (e) { continue; }
    const rule = document.getElementById(host.dataset.target);
    if (!rule) continue;
    const byName = Object.fromEntries(fields.map((f) => [f.field, f]));
    const comparisons = {
      text: [["==", "is"], ["!=", "is not"]],
      number: [[">=", "at least"], ["<=", "at most"], [">", "more than"], ["<", "less than"], ["==", "exactly"]],
      bool: [["yes", "yes"], ["no", "no"]],
      date: [["within", "within the last … days"], ["before", "more than … days ago"]],
    };
    let counter = 0;
    const el = (tag, attrs = {}, text) => {
      const e = document.createElement(tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      return e;
    };
    host.querySelectorAll("p.hint").forEach((p) => p.remove());
    const joinLabel = el("label", { for: `${host.dataset.target}-join` }, "Customers who match");
    const join = el("select", { id: `${host.dataset.target}-join` });
    join.append(el("option", { value: "and" }, "all of these"), el("option", { value: "or" }, "any of these"));
    const rows = el("div", { class: "builder-rows" });
    const add = el("button", { type: "button", class: "secondary" }, "Add a condition");
    const note = el("p", { class: "hint", "aria-live": "polite" });
    host.append(joinLabel, join, rows, add, note);

    const quote = (s) => JSON.stringify(s);
    function conditionOf(row) {
      const f = byName[row.querySelector(".b-field").value];
      const op = row.querySelector(".b-op").value;
      const raw = row.querySelector(".b-value").value.trim();
      if (!f) return null;
      if (f.kind === "bool") return op === "no" ? `not ${f.field}` : f.field;
      if (raw === "") return null;
      if (f.kind === "date") {
        const days = parseInt(raw, 10);
        if (!(days >= 0)) return null;
        return op === "within" ? `${f.field} >= today - ${days}d` : `${f.field} < today - ${days}d`;
      }
      if (f.kind === "number") return isNaN(Number(raw)) ? null : `${f.field} ${op} ${Number(raw)}`;
      return `${f.field} ${op} ${quote(raw)}`;
    }
    let writing = false;
    function write() {
      const parts = [...rows.children].map(conditionOf).filter((c) => c);
      if (parts.length === 0) return;
      rule.value = parts.join(` ${join.value} `);
      writing = true;
      rule.dispatchEvent(new Event("input"));
      writing = false;
    }
    function addRow(cond = {}) {
      const n = ++counter;
      const row = el("div", { class: "builder-row" });
      const field = el("select", { class: "b-field", id: `b-field-${n}`, "aria-label": "Field" });
      for (const f of fields) field.append(el("option", { value: f.field }, f.label));
      field.value = cond.field || fields[0].field;
      const op = el("select", { class: "b-op", id: `b-op-${n}`, "aria-label": "Comparison" });
      const value = el("input", { class: "b-value", id: `b-value-${n}`, "aria-label": "Value", list: `b-list-${n}` });
      const list = el("datalist", { id: `b-list-${n}` });
      const remove = el("button", { type: "button", class: "secondary", "aria-label": "Remove this condition" }, "Remove");
      function fit() {
        const f = byName[field.value];
        op.innerHTML = "";
        for (const [v, label] of comparisons[f.kind]) op.append(el("option", { value: v }, label));
        list.innerHTML = "";
        for (const c of f.values || []) list.append(el("option", { value: c.value }, c.label));
        value.hidden = f.kind === "bool";
        value.type = f.kind === "number" || f.kind === "date" ? "number" : "text";
      }
      fit();
      if (cond.op) op.value = cond.op;
      if (cond.value !== undefined) value.value = cond.value;
      field.addEventListener("change", () => { fit(); value.value = ""; write(); });
      op.addEventListener("change", write);
      value.addEventListener("input", write);
      remove.addEventListener("click", () => { row.remove(); write(); });
      row.append(field, op, value, list, remove);
      rows.append(row);
    }
    // Reads "a and b and c" (or "or") of simple conditions back into rows; false otherwise.
    function read() {
      const text = rule.value.trim();
      rows.innerHTML = "";
      if (text === "") { addRow(); note.textContent = ""; return true; }
      if (/[()\[\]]/.test(text.replace(/today - \d+d/g, ""))) { note.textContent = "This rule is written by hand; edit it as text."; return false; }
      const hasAnd = / and /.test(text), hasOr = / or /.test(text);
      if (hasAnd && hasOr) { note.textContent = "This rule mixes all and any; edit it as text."; return false; }
      join.value = hasOr ? "or" : "and";
      const conds = [];
      for (const part of text.split(hasOr ? / or / : / and /)) {
        let m;
        if ((m = part.match(/^not ([a-z_.]+)$/)) && byName[m[1]]?.kind === "bool") conds.push({ field: m[1], op: "no" });
        else if ((m = part.match(/^([a-z_.]+)$/)) && byName[m[1]]?.kind === "bool") conds.push({ field: m[1], op: "yes" });
        else if ((m = part.match(/^([a-z_.]+) (>=|<) today - (\d+)d$/)) && byName[m[1]]?.kind === "date")
          conds.push({ field: m[1], op: m[2] === ">=" ? "within" : "before", value: m[3] });
        else if ((m = part.match(/^([a-z_.0-9]+) (==|!=|>=|<=|>|<) (.+)$/)) && byName[m[1]]) {
          let v = m[3];
          if (/^".*"$/.test(v)) { try { v = JSON.parse(v); } catch (e) { return false; } }
          conds.push({ field: m[1], op: m[2], value: v });
        } else { rows.innerHTML = ""; note.textContent = "This rule is written by hand; edit it as text."; return false; }
      }
      conds.forEach(addRow);
      note.textContent = "";
      return true;
    }
    join.addEventListener("change", write);
    add.addEventListener("click", () => { addRow(); });
    // Typing in the rule updates the rows after a pause (never on leaving the field: the rows
    // moving under the pointer would make a click on Save miss).
    let pause = null;
    rule.addEventListener("input", () => {
      if (writing) return;
      clearTimeout(pause);
      pause = setTimeout(read, 600);
    });
    read();
  }
});

// Merge-tag buttons put {{tag}} where the cursor is in the message or subject edited last.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".merge-tags").forEach((box) => {
    const form = box.closest("form");
    if (!form) return;
    let target = form.querySelector("textarea[name=body]");
    form.addEventListener("focusin", (e) => {
      const el = e.target;
      if ((el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && /subject|body/.test(el.name)))) target = el;
    });
    box.querySelectorAll("button[data-tag]").forEach((button) => {
      button.addEventListener("click", () => {
        if (!target) return;
        const text = "{{" + button.dataset.tag + "}}";
        const start = target.selectionStart ?? target.value.length, end = target.selectionEnd ?? start;
        target.value = target.value.slice(0, start) + text + target.value.slice(end);
        target.focus();
        target.selectionStart = target.selectionEnd = start + text.length;
      });
    });
  });
});
