// paperatlas: a little plain JavaScript for the pages (no build step).
(() => {
  // Treemap boxes open their topic.
  document.querySelectorAll(".treemap-box").forEach((box) => {
    box.addEventListener("click", (event) => {
      const rect = event.target.closest("rect[data-node]");
      if (rect) window.location.href = box.dataset.nodeBase + rect.dataset.node;
    });
  });
  // Expand, collapse and filter the tree outline.
  const each = (sel, fn) => document.querySelectorAll(sel).forEach(fn);
  each("[data-expand]", (b) => b.addEventListener("click", () =>
    each(b.dataset.expand + " details", (d) => { d.open = true; })));
  each("[data-collapse]", (b) => b.addEventListener("click", () =>
    each(b.dataset.collapse + " details", (d) => { d.open = false; })));
  each("[data-filter]", (input) => input.addEventListener("input", () => {
    const q = input.value.trim().toLowerCase();
    each(input.dataset.filter + " li", (li) => {
      const hit = !q || li.textContent.toLowerCase().includes(q);
      li.style.display = hit ? "" : "none";
      const details = li.querySelector(":scope > details");
      if (q && hit && details) details.open = true;
    });
  }));
  // Changing the mode or collection runs the search again.
  each("select[data-autosubmit]", (s) => s.addEventListener("change", () => {
    if (s.form.q && s.form.q.value.trim()) s.form.submit();
  }));
  // Upvote without leaving the page (the form still works without script).
  each("form.vote-form", (form) => form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const undo = form.querySelector("input[name=undo]");
    const button = form.querySelector("button");
    const response = await fetch("/api" + form.getAttribute("action"), {
      method: undo ? "DELETE" : "POST", credentials: "same-origin",
      headers: {"X-CSRF-Token": form.elements.csrf.value, "Accept": "application/json"},
    }).catch(() => null);
    if (!response || !response.ok) { form.submit(); return; }
    const result = await response.json();
    button.querySelector(".vote-count").textContent = result.votes;
    button.classList.toggle("voted", result.voted);
    button.setAttribute("aria-pressed", String(result.voted));
    button.title = result.voted ? "Take your vote back" : "Upvote";
    if (result.voted && !undo) {
      const input = document.createElement("input");
      Object.assign(input, {type: "hidden", name: "undo", value: "1"});
      form.appendChild(input);
    } else if (!result.voted && undo) undo.remove();
  }));
  // Pick a paper by its title: the library's own search suggests keys as one types.
  each("input[data-paper-picker]", (input) => {
    const list = document.getElementById(input.dataset.paperPicker);
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const q = input.value.trim();
      if (q.length < 3 || !list) return;
      timer = setTimeout(async () => {
        const url = "/api/search?" + new URLSearchParams({q, limit: "8", mode: "lexical"});
        const response = await fetch(url, {credentials: "same-origin"}).catch(() => null);
        if (!response || !response.ok) return;
        const page = await response.json();
        list.replaceChildren(...page.results.map((hit) => {
          const option = document.createElement("option");
          option.value = hit.key;
          option.label = hit.title;
          return option;
        }));
      }, 250);
    });
  });
})();
