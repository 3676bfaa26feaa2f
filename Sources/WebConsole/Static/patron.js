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
